"""Arbitration over the API: start, queues, the item with each rater's labels, decide (409 when late), Pending."""

import pytest
from rest_framework.test import APIClient

from taxonomy.review.arbitration.models import FinalLabel
from tests.factories import MembershipFactory, UserFactory

from .test_services import setting  # noqa: F401  (the fixture)


def api(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def started(setting):  # noqa: F811
    owner = UserFactory(username="own")
    MembershipFactory(study=setting["study"], user=owner, is_owner=True)
    base = f"/api/studies/{setting['study'].slug}"
    response = api(owner).post(f"{base}/draws/{setting['draw'].version}/arbitration/", {}, format="json")
    assert response.status_code == 200, response.content
    assert response.json() == {"draw_version": 1, "agreed": 2, "to_arbitrate": 1, "pending": 1, "incomplete": 0}
    return {**setting, "owner": owner, "base": base}


@pytest.mark.django_db
def test_start_twice_and_by_a_non_owner_is_refused(started):
    s = started
    assert api(s["owner"]).post(f"{s['base']}/draws/1/arbitration/", {}, format="json").status_code == 400
    assert api(s["arbitrator"]).post(f"{s['base']}/draws/1/arbitration/", {}, format="json").status_code == 404


@pytest.mark.django_db
def test_queues_and_item_labels_are_for_arbitrators_and_owners_only(started):
    s = started
    queue = api(s["arbitrator"]).get(f"{s['base']}/arbitration/queue/").json()
    assert [row["id"] for row in queue["results"]] == [s["items"][1].pk]
    pending = api(s["owner"]).get(f"{s['base']}/arbitration/pending/").json()
    assert [row["id"] for row in pending["results"]] == [s["items"][2].pk]
    item = api(s["arbitrator"]).get(f"{s['base']}/arbitration/items/{s['items'][1].pk}/").json()
    assert [(row["rater"], row["categories"], row["note"]) for row in item["labels"]] == [
        ("ann", [s["gpu"].pk], "memory <b>leak</b>"), ("bob", [s["apk"].pk], "")]
    assert item["final"] is None
    for outsider in (s["r1"], UserFactory()):
        for path in ("arbitration/queue/", "arbitration/pending/", f"arbitration/items/{s['items'][1].pk}/",
                     "final-labels/"):
            assert api(outsider).get(f"{s['base']}/{path}").status_code == 404


@pytest.mark.django_db
def test_decide_then_a_late_arbitrator_gets_409_with_the_standing_decision(started):
    s = started
    url = f"{s['base']}/arbitration/items/{s['items'][1].pk}/"
    bad = api(s["arbitrator"]).post(url, {"kind": "categories", "categories": [s["server"].pk], "reason": "x"},
                                    format="json")
    assert bad.status_code == 400 and "choose a leaf" in str(bad.json())
    won = api(s["arbitrator"]).post(url, {"kind": "categories", "categories": [s["gpu"].pk], "reason": "GPU"},
                                    format="json")
    assert won.status_code == 201 and won.json()["final"]["method"] == "arbitrated"
    late_user = UserFactory()
    MembershipFactory(study=s["study"], user=late_user, is_arbitrator=True)
    late = api(late_user).post(url, {"kind": "unclear", "reason": "late"}, format="json")
    assert late.status_code == 409
    assert late.json()["final"]["decided_by"] == "arb" and "already decided" in late.json()["detail"][0]
    assert api(s["owner"]).post(url, {"kind": "unclear", "reason": "x"}, format="json").status_code == 404
    finals = api(s["owner"]).get(f"{s['base']}/final-labels/").json()
    assert sorted(row["method"] for row in finals["results"]) == ["agreed", "agreed", "arbitrated"]


@pytest.mark.django_db
def test_pending_resolve_with_a_new_category(started):
    s = started
    url = f"{s['base']}/arbitration/pending/resolve/"
    body = {"items": [s["items"][2].pk], "new_name": "Cold start", "new_parent": s["server"].pk,
            "new_definition": "slow first request", "reason": "none fits"}
    response = api(s["arbitrator"]).post(url, body, format="json")
    assert response.status_code == 201 and response.json()["created"] is True
    assert FinalLabel.objects.get(item=s["items"][2]).method == "from_pending"
    again = api(s["arbitrator"]).post(url, {**body, "new_name": "Other"}, format="json")
    assert again.status_code == 409 and "already decided" in again.json()["detail"][0]  # decided meanwhile
    assert api(s["arbitrator"]).post(url, {**body, "items": [999999]}, format="json").status_code == 404


@pytest.mark.django_db
def test_pending_relabel_over_the_api(started):
    s = started
    url = f"{s['base']}/arbitration/pending/resolve/"
    response = api(s["arbitrator"]).post(url, {"items": [s["items"][2].pk], "category": s["export"].pk,
                                               "action": "relabel"}, format="json")
    assert response.status_code == 201
    assert (response.json()["relabel_requests"], response.json()["finals"]) == (2, [])
    busy = api(s["arbitrator"]).post(url, {"items": [s["items"][2].pk], "category": s["export"].pk,
                                           "reason": "decide now"}, format="json")
    assert busy.status_code == 400 and "being labelled again" in str(busy.json())


@pytest.mark.django_db
def test_final_labels_listing_writes_its_rows_as_the_schema_serializer_does(started):
    """The listing writes final_label_rows_complete's rows without a serializer per row: exactly
    what its documented serializer (FinalLabelOutput, in the schema) writes of the same final
    labels, field for field and in order: an agreed label with no decider, an arbitrated one with
    its decider, reason and a datetime to format."""
    import json

    from rest_framework.renderers import JSONRenderer

    from taxonomy.review.arbitration.apis import FinalLabelOutput

    s = started
    url = f"{s['base']}/arbitration/items/{s['items'][1].pk}/"
    assert api(s["arbitrator"]).post(url, {"kind": "categories", "categories": [s["gpu"].pk], "reason": "GPU <b>"},
                                     format="json").status_code == 201
    listed = api(s["owner"]).get(f"{s['base']}/final-labels/").json()
    finals = (FinalLabel.objects.filter(item__draw__study=s["study"]).select_related("decided_by")
              .order_by("item__draw__version", "item_id"))
    documented = json.loads(JSONRenderer().render(FinalLabelOutput(finals, many=True).data))
    assert listed["count"] == 3 and listed["results"] == documented
    assert list(listed["results"][0]) == list(FinalLabelOutput().fields)
    assert {row["decided_by"] for row in listed["results"]} == {None, "arb"}
    assert all(row["decided_at"].endswith("Z") for row in listed["results"])
