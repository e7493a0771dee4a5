"""The labelling API: next item, one item (GET / PUT), the labels, the progress;
blindness proved through every endpoint."""

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from annotator.studies.models import Membership
from sampling.draws.models import Assignment
from taxonomy.labelling.models import Label
from taxonomy.labelling.services import label_submit
from tests.factories import AnswerFactory, CommentFactory, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

SECRET_NOTE = "ana-secret-note <script>alert(1)</script>"


def client(user):
    api = APIClient()
    api.force_authenticate(user)
    return api


@pytest.fixture
def ana_labelled(rnd):
    """ana labelled every item with Serving and a note; bo labelled nothing."""
    for i in range(3):
        label_submit(assignment=rnd.assignment(rnd.ana, i), rater=rnd.ana, kind="categories",
                     category_ids=[rnd.cats["serving"].pk], note=SECRET_NOTE)
    return rnd


def test_next_then_put_then_done(rnd):
    api = client(rnd.ana)
    first = api.get("/api/studies/dl/labelling/next/").json()
    assert first["done"] is False and first["progress"] == {"labelled": 0, "assigned": 3}
    item = first["item"]
    assert item["label"] is None and item["editable"] is True and item["stratum"] == "Stratum"
    assert item["post"]["title"].startswith("Question") and item["post"]["body_html"]
    for _ in range(3):
        item_id = api.get("/api/studies/dl/labelling/next/").json()["item"]["item"]
        put = api.put(f"/api/studies/dl/labelling/items/{item_id}/",
                      {"kind": "categories", "categories": [rnd.cats["export"].pk], "note": "n"}, format="json")
        assert put.status_code == 200, put.json()
        assert put.json()["label"]["categories"] == [{"id": rnd.cats["export"].pk, "name": "Export",
                                                      "status": "active"}]
    done = api.get("/api/studies/dl/labelling/next/").json()
    assert done == {"done": True, "progress": {"labelled": 3, "assigned": 3}, "item": None}


def test_next_and_item_read_nothing_back_one_field_at_a_time(rnd):
    """The item is read with only the draw's and stratum's columns the output shows: no
    column left out is fetched afterwards, row by row."""
    api = client(rnd.ana)
    one_by_one = [f'WHERE "{table}"."id" =' for table in ("sampling_sampledraw", "sampling_samplestratum",
                                                         "sampling_sampleitem", "corpus_post")]
    with CaptureQueriesContext(connection) as queries:
        item_id = api.get("/api/studies/dl/labelling/next/").json()["item"]["item"]
        assert api.get(f"/api/studies/dl/labelling/items/{item_id}/").json()["draw"] == rnd.draw.version
    assert [q["sql"] for q in queries.captured_queries if any(m in q["sql"] for m in one_by_one)] == []


def test_item_shows_answers_accepted_and_comments(rnd):
    a = rnd.assignment(rnd.ana)
    post = a.item.post
    answer = AnswerFactory(question=post, study=rnd.study, body="<p>Use SavedModel</p><script>x()</script>")
    post.accepted_answer_so_id = answer.so_id
    post.save()
    CommentFactory(study=rnd.study, post_so_id=post.so_id, text="Which TF version?")
    data = client(rnd.ana).get(f"/api/studies/dl/labelling/items/{a.item_id}/").json()
    assert data["answers"][0]["is_accepted"] is True
    assert "<script>" not in data["answers"][0]["body_html"] and "SavedModel" in data["answers"][0]["body_html"]
    assert data["post"]["comments"][0]["text"] == "Which TF version?"


def test_put_bad_input_is_400_with_the_reason(rnd):
    a = rnd.assignment(rnd.ana)
    api = client(rnd.ana)
    url = f"/api/studies/dl/labelling/items/{a.item_id}/"
    r = api.put(url, {"kind": "categories", "categories": []}, format="json")
    assert r.status_code == 400 and "Choose at least one category" in r.json()["categories"][0]
    r = api.put(url, {"kind": "unclear", "categories": [rnd.cats["serving"].pk]}, format="json")
    assert r.status_code == 400 and "excludes categories" in r.json()["kind"][0]
    r = api.put(url, {"kind": "categories", "categories": ["x"]}, format="json")
    assert r.status_code == 400
    assert not Label.objects.exists()


