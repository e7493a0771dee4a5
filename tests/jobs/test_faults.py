"""Fault tests against real services of the test's own: a ``redis-server`` on a free
port, Celery worker processes and a gunicorn web server on it, all on the test
database. Nothing else on the machine is touched.

* A worker killed (``kill -9``, its whole process group) while it runs an import, a
  draw or an agreement run: the job ends failed with the reason within the bound
  (``JOB_STALE_AFTER_SECONDS``, short here), found by a restarted worker's sweep or by
  the page or API reading it; what it held is released (the upload removed, a new
  draw accepted), and the next job runs.
* Redis stopped while jobs are started: 503 with a message on the API and the pages,
  nothing written; with Redis back, the next job runs. A message Redis lost (restarted
  without persistence) is sent again by the sweep and its job runs.

Each job is big enough to run for a second or more; the worker is killed as soon as
its job is seen running, and the job is checked to be still running then.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from django.conf import settings
from django.db import connection
from django.utils import timezone
from rest_framework.authtoken.models import Token

from taxonomy.review.agreement.models import AgreementRun, RunStatus
from annotator.corpus.models import Post
from annotator.jobs.models import Job, JobStatus
from conftest import ROOT, _database_url, need, wait_for
from sampling.draws.models import Assignment, DrawStatus, SampleDraw
from taxonomy.labelling.models import Label
from tests.factories import labelling_draw

from .conftest import KINDS, dump_rows, lab_make

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

STALE_AFTER = 2.0  # seconds without a heartbeat before a running job is taken for dead (short for the test)
JOB_ENV = {
    "JOB_HEARTBEAT_SECONDS": "0.3",
    "JOB_STALE_AFTER_SECONDS": str(STALE_AFTER),
    "JOB_SWEEP_SECONDS": "0.5",
    "JOB_RESEND_AFTER_SECONDS": "2",
}
STOPPED = "The worker stopped while running this job"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Service:
    """A process of the test's own, in its own process group (so that kill -9 takes its
    children too, as a crash of its container would)."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_dir: Path):
        self.name, self.argv, self.env = name, argv, env
        self.log_path = log_dir / f"{name}.log"
        self.process: subprocess.Popen | None = None

    def start(self, ready, timeout: float = 60) -> Service:
        with open(self.log_path, "ab") as log:  # the child keeps its own copy
            self.process = subprocess.Popen(self.argv, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True)
        deadline = time.monotonic() + timeout
        while not ready():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.kill()
                pytest.fail(f"{self.name} did not start:\n{self.log()}")
            time.sleep(0.1)
        return self

    def kill(self) -> None:
        """kill -9 of the process and its children."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:] if self.log_path.exists() else ""


class Stack:
    """Redis, workers and a web server of the test's own, on the test database."""

    def __init__(self, tmp_path: Path):
        self.tmp = tmp_path
        self.media = tmp_path / "media"  # the web server's uploads, read by the workers
        self.redis_port, self.web_port = free_port(), free_port()
        self.broker = f"redis://127.0.0.1:{self.redis_port}/0"
        self.url = f"http://127.0.0.1:{self.web_port}"
        self.env = {
            **os.environ, **JOB_ENV,
            "CELERY_BROKER_URL": self.broker,
            "DATABASE_URL": _database_url(connection.settings_dict),
            "TAXONOMIST_DATA_DIR": str(settings.DATA_DIR),
            "TAXONOMIST_MEDIA_ROOT": str(self.media),
            "DEBUG": "0",
            "PYTHONUNBUFFERED": "1",
        }
        self.redis = Service("redis", ["redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1",
                                       "--save", "", "--appendonly", "no", "--dir", str(tmp_path)],
                             self.env, tmp_path)
        self.web = Service("web", [sys.executable, "-m", "gunicorn", "annotator.wsgi", "--bind",
                                   f"127.0.0.1:{self.web_port}", "--workers", "1", "--threads", "4"],
                           self.env, tmp_path)
        self.workers: list[Service] = []

    def redis_start(self) -> None:
        self.redis.start(lambda: self.redis_command(b"PING") == b"+PONG")

    def redis_command(self, command: bytes) -> bytes:
        try:
            with socket.create_connection(("127.0.0.1", self.redis_port), timeout=1) as sock:
                sock.sendall(command + b"\r\n")
                return sock.recv(64).strip()
        except OSError:
            return b""

    def web_start(self) -> None:
        def answers():
            try:
                return requests.get(f"{self.url}/accounts/login/", timeout=2).status_code == 200
            except requests.RequestException:
                return False

        self.web.start(answers)

    def worker_start(self) -> Service:
        number = len(self.workers) + 1
        worker = Service(f"worker{number}", [
            sys.executable, "-m", "celery", "-A", "annotator", "worker", "--pool=solo", "--concurrency=1",
            "--loglevel=INFO", "--without-heartbeat", "--without-gossip", "--without-mingle",
            "--hostname", f"fault{number}@%h"], self.env, self.tmp)
        self.workers.append(worker)
        return worker.start(lambda: " ready." in worker.log())

    def reset(self) -> None:
        """Between tests: no worker, Redis up and empty."""
        for worker in self.workers:
            worker.kill()
        if self.redis.process.poll() is not None:
            self.redis_start()
        self.redis_command(b"FLUSHALL")

    def close(self) -> None:
        for service in [*self.workers, self.web, self.redis]:
            service.stop()

    def logs(self) -> str:
        return "\n".join(f"--- {s.name}\n{s.log()}" for s in [*self.workers, self.web])


