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
from annotator.jobs.services import JobStopped, ProgressReporter, job_create, job_fail, job_progress, job_succeed

from .dump_parser import (
    KIND_ORDER,
    DumpError,
    DumpReader,
    IdSet,
    ReadStats,
    parse_tag_list,
    peek_header,
    peek_kind,
    site_from_path,
)
from .read_process import ReadFile, ReadPlan, read_in_children, read_plan
from .models import Comment, Post, PostType, SiteUser
from .staging import ImportStage

DEFAULT_SITE = "stackoverflow.com"


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


def _seed_kept_ids(*, study, site: str) -> tuple[IdSet, IdSet, IdSet]:
    """Questions and posts the study already has, and their authors', so that a filtered
    import keeps the answers and comments that belong to them, and those users' names."""
    questions, posts, users = IdSet(), IdSet(), IdSet()
    rows = Post.objects.filter(study=study, site=site).values_list("so_id", "post_type", "owner_user_id")
    for so_id, post_type, owner in rows.iterator(chunk_size=10_000):
        posts.add(so_id)
        if post_type == PostType.QUESTION:
            questions.add(so_id)
        if owner is not None:
            users.add(owner)
    commenters = Comment.objects.filter(study=study, site=site, user_id__isnull=False).values_list("user_id", flat=True)
    for user_id in commenters.iterator(chunk_size=10_000):
        users.add(user_id)
    return questions, posts, users


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

    read_files = []
    for f in files:
        try:
            size = os.path.getsize(f.path)
            with open(f.path, "rb") as stream:
                header = peek_header(stream, name=f.name)
        except OSError as exc:
            raise DumpError(f"cannot read the file: {exc.strerror or exc}", file=f.name) from None
        read_files.append(ReadFile(path=f.path, name=f.name, site=f.site, kind=header.kind, size=size,
                                   rows_start=header.rows_start, header_lines=header.lines,
                                   has_rows=header.has_rows))
    # Posts, then comments, then users: a filtered import knows which posts it kept, and who wrote them.
    read_files.sort(key=lambda f: KIND_ORDER[f.kind])
    total_bytes = sum(f.size for f in read_files)

    report(force=True, phase="reading", bytes_total=total_bytes, bytes_read=0, rows_read=0)
    with ImportStage(study_id=study.pk) as stage:
        plan = ReadPlan(
            files=read_files,
            study_id=study.pk,
            now=stage.now.replace(tzinfo=None),
            only_tags=only_tags,
            max_field_bytes=max_field_bytes,
            kept={site: _seed_kept_ids(study=study, site=site) for site in {f.site for f in read_files}}
            if only_tags else {},
            output=stage.output,
            copy_types=stage.copy_types(),
            chunk_bytes=settings.TAXONOMIST_IMPORT_CHUNK_BYTES,
        )
        tally = _ImportTally(plan=plan, stage=stage, report=report)
        # Child processes pay off where much is read and written: a large import of
        # everything. A filtered one reads in order, and writes few of the rows it reads.
        if not only_tags and total_bytes >= settings.TAXONOMIST_IMPORT_CHILD_BYTES:
            plan.conninfo = stage.conninfo()
            read_in_children(plan, tally.handle, workers=settings.TAXONOMIST_IMPORT_READERS)
        else:
            read_plan(plan, tally.handle)
        report(force=True, phase="applying to the study")
        stage.apply(on_wait=lambda: report(force=True, phase="waiting for another import into this study"))
    table_statistics_refresh(Post, Comment, SiteUser)

    return {
        **tally.summary(),
        "only_tags": list(only_tags),
        "seconds": round(time.monotonic() - started, 3),
        "study_totals": study_totals(study=study),
    }


class _ImportTally:
    """Takes the messages of an import's reading (see read_process): writes each batch to
    the stage, reports progress, and adds up each file's counts for the summary."""

    def __init__(self, *, plan: ReadPlan, stage: ImportStage, report: ProgressCallback):
        self.plan, self.stage, self.report = plan, stage, report
        self.files: list[dict[str, Any]] = []
        self.skipped: Counter = Counter()
        self.totals: Counter = Counter()
        self.rejections: list[dict[str, Any]] = []
        self.bytes_done = self.rows_done = 0  # of the files read whole so far

    def handle(self, message: tuple) -> None:
        kind, f = message[0], self.plan.files[message[1]]
        if kind == "batch":
            self.stage.write(f.kind, f.site, *message[2:])
        elif kind == "progress":
            self.report(phase=f"reading {f.name}", bytes_read=self.bytes_done + message[2],
                        rows_read=self.rows_done + message[3])
        elif kind == "file":
            self._file_read(f, stats=message[2], bytes_read=message[3])

    def _file_read(self, f: ReadFile, *, stats: ReadStats, bytes_read: int) -> None:
        self.bytes_done += bytes_read
        self.rows_done += stats.rows
        self.report(force=True, phase=f"read {f.name}", bytes_read=self.bytes_done, rows_read=self.rows_done)
        self.skipped.update(stats.skipped)
        self.totals.update(questions=stats.questions, answers=stats.answers, comments=stats.comments,
                           users=stats.users, rejected=stats.rejected)
        self.rejections.extend({"file": f.name, "line": r.line, "id": r.so_id, "reason": r.reason}
                               for r in stats.rejections)
        self.files.append({
            "name": f.name, "site": f.site, "kind": f.kind, "rows": stats.rows,
            "questions": stats.questions, "answers": stats.answers, "comments": stats.comments,
            "users": stats.users, "skipped": stats.skipped_total, "rejected": stats.rejected,
        })

    def summary(self) -> dict[str, Any]:
        return {
            "questions": self.totals["questions"],
            "answers": self.totals["answers"],
            "comments": self.totals["comments"],
            "users": self.totals["users"],
            "skipped": sum(self.skipped.values()),
            "rejected": self.totals["rejected"],
            "skipped_by_reason": dict(self.skipped.most_common()),
            "rejected_rows": self.rejections[: DumpReader.MAX_REJECTIONS_LISTED],
            "files": self.files,
            "rows_read": self.rows_done,
            "bytes_read": self.bytes_done,
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
        raise ValidationError({"files": "Choose at least one Posts.xml, Comments.xml or Users.xml file."})
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

    # Queued after commit; refused (JobQueueUnavailable, nothing written) if the job queue is down.
    job = job_create(study=study, kind=JobKind.IMPORT, params={}, created_by=user)
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
    return job


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
    except JobStopped:
        raise  # cancelled, or taken for dead: the runner records it
    except BaseException as exc:
        job_fail(job=job, error=f"Internal error: {type(exc).__name__}: {exc}. Nothing was imported from this run.")
        raise
    job_succeed(job=job, result=summary)
    return summary


def import_job_ended(*, job: Job) -> None:
    """Uploaded dumps are copies made for their job: removed however it ended
    (the command line's own files are left alone)."""
    if not job.params.get("uploaded"):
        return
    for folder in {Path(f["path"]).parent for f in job.params.get("files", [])} | {_upload_dir(job.pk)}:
        shutil.rmtree(folder, ignore_errors=True)
