"""Importing Stack Exchange dumps into a study.

``import_run`` does the work for the command line and for background jobs:
it reads every file with :class:`DumpReader`, stages the rows, and applies
them in one transaction at the end. Any :class:`DumpError` (malformed XML,
wrong encoding, entity declarations, truncation, not a dump) aborts the whole
run and changes nothing; single bad rows (a huge field, a duplicate id, a
non-numeric field) are rejected with their line and reason and the rest is
imported.
"""

from __future__ import annotations

import os
import shutil
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Count, Q

from annotator.dbstats import table_statistics_refresh
from annotator.jobs.models import Job, JobKind
from annotator.jobs.services import ProgressReporter, job_create, job_fail, job_progress, job_succeed

from .dump_parser import DumpError, DumpReader, IdSet, parse_tag_list, peek_kind, site_from_path
from .models import Comment, Post, PostType
from .staging import ImportStage

DEFAULT_SITE = "stackoverflow.com"
BATCH_ROWS = 2000


@dataclass(frozen=True)
class ImportFile:
    path: str
    name: str
    site: str


def import_file_describe(*, path: str, name: str | None = None, site: str | None = None) -> ImportFile:
    name = name or os.path.basename(path)
    site = (site or "").strip().lower() or site_from_path(name) or site_from_path(path) or DEFAULT_SITE
    return ImportFile(path=str(path), name=name, site=site)


def study_totals(*, study) -> dict[str, int]:
    posts = Post.objects.filter(study=study).aggregate(
        questions=Count("id", filter=Q(post_type=PostType.QUESTION)),
        answers=Count("id", filter=Q(post_type=PostType.ANSWER)),
    )
    return {**posts, "comments": Comment.objects.filter(study=study).count()}


def _seed_kept_ids(*, study, site: str) -> tuple[IdSet, IdSet]:
    """Questions and posts the study already has, so that a filtered import
    keeps answers and comments that belong to them."""
    questions, posts = IdSet(), IdSet()
    rows = Post.objects.filter(study=study, site=site).values_list("so_id", "post_type")
    for so_id, post_type in rows.iterator(chunk_size=10_000):
        posts.add(so_id)
        if post_type == PostType.QUESTION:
            questions.add(so_id)
    return questions, posts


ProgressCallback = Callable[..., None]


def import_run(
    *,
    study,
    files: Sequence[ImportFile],
    only_tags: Sequence[str] = (),
    progress: ProgressCallback | None = None,
    max_field_bytes: int | None = None,
) -> dict[str, Any]:
    """Import ``files`` into ``study``; return the summary. Raises DumpError
    (nothing changed) when a file cannot be trusted."""
    started = time.monotonic()
    max_field_bytes = max_field_bytes or settings.TAXONOMIST_MAX_FIELD_BYTES
    only_tags = tuple(only_tags)
    report = progress or (lambda **_: None)

    kinds: dict[str, str] = {}
    total_bytes = 0
    for f in files:
        try:
            total_bytes += os.path.getsize(f.path)
            with open(f.path, "rb") as stream:
                kinds[f.path] = peek_kind(stream, name=f.name)
        except OSError as exc:
            raise DumpError(f"cannot read the file: {exc.strerror or exc}", file=f.name) from None
    # Posts before comments, so that a filtered import knows which posts it kept.
    ordered = sorted(files, key=lambda f: kinds[f.path] != "posts")

    per_site: dict[tuple[str, str], IdSet] = {}
    kept: dict[str, tuple[IdSet, IdSet]] = {}
    file_summaries = []
    skipped: Counter = Counter()
    rejections: list[dict[str, Any]] = []
    totals = Counter()
    bytes_done = 0
    rows_done = 0

    report(force=True, phase="reading", bytes_total=total_bytes, bytes_read=0, rows_read=0)
    with ImportStage(study_id=study.pk) as stage:
        for f in ordered:
            kind = kinds[f.path]
            if only_tags and f.site not in kept:
                kept[f.site] = _seed_kept_ids(study=study, site=f.site)
            questions, posts = kept.get(f.site, (None, None))
            phase = f"reading {f.name}"

            def on_progress(reader: DumpReader, phase=phase, bytes_before=bytes_done, rows_before=rows_done):
                report(phase=phase, bytes_read=bytes_before + reader.bytes_read, rows_read=rows_before + reader.stats.rows)

            with open(f.path, "rb") as stream:
                reader = DumpReader(
                    stream,
                    name=f.name,
                    only_tags=only_tags,
                    max_field_bytes=max_field_bytes,
                    seen=per_site.setdefault((f.site, kind), IdSet()),
                    kept_questions=questions,
                    kept_posts=posts,
                    on_progress=on_progress,
                )
                write = stage.write_posts if kind == "posts" else stage.write_comments
                batch: list = []
                for record in reader:
                    batch.append(record)
                    if len(batch) >= BATCH_ROWS:
                        write(f.site, batch)
                        batch = []
                write(f.site, batch)
            stats = reader.stats
            bytes_done += reader.bytes_read
            rows_done += stats.rows
            report(force=True, phase=f"read {f.name}", bytes_read=bytes_done, rows_read=rows_done)
            skipped.update(stats.skipped)
            totals.update(
                questions=stats.questions, answers=stats.answers, comments=stats.comments, rejected=stats.rejected
            )
            rejections.extend(
                {"file": f.name, "line": r.line, "id": r.so_id, "reason": r.reason} for r in stats.rejections
            )
            file_summaries.append(
                {
                    "name": f.name,
                    "site": f.site,
                    "kind": kind,
                    "rows": stats.rows,
                    "questions": stats.questions,
                    "answers": stats.answers,
                    "comments": stats.comments,
                    "skipped": stats.skipped_total,
                    "rejected": stats.rejected,
                }
            )
        report(force=True, phase="applying to the study")
        stage.apply(on_wait=lambda: report(force=True, phase="waiting for another import into this study"))
    table_statistics_refresh(Post, Comment)

    return {
        "questions": totals["questions"],
        "answers": totals["answers"],
        "comments": totals["comments"],
        "skipped": sum(skipped.values()),
        "rejected": totals["rejected"],
        "skipped_by_reason": dict(skipped.most_common()),
        "rejected_rows": rejections[: DumpReader.MAX_REJECTIONS_LISTED],
        "files": file_summaries,
        "only_tags": list(only_tags),
        "rows_read": rows_done,
        "bytes_read": bytes_done,
        "seconds": round(time.monotonic() - started, 3),
        "study_totals": study_totals(study=study),
    }


