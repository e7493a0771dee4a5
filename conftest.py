"""Root test configuration.

Services: with ``REQUIRE_SERVICES=1`` (set by ``.ci/run``) a test that needs
PostgreSQL, Redis, Chromium or ``../shared`` *fails* when it is missing,
instead of being skipped.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest

# The browser fixtures (``browser``, ``page``) for every browser test, wherever it lives.
pytest_plugins = ["tests.browser.fixtures"]

ROOT = Path(__file__).resolve().parent
SHARED_DATA = ROOT.parent / "shared" / "data" / "stackexchange"
REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES") == "1"


def need(condition: bool, reason: str) -> None:
    """Skip when ``condition`` is false, or fail under REQUIRE_SERVICES=1."""
    if condition:
        return
    if REQUIRE_SERVICES:
        pytest.fail(f"REQUIRE_SERVICES=1 but {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    need(SHARED_DATA.is_dir(), f"{SHARED_DATA} is not there (the real dumps beside the repo)")
    return SHARED_DATA


@pytest.fixture(autouse=True)
def _test_settings(settings, tmp_path):
    from django.core.cache import cache

    # Cached reads are keyed by ids, and a rolled-back test's ids come back in the next.
    cache.clear()
    settings.MEDIA_ROOT = tmp_path / "media"
    # The factories give every user a password; PBKDF2 would make the suite take minutes.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _database_url(settings_dict: dict) -> str:
    if settings_dict["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{settings_dict['NAME']}"
    user = quote(settings_dict.get("USER") or "")
    password = quote(settings_dict.get("PASSWORD") or "")
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = settings_dict.get("HOST") or "127.0.0.1"
    port = settings_dict.get("PORT") or 5432
    return f"postgresql://{auth}{host}:{port}/{settings_dict['NAME']}"


@pytest.fixture(scope="session")
def celery_worker_process(django_db_setup, django_db_blocker, tmp_path_factory):
    """A real ``celery worker`` process, on the same broker as the tests
    (Redis under CELERY_BROKER_URL, else the file-system queue) and on the
    test database. Tests using it need committed data: ``transactional_db``."""
    from django.conf import settings
    from django.db import connection

    env = {
        **os.environ,
        "DATABASE_URL": _database_url(connection.settings_dict),
        "TAXONOMIST_DATA_DIR": str(settings.DATA_DIR),
        "PYTHONUNBUFFERED": "1",
        # Imports in the worker read their files in child processes whatever their size,
        # so that this path is tested in a real worker too (it is taken from 16 MB).
        "TAXONOMIST_IMPORT_CHILD_BYTES": "0",
    }
    log_path = tmp_path_factory.mktemp("worker") / "worker.log"
    log = open(log_path, "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "annotator", "worker", "--pool=solo", "--concurrency=1",
         "--loglevel=INFO", "--without-heartbeat", "--without-gossip", "--without-mingle"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while b" ready." not in log_path.read_bytes():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"the Celery worker did not start:\n{log_path.read_text()[-3000:]}")
        time.sleep(0.2)
    proc.log_path = log_path
    yield proc
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


def wait_for(predicate, timeout: float = 30.0, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    need(path is not None, "Debian's chromium is not installed (apt-get install chromium)")
    return path


@pytest.fixture
def queued(monkeypatch):
    """Job ids that would be handed to Celery; no worker runs (tests call job_run themselves)."""
    calls = []
    monkeypatch.setattr("annotator.jobs.tasks.run_job.delay", lambda job_id: calls.append(job_id))
    return calls
