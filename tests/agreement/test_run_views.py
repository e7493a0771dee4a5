"""Agreement pages and API: who may read and start, the start form, the run
page (progress polling, figures, reasons instead of NaN, escaping)."""

import pytest
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from taxonomy.review.agreement.models import AgreementRun, RunStatus
from taxonomy.review.agreement.services import agreement_run_start
from annotator.jobs.runner import job_run
from sampling.draws.models import Assignment, SampleDraw
from taxonomy.tree.models import ChangeAction
from taxonomy.tree.services import category_change_record, category_snapshot
from tests.factories import PASSWORD, MembershipFactory, UserFactory

from .conftest import ALICE, BOB, label_items

pytestmark = pytest.mark.django_db


def sign_in(client, user):
    assert client.login(request=HttpRequest(), username=user.username, password=PASSWORD)
    return client


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def computed(world, **kwargs) -> AgreementRun:
    run = agreement_run_start(study=world.study, scope="draw", **{"draw": world.draw, "resamples": 100, **kwargs})
    job_run(job_id=run.job_id)
    run.refresh_from_db()
    return run


def test_owner_starts_a_run_from_the_page_and_follows_it(client, world, queued):
    label_items(world, {world.alice: ALICE, world.bob: BOB})
    sign_in(client, world.owner)
    page = client.get(reverse("agreement:runs", args=["dl"]))
    text = page.content.decode()
    assert page.status_code == 200 and 'id="agreement-start-form"' in text
    assert "every draw in labelling: " in text and ">v1</a>" in text
    response = client.post(reverse("agreement:runs", args=["dl"]), {
        "scope": "draw", "draw": world.draw.pk, "resamples": "200", "seed": "42", "confidence": "0.95"})
    run = AgreementRun.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('agreement:run', args=['dl', run.pk])}?job={run.job_id}"
    assert run.created_by == world.owner and run.parameters == {"resamples": 200, "seed": 42, "confidence": 0.95}
    # while queued: the progress panel polls; the fragment is served to htmx
    detail = client.get(response["Location"])
    assert 'hx-trigger="every 1s"' in detail.content.decode()
    poll = client.get(response["Location"], HTTP_HX_REQUEST="true")
    assert poll.status_code == 200 and "<html" not in poll.content.decode()
    job_run(job_id=run.job_id)
    poll = client.get(response["Location"], HTTP_HX_REQUEST="true")
    assert poll.status_code == 286 and poll["HX-Refresh"] == "true"
    text = client.get(reverse("agreement:run", args=["dl", run.pk])).content.decode()
    assert "0.739" in text  # Cohen's κ = 17/23
    assert "83.3 %" in text  # percent agreement 5/6
    assert "95 % CI" in text and "200 resamples over items, seed <code id=\"run-seed\">42</code>" in text
    assert "computed on taxonomy version" in text and "unchanged since" in text
    assert "Server › Export" in text and "False positive" in text
    assert 'class="table confusion"' in text
    assert "nan" not in text.split("<main", 1)[1].lower()  # not the random CSRF token, which may hold "nan"
    listing = client.get(reverse("agreement:runs", args=["dl"])).content.decode()
    assert f'data-run="{run.pk}"' in listing and "Done" in listing


def test_start_form_bad_input_shows_errors(client, world, queued):
    sign_in(client, world.owner)
    for data, message in (
        ({"scope": "draw", "resamples": "1000", "confidence": "0.95"}, "Choose the draw."),
        ({"scope": "stratum", "resamples": "1000", "confidence": "0.95"}, "Choose the stratum."),
        ({"scope": "draw", "draw": world.draw.pk, "resamples": "-3", "confidence": "0.95"}, "greater than or equal"),
        ({"scope": "draw", "draw": world.draw.pk, "resamples": "10", "confidence": "2"}, "less than or equal"),
        ({"scope": "draw", "draw": "999999", "resamples": "10", "confidence": "0.95"}, "Select a valid choice"),
    ):
        response = client.post(reverse("agreement:runs", args=["dl"]), data)
        assert response.status_code == 200 and message in response.content.decode(), data
    assert not AgreementRun.objects.exists() and queued == []


