"""Exports as background jobs: started from the page or the API, written to a file through a
temporary name, downloaded by the member who asked for them only."""

import csv
import io
from pathlib import Path

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from annotator.jobs.models import Job
from annotator.jobs.runner import job_run
from taxonomy.review.arbitration.services import arbitration_start


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_items_csv_export_job_over_the_api(coded, queued, settings, django_capture_on_commit_callbacks):
    arbitration_start(draw=coded["draw"], user=coded["owner"], allow_incomplete=True)
    ana = api(coded["ana"])
    with django_capture_on_commit_callbacks(execute=True):
        started = ana.post("/api/studies/res/results/exports/", {"kind": "items_csv", "draw": 1}, format="json")
    assert started.status_code == 202 and started.json()["kind"] == "export" and started.json()["status"] == "queued"
    job_id = started.json()["id"]
    assert queued == [job_id]
    assert ana.get(f"/api/studies/res/results/exports/{job_id}/file").status_code == 404  # not done yet
    job_run(job_id=job_id)
    job = Job.objects.get(pk=job_id)
    assert job.status == "succeeded" and job.result["filename"] == "res-items-v1.csv", job.error
    response = ana.get(f"/api/studies/res/results/exports/{job_id}/file")
    assert response.status_code == 200 and response["Content-Disposition"].endswith('filename="res-items-v1.csv"')
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode("utf-8"))))
    assert len(rows) == 6 and not list(Path(settings.MEDIA_ROOT, "exports", str(job_id)).glob("*.part"))
    # only the member who asked downloads it
    assert api(coded["bo"]).get(f"/api/studies/res/results/exports/{job_id}/file").status_code == 404
    assert api(coded["ana"]).get(f"/api/studies/res/results/exports/{job_id + 99}/file").status_code == 404


def test_bad_export_requests_are_refused(coded, queued):
    ana = api(coded["ana"])
    assert ana.post("/api/studies/res/results/exports/", {"kind": "nope"}, format="json").status_code == 400
    bad_draw = ana.post("/api/studies/res/results/exports/", {"kind": "items_csv", "draw": 5}, format="json")
    assert bad_draw.status_code == 400 and "v5" in str(bad_draw.json())
    # the archive holds every rater's labels: not for a rater while the round runs
    assert ana.post("/api/studies/res/results/exports/", {"kind": "archive"}, format="json").status_code == 403
    scoped = api(coded["owner"]).post("/api/studies/res/results/exports/", {"kind": "archive", "draw": 1},
                                      format="json")
    assert scoped.status_code == 400 and "whole study" in str(scoped.json())
    assert queued == [] and not Job.objects.filter(kind="export").exists()


def test_the_page_starts_an_export_and_offers_the_file(client, coded, queued):
    client.force_login(coded["owner"])
    response = client.post(reverse("results:export_start", args=["res"]), {"kind": "archive"})
    job = Job.objects.get(kind="export")
    assert response.status_code == 302 and response["Location"] == reverse("results:export", args=["res", job.pk])
    poll = client.get(response["Location"], HTTP_HX_REQUEST="true")
    assert poll.status_code == 200 and b'hx-trigger="every 1s"' in poll.content
    job_run(job_id=job.pk)
    page = client.get(response["Location"]).content.decode()
    file_url = reverse("results:export_file", args=["res", job.pk])
    assert f'href="{file_url}"' in page and "res-archive.json" in page
    body = b"".join(client.get(file_url).streaming_content)
    assert body.startswith(b"{") and b'"taxonomist-study-archive"' in body
    refused = client.post(reverse("results:export_start", args=["res"]), {"kind": "items_csv", "draw": "x"},
                          follow=True)
    assert "version number" in refused.content.decode()


