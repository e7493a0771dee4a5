"""The pilot's decisions: each pilot item's final label (method "pilot"), proposed by the leaves its
codes are grouped into, confirmed or edited by an owner or arbitrator; services, API and pages."""

import re
import threading
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.urls import reverse
from rest_framework.test import APIClient

from taxonomy.review.arbitration.models import FinalLabel, FinalMethod
from taxonomy.review.arbitration.selectors import AWAITING, INNER, LEAF, UNGROUPED, pilot_counts, pilot_row, pilot_rows
from taxonomy.review.arbitration.services import (
    BULK_REASON,
    DecisionConflict,
    pilot_decision_set,
    pilot_proposals_confirm,
)
from taxonomy.coding.services import code_use_add, codes_group, codes_group_new_category
from taxonomy.tree.services import category_add, category_approve, category_merge
from tests.factories import MembershipFactory, StudyFactory, UserFactory, labelling_draw


@pytest.fixture
def pilot():
    """Four pilot items (and two reliability ones), coded and grouped:

    0: "out of memory" → GPU memory, "export fails" → Export     (complete: two leaves)
    1: "apk too big" → App size, "rollout trouble" → Deploy        (Deploy is inner: incomplete)
    2: "weird" in no category                                      (no leaf)
    3: "warm pool" → Warm pool, a rater's pilot category awaiting approval
    """
    study = StudyFactory()
    owner, arbitrator, rater, viewer = (UserFactory(username=n) for n in ("own", "arb", "rae", "vic"))
    MembershipFactory(study=study, user=owner, is_owner=True)
    MembershipFactory(study=study, user=arbitrator, is_arbitrator=True)
    MembershipFactory(study=study, user=rater, is_rater=True)
    MembershipFactory(study=study, user=viewer)
    draw = labelling_draw(study=study, raters=[rater], pilot=4, reliability=2, per_item=1)
    server = category_add(study=study, name="Server", actor=owner)
    mobile = category_add(study=study, name="Mobile", actor=owner)
    gpu = category_add(study=study, name="GPU memory", actor=owner, parent=server)
    export = category_add(study=study, name="Export", actor=owner, parent=server)
    deploy = category_add(study=study, name="Deploy", actor=owner, parent=server)
    cold = category_add(study=study, name="Cold start", actor=owner, parent=deploy)
    apk = category_add(study=study, name="App size", actor=owner, parent=mobile)
    items = list(draw.items.filter(part="pilot").order_by("stratum__position", "post__so_id", "pk"))
    reliability = draw.items.filter(part="reliability").first()

    def code(item, text, category=None):
        use = code_use_add(item=item, author=rater, text=text)
        if category is not None:
            codes_group(codes=[use.code], category=category, actor=rater)
        return use.code

    code(items[0], "out of memory", gpu)
    code(items[0], "export fails", export)
    code(items[1], "apk too big", apk)
    code(items[1], "rollout trouble", deploy)
    code(items[2], "weird")
    warm = codes_group_new_category(codes=[code(items[3], "warm pool")], name="Warm pool", parent=server,
                                    actor=rater)
    return dict(study=study, draw=draw, owner=owner, arbitrator=arbitrator, rater=rater, viewer=viewer,
                items=items, reliability=reliability, server=server, mobile=mobile, gpu=gpu, export=export,
                deploy=deploy, cold=cold, apk=apk, warm=warm)


def final_of(item):
    final = FinalLabel.objects.filter(item=item).select_related("decided_by").first()
    return final and (final.kind, final.method, sorted(c.category_id for c in final.categories.all()),
                      final.decided_by.username, final.reason)


