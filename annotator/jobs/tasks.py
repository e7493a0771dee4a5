import logging

from celery import shared_task

logger = logging.getLogger(__name__)


@shared_task(name="jobs.run_job", acks_late=False, ignore_result=True)
def run_job(job_id: int) -> None:
    """Run one job row. Safe to deliver twice: only a queued job is claimed."""
    from .runner import job_run

    job_run(job_id=job_id)
