"""The question-set REST API: rules, evaluation jobs, members, manual
decisions, statistics, and who may do what."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from scipy.stats import chi2_contingency

from annotator.jobs.models import Job, JobKind, JobStatus
from annotator.jobs.runner import job_run
from sampling.question_sets.models import ManualDecision, QuestionSet, SetReference
from tests.factories import AnswerFactory, MembershipFactory, PostFactory, StudyFactory

pytestmark = pytest.mark.django_db
JSON = "application/json"
SETS = "/api/studies/sel/sets/"


def question(study, so_id, title, *, body="<p>text</p>", tags="|tensorflow|", year=2020, owner=None,
             answered_after: timedelta | None = None):
    asked = datetime(year, 6, 1, 12, tzinfo=UTC)
    post = PostFactory(study=study, so_id=so_id, title=title, body=body, tags=tags, creation_date=asked,
                       owner_user_id=owner)
    if answered_after is not None:
        AnswerFactory(question=post, so_id=so_id + 100, creation_date=asked + answered_after)
        post.accepted_answer_so_id = so_id + 100
        post.save(update_fields=["accepted_answer_so_id"])
    return post


@pytest.fixture
def owner():
    return MembershipFactory(study=StudyFactory(name="Selection", slug="sel"), is_owner=True)


@pytest.fixture
def api(client, owner):
    client.force_login(owner.user)
    return client


@pytest.fixture
def corpus(owner):
    study = owner.study
    return {
        1: question(study, 1, "Serving a Keras model on a cloud server", tags="|keras|", year=2019, owner=10,
                    answered_after=timedelta(hours=2)),
        2: question(study, 2, "TFLite on Android crashes", body="<p>mobile app</p>", tags="|tensorflow|android|",
                    owner=11),
        3: question(study, 3, "Model in the browser", owner=10, answered_after=timedelta(minutes=30)),
        4: question(study, 4, "Loss is NaN", body="<pre><code>server = 1  # cloud mobile</code></pre>", year=2021),
        5: question(study, 5, "How to deploy to the cloud", body="<p>on a server</p>", tags="|pytorch|", year=2018,
                    owner=12, answered_after=timedelta(hours=10)),
        6: question(study, 6, "Java question", tags="|java|"),
    }


def create(api, **rule):
    response = api.post(SETS, rule, content_type=JSON)
    assert response.status_code == 201, response.content
    return response.json()


@pytest.fixture
def paper_sets(api, corpus):
    """The paper's sets: B, C and D inside B, and the baseline B − (C ∪ D)."""
    return {
        "B": create(api, name="B", tags=["tensorflow", "keras", "pytorch"]),
        "C": create(api, name="C", within=["B"], words=["cloud", "server", "serving"]),
        "D": create(api, name="D", within=["B"], words=["mobile", "android"]),
        "baseline": create(api, name="baseline", description="no deployment words", within=["B"],
                           minus=["C", "D"]),
    }


def evaluate(api, set_id, queued, capture) -> dict:
    """Queue an evaluation through the API, then run the job as a worker would."""
    with capture(execute=True):
        response = api.post(f"{SETS}{set_id}/evaluate/")
    assert response.status_code == 202
    job = response.json()
    assert queued[-1] == job["id"]
    job_run(job_id=job["id"])
    return api.get(f"/api/jobs/{job['id']}/").json()


def so_ids(api, set_id) -> list[int]:
    response = api.get(f"{SETS}{set_id}/members/")
    assert response.status_code == 200
    return sorted(m["so_id"] for m in response.json()["results"])


# --- rules -----------------------------------------------------------------------------


