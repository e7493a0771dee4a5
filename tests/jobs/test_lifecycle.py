"""No job is ever stuck: a job whose worker stopped is failed (by the sweep, or as a
page or the API reads it) and releases what it held; a lost message is queued again
a bounded number of times; the heartbeat runs while a job works."""

import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from taxonomy.review.agreement.models import AgreementRun, RunStatus
from annotator.jobs.models import Job, JobKind, JobStatus
from annotator.jobs.runner import job_run
from annotator.jobs.services import job_claim, job_create, job_fail, job_heartbeat, job_reap_if_stale, job_sweep
from sampling.draws.models import DrawStatus, SampleDraw
from sampling.draws.services import sample_draw_job_execute, sample_draw_redistribute_start
from tests.factories import JobFactory

from .conftest import KINDS

pytestmark = pytest.mark.django_db

STALE = "The worker stopped while running this job"


def started(lab, kind, capture):
    """Start a job of ``kind`` through the API (queued, not run) and claim it as a worker would."""
    with capture(execute=True):
        response = lab.start(kind)
    assert response.status_code == 202, response.content
    body = response.json()
    job_id = body["job_detail"]["id"] if "job_detail" in body else body["id"]
    return job_claim(job_id=job_id)


def silent_for(job, seconds):
    """As if its worker had written nothing for ``seconds``."""
    Job.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - timedelta(seconds=seconds))
    job.refresh_from_db()


@pytest.mark.parametrize("kind", KINDS)
def test_a_job_whose_worker_stopped_is_failed_by_the_sweep_and_releases_what_it_held(
        kind, lab, queued, settings, django_capture_on_commit_callbacks):
    settings.MEDIA_ROOT = Path(settings.MEDIA_ROOT)
    settings.JOB_STALE_AFTER_SECONDS = 60
    job = started(lab, kind, django_capture_on_commit_callbacks)
    if kind == "export":  # a worker had begun writing the file
        (Path(settings.MEDIA_ROOT) / "exports" / str(job.pk)).mkdir(parents=True)
        (Path(settings.MEDIA_ROOT) / "exports" / str(job.pk) / "dl-items-v1.csv.part").write_text("half")
    silent_for(job, 59)
    assert job_sweep()["reaped"] == 0
    job.refresh_from_db()
    assert job.status == JobStatus.RUNNING

    silent_for(job, 61)
    assert job_sweep()["reaped"] == 1
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and STALE in job.error and "60 s" in job.error and job.finished_at
    if kind == "import":
        assert not any(Path(f["path"]).exists() for f in job.params["files"])
        assert not (Path(settings.MEDIA_ROOT) / "imports" / str(job.pk)).exists()
    if kind == "sample_draw":
        draw = SampleDraw.objects.get(job=job)
        assert draw.status == DrawStatus.FAILED and STALE in draw.error
        assert lab.start("sample_draw").status_code == 202  # the study may draw again
    if kind == "agreement":
        run = AgreementRun.objects.get(job=job)
        assert run.status == RunStatus.FAILED and STALE in run.error and run.finished_at
    if kind == "export":
        assert not (Path(settings.MEDIA_ROOT) / "exports" / str(job.pk)).exists()
    # The message of the dead worker's job comes back (acks_late): nothing runs, nothing changes.
    job_run(job_id=job.pk)
    assert Job.objects.get(pk=job.pk).error == job.error


def test_a_heartbeat_that_arrives_before_the_sweep_keeps_the_job(lab, queued, settings,
                                                                 django_capture_on_commit_callbacks):
    settings.JOB_STALE_AFTER_SECONDS = 60
    job = started(lab, "agreement", django_capture_on_commit_callbacks)
    silent_for(job, 120)
    stale_copy = Job.objects.get(pk=job.pk)
    Job.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now())  # the worker was only slow
    assert job_reap_if_stale(job=stale_copy) is False
    assert Job.objects.get(pk=job.pk).status == JobStatus.RUNNING


def test_the_api_and_the_job_page_fail_a_stale_job_as_they_read_it(lab, queued, settings, client,
                                                                   django_capture_on_commit_callbacks):
    settings.JOB_STALE_AFTER_SECONDS = 60
    agreement = started(lab, "agreement", django_capture_on_commit_callbacks)
    silent_for(agreement, 61)
    body = lab.api().get(f"/api/jobs/{agreement.pk}/").json()
    assert body["status"] == "failed" and STALE in body["error"]
    assert AgreementRun.objects.get(job=agreement).status == RunStatus.FAILED

    draw_job = started(lab, "sample_draw", django_capture_on_commit_callbacks)
    draw = SampleDraw.objects.get(job=draw_job)
    silent_for(draw_job, 61)
    client.force_login(lab.owner)
    page = client.get(f"/studies/dl/draws/{draw.version}/?job={draw_job.pk}", headers={"HX-Request": "true"})
    assert page.status_code == 286 and STALE in page.content.decode()
    draw.refresh_from_db()
    assert draw.status == DrawStatus.FAILED