# -- jobs ----------------------------------------------------------------------


def _upload_dir(job_id: int) -> Path:
    return Path(settings.MEDIA_ROOT) / "imports" / str(job_id)


@transaction.atomic
def import_job_start(
    *,
    study,
    uploads: Sequence[UploadedFile],
    only_tags: str | Sequence[str] = "",
    site: str = "",
    user=None,
) -> Job:
    """Save uploaded dumps and queue their import as a job (runs after commit)."""
    from django.core.exceptions import ValidationError

    if not uploads:
        raise ValidationError({"files": "Choose at least one Posts.xml or Comments.xml file."})
    limit = settings.TAXONOMIST_MAX_UPLOAD_BYTES
    for upload in uploads:
        if upload.size is not None and upload.size > limit:
            raise ValidationError(
                {"files": f"{upload.name} is {upload.size / 1e6:.0f} MB, over the {limit / 1e6:.0f} MB upload limit; "
                 "import large dumps with `manage.py import_stackexchange`."}
            )
    try:
        tags = parse_tag_list(only_tags) if isinstance(only_tags, str) else parse_tag_list(" ".join(only_tags))
    except ValueError as exc:
        raise ValidationError({"only_tags": str(exc)}) from None

    job = job_create(study=study, kind=JobKind.IMPORT, params={}, created_by=user, enqueue=False)
    folder = _upload_dir(job.pk)
    folder.mkdir(parents=True, exist_ok=True)
    described = []
    for index, upload in enumerate(uploads):
        safe_name = f"{index}-{Path(upload.name).name}"
        target = folder / safe_name
        with open(target, "wb") as out:
            for chunk in upload.chunks():
                out.write(chunk)
        described.append(import_file_describe(path=str(target), name=Path(upload.name).name, site=site))
        try:  # a file that is not a dump at all is refused now, in the form, not later in the job
            with open(target, "rb") as stream:
                peek_kind(stream, name=described[-1].name)
        except DumpError as exc:
            shutil.rmtree(folder, ignore_errors=True)
            raise ValidationError({"files": str(exc)}) from None
    job.params = {
        "files": [{"path": f.path, "name": f.name, "site": f.site} for f in described],
        "only_tags": list(tags),
        "uploaded": True,
    }
    job.bytes_total = sum(os.path.getsize(f.path) for f in described)
    job.save(update_fields=["params", "bytes_total"])
    transaction.on_commit(lambda: _enqueue(job.pk))
    return job


def _enqueue(job_id: int) -> None:
    from annotator.jobs.tasks import run_job

    run_job.delay(job_id)


def import_job_create_for_cli(*, study, files: Sequence[ImportFile], only_tags: Sequence[str], user=None) -> Job:
    """A job row for an import that the command line runs in its own process
    (so that the study's pages show it, with its progress, like any other)."""
    return job_create(
        study=study,
        kind=JobKind.IMPORT,
        params={
            "files": [{"path": f.path, "name": f.name, "site": f.site} for f in files],
            "only_tags": list(only_tags),
            "uploaded": False,
            "source": "command line",
        },
        created_by=user,
        enqueue=False,
    )


def import_job_execute(*, job: Job, on_progress: Callable[[Job], None] | None = None) -> dict[str, Any] | None:
    """Run a claimed import job; record the summary, or the error, on the row.
    Returns the summary, or None when the import failed (``job.error`` says why)."""
    files = [ImportFile(**f) for f in job.params.get("files", [])]

    def write(**fields):
        job_progress(job=job, **fields)
        if on_progress:
            on_progress(job)

    try:
        summary = import_run(
            study=job.study,
            files=files,
            only_tags=job.params.get("only_tags", []),
            progress=ProgressReporter(write),
        )
    except DumpError as exc:
        job_fail(job=job, error=f"{exc}. Nothing was imported from this run.")
        return None
    except BaseException as exc:
        job_fail(job=job, error=f"Internal error: {type(exc).__name__}: {exc}. Nothing was imported from this run.")
        raise
    finally:
        if job.params.get("uploaded"):  # the dumps were copies made for this job
            for folder in {Path(f.path).parent for f in files}:
                shutil.rmtree(folder, ignore_errors=True)
    job_succeed(job=job, result=summary)
    return summary