def test_another_raters_item_is_404_like_a_missing_one(rnd):
    # a third rater with her own items: ana and bo have no assignment on them
    cy = UserFactory(username="cy")
    MembershipFactory(study=rnd.study, user=cy, is_rater=True)
    Assignment.objects.create(draw=rnd.draw, item=rnd.assignment(rnd.ana).item, rater=cy)
    cy_only = rnd.draw.items.filter(part="pilot").first()
    api = client(rnd.ana)
    for item_id in (cy_only.pk, 999_999):
        assert api.get(f"/api/studies/dl/labelling/items/{item_id}/").status_code == 404
        assert api.put(f"/api/studies/dl/labelling/items/{item_id}/", {"kind": "pending"},
                       format="json").status_code == 404
    # the owner, not a rater, has no items at all
    assert client(rnd.owner).get(f"/api/studies/dl/labelling/items/{cy_only.pk}/").status_code == 404
    # an outsider does not even learn the study exists
    assert client(UserFactory()).get("/api/studies/dl/labelling/labels/").status_code == 404


def test_rater_never_sees_another_raters_label_through_the_api(ana_labelled):
    rnd = ana_labelled
    api = client(rnd.bo)
    item_id = rnd.assignment(rnd.bo).item_id
    for url in ("/api/studies/dl/labelling/next/", f"/api/studies/dl/labelling/items/{item_id}/",
                "/api/studies/dl/labelling/labels/", "/api/studies/dl/labelling/progress/"):
        body = api.get(url).content.decode()
        assert "ana-secret-note" not in body and "ana" not in body.replace("answer", ""), url
    assert api.get(f"/api/studies/dl/labelling/items/{item_id}/").json()["label"] is None
    assert api.get("/api/studies/dl/labelling/labels/").json()["count"] == 0


def test_labels_listing_follows_the_one_rule(ana_labelled):
    rnd = ana_labelled
    mine = client(rnd.ana).get("/api/studies/dl/labelling/labels/").json()
    assert mine["count"] == 3 and {r["rater"] for r in mine["results"]} == {"ana"}
    assert mine["results"][0]["note"] == SECRET_NOTE  # JSON carries the text as is; pages escape it
    # the owner rates nothing: sees every label
    assert client(rnd.owner).get("/api/studies/dl/labelling/labels/").json()["count"] == 3
    # a viewer sees none
    viewer = UserFactory(username="viewer")
    MembershipFactory(study=rnd.study, user=viewer)
    assert client(viewer).get("/api/studies/dl/labelling/labels/").json()["count"] == 0
    # an arbitrator who also rates these items is blind on them like any rater
    rnd.ana.memberships.filter(study=rnd.study).update(is_arbitrator=True)
    label_submit(assignment=rnd.assignment(rnd.bo), rater=rnd.bo, kind="pending", note="bo's")
    as_ana = client(rnd.ana).get("/api/studies/dl/labelling/labels/").json()
    assert {r["rater"] for r in as_ana["results"]} == {"ana"}


def test_labels_listing_writes_its_rows_as_the_schema_serializer_does(ana_labelled):
    """The listing writes label_rows_complete's rows without a serializer per row: exactly what
    its documented serializer (ListOutput, in the schema) would write, field for field, with
    categories of another status and a datetime to format."""
    from rest_framework.renderers import JSONRenderer

    from taxonomy.labelling import selectors
    from taxonomy.labelling.apis import LabelListApi

    rnd = ana_labelled
    label_submit(assignment=rnd.assignment(rnd.bo), rater=rnd.bo, kind="pending", note="bo's")
    listed = client(rnd.owner).get("/api/studies/dl/labelling/labels/").json()["results"]
    owner = Membership.objects.get(study=rnd.study, user=rnd.owner)
    rows = selectors.label_rows_complete(selectors.label_list_for_api(study=rnd.study, membership=owner)[:])
    documented = LabelListApi.ListOutput(rows, many=True).data
    assert len(listed) == 4 and listed == json.loads(JSONRenderer().render(documented))
    assert list(listed[0]) == list(LabelListApi.ListOutput().fields)  # the same fields, in the same order
    assert listed[0]["updated_at"].endswith("Z") and listed[0]["categories"][0]["status"] == "active"


