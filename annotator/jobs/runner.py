"""Run a claimed job with the service its app registered, and record how it ended.

Each app owns its job kinds: it registers the service that runs each of its kinds
(and the hook that releases what a job held when it ends) in its
``AppConfig.ready`` (``annotator.jobs.registry.job_handler_register``), so this
module imports no domain and a new kind is one call in its own app.
"""

from __future__ import annotations

import logging

from .models import Job
from .registry import job_handler
from .services import (
    JobCancelled,
    JobStopped,
    job_claim,
    job_fail,
    job_heartbeat,
    job_reap_if_stale,
)

logger = logging.getLogger(__name__)


def job_run(*, job_id: int) -> None:
    job = job_claim(job_id=job_id)
    if job is None:
        # Not queued: finished, cancelled, or running. A message delivered again because
        # the worker running the job died (acks_late): fail the job if that is so.
        running = Job.objects.filter(pk=job_id).first()
        if running is not None:
            job_reap_if_stale(job=running)
        logger.info("job %s is not queued; nothing to do", job_id)
        return
    with job_heartbeat(job):
        _run(job)


def _run(job: Job) -> None:
    handler = job_handler(job.kind)
    if handler is None:
        job_fail(job=job, error=f"Unknown job kind {job.kind!r}: no app runs it.")
        return
    try:
        handler(job=job)
    except JobCancelled:
        job_fail(job=job, error="Cancelled.")  # recorded with who cancelled it
    except JobStopped:
        logger.info("job %s ended while it was running (taken for dead); stopped", job.pk)
    except Exception as exc:  # the job row must never stay "running" after a crash
        logger.exception("job %s failed", job.pk)
        job_fail(job=job, error=f"Internal error: {type(exc).__name__}: {exc}")
    else:
        job_fail(job=job, error="The job ended without recording its result (a bug: its log says more).")
