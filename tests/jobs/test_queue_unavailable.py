"""Starting a job while the job queue cannot be reached: 503 with a message
(JSON on the API, a page otherwise), and nothing half-made is left.

The queue is made unreachable for real: the Celery app is pointed at a Redis
port nothing listens on (the check connects; no broker call is faked)."""

import socket
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from kombu.exceptions import OperationalError

from taxonomy.review.agreement.models import AgreementRun
from annotator.celery import app
from annotator.jobs.models import Job, JobStatus
from annotator.jobs.services import QUEUE_LOST
from sampling.draws.models import DrawStatus, SampleDraw

from .conftest import DUMP, KINDS, lab_make

pytestmark = pytest.mark.django_db

UNAVAILABLE = "The job queue is unavailable"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # free again once closed: nothing listens there


@pytest.fixture
def queue_down(monkeypatch):
    url = f"redis://127.0.0.1:{closed_port()}/0"
    # Celery reads CELERY_BROKER_URL from the environment before its configuration (.ci/run sets
    # it). The configuration first: its value read now (and put back afterwards) is the real one.
    monkeypatch.setattr(app.conf, "broker_url", url)
    monkeypatch.setenv("CELERY_BROKER_URL", url)


def counts(lab):
    return (Job.objects.count(), SampleDraw.objects.count(), AgreementRun.objects.count())


@pytest.mark.parametrize("kind", KINDS)
def test_the_api_answers_503_and_keeps_nothing(kind, lab, queue_down, queued, settings):
    before = counts(lab)
    response = lab.start(kind)
    assert response.status_code == 503, response.content
    assert response["Content-Type"] == "application/json"
    assert response.json()["detail"].startswith(UNAVAILABLE) and response.json()["code"] == "job_queue_unavailable"
    assert response["Retry-After"]
    assert counts(lab) == before and queued == []
    assert not (Path(settings.MEDIA_ROOT) / "imports").exists() or not any(
        (Path(settings.MEDIA_ROOT) / "imports").iterdir())


def test_pages_answer_503_with_a_message(lab, queue_down, queued, client, settings):
    client.force_login(lab.owner)
    upload = SimpleUploadedFile("serverfault.com-Posts.xml", DUMP, content_type="text/xml")
    page = client.post("/studies/dl/imports/", {"files": upload})
    assert page.status_code == 503
    text = page.content.decode()
    assert "<h1>The job queue is unavailable</h1>" in text and "nothing was saved" in text
    assert "Traceback" not in text and 'href="/studies/dl/imports/"' in text
    assert not Job.objects.exists()
    assert not (Path(settings.MEDIA_ROOT) / "imports").exists() or not any(
        (Path(settings.MEDIA_ROOT) / "imports").iterdir())

    evaluate = client.post(f"/studies/dl/sets/{lab.mobile.pk}/evaluate/")
    assert evaluate.status_code == 503 and UNAVAILABLE in evaluate.content.decode()


def test_an_htmx_form_reloads_its_page_which_shows_the_message(lab, queue_down, queued, client):
    client.force_login(lab.owner)
    upload = SimpleUploadedFile("serverfault.com-Posts.xml", DUMP, content_type="text/xml")
    response = client.post("/studies/dl/imports/", {"files": upload}, headers={"HX-Request": "true"})
    assert response.status_code == 503 and response["HX-Refresh"] == "true"
    assert UNAVAILABLE in client.get("/studies/dl/imports/").content.decode()


def test_labelling_and_pages_that_start_nothing_keep_working(lab, queue_down, client):
    client.force_login(lab.owner)
    assert client.get("/studies/dl/imports/").status_code == 200
    assert lab.api().get("/api/studies/dl/draws/").status_code == 200


@pytest.mark.django_db(transaction=True)
def test_a_queue_lost_between_the_check_and_the_commit_fails_the_job_and_releases_it(monkeypatch):
    """The check passed, then the broker went away before the message was sent (after
    the commit, in the same request): the rows are kept as failed and released; 503 all the same."""
    lab = lab_make()

    def broker_gone(job_id):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr("annotator.jobs.tasks.run_job.delay", broker_gone)
    response = lab.start("sample_draw")
    assert response.status_code == 503 and response.json()["detail"] == QUEUE_LOST
    draw = SampleDraw.objects.get(study=lab.study, version=2)
    job = Job.objects.get(pk=draw.job_id)
    assert job.status == JobStatus.FAILED and job.error == QUEUE_LOST and job.send_attempts == 1
    assert draw.status == DrawStatus.FAILED and draw.error == QUEUE_LOST
    sent = []
    monkeypatch.setattr("annotator.jobs.tasks.run_job.delay", sent.append)
    response = lab.start("sample_draw")  # the failed draw holds nothing
    assert response.status_code == 202 and sent == [response.json()["job_detail"]["id"]]
