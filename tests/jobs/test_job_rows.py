"""Job rows: claiming once, progress heartbeat, and the warning a user sees when no worker runs."""

from datetime import timedelta

import pytest
from django.utils import timezone

from annotator.jobs.models import Job, JobStatus
from annotator.jobs.runner import job_run
from annotator.jobs.services import JobStopped, job_claim, job_fail, job_progress, job_succeed
from tests.factories import JobFactory, MembershipFactory

pytestmark = pytest.mark.django_db


def test_a_job_is_claimed_once():
    job = JobFactory()
    assert job_claim(job_id=job.pk) is not None
    assert job_claim(job_id=job.pk) is None  # a second delivery of the task does nothing
    assert job_claim(job_id=999_999) is None


def test_running_a_job_twice_runs_it_once(monkeypatch):
    job = JobFactory()
    calls = []
    monkeypatch.setattr("annotator.corpus.services.import_job_execute", lambda *, job: calls.append(job.pk))
    job_run(job_id=job.pk)
    job_run(job_id=job.pk)
    assert calls == [job.pk]


def test_a_crash_in_the_service_marks_the_job_failed(monkeypatch):
    job = JobFactory()

    def boom(*, job):
        raise RuntimeError("disk full")

    monkeypatch.setattr("annotator.corpus.services.import_job_execute", boom)
    job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and "disk full" in job.error and job.finished_at


def test_progress_writes_a_heartbeat_and_stops_a_job_that_has_ended():
    job = JobFactory(status=JobStatus.RUNNING, started_at=timezone.now())
    job_progress(job=job, rows_read=10)
    job.refresh_from_db()
    assert job.rows_read == 10 and job.heartbeat_at is not None
    Job.objects.filter(pk=job.pk).update(status=JobStatus.FAILED, finished_at=timezone.now(), error="taken for dead")
    with pytest.raises(JobStopped):
        job_progress(job=job, rows_read=20)
    job.refresh_from_db()
    assert job.rows_read == 10 and job.status == JobStatus.FAILED


def test_a_job_ends_once():
    job = job_claim(job_id=JobFactory().pk)
    assert job_fail(job=job, error="first") is True
    assert job_succeed(job=job, result={"late": True}) is False
    assert job_fail(job=job, error="second") is False
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and job.error == "first" and job.result == {}


def test_a_queued_job_nobody_takes_warns_that_no_worker_may_be_running(client):
    fresh = JobFactory()
    assert fresh.stale_warning == ""
    Job.objects.filter(pk=fresh.pk).update(created_at=timezone.now() - timedelta(minutes=2))
    fresh.refresh_from_db()
    assert "worker" in fresh.stale_warning
    # A running job needs no warning: the sweep fails it once its worker stops (test_lifecycle.py).
    running = JobFactory(status=JobStatus.RUNNING, started_at=timezone.now() - timedelta(hours=1))
    assert running.stale_warning == ""

    member = MembershipFactory(study=fresh.study)
    client.force_login(member.user)
    page = client.get(f"/studies/{fresh.study.slug}/imports/{fresh.pk}/")
    assert b"Is the job worker running?" in page.content


def test_every_job_kind_is_run_by_its_app():
    from annotator.jobs.models import JobKind
    from annotator.jobs.registry import job_kinds_handled

    assert job_kinds_handled() == set(JobKind.values)


def test_a_kind_nobody_runs_fails_the_job_with_a_reason(db):
    from annotator.jobs.models import Job
    from annotator.jobs.runner import job_run
    from tests.factories import StudyFactory

    job = Job.objects.create(study=StudyFactory(), kind="export", params={"export": "nothing-like-it"})
    job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == "failed" and "nothing-like-it" in job.error