# -- the proposal ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_proposal_is_the_active_leaves_the_codes_are_grouped_into(pilot):
    p = pilot
    assert p["warm"].status == "proposed" and p["warm"].joint
    rows = pilot_rows(study=p["study"], items=p["items"])
    outcomes = [sorted((c.text, c.outcome) for c in row.codes) for row in rows]
    assert outcomes == [
        [("export fails", LEAF), ("out of memory", LEAF)],
        [("apk too big", LEAF), ("rollout trouble", INNER)],
        [("weird", UNGROUPED)],
        [("warm pool", AWAITING)],
    ]
    # leaves in tree order (GPU memory was added before Export under Server)
    assert [row.proposal for row in rows] == [[p["gpu"].pk, p["export"].pk], [p["apk"].pk], [], []]
    assert rows[0].proposal_paths == ["Server › GPU memory", "Server › Export"]
    assert [row.complete for row in rows] == [True, False, False, False]
    assert rows[0].problems == []
    assert rows[1].problems == ["“rollout trouble” is grouped into Server › Deploy, which has subcategories: "
                                "it gives no leaf."]
    assert rows[2].problems == ["“weird” is in no category yet."]
    assert rows[3].problems == ["“warm pool” is grouped into “Server › Warm pool” that awaits approval: "
                                "it gives no leaf yet."]
    assert all(row.final is None for row in rows)
    counts = pilot_counts(study=p["study"])
    assert (counts.items, counts.decided, counts.confirmable) == (4, 0, 1)
    # approving the pilot category makes its code give a leaf
    category_approve(category=p["warm"], actor=p["owner"])
    row = pilot_row(item=p["items"][3])
    assert (row.proposal, row.complete) == ([p["warm"].pk], True)


@pytest.mark.django_db
def test_a_private_proposal_is_named_to_nobody_in_the_proposal(pilot):
    """A rater's private proposal (made while labelling) is seen by its proposer only: a code grouped
    into it awaits approval, without its name."""
    p = pilot
    private = category_add(study=p["study"], name="Secret idea", actor=p["rater"], parent=p["server"],
                           proposed=True)
    code = code_use_add(item=p["items"][2], author=p["rater"], text="hush").code
    with pytest.raises(ValidationError, match="private proposal"):  # the pilot is joint: refused today
        codes_group(codes=[code], category=private, actor=p["rater"])
    type(code).objects.filter(pk=code.pk).update(category=private)  # as grouping allowed it before
    [hush] = [c for c in pilot_row(item=p["items"][2]).codes if c.text == "hush"]
    assert (hush.outcome, hush.category_id, hush.path) == (AWAITING, None, "")
    assert "Secret" not in hush.problem


# -- deciding ---------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_confirming_the_proposal_records_who_and_when_with_an_optional_note(pilot):
    p = pilot
    item = p["items"][0]
    final = pilot_decision_set(item=item, actor=p["arbitrator"], kind="categories",
                               category_ids=pilot_row(item=item).proposal)
    assert final_of(item) == ("categories", "pilot", sorted([p["gpu"].pk, p["export"].pk]), "arb", "")
    assert final.decided_at is not None and final.method == FinalMethod.PILOT
    row = pilot_row(item=item)
    assert row.matches_proposal and row.final.pk == final.pk
    assert pilot_counts(study=p["study"]).decided == 1