def test_the_papers_sets_and_the_baseline_are_made_through_the_api(api, paper_sets):
    baseline = paper_sets["baseline"]

    assert baseline["within"] == ["B"] and baseline["minus"] == ["C", "D"] and baseline["union"] == []
    assert baseline["description"] == "no deployment words"
    assert baseline["member_count"] is None and baseline["evaluated_at"] is None and baseline["funnel"] == []
    assert paper_sets["C"]["words"] == ["cloud", "server", "serving"]
    assert paper_sets["C"]["whole_words"] is True and paper_sets["C"]["search_body"] is True
    stored = QuestionSet.objects.get(pk=baseline["id"])
    assert sorted(stored.references.values_list("kind", "target__name")) == [
        ("minus", "C"), ("minus", "D"), ("within", "B"),
    ]

    listed = api.get(SETS).json()
    assert listed["count"] == 4
    assert [s["name"] for s in listed["results"]] == ["B", "C", "D", "baseline"]
    assert listed["results"][3]["rule_text"] == "within B; minus C ∪ D"
    assert api.get(f"{SETS}{baseline['id']}/").json() == baseline


def test_every_rule_field_round_trips(api, corpus):
    rule = {
        "name": "Everything", "description": "all the steps", "tags": ["TensorFlow", "keras"],
        "words": ["Cloud", " deploy "], "required_words": ["server"], "whole_words": False,
        "search_title": False, "search_body": True, "date_from": "2019-01-01", "date_to": "2020-12-31",
        "union_tags": ["tfserving"],
    }

    data = create(api, **rule)

    assert data["tags"] == ["tensorflow", "keras"]  # tags and words are normalised by the service
    assert data["words"] == ["cloud", "deploy"] and data["required_words"] == ["server"]
    assert (data["whole_words"], data["search_title"], data["search_body"]) == (False, False, True)
    assert (data["date_from"], data["date_to"]) == ("2019-01-01", "2020-12-31")
    assert data["union_tags"] == ["tfserving"]


def test_put_replaces_the_whole_rule(api, paper_sets):
    c = paper_sets["C"]

    response = api.put(f"{SETS}{c['id']}/", {"name": "C cloud", "words": ["cloud"], "union": ["D"]},
                       content_type=JSON)

    assert response.status_code == 200
    data = response.json()
    assert data["name"] == "C cloud" and data["words"] == ["cloud"]
    assert data["within"] == [] and data["union"] == ["D"]  # left out: back to the default
    assert set(SetReference.objects.filter(question_set_id=c["id"]).values_list("kind", "target__name")) == {
        ("union", "D")
    }
    assert api.get(f"{SETS}{paper_sets['baseline']['id']}/").json()["minus"] == ["C cloud", "D"]


@pytest.mark.parametrize(
    ("rule", "field", "words_in_message"),
    [
        ({"name": "Empty"}, "__all__", "empty vocabulary"),
        ({"name": "Empty words", "words": ["", "  "]}, "__all__", "selects every question"),
        ({"name": "Unknown", "within": ["Nope"]}, "within", "'Nope'"),
        ({"name": "Unknown minus", "tags": ["keras"], "minus": ["B", "Ghost"]}, "minus", "'Ghost'"),
        ({"name": "Backwards", "date_from": "2021-01-01", "date_to": "2020-01-01"}, "date_to", "before"),
        ({"name": "No such day", "date_from": "2020-02-30"}, "date_from", "Date has wrong format"),
        ({"name": "Bad tag", "tags": ["c sharp!"]}, "tags", "not a Stack Exchange tag"),
        ({"name": "B", "tags": ["keras"]}, "name", "already a set"),
        ({"name": "", "tags": ["keras"]}, "name", "blank"),
        ({"name": "Blind", "words": ["x"], "search_title": False, "search_body": False}, "search_body", "both"),
        ({"name": "Not a list", "tags": "keras"}, "tags", "list"),
    ],
)
def test_a_bad_rule_is_a_400_with_field_messages(api, paper_sets, rule, field, words_in_message):
    before = QuestionSet.objects.count()

    response = api.post(SETS, rule, content_type=JSON)

    assert response.status_code == 400
    errors = response.json()
    assert field in errors, errors
    assert words_in_message in " ".join(errors[field]), errors
    assert QuestionSet.objects.count() == before


