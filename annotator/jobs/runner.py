"""Dispatch a claimed job to the service that does its work, and record how it ended.

Each app owns its job kinds: it registers the service that runs each of its kinds
in its ``AppConfig.ready`` (``job_handler_register``), so this module imports no
domain and a new kind is one line in its own app.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from .models import Job
from .services import job_claim, job_fail

logger = logging.getLogger(__name__)

_handlers: dict[str, Callable[..., object]] = {}


def job_handler_register(kind: str, handler: Callable[..., object]) -> None:
    """``handler(job=job)`` runs jobs of ``kind`` (one handler per kind)."""
    if _handlers.get(kind, handler) is not handler:
        raise RuntimeError(f"Job kind {kind!r} has a handler already.")
    _handlers[kind] = handler


def job_kinds_handled() -> set[str]:
    return set(_handlers)


def job_run(*, job_id: int) -> None:
    job = job_claim(job_id=job_id)
    if job is None:
        logger.info("job %s is not queued; nothing to do", job_id)
        return
    _run(job)


def _run(job: Job) -> None:
    handler = _handlers.get(job.kind)
    if handler is None:
        job_fail(job=job, error=f"Unknown job kind {job.kind!r}: no app runs it.")
        return
    try:
        handler(job=job)
    except Exception as exc:  # the job row must never stay "running" after a crash
        logger.exception("job %s failed", job.pk)
        job_fail(job=job, error=f"Internal error: {type(exc).__name__}: {exc}")
