"""The draws API: preview, start (202 + job), detail with design table and
per-rater progress, items, redistribution, freezing, errors and access."""

import pytest
from rest_framework.test import APIClient

from annotator.jobs.runner import job_run
from sampling.draws.models import SampleDraw
from tests.factories import MembershipFactory, StudyFactory, UserFactory, evaluated_set, questions_bulk

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup():
    study = StudyFactory(slug="dl")
    owner = UserFactory(username="owner")
    MembershipFactory(study=study, user=owner, is_owner=True)
    raters = [UserFactory(username=f"r{i}") for i in range(4)]
    for rater in raters:
        MembershipFactory(study=study, user=rater, is_rater=True)
    mobile = evaluated_set(study=study, name="Mobile", posts=questions_bulk(study=study, count=1533, first_so_id=1))
    browser = evaluated_set(study=study, name="Browser", posts=questions_bulk(study=study, count=165,
                                                                              first_so_id=9000))
    api = APIClient()
    api.force_authenticate(owner)
    return study, api, raters, mobile, browser


def body(mobile, browser, **extra):
    return {"strata": [{"question_set": mobile.pk}, {"question_set": browser.pk, "mode": "census"}], "seed": 5,
            **extra}


def test_preview_then_draw_then_detail(setup, queued, django_capture_on_commit_callbacks):
    study, api, raters, mobile, browser = setup
    preview = api.post("/api/studies/dl/draws/preview/", body(mobile, browser), format="json")
    assert preview.status_code == 200
    rows = preview.json()["rows"]
    assert [(r["name"], r["population"], r["n"], r["census"]) for r in rows] == [
        ("Mobile", 1533, 308, False), ("Browser", 165, 165, True)]
    assert round(rows[0]["n_exact"], 2) == 307.33 and preview.json()["sample_size"] == 473
    assert not SampleDraw.objects.exists()

    with django_capture_on_commit_callbacks(execute=True):
        started = api.post("/api/studies/dl/draws/", body(mobile, browser, expected_version=0), format="json")
    assert started.status_code == 202 and started.json()["status"] == "pending"
    assert started.json()["job_detail"]["kind"] == "sample_draw" and queued == [started.json()["job"]]
    job_run(job_id=started.json()["job"])
    detail = api.get("/api/studies/dl/draws/1/").json()
    assert detail["status"] == "ready" and detail["seed"] == 5 and detail["sample_size"] == 473
    assert [(s["name"], s["n"], s["drawn"], s["pilot"], s["reliability"]) for s in detail["strata"]] == [
        ("Mobile", 308, 308, 92, 216), ("Browser", 165, 165, 50, 115)]
    assert len(detail["strata"][0]["population_digest"]) == 64
    loads = {r["rater"]: r["assigned"] for r in detail["raters"]}
    assert sum(loads.values()) == 2 * 331 and max(loads.values()) - min(loads.values()) <= 1
    assert set(detail["raters"][0]["by_stratum"]) == {"Mobile", "Browser"}

    items = api.get("/api/studies/dl/draws/1/items/", {"stratum": 1, "part": "pilot"}).json()
    assert items["count"] == 50 and {i["stratum"] for i in items["results"]} == {"Browser"}
    assert api.get("/api/studies/dl/draws/1/items/", {"part": "nonsense"}).status_code == 400
    assert api.get("/api/studies/dl/draws/", {}).json()["count"] == 1


def test_redistribute_and_freeze(setup, queued):
    study, api, raters, mobile, browser = setup
    started = api.post("/api/studies/dl/draws/", body(mobile, browser), format="json").json()
    job_run(job_id=started["job"])
    again = api.post("/api/studies/dl/draws/1/redistribute/",
                     {"pilot_share": 0.5, "raters_per_item": 3, "raters": [r.pk for r in raters[:3]]}, format="json")
    assert again.status_code == 202
    job_run(job_id=again.json()["job"])
    detail = api.get("/api/studies/dl/draws/1/").json()
    assert detail["pilot_size"] == 154 + 83 and {r["rater"] for r in detail["raters"]} == {"r0", "r1", "r2"}
    assert api.post("/api/studies/dl/draws/1/start-labelling/").json()["frozen"] is True
    refused = api.post("/api/studies/dl/draws/1/redistribute/", {"pilot_share": 0.3, "raters_per_item": 2},
                       format="json")
    assert refused.status_code == 400 and "frozen" in str(refused.json())