@pytest.mark.django_db
def test_a_second_decision_is_refused_and_a_change_names_what_it_replaces(pilot):
    p = pilot
    item = p["items"][1]
    first = pilot_decision_set(item=item, actor=p["arbitrator"], kind="categories", category_ids=[p["apk"].pk],
                               reason="only the APK size is a challenge")
    with pytest.raises(DecisionConflict, match="already decided by arb"):
        pilot_decision_set(item=item, actor=p["owner"], kind="unclear")
    assert final_of(item)[0] == "categories"
    changed = pilot_decision_set(item=item, actor=p["owner"], kind="categories",
                                 category_ids=[p["apk"].pk, p["cold"].pk], reason="the rollout is a cold start",
                                 replaces=first.decided_at)
    kind, method, categories, who, reason = final_of(item)
    assert (kind, method, categories, who) == ("categories", "pilot", sorted([p["apk"].pk, p["cold"].pk]), "own")
    assert reason.startswith("the rollout is a cold start\nReplaces the decision of arb (")
    assert reason.endswith("): Mobile › App size.")
    assert FinalLabel.objects.filter(item=item).count() == 1
    # a change based on a decision that changed meanwhile is refused, naming the standing one
    with pytest.raises(DecisionConflict, match="Meanwhile own changed this decision"):
        pilot_decision_set(item=item, actor=p["arbitrator"], kind="false_positive", replaces=first.decided_at)
    # the same decision again changes nothing (nor who took it)
    same = pilot_decision_set(item=item, actor=p["arbitrator"], kind="categories",
                              category_ids=[p["cold"].pk, p["apk"].pk], reason=reason, replaces=changed.decided_at)
    assert (same.decided_by, same.decided_at) == (p["owner"], changed.decided_at)
    # a further change names only the decision it replaces
    pilot_decision_set(item=item, actor=p["arbitrator"], kind="false_positive", reason=reason,
                       replaces=changed.decided_at)
    kind, _, categories, who, reason = final_of(item)
    assert (kind, categories, who) == ("false_positive", [], "arb")
    assert reason.count("Replaces the decision of") == 1 and "Replaces the decision of own" in reason


@pytest.mark.django_db
def test_special_kinds_take_no_categories(pilot):
    p = pilot
    item = p["items"][2]
    with pytest.raises(ValidationError, match="False positive excludes categories"):
        pilot_decision_set(item=item, actor=p["owner"], kind="false_positive", category_ids=[p["gpu"].pk])
    with pytest.raises(ValidationError, match="at least one category"):
        pilot_decision_set(item=item, actor=p["owner"], kind="categories")
    with pytest.raises(ValidationError, match="Choose categories, False positive or Unclear"):
        pilot_decision_set(item=item, actor=p["owner"], kind="pending")
    assert not FinalLabel.objects.filter(item=item).exists()
    pilot_decision_set(item=item, actor=p["owner"], kind="unclear", reason="no challenge can be identified")
    assert final_of(item) == ("unclear", "pilot", [], "own", "no challenge can be identified")


@pytest.mark.django_db
def test_bad_categories_and_items_are_refused_and_change_nothing(pilot):
    p = pilot
    item = p["items"][0]
    other = category_add(study=StudyFactory(), name="Elsewhere", actor=p["owner"])
    category_merge(source=p["export"], target=p["gpu"], actor=p["owner"])
    for ids, message in (([p["deploy"].pk], "has subcategories: choose a leaf"),
                         ([p["warm"].pk], "“Warm pool” is proposed"),
                         ([p["export"].pk], "“Export” is retired (merged into “GPU memory”)"),
                         ([other.pk], f"category {other.pk} is not in this study")):
        with pytest.raises(ValidationError, match=re.escape(message)):
            pilot_decision_set(item=item, actor=p["owner"], kind="categories", category_ids=ids)
    with pytest.raises(ValidationError, match="is a reliability item"):
        pilot_decision_set(item=p["reliability"], actor=p["owner"], kind="unclear")
    assert not FinalLabel.objects.exists()


@pytest.mark.django_db
def test_only_owners_and_arbitrators_decide(pilot):
    p = pilot
    for user in (p["rater"], p["viewer"], UserFactory()):
        with pytest.raises(PermissionDenied):
            pilot_decision_set(item=p["items"][0], actor=user, kind="unclear")
        with pytest.raises(PermissionDenied):
            pilot_proposals_confirm(study=p["study"], actor=user)
    assert not FinalLabel.objects.exists()