def test_a_put_that_would_make_a_cycle_is_a_400_and_changes_nothing(api, paper_sets):
    b = paper_sets["B"]

    response = api.put(f"{SETS}{b['id']}/", {"name": "B", "tags": ["keras"], "union": ["baseline"]},
                       content_type=JSON)
    itself = api.put(f"{SETS}{b['id']}/", {"name": "B", "within": ["B"]}, content_type=JSON)

    assert response.status_code == 400
    assert "cycle" in " ".join(response.json()["union"])
    assert itself.status_code == 400 and "itself" in " ".join(itself.json()["within"])
    assert api.get(f"{SETS}{b['id']}/").json() == b


def test_a_set_of_another_study_is_404(api, owner):
    other = MembershipFactory(user=owner.user, study=StudyFactory(slug="other"), is_owner=True)
    foreign = QuestionSet.objects.create(study=other.study, name="F", tags=["keras"])

    assert api.get(f"{SETS}{foreign.pk}/").status_code == 404
    assert api.delete(f"{SETS}{foreign.pk}/").status_code == 404
    assert api.get(f"/api/studies/other/sets/{foreign.pk}/").status_code == 200
    assert QuestionSet.objects.filter(pk=foreign.pk).exists()


# --- delete ------------------------------------------------------------------------------


def test_a_set_in_use_cannot_be_deleted_and_the_message_names_its_users(api, paper_sets):
    b, c = paper_sets["B"], paper_sets["C"]

    in_use = api.delete(f"{SETS}{b['id']}/")

    assert in_use.status_code == 400
    message = " ".join(in_use.json()["detail"])
    assert "C" in message and "D" in message and "baseline" in message
    assert QuestionSet.objects.filter(pk=b["id"]).exists()

    assert api.delete(f"{SETS}{c['id']}/").status_code == 400  # the baseline uses it
    assert api.delete(f"{SETS}{paper_sets['baseline']['id']}/").status_code == 204
    assert api.delete(f"{SETS}{c['id']}/").status_code == 204
    assert api.get(f"{SETS}{c['id']}/").status_code == 404
    assert sorted(QuestionSet.objects.values_list("name", flat=True)) == ["B", "D"]


# --- evaluation and members --------------------------------------------------------------


def test_evaluate_queues_a_job_after_commit_and_the_worker_fills_the_members(
    api, owner, paper_sets, queued, django_capture_on_commit_callbacks
):
    baseline = paper_sets["baseline"]

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = api.post(f"{SETS}{baseline['id']}/evaluate/")
    assert response.status_code == 202
    job = response.json()
    assert job["kind"] == JobKind.QUESTION_SET and job["status"] == JobStatus.QUEUED
    assert job["params"] == {"question_set": baseline["id"], "name": "baseline"}
    assert job["created_by"] == owner.user.username
    assert queued == []  # nothing is sent before the transaction commits
    assert len(callbacks) == 1
    callbacks[0]()
    assert queued == [job["id"]]

    job_run(job_id=job["id"])

    finished = api.get(f"/api/jobs/{job['id']}/").json()
    assert finished["status"] == JobStatus.SUCCEEDED, finished["error"]
    assert finished["result"]["members"] == 2
    assert [s["set"] for s in finished["result"]["sets"]][-1] == "baseline"
    assert so_ids(api, paper_sets["B"]["id"]) == [1, 2, 3, 4, 5]
    assert so_ids(api, paper_sets["C"]["id"]) == [1, 5]  # 4 has the words only inside code
    assert so_ids(api, paper_sets["D"]["id"]) == [2]
    assert so_ids(api, baseline["id"]) == [3, 4]

    detail = api.get(f"{SETS}{baseline['id']}/").json()
    assert detail["member_count"] == 2 and detail["evaluated_at"] is not None
    assert [(s["step"], s["before"], s["after"], s["dropped"]) for s in detail["funnel"]] == [
        ("start", 5, 5, 0), ("minus", 5, 2, 3),
    ]


