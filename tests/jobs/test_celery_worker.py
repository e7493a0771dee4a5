"""A real Celery worker process runs an import queued through the API.

Under .ci/run this is PostgreSQL + Redis; on the embedded default it is SQLite
+ the file-system queue: the same code path either way."""

import os

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from annotator.corpus.models import Post
from annotator.jobs.models import Job, JobStatus
from conftest import REQUIRE_SERVICES, wait_for
from tests.factories import MembershipFactory, StudyFactory, UserFactory

DUMP = (
    "\ufeff<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<posts>\n"
    '  <row Id="1" PostTypeId="1" AcceptedAnswerId="2" CreationDate="2020-01-02T03:04:05.000" Score="3" '
    'Body="&lt;p&gt;How?&lt;/p&gt;" OwnerUserId="7" Title="Serving a model" Tags="|tensorflow|serving|" '
    'AnswerCount="1" CommentCount="0" />\n'
    '  <row Id="2" PostTypeId="2" ParentId="1" CreationDate="2020-01-03T03:04:05.000" Score="1" '
    'Body="&lt;p&gt;Like this.&lt;/p&gt;" OwnerUserId="8" />\n'
    "</posts>\n"
).encode()


def test_services_are_the_real_ones_under_require_services():
    """.ci/run must exercise PostgreSQL and Redis, not the embedded fallbacks."""
    if not REQUIRE_SERVICES:
        pytest.skip("only meaningful under REQUIRE_SERVICES=1")
    assert connection.vendor == "postgresql", "DATABASE_URL should point at PostgreSQL in CI"
    assert settings.CELERY_BROKER_URL.startswith("redis://"), "CELERY_BROKER_URL should be Redis in CI"
    assert os.environ.get("DATABASE_URL") and os.environ.get("CELERY_BROKER_URL")


@pytest.mark.django_db(transaction=True)
def test_worker_process_runs_an_uploaded_import(client, celery_worker_process):
    owner = UserFactory()
    study = StudyFactory()
    MembershipFactory(study=study, user=owner, is_owner=True)
    client.force_login(owner)

    response = client.post(
        f"/api/studies/{study.slug}/imports/",
        {"files": SimpleUploadedFile("serverfault.com-Posts.xml", DUMP, content_type="text/xml")},
    )
    assert response.status_code == 202, response.content
    job_id = response.json()["id"]

    job = wait_for(lambda: Job.objects.filter(pk=job_id, status__in=["succeeded", "failed"]).first(), timeout=60)
    assert job is not None, celery_worker_process.log_path.read_text()[-2000:]
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert job.result["questions"] == 1 and job.result["answers"] == 1
    assert job.rows_read == 2 and job.bytes_read == job.bytes_total == len(DUMP)
    assert set(Post.objects.filter(study=study).values_list("site", "so_id")) == {
        ("serverfault.com", 1),
        ("serverfault.com", 2),
    }
    # The worker cleaned up the uploaded copy.
    assert not any(os.path.exists(f["path"]) for f in job.params["files"])
    # Polled as htmx does, the finished job stops the polling with 286.
    page = client.get(f"/studies/{study.slug}/imports/{job_id}/", headers={"HX-Request": "true"})
    assert page.status_code == 286
    assert b"Succeeded" in page.content