@pytest.mark.parametrize("change, field, text", [
    ({"confidence": 0}, "confidence", "between 0 and 1"),
    ({"margin": 1}, "margin", "between 0 and 1"),
    ({"proportion": -0.1}, "proportion", "between 0 and 1"),
    ({"raters_per_item": 5}, "raters_per_item", "only 4 raters"),
    ({"strata": []}, "strata", "at least one"),
    ({"strata": [{"question_set": 999999}]}, "strata", "No question set 999999"),
    ({"strata": [{"question_set": "MOBILE", "mode": "override", "n": 2000}]}, "strata", "larger than the set's"),
])
def test_bad_designs_are_refused_with_a_clear_message(setup, change, field, text):
    study, api, raters, mobile, browser = setup
    payload = body(mobile, browser, **change)
    for stratum in payload["strata"]:
        if stratum["question_set"] == "MOBILE":
            stratum["question_set"] = mobile.pk
    response = api.post("/api/studies/dl/draws/", payload, format="json")
    assert response.status_code == 400 and text in str(response.json().get(field)), response.json()
    assert not SampleDraw.objects.exists()


def test_a_design_that_cannot_be_drawn_is_previewed_as_such_and_refused_without_a_version(setup, queued):
    study, api, raters, mobile, browser = setup
    subset = evaluated_set(study=study, name="Subset", posts=[m.post for m in browser.members.all()[:4]])
    design = {"strata": [{"question_set": browser.pk, "mode": "census"}, {"question_set": subset.pk}], "seed": 5}
    preview = api.post("/api/studies/dl/draws/preview/", design, format="json").json()
    reason = "“Subset” has no posts left: all 4 are counted in earlier strata. Remove it or put it first."
    assert preview["drawable"] is False and [r["error"] for r in preview["rows"]] == ["", reason]
    refused = api.post("/api/studies/dl/draws/", {**design, "expected_version": 0}, format="json")
    assert refused.status_code == 400 and refused.json() == {"strata": [reason]}
    assert not SampleDraw.objects.exists() and queued == []
    assert api.post("/api/studies/dl/draws/preview/", body(mobile, browser), format="json").json()["drawable"]
    assert api.post("/api/studies/dl/draws/", body(mobile, browser, expected_version=0),
                    format="json").json()["version"] == 1


def test_only_owners_draw_and_strangers_see_nothing(setup, queued):
    study, api, raters, mobile, browser = setup
    api.post("/api/studies/dl/draws/", body(mobile, browser), format="json")
    rater = APIClient()
    rater.force_authenticate(raters[0])
    assert rater.get("/api/studies/dl/draws/1/").status_code == 200
    assert rater.post("/api/studies/dl/draws/", body(mobile, browser), format="json").status_code == 404
    assert rater.post("/api/studies/dl/draws/1/start-labelling/").status_code == 404
    stranger = APIClient()
    stranger.force_authenticate(UserFactory())
    for url in ("/api/studies/dl/draws/", "/api/studies/dl/draws/1/", "/api/studies/dl/draws/1/items/"):
        assert stranger.get(url).status_code == 404
    other = StudyFactory(slug="other")
    MembershipFactory(study=other, user=raters[0], is_owner=True)
    foreign = rater.post("/api/studies/other/draws/", {"strata": [{"question_set": mobile.pk}]}, format="json")
    assert foreign.status_code == 400 and f"No question set {mobile.pk} in this study" in str(foreign.json())