@pytest.fixture(scope="module")
def services(django_db_setup, django_db_blocker, tmp_path_factory):
    """Started once for the module (a gunicorn and a worker take seconds to start)."""
    need(shutil.which("redis-server") is not None, "redis-server is not installed (apt-get install redis-server)")
    with django_db_blocker.unblock():
        stack = Stack(tmp_path_factory.mktemp("faults"))
    try:
        stack.redis_start()
        stack.web_start()
        yield stack
    finally:
        stack.close()


@pytest.fixture
def stack(services, transactional_db):
    yield services
    services.reset()


@pytest.fixture
def lab(stack):
    lab = lab_make()
    lab.token = Token.objects.create(user=lab.owner).key
    return lab


def api(stack, lab, method: str, path: str, **kwargs) -> requests.Response:
    return requests.request(method, f"{stack.url}{path}", headers={"Authorization": f"Token {lab.token}"},
                            timeout=30, **kwargs)


def job_wait(job_id: int, *statuses: str, timeout: float, stack: Stack) -> Job:
    job = wait_for(lambda: Job.objects.filter(pk=job_id, status__in=statuses).first(), timeout=timeout)
    assert job is not None, f"job {job_id} is {Job.objects.get(pk=job_id).status}\n{stack.logs()}"
    return job