def test_the_page_says_which_draws_a_study_run_read_and_when_the_tree_changed(client, world, queued):
    label_items(world, {world.alice: ALICE, world.bob: BOB})
    run = agreement_run_start(study=world.study, scope="study", resamples=0)
    job_run(job_id=run.job_id)
    export = world.categories["Export"]
    before = category_snapshot(export)
    export.name = "Model <b>export</b>"
    export.save()
    category_change_record(category=export, action=ChangeAction.RENAME, actor=world.owner, before=before)
    sign_in(client, world.owner)
    text = client.get(reverse("agreement:run", args=["dl", run.pk])).content.decode()
    assert "Whole study: draws v1" in text
    assert "the tree has changed since" in text and "Server › Export" in text and "Model" not in text
    again = computed(world, resamples=0)
    text = client.get(reverse("agreement:run", args=["dl", again.pk])).content.decode()
    assert "Server › Model &lt;b&gt;export&lt;/b&gt;" in text and "<b>export</b>" not in text


def test_one_rater_and_undefined_kappa_are_explained_on_the_page(client, world, queued):
    label_items(world, {world.alice: ["Export"] * 6})
    sign_in(client, world.owner)
    run = computed(world)
    text = client.get(reverse("agreement:run", args=["dl", run.pk])).content.decode()
    assert 'class="panel warning run-message"' in text and "Only one rater (alice)" in text
    assert 'class="table coefficients"' not in text
    label_items(world, {world.bob: ["Export"] * 6})
    run = computed(world)
    text = client.get(reverse("agreement:run", args=["dl", run.pk])).content.decode()
    assert "Does not apply: both raters gave the same label set to every item" in text
    main = text.split("<main", 1)[1]  # not the page's random CSRF token, which may hold "nan"
    assert "n/a" in main and "nan" not in main.lower()
    assert "alice gave every one of their 6 items the same answer (Server › Export)" in text


@pytest.mark.parametrize("who, status, run_status", [
    ("owner", 200, 200), ("arbitrator", 200, 200),
    # a viewer sees the raters' labels, and so figures computed from them, once arbitration starts
    ("viewer", 200, 404), ("alice", 404, 404), ("stranger", 404, 404)])
def test_who_may_read_while_labelling(client, world, queued, who, status, run_status):
    run = computed(world, resamples=0)
    user = UserFactory(username="stranger") if who == "stranger" else getattr(world, who)
    sign_in(client, user)
    assert client.get(reverse("agreement:runs", args=["dl"])).status_code == status
    assert client.get(reverse("agreement:run", args=["dl", run.pk])).status_code == run_status
    assert api(user).get("/api/studies/dl/agreement/").status_code == status
    assert api(user).get(f"/api/studies/dl/agreement/{run.pk}/").status_code == run_status
    if status == 200:
        listed = [r["id"] for r in api(user).get("/api/studies/dl/agreement/").json()["results"]]
        assert listed == ([run.pk] if run_status == 200 else [])
    SampleDraw.objects.filter(pk=world.draw.pk).update(arbitration_started_at=timezone.now())
    if status == 200:
        assert api(user).get(f"/api/studies/dl/agreement/{run.pk}/").status_code == 200


def test_a_rater_reads_once_no_draw_is_in_labelling_and_an_owner_who_rates_once_arbitration_starts(
        client, world, queued):
    run = computed(world, resamples=0)
    rater_owner = UserFactory(username="rater_owner")
    MembershipFactory(study=world.study, user=rater_owner, is_rater=True, is_owner=True)
    # an owner with the rater role but no item of this draw sees its figures
    assert api(rater_owner).get(f"/api/studies/dl/agreement/{run.pk}/").status_code == 200
    # one who rates on it is a rater like alice here: the run does not exist for them, nor may they start one
    Assignment.objects.create(draw=world.draw, item=world.items()[0], rater=rater_owner)
    assert api(rater_owner).get(f"/api/studies/dl/agreement/{run.pk}/").status_code == 404
    assert api(rater_owner).get("/api/studies/dl/agreement/").json()["results"] == []
    refused = api(rater_owner).post("/api/studies/dl/agreement/", {"scope": "draw", "draw": 1}, format="json")
    assert refused.status_code == 400 and "You rate in a labelling round" in str(refused.json())
    assert not any(ch.isdigit() for ch in str(refused.json()))
    assert api(world.alice).get(f"/api/studies/dl/agreement/{run.pk}/").status_code == 404
    SampleDraw.objects.filter(pk=world.draw.pk).update(arbitration_started_at=timezone.now())
    assert api(rater_owner).get(f"/api/studies/dl/agreement/{run.pk}/").status_code == 200
    SampleDraw.objects.filter(pk=world.draw.pk).update(status="ready", arbitration_started_at=None)
    assert api(world.alice).get(f"/api/studies/dl/agreement/{run.pk}/").status_code == 200


