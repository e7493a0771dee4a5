import logging

from celery import shared_task

logger = logging.getLogger(__name__)


# acks_late: the message leaves the queue only once the job has run, so a worker that dies
# before claiming it does not lose it. reject_on_worker_lost: a pool process killed while
# running puts the message back; delivered again, it finds the job running and only checks
# whether its worker is gone (claiming is idempotent: a job never runs twice).
@shared_task(name="jobs.run_job", acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def run_job(job_id: int) -> None:
    """Run one job row. Safe to deliver twice: only a queued job is claimed."""
    from .runner import job_run

    job_run(job_id=job_id)


@shared_task(name="jobs.sweep", ignore_result=True)
def sweep_jobs() -> None:
    """Fail jobs whose worker stopped, queue again jobs whose message was lost
    (sent by every worker at start and every JOB_SWEEP_SECONDS: annotator/jobs/worker.py)."""
    from .services import job_sweep

    job_sweep()