def kill_while_running(job_id: int, worker: Service, stack: Stack) -> None:
    """kill -9 the worker as soon as its job is seen running (the jobs here run for
    a second or more: it is still running when the signal lands, which is checked)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status = Job.objects.values_list("status", flat=True).get(pk=job_id)
        if status == JobStatus.RUNNING:
            worker.kill()
            after = Job.objects.values_list("status", flat=True).get(pk=job_id)
            assert after == JobStatus.RUNNING, f"the job {after} as the worker was killed\n{stack.logs()}"
            return
        assert status == JobStatus.QUEUED, f"the job {status} before it could be killed\n{stack.logs()}"
        time.sleep(0.002)
    pytest.fail(f"the job never ran\n{stack.logs()}")


def test_a_worker_killed_during_an_import(stack, lab):
    worker = stack.worker_start()
    started = api(stack, lab, "POST", "/api/studies/dl/imports/",
                  files={"files": ("serverfault.com-Posts.xml", dump_rows(20_000, first_id=100_000), "text/xml")})
    assert started.status_code == 202, started.text
    job_id = started.json()["id"]
    kill_while_running(job_id, worker, stack)
    killed_at = time.monotonic()
    upload = stack.media / "imports" / str(job_id)
    assert upload.is_dir()  # the dump the dead worker was reading

    stack.worker_start()  # restarted (a supervisor, docker's restart policy): its sweep finds the job
    job = job_wait(job_id, JobStatus.FAILED, JobStatus.SUCCEEDED, timeout=STALE_AFTER + 30, stack=stack)
    assert job.status == JobStatus.FAILED and STOPPED in job.error, job.error
    assert time.monotonic() - killed_at < STALE_AFTER + 30
    assert not upload.exists()
    assert not Post.objects.filter(study=lab.study, so_id__range=(100_000, 199_999)).exists()  # none half-imported

    again = api(stack, lab, "POST", "/api/studies/dl/imports/",
                files={"files": ("serverfault.com-Posts.xml", dump_rows(50, first_id=100_000), "text/xml")})
    job = job_wait(again.json()["id"], JobStatus.SUCCEEDED, JobStatus.FAILED, timeout=60, stack=stack)
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert Post.objects.filter(study=lab.study, so_id__range=(100_000, 199_999)).count() == 50


def test_a_worker_killed_during_a_draw_releases_the_study(stack, lab):
    from tests.factories import evaluated_set, questions_bulk

    big = evaluated_set(study=lab.study, name="Big", posts=questions_bulk(study=lab.study, count=20_000,
                                                                           first_so_id=200_000))
    body = {**lab.draw_body(), "strata": [{"question_set": big.pk}, {"question_set": lab.browser.pk,
                                                                     "mode": "census"}]}
    worker = stack.worker_start()
    started = api(stack, lab, "POST", "/api/studies/dl/draws/", json=body)
    assert started.status_code == 202, started.text
    job_id, version = started.json()["job_detail"]["id"], started.json()["version"]
    kill_while_running(job_id, worker, stack)
    assert SampleDraw.objects.get(study=lab.study, version=version).status == DrawStatus.PENDING

    refused = api(stack, lab, "POST", "/api/studies/dl/draws/", json=body)
    assert refused.status_code == 400 and "Another draw is in progress" in refused.text
    time.sleep(STALE_AFTER + 0.5)
    # No worker runs: starting a new draw finds the dead one and releases it.
    accepted = api(stack, lab, "POST", "/api/studies/dl/draws/", json=body)
    assert accepted.status_code == 202, accepted.text
    dead = SampleDraw.objects.get(study=lab.study, version=version)
    assert dead.status == DrawStatus.FAILED and STOPPED in dead.error
    assert Job.objects.get(pk=job_id).status == JobStatus.FAILED
    assert not dead.items.exists()  # nothing half-drawn
    assert SampleDraw.objects.get(study=lab.study, version=accepted.json()["version"]).status == DrawStatus.PENDING


def test_a_worker_killed_during_an_agreement_run(stack, lab):
    draw = labelling_draw(study=lab.study, raters=[lab.rater, lab.other_rater], pilot=0, reliability=400,
                          first_so_id=300_000)
    now = timezone.now()
    Label.objects.bulk_create(
        Label(assignment_id=pk, kind=("unclear", "false_positive", "pending")[(pk * 7 + pk // 3) % 3],
              submitted_at=now, updated_at=now)
        for pk in Assignment.objects.filter(draw=draw).values_list("pk", flat=True))
    worker = stack.worker_start()
    body = {"scope": "draw", "draw": draw.version, "resamples": 10_000, "seed": 1}
    started = api(stack, lab, "POST", "/api/studies/dl/agreement/", json=body)
    assert started.status_code == 202, started.text
    job_id = started.json()["job_detail"]["id"]
    kill_while_running(job_id, worker, stack)

    time.sleep(STALE_AFTER + 0.5)
    read = api(stack, lab, "GET", f"/api/jobs/{job_id}/").json()  # the API reads it: failed, with why
    assert read["status"] == "failed" and STOPPED in read["error"]
    run = AgreementRun.objects.get(job_id=job_id)
    assert run.status == RunStatus.FAILED and STOPPED in run.error and run.finished_at



def page_session(stack, lab, client) -> requests.Session:
    """A signed-in browser session on the stack's web server (the session row is shared)."""
    client.force_login(lab.owner)
    session = requests.Session()
    session.cookies.set(settings.SESSION_COOKIE_NAME, client.cookies[settings.SESSION_COOKIE_NAME].value)
    session.get(f"{stack.url}/studies/dl/imports/", timeout=10)  # the CSRF cookie
    session.headers["X-CSRFToken"] = session.cookies[settings.CSRF_COOKIE_NAME]
    return session


