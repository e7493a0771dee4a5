"""The replication package: one zip with everything a paper's reader needs to check
the study, and to restore it (``manage.py import_study study.json``).

Every part is written by the module that owns it (the archive, the taxonomy and
items CSVs, the figure, the saturation curve, the methods report, the codebook);
this module only puts them in order. The zip is deterministic: its members
come in a fixed order with a fixed time stamp, so the same study gives the
same bytes (the archive's ``exported_at`` aside, which the archive lists as
volatile). Parts are streamed into the zip one after the other, each written
straight into its member (a part that may be left out, first into memory: it
is small), so memory stays flat.

On PostgreSQL, outside a transaction, the parts that spend most of their time
waiting for the database (``Part.ahead``: the items CSV, the saturation curve,
the methods report) are written meanwhile by another thread, with its own
connection, into temporary files that join the zip in their turn: the database
works on the second core while this process writes the archive and draws the
figures (benchmarks/export_bench.py, 100,000 items on two busy cores: 24-29 s
→ 22 s; a second such thread gained nothing more there and held 10 MB more).
"""

from __future__ import annotations

import io
import shutil
import tempfile
import zipfile
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import IO

from django.db import connection, connections

from annotator.studies.models import Study
from sampling.draws.sight import Sight, sight_for

from .selectors import results_get

ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest a zip can hold: no date of writing in the bytes
# Deflate's fastest level, about four times faster than the default 6: the 226 MB of the
# benchmark's 100,000-item package in 0.5 s instead of 1.9 s, into 17.0 MB instead of 12.9
# (benchmarks/export_bench.py; text less repetitive than the benchmark's takes longer at both).
COMPRESS_LEVEL = 1
AHEAD_THREADS = 1


@dataclass(frozen=True)
class Part:
    name: str
    description: str
    # write(out=binary file, study=, user=, sight=, results=, progress=); a text returned says why the
    # part is left out (the README of the package then says so)
    write: Callable[..., str | None]
    may_be_left_out: bool = False  # written into memory first (it must be small), then into the zip
    ahead: bool = False  # may be written in another thread meanwhile (see the module's docstring)


def _archive(*, out, study, progress, **_):
    from .archive import study_archive_write

    study_archive_write(study=study, out=out, progress=progress)


def _taxonomy_csv(*, out, results, **_):
    from .taxonomy_csv import taxonomy_csv_write

    taxonomy_csv_write(results=results, out=out)


def _items_csv(*, out, study, user, sight, progress, **_):
    from .items_csv import items_csv_write

    items_csv_write(study=study, out=out, user=user, sight=sight, progress=progress)


def _figure(fmt: str):
    def write(*, out, results, **_):
        from .figure import taxonomy_figure

        out.write(taxonomy_figure(results=results, fmt=fmt))

    return write


def _saturation_csv(*, out, study, sight, **_):
    from .saturation import saturation_csv_write

    saturation_csv_write(study=study, sight=sight, out=out)


def _report(*, out, study, user, sight, **_):
    from .report import methods_report, methods_report_markdown

    out.write(methods_report_markdown(methods_report(study=study, user=user, sight=sight)).encode("utf-8"))


def _codebook(*, out, study, sight, **_):
    from django.core.exceptions import ValidationError

    from .codebook import codebook_qdc

    try:
        out.write(codebook_qdc(study=study, sight=sight))
    except ValidationError as exc:  # the REFI-QDA schema wants at least one code
        return " ".join(exc.messages)
    return None


PARTS = (
    Part("study.json", "The study archive: posts, question sets and their rules, draws with their populations, "
         "the taxonomy and its history, codes, labels, final labels and agreement runs (JSON, versioned schema). "
         "Restore it with `python manage.py import_study study.json`.", _archive),
    Part("taxonomy.csv", "The taxonomy: one row per category with posts, posts under its root and percent of root; "
         "then False positive, Unclear and Pending. A post in several categories counts once in each.",
         _taxonomy_csv),
    Part("items.csv", "One row per sampled post: stratum, part, each rater's labels and notes (once arbitration "
         "started on its draw), the final label, how, by whom, when and why it was reached.", _items_csv, ahead=True),
    Part("taxonomy.svg", "The taxonomy figure with each category's percentage of its root (vector).", _figure("svg")),
    Part("taxonomy.pdf", "The same figure as PDF, for a paper.", _figure("pdf")),
    Part("taxonomy.png", "The same figure as PNG.", _figure("png")),
    Part("saturation.csv", "The saturation curve: distinct leaf categories as coding proceeds (pilot first).",
         _saturation_csv, ahead=True),
    Part("methods-report.md", "The methods report: every number of the method section (corpus, question-set "
         "funnels, sampling design, agreement, final-label counts, taxonomy size), with LaTeX tables.", _report,
         ahead=True),
    Part("codebook.qdc", "The codebook as REFI-QDA (.qdc): the tree with definitions, for ATLAS.ti, MAXQDA, NVivo, "
         "QualCoder and Taguette.", _codebook, may_be_left_out=True),
)