def test_progress_counts_owner_sees_everyone_rater_only_self(ana_labelled):
    rnd = ana_labelled
    everyone = client(rnd.owner).get("/api/studies/dl/labelling/progress/").json()
    assert everyone == [
        {"rater": "ana", "labelled": 3, "assigned": 3, "by_stratum": {"Stratum": {"labelled": 3, "assigned": 3}}},
        {"rater": "bo", "labelled": 0, "assigned": 3, "by_stratum": {"Stratum": {"labelled": 0, "assigned": 3}}},
    ]
    assert [r["rater"] for r in client(rnd.bo).get("/api/studies/dl/labelling/progress/").json()] == ["bo"]


def test_viewer_cannot_use_the_rater_endpoints(rnd):
    viewer = UserFactory(username="viewer")
    MembershipFactory(study=rnd.study, user=viewer)
    assert client(viewer).get("/api/studies/dl/labelling/next/").status_code == 404


def test_a_label_is_written_as_its_schema_serializer_writes_it(rnd):
    """The label in every answer (a submission's, an item's) is built without a serializer:
    exactly what LabelOutput, its schema, writes: field for field and in order, a label just
    submitted (its categories as locked) and one read back, a changed one (revision 2)."""
    from taxonomy.labelling.apis import LabelOutput, label_data
    from taxonomy.labelling.selectors import assignment_label

    assignment = rnd.assignment(rnd.ana, 0)
    submitted = label_submit(assignment=assignment, rater=rnd.ana, kind="categories",
                             category_ids=[rnd.cats["export"].pk, rnd.cats["serving"].pk], note="first")
    assert label_data(submitted) == LabelOutput(submitted).data
    changed = label_submit(assignment=assignment, rater=rnd.ana, kind="pending", note="second")
    read = assignment_label(assignment=Assignment.objects.get(pk=assignment.pk))
    for label in (changed, read):
        assert label_data(label) == LabelOutput(label).data
        assert list(label_data(label)) == list(LabelOutput(label).data)
    assert label_data(read)["revision"] == 2 and label_data(read)["updated_at"].endswith("Z")
    assert label_data(submitted)["categories"][0]["name"] == "Export"


def test_put_with_prefer_return_minimal_answers_with_the_label_only(rnd):
    """A client labelling in bulk asks for the label alone (RFC 7240): the same label stored, the
    post and its thread neither read nor sent; without the header the answer is as GET's."""
    api = client(rnd.ana)
    first, second = rnd.assignment(rnd.ana, 0), rnd.assignment(rnd.ana, 1)
    body = {"kind": "categories", "categories": [rnd.cats["export"].pk], "note": "n"}
    with CaptureQueriesContext(connection) as queries:
        minimal = api.put(f"/api/studies/dl/labelling/items/{first.item_id}/", body, format="json",
                          HTTP_PREFER="handling=lenient, Return=Minimal")
    assert minimal.status_code == 200 and minimal["Preference-Applied"] == "return=minimal"
    data = minimal.json()
    assert set(data) == {"item", "label"} and data["item"] == first.item_id
    assert data["label"]["categories"] == [{"id": rnd.cats["export"].pk, "name": "Export", "status": "active"}]
    assert data["label"]["note"] == "n" and data["label"]["revision"] == 1
    # no post, answer or comment read, and nothing the lock's query left out read afterwards
    sql = [q["sql"] for q in queries.captured_queries]
    assert not [q for q in sql if '"corpus_' in q]
    one_by_one = [f'WHERE "{table}"."id" =' for table in ("sampling_sampledraw", "sampling_samplestratum",
                                                         "sampling_sampleitem")]
    assert [q for q in sql if any(marker in q for marker in one_by_one)] == []
    assert Label.objects.get(assignment=first).note == "n"
    # the stored label is what GET shows
    assert api.get(f"/api/studies/dl/labelling/items/{first.item_id}/").json()["label"] == data["label"]
    with CaptureQueriesContext(connection) as queries:
        full = api.put(f"/api/studies/dl/labelling/items/{second.item_id}/", body, format="json",
                       HTTP_PREFER="return=representation")
    assert "Preference-Applied" not in full and {"post", "answers", "label"} <= set(full.json())
    assert full.json() == api.get(f"/api/studies/dl/labelling/items/{second.item_id}/").json()
    assert [q["sql"] for q in queries.captured_queries if any(marker in q["sql"] for marker in one_by_one)] == []
    # refused input is refused alike, whatever the preference
    bad = api.put(f"/api/studies/dl/labelling/items/{second.item_id}/", {"kind": "categories", "categories": []},
                  format="json", HTTP_PREFER="return=minimal")
    assert bad.status_code == 400 and "Preference-Applied" not in bad