def test_a_new_draw_releases_a_draw_whose_worker_stopped(lab, queued, settings, django_capture_on_commit_callbacks):
    settings.JOB_STALE_AFTER_SECONDS = 60
    job = started(lab, "sample_draw", django_capture_on_commit_callbacks)
    refused = lab.start("sample_draw")
    assert refused.status_code == 400 and "Another draw is in progress" in str(refused.json())
    silent_for(job, 61)
    with django_capture_on_commit_callbacks(execute=True):
        accepted = lab.start("sample_draw")
    assert accepted.status_code == 202
    assert SampleDraw.objects.get(job=job).status == DrawStatus.FAILED
    new = SampleDraw.objects.get(study=lab.study, version=accepted.json()["version"])
    job_run(job_id=new.job_id)
    new.refresh_from_db()
    assert new.status == DrawStatus.READY and new.sample_size > 0


def test_a_redistribution_that_did_not_finish_leaves_the_draw_drawn(lab, queued,
                                                                    django_capture_on_commit_callbacks):
    draw = SampleDraw.objects.get(job=started(lab, "sample_draw", django_capture_on_commit_callbacks))
    sample_draw_job_execute(job=draw.job)
    draw.refresh_from_db()
    assert draw.status == DrawStatus.READY
    draw = sample_draw_redistribute_start(draw=draw, pilot_share=0.5, raters_per_item=1, user=lab.owner)
    assert draw.status == DrawStatus.PENDING
    job_fail(job=job_claim(job_id=draw.job_id), error="disk full")
    draw.refresh_from_db()
    assert draw.status == DrawStatus.READY and draw.error == ""


def test_a_crash_in_a_draw_fails_the_draw_with_the_jobs_reason(lab, queued, monkeypatch,
                                                               django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = lab.start("sample_draw")

    def broken(**kwargs):
        raise RuntimeError("numpy ran out of memory")

    monkeypatch.setattr("sampling.draws.services.stratified_draw", broken)
    draw = SampleDraw.objects.get(study=lab.study, version=response.json()["version"])
    job_run(job_id=draw.job_id)
    draw.refresh_from_db()
    assert draw.status == DrawStatus.FAILED and "numpy ran out of memory" in draw.error
    assert Job.objects.get(pk=draw.job_id).error == draw.error


def test_a_handler_that_records_no_end_fails_its_job(monkeypatch):
    job = JobFactory()
    monkeypatch.setattr("annotator.corpus.services.import_job_execute", lambda *, job: None)
    job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and "without recording its result" in job.error


# -- lost messages --------------------------------------------------------------------


def test_a_queued_job_nobody_took_is_sent_again_then_failed(queued, settings):
    settings.JOB_RESEND_AFTER_SECONDS, settings.JOB_SEND_ATTEMPTS = 60, 3
    job = JobFactory(send_attempts=1, sent_at=timezone.now() - timedelta(seconds=30))
    Job.objects.filter(pk=job.pk).update(created_at=timezone.now() - timedelta(minutes=5))
    assert job_sweep()["resent"] == 0 and queued == []  # sent 30 s ago: give it time

    Job.objects.filter(pk=job.pk).update(sent_at=timezone.now() - timedelta(seconds=61))
    running = JobFactory(status=JobStatus.RUNNING, started_at=timezone.now(), heartbeat_at=timezone.now())
    assert job_sweep()["resent"] == 0 and queued == []  # a job runs: the queue is moving, wait
    Job.objects.filter(pk=running.pk).update(status=JobStatus.SUCCEEDED, finished_at=timezone.now())

    assert job_sweep()["resent"] == 1 and queued == [job.pk]
    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED and job.send_attempts == 2 and job.sent_at > timezone.now() - \
        timedelta(seconds=5)
    Job.objects.filter(pk=job.pk).update(sent_at=timezone.now() - timedelta(seconds=61))
    assert job_sweep()["resent"] == 1 and queued == [job.pk, job.pk]
    Job.objects.filter(pk=job.pk).update(sent_at=timezone.now() - timedelta(seconds=61))
    assert job_sweep() == {"reaped": 0, "resent": 0, "expired": 1}
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and "No worker took this job" in job.error and "3 times" in job.error


def test_a_job_is_sent_once_its_transaction_commits(lab, queued, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        job = job_create(study=lab.study, kind=JobKind.EXPORT, params={"export": "archive"})
    assert queued == [] and Job.objects.get(pk=job.pk).send_attempts == 0
    for callback in callbacks:
        callback()
    job.refresh_from_db()
    assert queued == [job.pk] and job.send_attempts == 1 and job.sent_at is not None


# -- the heartbeat ----------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_heartbeat_beats_while_the_job_works_and_stops_with_it(settings):
    settings.JOB_HEARTBEAT_SECONDS = 0.05
    job = job_claim(job_id=JobFactory().pk)
    first = job.heartbeat_at
    with job_heartbeat(job):
        time.sleep(0.4)  # a long step that reports no progress
        beats = Job.objects.get(pk=job.pk).heartbeat_at
    assert beats > first
    assert not any(t.name == f"job-{job.pk}-heartbeat" for t in threading.enumerate())
    time.sleep(0.15)
    assert Job.objects.get(pk=job.pk).heartbeat_at == beats
