"""Job rows: create and queue, claim, report progress, finish, cancel, sweep.

One life-cycle for every kind: ``queued → running → succeeded | failed``. A job
ends exactly once (``_finish`` moves only an unfinished row), and as it ends the
hook its app registered (``job_handler_register(..., ended=)``) releases what it
held: a pending draw, an agreement run, uploaded or half-written files.

Nothing is left unfinished for good:

* a job is queued only if the job queue answers (``job_queue_check`` before the
  row is written; otherwise ``JobQueueUnavailable`` and the caller's transaction
  keeps nothing); if the queue fails in the instant between that check and the
  commit, the job is recorded as failed and released, and the error still reaches
  the caller;
* a running job's worker writes a heartbeat every ``JOB_HEARTBEAT_SECONDS``
  (``job_heartbeat``); ``job_sweep`` (each worker, at start and every
  ``JOB_SWEEP_SECONDS``) and ``job_reap_if_stale`` (a page or the API reading the
  job) fail a running job with no heartbeat for ``JOB_STALE_AFTER_SECONDS``;
* ``job_sweep`` hands a queued job nobody took to the queue again (a lost
  message), at most ``JOB_SEND_ATTEMPTS`` times, and then fails it;
* an owner cancels a queued job at once, a running one at its next progress
  report (``job_progress`` raises ``JobCancelled``).

Progress is written with ``UPDATE`` statements outside any long transaction,
so a page polling the row sees it move while the job works.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DatabaseError, connection, connections, transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from .conf import job_setting
from .models import Job, JobStatus
from .registry import job_ended_hook
from .selectors import job_can_cancel

logger = logging.getLogger(__name__)

QUEUE_UNAVAILABLE = ("The job queue is unavailable, so the job was not started and nothing was saved. "
                     "Try again in a moment.")
QUEUE_LOST = ("The job queue became unavailable as this job was being started: it was not queued, and "
              "nothing it held is kept. Start it again when the queue is back.")


class JobQueueUnavailable(Exception):
    """The job queue (the Celery broker) cannot be reached: answered as a 503
    (``annotator/jobs/middleware.py``)."""

    def __init__(self, message: str = QUEUE_UNAVAILABLE):
        super().__init__(message)
        self.message = message


class JobStopped(Exception):
    """Raised in a running job by ``job_progress`` when the job must stop: it has
    ended meanwhile (the sweeper took its worker for dead)."""


class JobCancelled(JobStopped):
    """An owner asked to cancel the job; the runner records it as cancelled."""


# -- the queue ----------------------------------------------------------------------


def job_queue_check() -> None:
    """Raise ``JobQueueUnavailable`` unless the broker answers now (one attempt,
    no retries: the request that starts a job must not hang)."""
    from annotator.celery import app

    try:
        with app.connection_for_write() as broker:
            broker.ensure_connection(max_retries=0)
    except Exception as exc:  # each transport raises its own errors
        logger.warning("job queue unavailable: %s", exc)
        raise JobQueueUnavailable() from exc


def job_send(*, job: Job) -> None:
    """Hand the job to the queue (again). Safe to repeat: only a queued job is claimed."""
    from .tasks import run_job

    try:
        run_job.delay(job.pk)
    except Exception as exc:
        Job.objects.filter(pk=job.pk).update(send_attempts=F("send_attempts") + 1)
        logger.warning("job %s could not be queued: %s", job.pk, exc)
        raise JobQueueUnavailable() from exc
    Job.objects.filter(pk=job.pk).update(send_attempts=F("send_attempts") + 1, sent_at=timezone.now())


def _send_after_commit(job: Job) -> None:
    try:
        job_send(job=job)
    except JobQueueUnavailable:
        job_fail(job=job, error=QUEUE_LOST)
        raise JobQueueUnavailable(QUEUE_LOST) from None


# -- the row ------------------------------------------------------------------------


@transaction.atomic
def job_create(*, study, kind: str, params: dict[str, Any], created_by=None, enqueue: bool = True, **fields) -> Job:
    """Record a job and, unless ``enqueue`` is false (the command line runs its
    own), queue it once the transaction commits. Raises ``JobQueueUnavailable``
    when the queue does not answer: raised inside the caller's transaction, it
    leaves nothing the caller wrote either."""
    if enqueue:
        job_queue_check()
    job = Job.objects.create(study=study, kind=kind, params=params, created_by=created_by, **fields)
    if enqueue:
        transaction.on_commit(lambda: _send_after_commit(job))
    return job


def job_claim(*, job_id: int) -> Job | None:
    """Move a queued job to running. ``None`` if it is not queued (already
    taken by another worker, finished, or deleted): running it twice is a no-op."""
    with transaction.atomic():
        job = Job.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.status != JobStatus.QUEUED:
            return None
        job.status = JobStatus.RUNNING
        job.started_at = job.heartbeat_at = timezone.now()
        job.save(update_fields=["status", "started_at", "heartbeat_at"])
        return job


def job_progress(*, job: Job, **fields: Any) -> None:
    """Write progress (and a heartbeat). This is also where a running job learns
    that it must stop: ``JobCancelled`` when an owner asked to cancel it,
    ``JobStopped`` when it has ended meanwhile."""
    fields.setdefault("heartbeat_at", timezone.now())
    written = Job.objects.filter(
        pk=job.pk, status__in=[JobStatus.QUEUED, JobStatus.RUNNING], cancel_requested_at__isnull=True
    ).update(**fields)
    if not written:
        row = Job.objects.filter(pk=job.pk).only("status", "cancel_requested_at").first()
        if row is not None and not row.is_finished and row.cancel_requested_at:
            raise JobCancelled()
        raise JobStopped()
    for name, value in fields.items():
        setattr(job, name, value)


def job_succeed(*, job: Job, result: dict[str, Any]) -> bool:
    return _finish(job, status=JobStatus.SUCCEEDED, result=result, phase="done")


def job_fail(*, job: Job, error: str, result: dict[str, Any] | None = None) -> bool:
    """Record the failure. A job an owner asked to cancel ends as cancelled, whatever stopped it."""
    return _finish(job, status=JobStatus.FAILED, error=error, result=result, phase="failed")


def _cancel_reason(job: Job) -> str:
    by = job.cancel_requested_by
    return f"Cancelled by {by.username}." if by else "Cancelled."


def _finish(job: Job, *, status: str, error: str = "", result: dict[str, Any] | None = None, phase: str,
            only_if: Callable[[Job], bool] | None = None) -> bool:
    """End the job, once: ``False`` (and ``job`` refreshed) when it had ended already
    or ``only_if(row)`` says no. The app's ``ended`` hook runs in the same transaction."""
    with transaction.atomic():
        row = Job.objects.select_for_update().filter(pk=job.pk).first()
        if row is None or row.is_finished or (only_if is not None and not only_if(row)):
            if row is not None:
                job.refresh_from_db()
            return False
        if status == JobStatus.FAILED and row.cancel_requested_at:
            error, phase = _cancel_reason(row), "cancelled"
        row.status, row.error, row.result, row.phase = status, error, result or {}, phase
        row.finished_at = timezone.now()
        row.save(update_fields=["status", "error", "result", "phase", "finished_at"])
        hook = job_ended_hook(row.kind)
        if hook is not None:
            hook(job=row)
    job.refresh_from_db()
    return True


