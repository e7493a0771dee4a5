"""Cancelling a job from its page or the API: a queued one ends at once, a running
one at its next progress report; what it held is released either way."""

from pathlib import Path

import pytest

from taxonomy.review.agreement.models import AgreementRun, RunStatus
from annotator.jobs.models import Job, JobStatus
from annotator.jobs.runner import job_run
from annotator.jobs.services import JobCancelled, job_claim, job_progress
from sampling.draws.models import DrawStatus, SampleDraw
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


def start(lab, kind, capture, user=None):
    with capture(execute=True):
        response = lab.start(kind, api=lab.api(user) if user else None)
    assert response.status_code == 202, response.content
    body = response.json()
    return Job.objects.get(pk=body["job_detail"]["id"] if "job_detail" in body else body["id"])


def test_an_owner_cancels_a_queued_draw_through_the_api(lab, queued, django_capture_on_commit_callbacks):
    job = start(lab, "sample_draw", django_capture_on_commit_callbacks)
    response = lab.api().post(f"/api/jobs/{job.pk}/cancel/")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "failed" and body["error"] == "Cancelled by owner." and body["cancel_requested_by"] == \
        "owner"
    draw = SampleDraw.objects.get(job=job)
    assert draw.status == DrawStatus.FAILED and draw.error == "Cancelled by owner."
    job_run(job_id=job.pk)  # its message arrives later: nothing to run
    assert Job.objects.get(pk=job.pk).status == JobStatus.FAILED
    assert lab.start("sample_draw").status_code == 202  # the study may draw again
    again = lab.api().post(f"/api/jobs/{job.pk}/cancel/")
    assert again.status_code == 400 and "already failed" in str(again.json())


def test_a_running_job_stops_at_its_next_progress_report(lab, queued, django_capture_on_commit_callbacks):
    job = job_claim(job_id=start(lab, "agreement", django_capture_on_commit_callbacks).pk)
    response = lab.api().post(f"/api/jobs/{job.pk}/cancel/")
    assert response.status_code == 200
    assert response.json()["status"] == "running" and response.json()["cancel_requested_at"]
    with pytest.raises(JobCancelled):
        job_progress(job=job, phase="reading the labels")


def test_a_running_job_cancelled_ends_as_cancelled_and_releases_its_run(lab, queued, monkeypatch,
                                                                         django_capture_on_commit_callbacks):
    job = start(lab, "agreement", django_capture_on_commit_callbacks)

    def cancel_midway(**kwargs):  # the owner clicks while the labels are read
        assert lab.api().post(f"/api/jobs/{job.pk}/cancel/").status_code == 200
        return real(**kwargs)

    from taxonomy.review.agreement import services

    real = services.agreement_scope_labels
    monkeypatch.setattr("taxonomy.review.agreement.services.agreement_scope_labels", cancel_midway)
    job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and job.error == "Cancelled by owner." and job.phase == "cancelled"
    run = AgreementRun.objects.get(job=job)
    assert run.status == RunStatus.FAILED and run.error == "Cancelled by owner." and run.result == {}


def test_a_running_export_cancelled_leaves_no_file(lab, queued, settings, monkeypatch,
                                                   django_capture_on_commit_callbacks):
    job = start(lab, "export", django_capture_on_commit_callbacks)
    from taxonomy.results import items_csv

    real = items_csv.items_csv_write

    def cancel_after_some_rows(**kwargs):
        kwargs["out"].write(b"half a file")
        lab.api().post(f"/api/jobs/{job.pk}/cancel/")
        kwargs["progress"](1, 10)  # the job notices here
        return real(**kwargs)

    monkeypatch.setattr(items_csv, "items_csv_write", cancel_after_some_rows)
    job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and job.error == "Cancelled by owner."
    assert not (Path(settings.MEDIA_ROOT) / "exports" / str(job.pk)).exists()


def test_who_may_cancel(lab, queued, django_capture_on_commit_callbacks):
    job = start(lab, "sample_draw", django_capture_on_commit_callbacks)
    refused = lab.api(lab.rater).post(f"/api/jobs/{job.pk}/cancel/")
    assert refused.status_code == 403 and Job.objects.get(pk=job.pk).cancel_requested_at is None
    outsider = UserFactory()
    assert lab.api(outsider).post(f"/api/jobs/{job.pk}/cancel/").status_code == 404
    assert lab.api(outsider).post("/api/jobs/999999/cancel/").status_code == 404
    # The member who started a job may cancel it (a rater's own export).
    export = start(lab, "export", django_capture_on_commit_callbacks, user=lab.rater)
    assert lab.api(lab.rater).post(f"/api/jobs/{export.pk}/cancel/").status_code == 200
    co_owner = UserFactory()
    MembershipFactory(study=lab.study, user=co_owner, is_owner=True)
    assert lab.api(co_owner).post(f"/api/jobs/{job.pk}/cancel/").json()["error"] == f"Cancelled by {co_owner}."


def test_the_job_page_offers_cancel_to_those_who_may(lab, queued, client, django_capture_on_commit_callbacks):
    job = start(lab, "import", django_capture_on_commit_callbacks)
    url = f"/studies/dl/imports/{job.pk}/"
    client.force_login(lab.rater)
    assert "Cancel job" not in client.get(url).content.decode()
    client.force_login(lab.owner)
    page = client.get(url).content.decode()
    assert "Cancel job" in page and f'action="/jobs/{job.pk}/cancel/"' in page

    response = client.post(f"/jobs/{job.pk}/cancel/", {"next": url}, follow=True)
    assert response.redirect_chain == [(url, 302)]
    page = response.content.decode()
    assert "Job cancelled." in page and "Cancelled by owner." in page and "Cancel job" not in page
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert not any(Path(f["path"]).exists() for f in job.params["files"])  # its upload is gone

    again = client.post(f"/jobs/{job.pk}/cancel/", {"next": "https://evil.example/"}, follow=True)
    assert again.redirect_chain == [("/", 302)]
    assert "nothing to cancel" in again.content.decode()
    assert client.get(f"/jobs/{job.pk}/cancel/").status_code == 405


def test_the_polled_panel_says_a_cancel_was_asked_for(lab, queued, client, django_capture_on_commit_callbacks):
    job = job_claim(job_id=start(lab, "import", django_capture_on_commit_callbacks).pk)
    client.force_login(lab.owner)
    client.post(f"/jobs/{job.pk}/cancel/", {"next": "/"})
    panel = client.get(f"/studies/dl/imports/{job.pk}/", headers={"HX-Request": "true"})
    assert panel.status_code == 200  # still running: polling goes on
    assert "Cancel requested by owner" in panel.content.decode() and "Cancel job" not in panel.content.decode()