@pytest.mark.parametrize("who", ["arbitrator", "viewer", "alice"])
def test_only_owners_start(client, world, queued, who):
    user = getattr(world, who)
    sign_in(client, user)
    response = client.post(reverse("agreement:runs", args=["dl"]),
                           {"scope": "draw", "draw": world.draw.pk, "resamples": "10", "confidence": "0.95"})
    assert response.status_code == 404
    assert api(user).post("/api/studies/dl/agreement/", {"scope": "draw", "draw": 1}, format="json").status_code == 404
    assert not AgreementRun.objects.exists() and queued == []


def test_a_run_of_another_study_is_not_found(client, world, queued):
    from tests.factories import StudyFactory

    other = StudyFactory(slug="other")
    MembershipFactory(study=other, user=world.owner, is_owner=True)
    run = computed(world, resamples=0)
    sign_in(client, world.owner)
    assert client.get(reverse("agreement:run", args=["other", run.pk])).status_code == 404
    assert api(world.owner).get(f"/api/studies/other/agreement/{run.pk}/").status_code == 404


def test_api_starts_with_202_and_returns_the_result(world, queued, django_capture_on_commit_callbacks):
    label_items(world, {world.alice: ALICE, world.bob: BOB})
    owner = api(world.owner)
    with django_capture_on_commit_callbacks(execute=True):
        response = owner.post("/api/studies/dl/agreement/", {"scope": "draw", "draw": 1, "resamples": 100, "seed": 3},
                              format="json")
    assert response.status_code == 202, response.data
    body = response.json()
    assert body["status"] == "queued" and body["draw"] == 1 and body["job_detail"]["kind"] == "agreement"
    assert queued == [body["job"]]
    job_run(job_id=body["job"])
    detail = owner.get(f"/api/studies/dl/agreement/{body['id']}/").json()
    assert detail["status"] == RunStatus.DONE and detail["result"]["cohen_kappa"] == pytest.approx(17 / 23)
    assert detail["result"]["confidence_intervals"]["level"] == 0.95
    assert detail["taxonomy_version"] > 0 and detail["taxonomy_version_now"] is None
    assert detail["result"]["confusion"][0]["count"] == 1
    listing = owner.get("/api/studies/dl/agreement/").json()
    assert listing["count"] == 1 and listing["results"][0]["id"] == body["id"] and "result" not in listing["results"][0]


def test_api_stratum_scope_and_bad_input(world, queued):
    owner = api(world.owner)
    stratum = world.draw.strata.get()
    response = owner.post("/api/studies/dl/agreement/", {"scope": "stratum", "stratum": stratum.pk, "resamples": 0},
                          format="json")
    assert response.status_code == 202 and response.json()["stratum"] == "Stratum"
    for data, field in (({"scope": "draw"}, "draw"), ({"scope": "draw", "draw": 9}, "draw"),
                        ({"scope": "stratum", "stratum": 99999}, "stratum"), ({"scope": "nope"}, "scope"),
                        ({"scope": "draw", "draw": 1, "resamples": -1}, "resamples"),
                        ({"scope": "draw", "draw": 1, "confidence": 1.5}, "confidence")):
        response = owner.post("/api/studies/dl/agreement/", data, format="json")
        assert response.status_code == 400 and field in response.json(), (data, response.json())
    assert AgreementRun.objects.count() == 1


def test_the_job_row_a_rater_can_poll_carries_no_counts(world, queued):
    label_items(world, {world.alice: ALICE, world.bob: BOB})
    run = computed(world, resamples=0)
    job = api(world.alice).get(f"/api/jobs/{run.job_id}/")
    assert job.status_code == 200 and job.json()["status"] == "succeeded"  # every member may poll a job
    assert set(job.json()["result"]) == {"run", "seconds"} and job.json()["result"]["run"] == run.pk