def test_replication_package_holds_every_part_and_is_the_same_twice(coded, queued):
    import json
    import zipfile

    arbitration_start(draw=coded["draw"], user=coded["owner"], allow_incomplete=True)
    owner = api(coded["owner"])
    contents = []
    for _ in range(2):
        job_id = owner.post("/api/studies/res/results/exports/", {"kind": "package"}, format="json").json()["id"]
        job_run(job_id=job_id)
        assert Job.objects.get(pk=job_id).status == "succeeded", Job.objects.get(pk=job_id).error
        body = b"".join(owner.get(f"/api/studies/res/results/exports/{job_id}/file").streaming_content)
        contents.append(zipfile.ZipFile(io.BytesIO(body)))
    first, second = contents
    names = first.namelist()
    assert names == ["study.json", "taxonomy.csv", "items.csv", "taxonomy.svg", "taxonomy.pdf", "taxonomy.png",
                     "saturation.csv", "methods-report.md", "codebook.qdc", "README.txt"]
    readme = first.read("README.txt").decode()
    assert all(f"- {name}:" in readme for name in names if name != "README.txt")
    for name in names:
        if name == "study.json":
            one, two = (json.loads(z.read(name)) for z in contents)
            for volatile in one["volatile"]:
                one.pop(volatile), two.pop(volatile)
            assert one == two
        else:
            assert first.read(name) == second.read(name), name
    taxonomy = list(csv.DictReader(io.StringIO(first.read("taxonomy.csv").decode())))
    assert next(r for r in taxonomy if r["name"] == "Server")["posts"] == "3"
    assert first.read("taxonomy.pdf").startswith(b"%PDF") and first.read("taxonomy.png").startswith(b"\x89PNG")
    assert "Results study" in first.read("methods-report.md").decode()


def test_a_package_of_an_empty_study_says_what_it_leaves_out(db, queued):
    import zipfile

    from tests.factories import MembershipFactory, StudyFactory, UserFactory

    study = StudyFactory(slug="bare")
    owner = UserFactory(username="own")
    MembershipFactory(study=study, user=owner, is_owner=True)
    job_id = api(owner).post("/api/studies/bare/results/exports/", {"kind": "package"}, format="json").json()["id"]
    job_run(job_id=job_id)
    assert Job.objects.get(pk=job_id).status == "succeeded", Job.objects.get(pk=job_id).error
    body = b"".join(api(owner).get(f"/api/studies/bare/results/exports/{job_id}/file").streaming_content)
    package = zipfile.ZipFile(io.BytesIO(body))
    assert "codebook.qdc" not in package.namelist() and "taxonomy.csv" in package.namelist()
    assert "codebook.qdc:" in package.read("README.txt").decode() and "NOT INCLUDED" in package.read(
        "README.txt").decode()


@pytest.mark.django_db(transaction=True)
def test_a_package_whose_slow_parts_are_written_ahead_in_another_thread_is_the_same_file(coded, monkeypatch):
    """On PostgreSQL, outside a transaction, the items CSV, the saturation curve and the methods
    report are written meanwhile by another thread with its own connection; the zip is the same
    as when every part is written in turn (the archive's volatile time aside)."""
    import json
    import zipfile

    from django.db import connection

    from taxonomy.results import package

    arbitration_start(draw=coded["draw"], user=coded["owner"], allow_incomplete=True)
    ahead = []
    written_ahead = package._written_ahead

    def spy(part, arguments):
        ahead.append(part.name)
        return written_ahead(part, arguments)

    monkeypatch.setattr(package, "_written_ahead", spy)

    def write() -> zipfile.ZipFile:
        out = io.BytesIO()
        package.replication_package_write(study=coded["study"], user=coded["owner"], out=out)
        return zipfile.ZipFile(io.BytesIO(out.getvalue()))

    meanwhile = write()
    assert sorted(ahead) == (["items.csv", "methods-report.md", "saturation.csv"]
                             if connection.vendor == "postgresql" else [])
    monkeypatch.setattr(package, "_ahead_possible", lambda: False)
    in_turn = write()
    assert meanwhile.namelist() == in_turn.namelist()
    for name in in_turn.namelist():
        if name == "study.json":
            one, two = (json.loads(z.read(name)) for z in (meanwhile, in_turn))
            for volatile in one["volatile"]:
                one.pop(volatile), two.pop(volatile)
            assert one == two
        else:
            assert meanwhile.read(name) == in_turn.read(name), name
    assert len(list(csv.DictReader(io.StringIO(meanwhile.read("items.csv").decode())))) == 6