def test_members_carry_the_post_and_the_matched_words(api, corpus, paper_sets, queued,
                                                     django_capture_on_commit_callbacks):
    evaluate(api, paper_sets["C"]["id"], queued, django_capture_on_commit_callbacks)

    page = api.get(f"{SETS}{paper_sets['C']['id']}/members/").json()

    assert set(page) == {"count", "next", "previous", "results"} and page["count"] == 2
    assert [m["so_id"] for m in page["results"]] == [1, 5]  # newest first: 2019, then 2018
    first = page["results"][0]
    post = corpus[1]
    assert first == {
        "post": post.pk, "so_id": 1, "site": "stackoverflow.com", "title": post.title, "tags": ["keras"],
        "creation_date": "2019-06-01T12:00:00Z", "matched_words": ["cloud", "server", "serving"],
    }


def test_members_are_paginated(api, owner, queued, django_capture_on_commit_callbacks):
    for n in range(51):
        PostFactory(study=owner.study, so_id=n + 1, tags="|keras|")
    keras = create(api, name="Keras", tags=["keras"])
    evaluate(api, keras["id"], queued, django_capture_on_commit_callbacks)

    first = api.get(f"{SETS}{keras['id']}/members/").json()
    second = api.get(f"{SETS}{keras['id']}/members/", {"page": 2}).json()

    assert first["count"] == 51 and len(first["results"]) == 50 and first["next"].endswith("?page=2")
    assert len(second["results"]) == 1 and second["next"] is None
    assert sorted(m["so_id"] for m in first["results"] + second["results"]) == list(range(1, 52))


def test_an_unevaluated_set_has_no_members(api, paper_sets):
    assert so_ids(api, paper_sets["B"]["id"]) == []


# --- manual decisions --------------------------------------------------------------------


def test_manual_decisions_are_set_listed_replaced_and_removed(api, owner, corpus, paper_sets, queued,
                                                              django_capture_on_commit_callbacks):
    baseline = paper_sets["baseline"]
    url = f"{SETS}{baseline['id']}/decisions/"

    excluded = api.post(url, {"post": corpus[4].pk, "action": "exclude", "reason": "about training, not serving"},
                        content_type=JSON)
    included = api.post(url, {"post": corpus[6].pk, "action": "include", "reason": "deploys a TF model from Java"},
                        content_type=JSON)

    assert excluded.status_code == 201 and included.status_code == 201
    assert excluded.json()["action"] == "exclude" and excluded.json()["so_id"] == 4
    listed = api.get(url).json()
    assert listed["count"] == 2
    by_post = {d["so_id"]: d for d in listed["results"]}
    assert by_post[4]["reason"] == "about training, not serving"
    assert by_post[6]["action"] == "include" and by_post[6]["decided_by"] == owner.user.username
    assert by_post[6]["decided_at"] and by_post[6]["post"] == corpus[6].pk

    evaluate(api, baseline["id"], queued, django_capture_on_commit_callbacks)
    assert so_ids(api, baseline["id"]) == [3, 6]
    assert api.get(f"{SETS}{baseline['id']}/").json()["funnel"][-1]["step"] == "manual"

    changed = api.post(url, {"post": corpus[4].pk, "action": "include", "reason": "on second thought"},
                       content_type=JSON)
    assert changed.status_code == 201
    assert ManualDecision.objects.get(question_set_id=baseline["id"], post=corpus[4]).action == "include"
    assert api.get(url).json()["count"] == 2

    assert api.delete(f"{url}{corpus[4].pk}/").status_code == 204
    assert [d["so_id"] for d in api.get(url).json()["results"]] == [6]
    assert api.delete(f"{url}{corpus[4].pk}/").status_code == 204  # already gone: still done


