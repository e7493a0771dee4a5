"""A step of every Celery worker: send the job sweep (``jobs.sweep``) at start and
every ``JOB_SWEEP_SECONDS``.

The sweep runs as a task in the worker's pool like any job, not in this (main)
process: a prefork worker's main process must not hold database connections its
children would inherit. Every worker sends it; sweeping twice is harmless.
"""

from __future__ import annotations

import logging

from celery import bootsteps

logger = logging.getLogger(__name__)


class JobSweepStep(bootsteps.StartStopStep):
    requires = {"celery.worker.components:Timer"}

    def __init__(self, worker, **kwargs):
        super().__init__(worker, **kwargs)
        self.timer_entry = None

    def start(self, worker):
        from .conf import job_setting

        interval = job_setting("JOB_SWEEP_SECONDS")
        self.send(interval)
        self.timer_entry = worker.timer.call_repeatedly(interval, self.send, (interval,))

    def stop(self, worker):
        if self.timer_entry is not None:
            self.timer_entry.cancel()

    @staticmethod
    def send(interval: float) -> None:
        from .tasks import sweep_jobs

        try:
            # A sweep that waited behind other jobs for longer than the interval is superseded by the next.
            sweep_jobs.apply_async(expires=interval)
        except Exception as exc:  # the broker is down: the worker reconnects, the next sweep follows
            logger.warning("job sweep not sent: %s", exc)