# -- cancelling ---------------------------------------------------------------------


def job_cancel(*, job: Job, user) -> Job:
    """Cancel a job: a queued one ends now, a running one at its next progress
    report (or, if its worker has stopped, when the sweeper finds it). Asking
    twice is harmless; a job that has ended cannot be cancelled."""
    if not job_can_cancel(job=job, user=user):
        raise PermissionDenied("Only an owner of the study or the member who started the job can cancel it.")
    with transaction.atomic():
        row = Job.objects.select_for_update().get(pk=job.pk)
        if row.is_finished:
            raise ValidationError(f"This job has already {row.get_status_display().lower()}: "
                                  "there is nothing to cancel.")
        if row.cancel_requested_at is None:
            row.cancel_requested_at, row.cancel_requested_by = timezone.now(), user
            row.save(update_fields=["cancel_requested_at", "cancel_requested_by"])
        if row.status == JobStatus.QUEUED:  # its message may still come: it will find nothing to claim
            job_fail(job=row, error="Cancelled.")
    job.refresh_from_db()
    return job


# -- a dead worker, a lost message ----------------------------------------------------


WORKER_STOPPED = ("The worker stopped while running this job (no sign of life from it for more than {seconds}). "
                  "Nothing half-done was kept; start it again.")
NEVER_TAKEN = ("No worker took this job: it was handed to the job queue {attempts} times. "
               "Is the job worker running? Start it again.")


