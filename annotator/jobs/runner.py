"""Dispatch a claimed job to the service that does its work, and record how it ended."""

from __future__ import annotations

import logging

from .models import JobKind
from .services import job_claim, job_fail

logger = logging.getLogger(__name__)


def job_run(*, job_id: int) -> None:
    job = job_claim(job_id=job_id)
    if job is None:
        logger.info("job %s is not queued; nothing to do", job_id)
        return
    try:
        if job.kind == JobKind.IMPORT:
            from annotator.corpus.services import import_job_execute

            import_job_execute(job=job)
        elif job.kind == JobKind.QUESTION_SET:
            from annotator.selection.services import question_set_job_execute

            question_set_job_execute(job=job)
        elif job.kind == JobKind.SAMPLE_DRAW:
            from sampling.services import sample_draw_job_execute

            sample_draw_job_execute(job=job)
        elif job.kind == JobKind.AGREEMENT:
            from annotator.agreement.services import agreement_run_job_execute

            agreement_run_job_execute(job=job)
        else:  # pragma: no cover - the check constraint forbids other kinds
            job_fail(job=job, error=f"Unknown job kind {job.kind!r}.")
    except Exception as exc:  # the job row must never stay "running" after a crash
        logger.exception("job %s failed", job_id)
        job_fail(job=job, error=f"Internal error: {type(exc).__name__}: {exc}")