def test_the_broker_down_when_jobs_start(stack, lab, client):
    worker = stack.worker_start()
    stack.redis.stop()
    before = (Job.objects.count(), SampleDraw.objects.count(), AgreementRun.objects.count())
    for kind in KINDS:
        started = lab_start_over_http(stack, lab, kind)
        assert started.status_code == 503, (kind, started.text)
        assert started.headers["Content-Type"] == "application/json"
        assert started.json()["detail"].startswith("The job queue is unavailable"), started.text
    assert (Job.objects.count(), SampleDraw.objects.count(), AgreementRun.objects.count()) == before
    imports = stack.media / "imports"
    assert not imports.exists() or not any(imports.iterdir())

    browser = page_session(stack, lab, client)
    page = browser.post(f"{stack.url}/studies/dl/imports/", timeout=30,
                        files={"files": ("serverfault.com-Posts.xml", dump_rows(3), "text/xml")})
    assert page.status_code == 503 and "<h1>The job queue is unavailable</h1>" in page.text
    assert "Traceback" not in page.text and "nothing was saved" in page.text
    assert browser.get(f"{stack.url}/studies/dl/draws/", timeout=10).status_code == 200  # the rest works
    assert Job.objects.count() == before[0]

    stack.redis_start()  # back, on the same port
    started = lab_start_over_http(stack, lab, "sample_draw")
    assert started.status_code == 202, started.text
    job_wait(started.json()["job_detail"]["id"], JobStatus.SUCCEEDED, timeout=60, stack=stack)  # the worker came back
    assert worker.process.poll() is None


def lab_start_over_http(stack, lab, kind) -> requests.Response:
    slug = lab.study.slug
    if kind == "import":
        return api(stack, lab, "POST", f"/api/studies/{slug}/imports/",
                   files={"files": ("serverfault.com-Posts.xml", dump_rows(3), "text/xml")})
    if kind == "question_set":
        return api(stack, lab, "POST", f"/api/studies/{slug}/sets/{lab.mobile.pk}/evaluate/")
    if kind == "sample_draw":
        return api(stack, lab, "POST", f"/api/studies/{slug}/draws/", json=lab.draw_body())
    if kind == "agreement":
        return api(stack, lab, "POST", f"/api/studies/{slug}/agreement/",
                   json={"scope": "draw", "draw": lab.labelling.version, "resamples": 50})
    return api(stack, lab, "POST", f"/api/studies/{slug}/results/exports/",
               json={"kind": "items_csv", "draw": lab.labelling.version})


def test_a_message_the_broker_lost_is_sent_again(stack, lab):
    started = lab_start_over_http(stack, lab, "question_set")  # no worker yet: the message waits in Redis
    assert started.status_code == 202, started.text
    job_id = started.json()["id"]
    stack.redis.stop()
    stack.redis_start()  # no persistence: the message is gone
    stack.worker_start()
    job = job_wait(job_id, JobStatus.SUCCEEDED, JobStatus.FAILED, timeout=60, stack=stack)
    assert job.status == JobStatus.SUCCEEDED and job.send_attempts == 2, (job.error, job.send_attempts)