def _seconds(value: float) -> str:
    return f"{value / 60:g} minutes" if value >= 120 else f"{value:g} s"


def _stale_before() -> Any:
    return timezone.now() - timedelta(seconds=job_setting("JOB_STALE_AFTER_SECONDS"))


def _is_stale(job: Job) -> bool:
    last = job.heartbeat_at or job.started_at
    return job.status == JobStatus.RUNNING and last is not None and last < _stale_before()


def job_reap_if_stale(*, job: Job) -> bool:
    """Fail a running job whose worker has shown no sign of life for
    ``JOB_STALE_AFTER_SECONDS`` (its app's hook releases what it held). Cheap
    when the job is fine: pages and the API call it as they read a job."""
    if not _is_stale(job):
        return False
    return _finish(job, status=JobStatus.FAILED, phase="failed", only_if=_is_stale,
                   error=WORKER_STOPPED.format(seconds=_seconds(job_setting("JOB_STALE_AFTER_SECONDS"))))


def job_sweep() -> dict[str, int]:
    """What each worker runs at start and every ``JOB_SWEEP_SECONDS``: fail the
    running jobs whose worker stopped; while no job runs (the queue is not moving),
    hand the queued jobs nobody took for ``JOB_RESEND_AFTER_SECONDS`` to the queue
    again, and fail those handed over ``JOB_SEND_ATTEMPTS`` times already."""
    stale_before = _stale_before()
    running = Job.objects.filter(status=JobStatus.RUNNING)
    stale = running.filter(Q(heartbeat_at__lt=stale_before) | Q(heartbeat_at__isnull=True, started_at__lt=stale_before))
    counts = {"reaped": sum(job_reap_if_stale(job=job) for job in stale), "resent": 0, "expired": 0}
    if running.exists():
        return counts
    resend_before = timezone.now() - timedelta(seconds=job_setting("JOB_RESEND_AFTER_SECONDS"))
    waiting = (Job.objects.filter(status=JobStatus.QUEUED).annotate(last_sent=Coalesce("sent_at", "created_at"))
               .filter(last_sent__lt=resend_before).order_by("created_at"))
    for job in waiting:
        if job.send_attempts >= job_setting("JOB_SEND_ATTEMPTS"):
            counts["expired"] += job_fail(job=job, error=NEVER_TAKEN.format(attempts=job.send_attempts))
            continue
        try:
            job_send(job=job)
        except JobQueueUnavailable:
            break
        counts["resent"] += 1
    if any(counts.values()):
        logger.info("job sweep: %s", counts)
    return counts


@contextmanager
def job_heartbeat(job: Job) -> Iterator[None]:
    """While the block runs, a thread writes the job's heartbeat every
    ``JOB_HEARTBEAT_SECONDS``, whatever the job is busy with (a long query, a
    long computation): when the process dies, the heartbeat stops with it."""
    if connection.in_atomic_block:
        # Run inside a transaction (tests): another connection would not see the row, or
        # (SQLite) would wait for that transaction's lock.
        yield
        return
    stop = threading.Event()
    beat = threading.Thread(target=_heartbeat_loop, args=(job.pk, stop), name=f"job-{job.pk}-heartbeat",
                            daemon=True)
    beat.start()
    try:
        yield
    finally:
        stop.set()
        beat.join(timeout=5)


def _heartbeat_loop(job_id: int, stop: threading.Event) -> None:
    try:
        while not stop.wait(job_setting("JOB_HEARTBEAT_SECONDS")):
            try:
                if not Job.objects.filter(pk=job_id, status=JobStatus.RUNNING).update(heartbeat_at=timezone.now()):
                    return  # it has ended
            except DatabaseError as exc:  # a restarting database, SQLite busy: try again at the next beat
                logger.warning("job %s: heartbeat not written: %s", job_id, exc)
    finally:
        connections.close_all()  # this thread's connections only


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