@pytest.mark.django_db
def test_bulk_confirmation_decides_complete_proposals_only(pilot):
    p = pilot
    pilot_decision_set(item=p["items"][2], actor=p["arbitrator"], kind="false_positive", reason="not about ML")
    done = pilot_proposals_confirm(study=p["study"], actor=p["owner"])
    assert [f.item_id for f in done.confirmed] == [p["items"][0].pk]
    assert final_of(p["items"][0]) == ("categories", "pilot", sorted([p["gpu"].pk, p["export"].pk]), "own",
                                       BULK_REASON)
    skipped = {item.pk: why for item, why in done.skipped}
    assert set(skipped) == {p["items"][1].pk, p["items"][3].pk}  # item 2 is decided: untouched, not listed
    assert "rollout trouble" in skipped[p["items"][1].pk] and "awaits approval" in skipped[p["items"][3].pk]
    assert final_of(p["items"][2])[0] == "false_positive"
    category_approve(category=p["warm"], actor=p["owner"])
    again = pilot_proposals_confirm(study=p["study"], actor=p["owner"], item_ids=[p["items"][3].pk,
                                                                                  p["items"][0].pk])
    assert [f.item_id for f in again.confirmed] == [p["items"][3].pk]
    assert [(item.pk, why) for item, why in again.skipped] == [(p["items"][0].pk, "already decided by own")]
    with pytest.raises(ValidationError, match="Not pilot items"):
        pilot_proposals_confirm(study=p["study"], actor=p["owner"], item_ids=[p["reliability"].pk])


@pytest.mark.django_db
def test_a_merge_moves_pilot_final_labels_to_the_survivor(pilot):
    p = pilot
    item = p["items"][0]
    pilot_decision_set(item=item, actor=p["owner"], kind="categories", category_ids=[p["gpu"].pk, p["export"].pk])
    other = p["items"][1]
    pilot_decision_set(item=other, actor=p["owner"], kind="categories", category_ids=[p["export"].pk])
    result = category_merge(source=p["export"], target=p["gpu"], actor=p["owner"])
    assert result.moved["final_labels"] == 2
    assert final_of(item)[2] == [p["gpu"].pk]  # naming both: one row kept
    assert final_of(other)[2] == [p["gpu"].pk]
    assert (final_of(item)[1], final_of(other)[1]) == ("pilot", "pilot")
    # like every final label, they stay on leaves
    with pytest.raises(ValidationError, match="has 2 final labels, and they stay on leaves"):
        category_add(study=p["study"], name="OOM at load", actor=p["owner"], parent=p["gpu"])


def at_once(*calls) -> list[str]:
    """Run ``calls`` (each a pilot_decision_set's keyword arguments) in threads released together;
    each outcome is "won" or the message it was refused with."""
    if connection.vendor != "postgresql":
        pytest.skip("row locks: PostgreSQL only (SQLite serialises writers)")
    barrier = threading.Barrier(len(calls))
    outcomes = []

    def run(kwargs):
        try:
            barrier.wait()
            pilot_decision_set(**kwargs)
            outcomes.append("won")
        except ValidationError as exc:
            outcomes.append(" ".join(exc.messages))
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(kwargs,)) for kwargs in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sorted(outcomes, key=len)


@pytest.mark.django_db(transaction=True)
def test_two_deciders_at_once_one_decision_stands(pilot):
    p = pilot
    item = p["items"][0]
    won, lost = at_once(dict(item=item, actor=p["arbitrator"], kind="unclear"),
                        dict(item=item, actor=p["owner"], kind="false_positive"))
    assert won == "won" and "already decided by" in lost
    assert FinalLabel.objects.filter(item=item).count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_changes_at_once_one_stands(pilot):
    p = pilot
    item = p["items"][0]
    first = pilot_decision_set(item=item, actor=p["owner"], kind="unclear")
    won, lost = at_once(dict(item=item, actor=p["arbitrator"], kind="false_positive", replaces=first.decided_at),
                        dict(item=item, actor=p["owner"], kind="categories", category_ids=[p["gpu"].pk],
                             replaces=first.decided_at))
    assert won == "won" and "Meanwhile" in lost
    final = FinalLabel.objects.get(item=item)
    assert final.kind != "unclear" and final.decided_at > first.decided_at


# -- API ----------------------------------------------------------------------------------------------