def test_a_bad_decision_is_a_400(api, corpus, paper_sets):
    url = f"{SETS}{paper_sets['B']['id']}/decisions/"
    answer = AnswerFactory(question=corpus[1], so_id=999)
    foreign = PostFactory(so_id=1)

    cases = [
        ({"post": corpus[1].pk, "action": "include"}, "reason"),
        ({"post": corpus[1].pk, "action": "include", "reason": "   "}, "reason"),
        ({"post": corpus[1].pk, "action": "maybe", "reason": "x"}, "action"),
        ({"post": answer.pk, "action": "include", "reason": "an answer"}, "post"),
        ({"post": foreign.pk, "action": "include", "reason": "another study"}, "post"),
        ({"post": 10**9, "action": "include", "reason": "nothing"}, "post"),
    ]
    for body, field in cases:
        response = api.post(url, body, content_type=JSON)
        assert response.status_code == 400, body
        assert field in response.json(), (body, response.json())
    assert not ManualDecision.objects.exists()
    assert api.delete(f"{url}{foreign.pk}/").status_code == 404


# --- statistics --------------------------------------------------------------------------


def test_statistics_of_a_set(api, paper_sets, queued, django_capture_on_commit_callbacks):
    b = paper_sets["B"]
    evaluate(api, b["id"], queued, django_capture_on_commit_callbacks)

    response = api.get(f"{SETS}{b['id']}/statistics/")

    assert response.status_code == 200
    data = response.json()
    assert data["question_set"] == {"id": b["id"], "name": "B"}
    assert data["periods"] == {
        "period": "year",
        "rows": [
            {"period": "2018", "start": "2018-01-01", "questions": 1, "askers": 1},
            {"period": "2019", "start": "2019-01-01", "questions": 1, "askers": 1},
            {"period": "2020", "start": "2020-01-01", "questions": 2, "askers": 2},
            {"period": "2021", "start": "2021-01-01", "questions": 1, "askers": 0},
        ],
        "questions": 5, "askers": 3, "without_date": 0, "without_owner": 1,
    }
    quarters = api.get(f"{SETS}{b['id']}/statistics/", {"period": "quarter"}).json()["periods"]
    assert quarters["period"] == "quarter" and len(quarters["rows"]) == 3 * 4 + 1  # 2018-Q2 to 2021-Q2
    assert [r["period"] for r in quarters["rows"] if r["questions"]] == ["2018-Q2", "2019-Q2", "2020-Q2", "2021-Q2"]
    assert sum(r["questions"] for r in quarters["rows"]) == 5
    months = api.get(f"{SETS}{b['id']}/statistics/", {"period": "month"}).json()["periods"]
    assert months["rows"][0] == {"period": "2018-06", "start": "2018-06-01", "questions": 1, "askers": 1}
    assert len(months["rows"]) == 3 * 12 + 1
    for bad in ("week", ""):
        refused = api.get(f"{SETS}{b['id']}/statistics/", {"period": bad})
        assert refused.status_code == 400 and "period" in refused.json()
    assert data["accepted"] == {"questions": 5, "with_accepted": 3, "without_accepted": 2,
                                "share_without_accepted": 0.4}
    assert data["response_times"]["measured"] == 3 and data["response_times"]["without_accepted"] == 2
    assert data["response_times"]["skipped_total"] == 0
    hours = data["response_hours"]
    assert hours["n"] == 3 and hours["median"] == 2.0
    assert (hours["minimum"], hours["maximum"]) == (0.5, 10.0)


def test_statistics_of_an_empty_set_are_null_not_nan(api, paper_sets):
    response = api.get(f"{SETS}{paper_sets['D']['id']}/statistics/")  # never evaluated: no members

    assert response.status_code == 200
    text = response.content.decode()
    assert "NaN" not in text and "Infinity" not in text
    data = json.loads(text)
    assert data["accepted"]["share_without_accepted"] is None
    assert data["response_hours"] == {**data["response_hours"], "n": 0, "median": None, "q1": None, "q3": None}
    assert data["periods"]["rows"] == []


