"""How soon a dead worker or a lost message is noticed (README, "Jobs").

Each value comes from a Django setting of the same name if there is one (tests
set them), else from the environment, else from the default here.
"""

from __future__ import annotations

import os

from django.conf import settings
from django.db import connection

DEFAULTS = {
    # A running job's worker writes a heartbeat this often, whatever the job is busy with.
    "JOB_HEARTBEAT_SECONDS": 10.0,
    # A running job with no heartbeat for this long is failed: its worker stopped. SQLite
    # gets longer: one long write (a big import's last step) holds its only write lock, and
    # the heartbeat waits for it.
    "JOB_STALE_AFTER_SECONDS": 120.0,
    "JOB_STALE_AFTER_SECONDS_SQLITE": 600.0,
    # Every worker sweeps (fails stale jobs, queues lost ones again) at start and this often.
    "JOB_SWEEP_SECONDS": 30.0,
    # While no job runs, a queued job nobody took for this long is handed to the queue again ...
    "JOB_RESEND_AFTER_SECONDS": 120.0,
    # ... and failed once it has been handed over this many times.
    "JOB_SEND_ATTEMPTS": 3,
}


def job_setting(name: str) -> float:
    if name == "JOB_STALE_AFTER_SECONDS" and connection.vendor == "sqlite" and not _given(name):
        name = "JOB_STALE_AFTER_SECONDS_SQLITE"
    if hasattr(settings, name):
        return getattr(settings, name)
    value = os.environ.get(name, "").strip()
    return type(DEFAULTS[name])(value) if value else DEFAULTS[name]


def _given(name: str) -> bool:
    return hasattr(settings, name) or bool(os.environ.get(name, "").strip())