def api(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.mark.django_db
def test_api_every_member_reads_proposals_and_decisions(pilot):
    p = pilot
    base = f"/api/studies/{p['study'].slug}/arbitration/pilot/"
    for user in (p["rater"], p["viewer"], p["owner"]):
        listed = api(user).get(base)
        assert listed.status_code == 200
        rows = listed.json()["results"]
        assert [r["item"]["id"] for r in rows] == [i.pk for i in p["items"]]
        assert rows[0]["proposal"] == [p["gpu"].pk, p["export"].pk] and rows[0]["complete"] is True
        assert rows[1]["codes"][1]["outcome"] == "inner" and rows[1]["final"] is None
    one = api(p["viewer"]).get(f"{base}{p['items'][3].pk}/").json()
    assert one["codes"] == [{"code": one["codes"][0]["code"], "text": "warm pool", "category": p["warm"].pk,
                             "path": "Server › Warm pool", "outcome": "awaiting_approval"}]
    assert api(UserFactory()).get(base).status_code == 404
    assert api(UserFactory()).get(f"{base}{p['items'][0].pk}/").status_code == 404
    assert api(p["owner"]).get(f"{base}?draw=7").status_code == 404
    assert api(p["owner"]).get(f"{base}?draw=x").status_code == 400
    reliability = api(p["owner"]).get(f"{base}{p['reliability'].pk}/")
    assert reliability.status_code == 400 and "reliability item" in str(reliability.json())


@pytest.mark.django_db
def test_api_decide_change_conflict_and_bad_input(pilot):
    p = pilot
    item = p["items"][1]
    url = f"/api/studies/{p['study'].slug}/arbitration/pilot/{item.pk}/"
    for user in (p["rater"], p["viewer"], UserFactory()):
        assert api(user).post(url, {"kind": "unclear"}, format="json").status_code == 404
    for body, message in (({"kind": "categories", "categories": [p["deploy"].pk]}, "choose a leaf"),
                          ({"kind": "categories", "categories": [p["warm"].pk]}, "is proposed"),
                          ({"kind": "categories", "categories": [999_999]}, "not in this study"),
                          ({"kind": "unclear", "categories": [p["apk"].pk]}, "Unclear excludes categories"),
                          ({"kind": "pending"}, "not a valid choice"),
                          ({"kind": "categories"}, "at least one category")):
        response = api(p["owner"]).post(url, body, format="json")
        assert response.status_code == 400 and message in str(response.json()), (body, response.json())
    bad_item = api(p["owner"]).post(f"/api/studies/{p['study'].slug}/arbitration/pilot/{p['reliability'].pk}/",
                                    {"kind": "unclear"}, format="json")
    assert bad_item.status_code == 400 and "reliability item" in str(bad_item.json())
    assert not FinalLabel.objects.exists()

    made = api(p["arbitrator"]).post(url, {"kind": "categories", "categories": [p["apk"].pk]}, format="json")
    assert made.status_code == 201
    final = made.json()["final"]
    assert (final["method"], final["decided_by"], final["categories"], final["reason"]) == (
        "pilot", "arb", [p["apk"].pk], "")
    late = api(p["owner"]).post(url, {"kind": "unclear"}, format="json")
    assert late.status_code == 409 and "already decided by arb" in late.json()["detail"][0]
    assert late.json()["final"]["decided_by"] == "arb"
    changed = api(p["owner"]).post(url, {"kind": "categories", "categories": [p["apk"].pk, p["cold"].pk],
                                         "reason": "also a cold start", "replaces": final["decided_at"]},
                                   format="json")
    assert changed.status_code == 200, changed.json()
    assert changed.json()["final"]["decided_by"] == "own"
    assert "Replaces the decision of arb" in changed.json()["final"]["reason"]
    stale = api(p["arbitrator"]).post(url, {"kind": "unclear", "replaces": final["decided_at"]}, format="json")
    assert stale.status_code == 409 and "Meanwhile own changed" in stale.json()["detail"][0]

    finals = api(p["owner"]).get(f"/api/studies/{p['study'].slug}/final-labels/").json()["results"]
    assert [(row["item"], row["method"]) for row in finals] == [(item.pk, "pilot")]


@pytest.mark.django_db
def test_api_bulk_confirmation(pilot):
    p = pilot
    url = f"/api/studies/{p['study'].slug}/arbitration/pilot/"
    assert api(p["rater"]).post(url, {}, format="json").status_code == 404
    both = api(p["owner"]).post(url, {"draw": 1, "items": [p["items"][0].pk]}, format="json")
    assert both.status_code == 400 and "either draw or items" in str(both.json())
    wrong = api(p["owner"]).post(url, {"items": [p["reliability"].pk]}, format="json")
    assert wrong.status_code == 400 and "Not pilot items" in str(wrong.json())
    done = api(p["owner"]).post(url, {"draw": 1}, format="json")
    assert done.status_code == 200
    body = done.json()
    assert [f["item"] for f in body["confirmed"]] == [p["items"][0].pk]
    assert body["confirmed"][0]["method"] == "pilot"
    assert sorted(s["item"] for s in body["skipped"]) == [p["items"][1].pk, p["items"][2].pk, p["items"][3].pk]
    undecided = api(p["viewer"]).get(f"{url}?undecided=1").json()["results"]
    assert [r["item"]["id"] for r in undecided] == [i.pk for i in p["items"][1:]]


# -- pages --------------------------------------------------------------------------------------------


def page_url(name, p, **kw):
    return reverse(f"arbitration:{name}", kwargs={"slug": p["study"].slug, **kw})


@pytest.mark.django_db
def test_the_pilot_page_shows_proposals_to_everyone_and_buttons_to_deciders(client, pilot):
    p = pilot
    client.force_login(p["viewer"])
    page = client.get(page_url("pilot", p)).content.decode()
    assert "Server › GPU memory" in page and "Server › Export" in page
    assert "“rollout trouble” is grouped into Server › Deploy, which has subcategories" in page
    assert "0 of 4 pilot items decided" in page
    assert 'id="confirm-' not in page and "pilot-bulk-confirm" not in page
    client.force_login(p["owner"])
    page = client.get(page_url("pilot", p)).content.decode()
    assert f'id="confirm-{p["items"][0].pk}"' in page and f'id="confirm-{p["items"][2].pk}"' not in page
    assert "Confirm the 1 complete proposal" in page
    assert f'href="{page_url("pilot_item", p, item_id=p["items"][0].pk)}"' in page  # real hrefs behind htmx
    fragment = client.get(page_url("pilot", p) + "?show=undecided", HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in fragment and "pilot-counts" in fragment
    for user in (p["rater"], p["viewer"], UserFactory()):
        client.force_login(user)
        assert client.post(page_url("pilot_confirm", p)).status_code == 404
        assert client.post(page_url("pilot_item", p, item_id=p["items"][0].pk), {"kind": "unclear"}).status_code \
            == 404
    client.force_login(UserFactory())
    assert client.get(page_url("pilot", p)).status_code == 404


@pytest.mark.django_db
def test_confirm_and_edit_on_the_page_with_htmx_and_without(client, pilot):
    p = pilot
    item = p["items"][0]
    client.force_login(p["arbitrator"])
    card = client.post(page_url("pilot_item", p, item_id=item.pk),
                       {"kind": "categories", "categories": [p["gpu"].pk, p["export"].pk]},
                       HTTP_HX_REQUEST="true")
    assert card.status_code == 200
    html = card.content.decode()
    assert 'id="pilot-decision-' in html and "<html" not in html
    assert "pilot (joint decision) by arb" in html and "differs from the proposal" not in html
    final = FinalLabel.objects.get(item=item)
    # the edit form, opened in place, carries the decision it changes
    form = client.get(page_url("pilot_item", p, item_id=item.pk) + "?edit=1", HTTP_HX_REQUEST="true")
    assert 'name="replaces"' in form.content.decode() and 'id="id_pilot%d_kind_0"' % item.pk in form.content.decode()
    # without JavaScript: a plain post, then back where it came from
    back = page_url("pilot", p) + "?show=undecided"
    response = client.post(page_url("pilot_item", p, item_id=item.pk),
                           {"kind": "false_positive", "reason": "not a deployment question",
                            "replaces": final.decided_at.isoformat(), "next": back})
    assert response.status_code == 302 and response["Location"] == back
    assert final_of(item)[0] == "false_positive"
    # a stale change is told, and the standing decision shown
    stale = client.post(page_url("pilot_item", p, item_id=item.pk),
                        {"kind": "unclear", "replaces": final.decided_at.isoformat()}, HTTP_HX_REQUEST="true")
    assert stale.status_code == 200 and "Meanwhile arb changed this decision" in stale.content.decode()
    bad = client.post(page_url("pilot_item", p, item_id=item.pk), {"kind": "categories",
                                                                    "categories": [p["deploy"].pk]})
    assert bad.status_code == 400  # Deploy is not offered: the form refuses it
    assert final_of(item)[0] == "false_positive"
    external = client.post(page_url("pilot_item", p, item_id=p["items"][2].pk),
                           {"kind": "unclear", "next": "https://example.com/"})
    assert external["Location"] == page_url("pilot_item", p, item_id=p["items"][2].pk)


@pytest.mark.django_db
def test_bulk_confirmation_on_the_page(client, pilot):
    p = pilot
    client.force_login(p["owner"])
    response = client.post(page_url("pilot_confirm", p), {"draw": "1"}, follow=True)
    page = response.content.decode()
    assert "1 pilot item decided as its codes propose. 3 left undecided" in page
    assert "1 of 4 pilot items decided in v1" in page
    assert final_of(p["items"][0])[1] == "pilot"


@pytest.mark.django_db
def test_the_coding_item_page_loads_the_decision_by_url(client, pilot):
    p = pilot
    item = p["items"][0]
    client.force_login(p["rater"])
    page = client.get(reverse("coding:item", kwargs={"slug": p["study"].slug, "item_id": item.pk})).content.decode()
    decision_url = page_url("pilot_item", p, item_id=item.pk)
    assert f'hx-get="{decision_url}" hx-trigger="load"' in page
    pilot_decision_set(item=item, actor=p["owner"], kind="unclear", reason="hard to tell")
    card = client.get(decision_url, HTTP_HX_REQUEST="true").content.decode()
    assert "<strong>Unclear</strong>" in card and "hard to tell" in card and "<form" not in card
    assert "differs from the proposal" in card  # its codes propose two leaves
    pilot_decision_set(item=p["items"][2], actor=p["owner"], kind="unclear")
    no_leaf = client.get(page_url("pilot_item", p, item_id=p["items"][2].pk), HTTP_HX_REQUEST="true")
    assert "differs from the proposal" not in no_leaf.content.decode()  # nothing proposed: nothing to differ from
    full = client.get(decision_url)
    assert full.status_code == 200 and "out of memory" in full.content.decode()
    assert client.get(page_url("pilot_item", p, item_id=p["reliability"].pk)).status_code == 404


@pytest.mark.django_db
def test_replaces_survives_the_round_trip_through_the_form(client, pilot):
    """The hidden time is compared to the microsecond: what the page writes must parse back equal."""
    p = pilot
    item = p["items"][2]
    final = pilot_decision_set(item=item, actor=p["owner"], kind="unclear")
    FinalLabel.objects.filter(pk=final.pk).update(decided_at=final.decided_at - timedelta(microseconds=1))
    client.force_login(p["owner"])
    page = client.get(page_url("pilot_item", p, item_id=item.pk)).content.decode()
    stamp = page.split('name="replaces" value="')[1].split('"')[0]
    response = client.post(page_url("pilot_item", p, item_id=item.pk),
                           {"kind": "false_positive", "replaces": stamp})
    assert response.status_code == 302, response.content.decode()[:2000]
    assert final_of(item)[0] == "false_positive"