def test_comparing_two_sets_gives_both_chi2_and_the_medians(api, paper_sets, queued,
                                                           django_capture_on_commit_callbacks):
    c, baseline = paper_sets["C"], paper_sets["baseline"]
    evaluate(api, baseline["id"], queued, django_capture_on_commit_callbacks)  # C = {1, 5}, baseline = {3, 4}

    response = api.get(f"{SETS}compare/", {"a": baseline["id"], "b": c["id"]})

    assert response.status_code == 200
    data = response.json()
    assert data["first"]["name"] == "baseline" and data["second"]["name"] == "C"
    test = data["test"]
    assert (test["x1"], test["n1"], test["x2"], test["n2"]) == (1, 2, 0, 2)
    table = [[1, 1], [0, 2]]
    plain, corrected = chi2_contingency(table, correction=False), chi2_contingency(table, correction=True)
    assert test["chi2"] == pytest.approx(plain[0]) and test["p_value"] == pytest.approx(plain[1])
    assert test["chi2_corrected"] == pytest.approx(corrected[0])
    assert test["p_value_corrected"] == pytest.approx(corrected[1])
    assert test["df"] == 1 and test["undefined_reason"] == ""
    assert test["p1"] == 0.5 and test["p2"] == 0.0
    assert data["first_median_hours"] == 0.5 and data["second_median_hours"] == 6.0
    assert data["second_response_hours"]["n"] == 2
    assert data["first_accepted"]["without_accepted"] == 1


def test_comparing_with_an_empty_set_gives_nulls_and_the_reason(api, paper_sets):
    response = api.get(f"{SETS}compare/", {"a": paper_sets["B"]["id"], "b": paper_sets["C"]["id"]})

    assert response.status_code == 200
    assert "NaN" not in response.content.decode()
    data = response.json()
    test = data["test"]
    assert test["chi2"] is None and test["p_value"] is None
    assert test["chi2_corrected"] is None and test["p_value_corrected"] is None
    assert test["undefined_reason"]
    assert data["first_median_hours"] is None and data["second_median_hours"] is None


def test_comparing_overlapping_sets_gives_the_overlap_and_the_assumption(api, paper_sets, corpus, queued,
                                                                          django_capture_on_commit_callbacks):
    b, c = paper_sets["B"], paper_sets["C"]
    evaluate(api, c["id"], queued, django_capture_on_commit_callbacks)  # evaluates B too (C is within B)
    in_b, in_c = set(so_ids(api, b["id"])), set(so_ids(api, c["id"]))
    assert in_c and in_c < in_b

    response = api.get(f"{SETS}compare/", {"a": b["id"], "b": c["id"]})

    assert response.status_code == 200
    data = response.json()
    assert data["overlap"] == len(in_b & in_c) == 2
    assert "every question of “C” is also in “B”" in data["overlap_note"]
    assert "assumes two independent samples" in data["overlap_note"]
    assert "e.g. “C” with “B” minus “C”" in data["overlap_note"]
    without = {so_id for so_id, post in corpus.items() if post.accepted_answer_so_id is None}
    table = [[len(ids & without), len(ids - without)] for ids in (in_b, in_c)]
    plain, corrected = chi2_contingency(table, correction=False), chi2_contingency(table, correction=True)
    assert data["test"]["chi2"] == pytest.approx(plain[0]) and data["test"]["p_value"] == pytest.approx(plain[1])
    assert data["test"]["p_value_corrected"] == pytest.approx(corrected[1])

    disjoint = api.get(f"{SETS}compare/", {"a": paper_sets["D"]["id"], "b": c["id"]}).json()
    assert disjoint["overlap"] == 0 and disjoint["overlap_note"] == ""


def test_comparing_a_set_with_itself_is_refused_with_the_reason(api, paper_sets, queued,
                                                                 django_capture_on_commit_callbacks):
    c = paper_sets["C"]
    evaluate(api, c["id"], queued, django_capture_on_commit_callbacks)

    response = api.get(f"{SETS}compare/", {"a": c["id"], "b": c["id"]})

    assert response.status_code == 400
    assert "“C” cannot be compared with itself: the χ² test needs two independent samples" in \
        " ".join(response.json()["detail"])
    same_members = create(api, name="C again", within=["C"])
    evaluate(api, same_members["id"], queued, django_capture_on_commit_callbacks)
    twin = api.get(f"{SETS}compare/", {"a": c["id"], "b": same_members["id"]})
    assert twin.status_code == 400 and "hold the same 2 questions" in " ".join(twin.json()["detail"])


