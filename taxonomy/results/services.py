"""Export jobs: a large export (the items CSV, the study archive, the replication
package) runs in the background, streams to a file and reports its progress;
the page polls the job and then offers the file.

A file is written under ``MEDIA_ROOT/exports/<job id>/`` through a temporary
name and renamed when complete, so a download never sees half a file; a job
that ends any other way leaves none (``export_job_ended``). Only the member who
asked for an export downloads it (what it holds was decided by their sight when
it was made).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404

from annotator.jobs.models import Job, JobKind, JobStatus
from annotator.jobs.services import ProgressReporter, job_create, job_fail, job_progress, job_succeed
from annotator.studies.models import Study

from .selectors import results_scope


@dataclass(frozen=True)
class ExportKind:
    name: str
    title: str
    extension: str
    content_type: str
    scoped: bool  # honours draw / stratum
    write: Callable[..., None]  # write(job=, study=, user=, out=, progress=, **scope)
    check: Callable[..., None] | None = None  # check(study=, user=) raises when the user may not have it


def _items_csv(*, job, study, user, out, progress, draw_version, stratum_name, excel):
    from .items_csv import items_csv_write

    scope = results_scope(study=study, draw_version=draw_version, stratum_name=stratum_name)
    items_csv_write(study=study, out=out, user=user, draw=scope.draws[0] if scope.explicit_draw else None,
                    stratum=stratum_name, excel=excel, progress=progress)


def _archive(*, job, study, user, out, progress, **_scope):
    from .archive import study_archive_sizes, study_archive_write

    total = sum(study_archive_sizes(study=study).values())
    study_archive_write(study=study, out=out,
                        progress=lambda section, rows: progress(rows, total, phase=f"writing {section}"))


def _archive_check(*, study, user):
    from .archive import study_archive_check_allowed

    study_archive_check_allowed(study=study, user=user)


def _package(*, job, study, user, out, progress, **_scope):
    from .package import replication_package_write

    replication_package_write(study=study, user=user, out=out, progress=progress)


EXPORTS: dict[str, ExportKind] = {kind.name: kind for kind in (
    ExportKind("items_csv", "Items CSV", "csv", "text/csv; charset=utf-8", True, _items_csv),
    ExportKind("archive", "Study archive", "json", "application/json", False, _archive, _archive_check),
    ExportKind("package", "Replication package", "zip", "application/zip", False, _package, _archive_check),
)}


def export_kind_get(name: str) -> ExportKind:
    kind = EXPORTS.get(name)
    if kind is None:
        raise ValidationError({"kind": f"Unknown export “{name}”: one of {', '.join(EXPORTS)}."})
    return kind


def export_filename(*, study: Study, kind: ExportKind, draw_version: int | None = None,
                    stratum_name: str | None = None) -> str:
    parts = [study.slug, kind.name.replace("_csv", "")]
    if draw_version is not None:
        parts.append(f"v{draw_version}")
    if stratum_name:
        parts.append("".join(ch if ch.isalnum() else "-" for ch in stratum_name.lower()))
    return "-".join(parts) + "." + kind.extension


def export_start(*, study: Study, user, kind: str, draw_version: int | None = None, stratum_name: str | None = None,
                 excel: bool = False) -> Job:
    """Check what is asked for, then queue the export (after commit)."""
    export = export_kind_get(kind)
    if export.check is not None:
        export.check(study=study, user=user)
    if export.scoped:
        results_scope(study=study, draw_version=draw_version, stratum_name=stratum_name)  # names a bad scope
    elif draw_version is not None or stratum_name:
        raise ValidationError({"kind": f"The {export.title.lower()} holds the whole study: give no draw or stratum."})
    params = {"export": export.name, "draw": draw_version, "stratum": stratum_name, "excel": bool(excel),
              "filename": export_filename(study=study, kind=export, draw_version=draw_version,
                                          stratum_name=stratum_name)}
    return job_create(study=study, kind=JobKind.EXPORT, params=params, created_by=user)


def _directory(job: Job) -> Path:
    return Path(settings.MEDIA_ROOT) / "exports" / str(job.pk)


def export_job_execute(*, job: Job) -> None:
    export = EXPORTS.get(job.params.get("export", ""))
    if export is None:
        job_fail(job=job, error=f"Unknown export {job.params.get('export')!r}.")
        return
    study, user = job.study, job.created_by
    directory = _directory(job)
    directory.mkdir(parents=True, exist_ok=True)
    final = directory / job.params["filename"]
    partial = directory / (job.params["filename"] + ".part")
    report = ProgressReporter(lambda **fields: job_progress(job=job, **fields))

    def progress(done: int, total: int | None = None, phase: str | None = None) -> None:
        fields = {"rows_read": done}
        if total is not None:
            fields["rows_total"] = total
        if phase:
            fields["phase"] = phase
        report(**fields)

    job_progress(job=job, phase=f"writing the {export.title.lower()}")
    try:
        if export.check is not None:
            export.check(study=study, user=user)
        with open(partial, "wb") as out:
            export.write(job=job, study=study, user=user, out=out, progress=progress,
                         draw_version=job.params.get("draw"), stratum_name=job.params.get("stratum"),
                         excel=job.params.get("excel", False))
        os.replace(partial, final)
    except (ValidationError, PermissionDenied) as exc:
        job_fail(job=job, error=" ".join(getattr(exc, "messages", [str(exc)])))
        return
    job_succeed(job=job, result={"filename": final.name, "bytes": final.stat().st_size})


def export_job_ended(*, job: Job) -> None:
    """An export that did not succeed (an error, a crash, a cancel, a worker that
    stopped) leaves no file, whole or half-written."""
    if job.status != JobStatus.SUCCEEDED:
        shutil.rmtree(_directory(job), ignore_errors=True)


def export_job_get(*, study: Study, user, job_id) -> Job:
    """An export job of the member who asked for it; 404 for anyone else (missing or not theirs)."""
    job = Job.objects.filter(study=study, kind=JobKind.EXPORT, pk=int(job_id) if str(job_id).isdigit() else 0,
                             created_by=user).first() if getattr(user, "is_authenticated", False) else None
    if job is None:
        raise Http404("No such export.")
    return job


def export_file_get(*, study: Study, user, job_id) -> tuple[Job, Path, ExportKind]:
    """The finished export's file, for the member who asked for it; 404 otherwise."""
    job = export_job_get(study=study, user=user, job_id=job_id)
    if job.status != JobStatus.SUCCEEDED:
        raise Http404("This export has no file (it is not finished, or it failed).")
    path = _directory(job) / job.result.get("filename", "")
    if not path.is_file():
        raise Http404("This export's file is gone: make it again.")
    return job, path, EXPORTS[job.params["export"]]
