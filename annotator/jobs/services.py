"""Job rows: create (and queue after commit), claim, report progress, finish.

Progress is written with ``UPDATE`` statements outside any long transaction,
so a page polling the row sees it move while the job works.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.utils import timezone

from .models import Job, JobStatus

logger = logging.getLogger(__name__)


@transaction.atomic
def job_create(*, study, kind: str, params: dict[str, Any], created_by=None, enqueue: bool = True, **fields) -> Job:
    job = Job.objects.create(study=study, kind=kind, params=params, created_by=created_by, **fields)
    if enqueue:
        from .tasks import run_job

        transaction.on_commit(lambda: run_job.delay(job.pk))
    return job


def job_claim(*, job_id: int) -> Job | None:
    """Move a queued job to running. ``None`` if it is not queued (already
    taken by another worker, finished, or deleted): running it twice is a no-op."""
    with transaction.atomic():
        job = Job.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.status != JobStatus.QUEUED:
            return None
        job.status = JobStatus.RUNNING
        job.started_at = timezone.now()
        job.save(update_fields=["status", "started_at"])
        return job


def job_progress(*, job: Job, **fields: Any) -> None:
    fields.setdefault("heartbeat_at", timezone.now())
    for name, value in fields.items():
        setattr(job, name, value)
    Job.objects.filter(pk=job.pk).update(**fields)


def job_succeed(*, job: Job, result: dict[str, Any]) -> None:
    job_progress(job=job, status=JobStatus.SUCCEEDED, result=result, finished_at=timezone.now(), phase="done")


def job_fail(*, job: Job, error: str, result: dict[str, Any] | None = None) -> None:
    job_progress(
        job=job, status=JobStatus.FAILED, error=error, result=result or {}, finished_at=timezone.now(), phase="failed"
    )


class ProgressReporter:
    """Calls ``write`` at most every ``interval`` seconds; keeps the hot loop cheap."""

    def __init__(self, write: Callable[..., None], interval: float = 0.5):
        self._write = write
        self._interval = interval
        self._next = 0.0

    def __call__(self, force: bool = False, **fields: Any) -> None:
        now = time.monotonic()
        if force or now >= self._next:
            self._next = now + self._interval
            self._write(**fields)