def test_compare_needs_two_set_ids_of_this_study(api, owner, paper_sets):
    b = paper_sets["B"]["id"]
    foreign = QuestionSet.objects.create(study=StudyFactory(), name="F", tags=["keras"])

    assert api.get(f"{SETS}compare/", {"a": b}).status_code == 400
    assert "a" in api.get(f"{SETS}compare/", {"a": "x", "b": b}).json()
    assert api.get(f"{SETS}compare/", {"a": b, "b": foreign.pk}).status_code == 404


# --- who may do what ---------------------------------------------------------------------


def endpoints(sets: dict, post_pk: int) -> tuple[list, list]:
    """(reads, writes) as (method, path, body) for every question-set endpoint."""
    b, c = sets["B"]["id"], sets["C"]["id"]
    reads = [
        ("get", SETS, None),
        ("get", f"{SETS}{b}/", None),
        ("get", f"{SETS}{b}/members/", None),
        ("get", f"{SETS}{b}/decisions/", None),
        ("get", f"{SETS}{b}/statistics/", None),
        ("get", f"{SETS}compare/?a={b}&b={c}", None),
    ]
    writes = [
        ("post", SETS, {"name": "Sneaky", "tags": ["keras"]}),
        ("put", f"{SETS}{c}/", {"name": "Renamed", "tags": ["keras"]}),
        ("delete", f"{SETS}{sets['baseline']['id']}/", None),
        ("post", f"{SETS}{b}/evaluate/", None),
        ("post", f"{SETS}{b}/decisions/", {"post": post_pk, "action": "exclude", "reason": "r"}),
        ("delete", f"{SETS}{b}/decisions/{post_pk}/", None),
    ]
    return reads, writes


def call(client, method, path, body):
    if body is None:
        return getattr(client, method)(path)
    return getattr(client, method)(path, body, content_type=JSON)


def snapshot():
    return (
        sorted(QuestionSet.objects.values_list("name", "tags", "member_count")),
        sorted(ManualDecision.objects.values_list("post_id", "action", "reason")),
        Job.objects.count(),
    )


@pytest.mark.parametrize("roles", [{}, {"is_rater": True}, {"is_arbitrator": True, "is_rater": True}])
def test_members_who_are_not_owners_read_but_cannot_write(api, owner, corpus, paper_sets, queued, roles):
    api.post(f"{SETS}{paper_sets['B']['id']}/decisions/",
             {"post": corpus[1].pk, "action": "include", "reason": "kept"}, content_type=JSON)
    member = MembershipFactory(study=owner.study, **roles)
    client = Client()
    client.force_login(member.user)
    reads, writes = endpoints(paper_sets, corpus[1].pk)
    before = snapshot()

    for method, path, body in reads:
        assert call(client, method, path, body).status_code == 200, path
    for method, path, body in writes:
        assert call(client, method, path, body).status_code == 404, (method, path)
    assert snapshot() == before
    assert queued == []


def test_a_non_member_gets_404_on_every_endpoint(api, corpus, paper_sets, queued):
    outsider = MembershipFactory(study=StudyFactory(), is_owner=True).user  # owns another study
    client = Client()
    client.force_login(outsider)
    reads, writes = endpoints(paper_sets, corpus[1].pk)
    before = snapshot()

    for method, path, body in reads + writes:
        response = call(client, method, path, body)
        assert response.status_code == 404, (method, path)
        assert response.json() == {"detail": "No such study."}  # the same as for a study that does not exist
    assert snapshot() == before
    assert queued == []


def test_without_credentials_the_set_api_is_refused(paper_sets, corpus):
    reads, writes = endpoints(paper_sets, corpus[1].pk)
    for method, path, body in reads + writes:
        assert call(Client(), method, path, body).status_code in (401, 403), (method, path)