def package_readme(*, study: Study, left_out: dict[str, str] | None = None) -> str:
    left_out = left_out or {}
    lines = [f"Replication package: {study.name}", "", "Made with Taxonomist. The files:", ""]
    lines += [f"- {part.name}: {part.description}" + (f" NOT INCLUDED: {left_out[part.name]}"
                                                       if part.name in left_out else "") for part in PARTS]
    lines += ["", "CSV files are RFC 4180, UTF-8; a text cell that would start with =, +, -, @, a tab or a carriage "
              "return starts with a single quote (formula neutralisation).", ""]
    return "\n".join(lines)


def replication_package_write(*, study: Study, user, out, sight: Sight | None = None, progress=None) -> None:
    """Write the zip to ``out`` (a binary file object)."""
    sight = sight if sight is not None else sight_for(study=study, user=user)
    results = results_get(study=study, sight=sight)
    arguments = {"study": study, "user": user, "sight": sight, "results": results, "progress": None}
    left_out: dict[str, str] = {}
    pool = ThreadPoolExecutor(max_workers=AHEAD_THREADS, thread_name_prefix="package") if _ahead_possible() else None
    ahead: dict[str, Future] = {}
    try:
        if pool is not None:
            ahead = {part.name: pool.submit(_written_ahead, part, arguments) for part in PARTS if part.ahead}
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for index, part in enumerate(PARTS, start=1):
                if progress is not None:
                    progress(index - 1, len(PARTS), phase=f"writing {part.name}")
                if part.name in ahead:
                    spool, why = ahead.pop(part.name).result()
                    with spool:
                        if why:
                            left_out[part.name] = why
                        else:
                            with archive.open(_info(part.name), "w") as member:
                                shutil.copyfileobj(spool, member, 1 << 20)
                    continue
                if part.may_be_left_out:
                    held = io.BytesIO()
                    why = part.write(out=held, **arguments)
                    if why:
                        left_out[part.name] = why
                    else:
                        archive.writestr(_info(part.name), held.getvalue())
                    continue
                with archive.open(_info(part.name), "w") as member:
                    part.write(out=member, **arguments)
            archive.writestr(_info("README.txt"), package_readme(study=study, left_out=left_out).encode("utf-8"))
    finally:
        if pool is not None:  # after an error: what has not started does not start; the rest is dropped
            for future in ahead.values():
                future.cancel()
            pool.shutdown(wait=True)
            for future in ahead.values():
                if future.done() and not future.cancelled() and future.exception() is None:
                    future.result()[0].close()
    if progress is not None:
        progress(len(PARTS), len(PARTS), phase="done")


def _ahead_possible() -> bool:
    """Another thread has its own connection, which sees only what is committed: parts are
    written ahead only outside a transaction (tests run inside one), and only on PostgreSQL,
    whose server does most of those parts' work, on another core."""
    return connection.vendor == "postgresql" and not connection.in_atomic_block


def _written_ahead(part: Part, arguments: dict) -> tuple[IO[bytes], str | None]:
    """In a thread of the pool: the part in a temporary file (at its start), and why it is
    left out (None: it is not)."""
    try:
        spool = tempfile.TemporaryFile()
        try:
            why = part.write(out=spool, **arguments)
        except BaseException:
            spool.close()
            raise
        spool.seek(0)
        return spool, why
    finally:
        connections.close_all()  # this thread's


def _info(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
    info._compresslevel = COMPRESS_LEVEL  # public as compress_level from Python 3.13, which keeps this name too
    info.external_attr = 0o644 << 16
    return info
