"""Active probes of blind coding: a rater (ana), or an owner who also rates
(rhea), *does* something whose answer could depend on what the co-rater
(bertold) did, through the API and through the page's form where both exist.

Most probes compare two worlds that differ only in bertold's labels (or
proposal): the answer must be the same in both. Both worlds write the same
rows, so that ids line up (``crawl.in_world``)."""

from __future__ import annotations

import json
import re

import pytest

from taxonomy.review.agreement.models import AgreementRun
from taxonomy.review.arbitration.services import arbitration_start
from taxonomy.coding.services import code_use_add
from taxonomy.tree.models import Category, CategoryStatus
from tests.factories import MembershipFactory, UserFactory

from . import crawl
from .conftest import (
    SLUG,
    agreement_run_by_api,
    api_post,
    label_by_api,
    merge_by_api,
    propose_by_api,
    propose_by_page,
)

pytestmark = pytest.mark.django_db

CATEGORIES = f"/api/studies/{SLUG}/categories/"


def bertold_labels(world, category: str) -> None:
    """bertold labels the item he shares with ana and the one he shares with rhea."""
    for item in (world.shared(world.ana, world.bert)[0], world.shared(world.bert, world.rhea)[0]):
        label_by_api(world, world.bert, item, world.cats[category])


def with_and_without_bertolds_lambda(world, probe):
    """``probe()``'s result in a world where bertold labelled Lambda (a leaf nobody else uses),
    and in the control world where he labelled Misc instead."""
    def in_world_where(category):
        def steps():
            bertold_labels(world, category)
            return probe()
        return crawl.in_world(steps)

    return in_world_where("lambda"), in_world_where("misc")


def explain(first, second, *, names=("with bertold's work", "without")) -> str:
    """The difference between two answers (status, location, body), readable."""
    def flat(answer_):
        status, location, body = answer_
        return status, f"Location: {location}\n{body}" if isinstance(body, str) else body

    return crawl.differences({"answer": flat(first)}, {"answer": flat(second)}).replace(
        "--- answer", f"--- {names[0]} → {names[1]}")


def messages(answer_: tuple) -> list[str]:
    """The error texts of an answer: every string of a JSON body, or the error paragraphs of a page."""
    _status, _location, body = answer_
    try:
        data = json.loads(body)
    except (TypeError, ValueError):
        return [re.sub(r"<[^>]+>", "", m).strip() for m in re.findall(r'<p class="error"[^>]*>(.*?)</p>', body, re.S)]
    out = []

    def walk(value):
        if isinstance(value, str):
            out.append(value)
        elif isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    walk(data)
    return out


def assert_tells_nothing(texts: list[str], *, sent_ids=()) -> None:
    """No count, no trace of labels being there: no number (other than the ids the caller sent)."""
    for text in texts:
        stripped = text
        for pk in sent_ids:
            stripped = re.sub(rf"\b{pk}\b", "", stripped)
        assert not re.search(r"\d", stripped), f"a number in the answer: {text!r}"
        assert not re.search(r"\bhas\b[^.]*\blabels?\b", stripped, re.I), f"tells of labels: {text!r}"
        assert "bertold" not in stripped


# -- P1: a rater proposing, an owner who rates adding, moving, retiring ------------------------------


def test_p1_a_rater_proposing_under_a_leaf_gets_the_same_refusal_whether_or_not_a_co_rater_labelled_it(world):
    leaf = world.cats["lambda"]
    item = world.shared(world.ana, world.rhea)[1]  # one of ana's items that she has not labelled

    def by_api():
        response = api_post(world.api(world.ana), CATEGORIES, {"name": "x", "parent": leaf.pk, "proposed": True})
        return crawl.answer(response), Category.objects.filter(name="x").exists()

    def by_page():
        response = propose_by_page(world, world.ana, item, "x", leaf)
        return crawl.answer(response), Category.objects.filter(name="x").exists()

    # the page comes back with the form's error (200, or 400 should the view say so)
    for probe, refused_status in ((by_api, (400,)), (by_page, (200, 400))):
        labelled, control = with_and_without_bertolds_lambda(world, probe)
        assert labelled == control, (f"{probe.__name__}: the answer depends on bertold's label:\n"
                                     + explain(labelled[0], control[0]))
        (answer_, created) = labelled
        assert answer_[0] in refused_status and not created, f"{probe.__name__}: not refused: {answer_}"
        texts = messages(answer_)
        assert texts, f"{probe.__name__}: refused without a reason"
        assert_tells_nothing(texts, sent_ids=[leaf.pk])


def test_p1_a_rater_still_proposes_under_a_root_and_under_an_inner_node(world):
    bertold_labels(world, "lambda")
    for name, parent in (("Under a root", world.cats["server"]), ("Under an inner node", world.cats["cloud"])):
        response = api_post(world.api(world.ana), CATEGORIES, {"name": name, "parent": parent.pk, "proposed": True})
        assert response.status_code == 201, response.content
        assert response.json()["status"] == "proposed"
    item = world.shared(world.ana, world.rhea)[1]
    for name, parent in (("Form, root", world.cats["other"]), ("Form, inner", world.cats["cloud"])):
        response = propose_by_page(world, world.ana, item, name, parent)
        assert response.status_code == 200 and f"You proposed “{name}”" in response.content.decode()
    for name in ("Under a root", "Under an inner node", "Form, root", "Form, inner"):
        category = Category.objects.get(study=world.study, name=name)
        assert category.status == CategoryStatus.PROPOSED and category.proposed_by == world.ana


def _rhea_probes(world):
    """What an owner who rates on the draw may try on Lambda (a leaf only bertold may have labelled)."""
    leaf, misc = world.cats["lambda"], world.cats["misc"]
    api = f"/api/studies/{SLUG}"
    page = f"/studies/{SLUG}/taxonomy"
    return {
        "add under the leaf (API)": lambda c: api_post(c["api"], f"{api}/categories/",
                                                       {"name": "y", "parent": leaf.pk}),
        "add under the leaf (tree page)": lambda c: c["html"].post(f"{page}/add/", {"name": "y", "parent": leaf.pk,
                                                                                     "definition": ""}),
        "add a child to the leaf (its panel)": lambda c: c["html"].post(f"{page}/{leaf.pk}/child/", {
            "child-name": "y", "child-parent": leaf.pk, "child-definition": ""}),
        "move a category under the leaf (API)": lambda c: api_post(c["api"], f"{api}/categories/{misc.pk}/move/",
                                                                   {"parent": leaf.pk}),
        "move a category under the leaf (its panel)": lambda c: c["html"].post(f"{page}/{misc.pk}/move/", {
            "move-parent": leaf.pk, "move-position": ""}),
        "retire the leaf (API)": lambda c: api_post(c["api"], f"{api}/categories/{leaf.pk}/retire/", {}),
        "retire the leaf (its panel)": lambda c: c["html"].post(f"{page}/{leaf.pk}/retire/", {}),
    }


RHEA_PROBES = ["add under the leaf (API)", "add under the leaf (tree page)", "add a child to the leaf (its panel)",
               "move a category under the leaf (API)", "move a category under the leaf (its panel)",
               "retire the leaf (API)", "retire the leaf (its panel)"]


@pytest.mark.parametrize("probe", RHEA_PROBES)
def test_p1_an_owner_who_rates_is_answered_the_same_whether_or_not_a_co_rater_labelled_the_leaf(world, probe):
    assert sorted(_rhea_probes(world)) == sorted(RHEA_PROBES)
    action = _rhea_probes(world)[probe]

    def run():
        response = action({"api": world.api(world.rhea), "html": world.html(world.rhea)})
        return crawl.answer(response)

    labelled, control = with_and_without_bertolds_lambda(world, run)
    assert labelled[0] < 500
    assert labelled == control, (f"rhea's answer to “{probe}” depends on bertold's label on Lambda:\n"
                                 + explain(labelled, control))
    if labelled[0] == 400:
        assert_tells_nothing(messages(labelled), sent_ids=[world.cats["lambda"].pk, world.cats["misc"].pk])


# -- P2: progress ---------------------------------------------------------------------------------


def _progress_views(world, user) -> dict:
    html, api = world.html(user), world.api(user)
    v = world.draw.version
    return {
        "draw page": crawl.fetch(html, crawl.Request("html", f"/studies/{SLUG}/draws/{v}/")),
        "draw API": crawl.fetch(api, crawl.Request("api", f"/api/studies/{SLUG}/draws/{v}/")),
        "progress page": crawl.fetch(html, crawl.Request("html", f"/studies/{SLUG}/labelling/progress/")),
        "progress API": crawl.fetch(api, crawl.Request("api", f"/api/studies/{SLUG}/labelling/progress/")),
    }


def _bertold_labels_all(world):
    for item in world.shared(world.ana, world.bert) + world.shared(world.bert, world.rhea):
        label_by_api(world, world.bert, item, world.cats["export"])


def _rows(html: str) -> set[str]:
    return set(re.findall(r'data-rater="([^"]*)"', html))


@pytest.mark.parametrize("who", ["ana", "rhea", "vera"])
def test_p2_no_one_who_rates_or_views_sees_another_raters_progress(world, who):
    user = getattr(world, who)

    def views(steps):
        def run():
            steps()
            return _progress_views(world, user)
        return crawl.in_world(run)

    idle = views(lambda: None)
    busy = views(lambda: _bertold_labels_all(world))
    for name in idle:
        assert idle[name] == busy[name], (f"{who} sees bertold's progress on the {name}:\n"
                                          + crawl.differences({name: idle[name]}, {name: busy[name]}))
    draw_api = json.loads(busy["draw API"][1])
    progress_api = busy["progress API"]
    others = {"ana", "bertold", "rhea"} - {who}
    if progress_api[0] == 200:
        assert {row["rater"] for row in json.loads(progress_api[1])} <= {who}
    assert not _rows(busy["progress page"][1]) & others
    assert "bertold:" not in busy["draw page"][1] and "bertold:" not in busy["progress page"][1]
    if who in ("ana", "vera"):
        assert {row["rater"] for row in draw_api["raters"]} <= {who}
        assert "bertold" not in json.dumps(draw_api)
        assert not _rows(busy["draw page"][1]) & others
    else:  # an owner sees who rates how many items, never how far they have come
        for row in draw_api["raters"]:
            if row["rater"] != who:
                assert set(row) <= {"rater", "assigned", "by_stratum"}, row
                assert all(set(cell) <= {"assigned"} for cell in row.get("by_stratum", {}).values()), row


def test_p2_an_owner_who_rates_nothing_sees_everyones_progress(world):
    _bertold_labels_all(world)
    views = _progress_views(world, world.owner)
    progress = {row["rater"]: row for row in json.loads(views["progress API"][1])}
    assert set(progress) == {"ana", "bertold", "rhea"} and progress["bertold"]["labelled"] == 4
    assert {"ana", "bertold", "rhea"} <= _rows(views["progress page"][1])
    assert {"ana", "bertold", "rhea"} <= {row["rater"] for row in json.loads(views["draw API"][1])["raters"]}


# -- P3: the history of a merge ----------------------------------------------------------------------


def test_p3_the_history_of_a_merge_tells_those_who_rate_no_label_count(world):
    def history(user):
        html, api = world.html(user), world.api(user)
        return {
            "changes API": crawl.fetch(api, crawl.Request("api", f"/api/studies/{SLUG}/taxonomy/changes/")),
            "history page": crawl.fetch(html, crawl.Request("html", f"/studies/{SLUG}/taxonomy/history/")),
            "merged category's page": crawl.fetch(
                html, crawl.Request("html", f"/studies/{SLUG}/taxonomy/{world.cats['lambda'].pk}/")),
        }

    def merged():
        merge_by_api(world, world.cats["lambda"], world.cats["docker"])
        return {name: history(getattr(world, name)) for name in ("ana", "rhea", "owner")}

    labelled, control = with_and_without_bertolds_lambda(world, merged)
    for who in ("ana", "rhea"):
        for name, (status, body) in labelled[who].items():
            assert (status, body) == control[who][name], (
                f"{who}'s {name} tells whether bertold used the merged category:\n"
                + crawl.differences({name: control[who][name]}, {name: (status, body)}))
        merges = [c for c in json.loads(labelled[who]["changes API"][1])["results"] if c["action"] == "merge"]
        assert merges and all(c.get("labels_moved") is None for c in merges), merges
        assert not re.search(r"\b\d+\s+labels?\b", labelled[who]["history page"][1])
    owner_merges = [c for c in json.loads(labelled["owner"]["changes API"][1])["results"] if c["action"] == "merge"]
    assert owner_merges[0]["labels_moved"] == 2
    assert re.search(r"\b2\s+labels\b", labelled["owner"]["history page"][1])


# -- P4: a name clash with a hidden proposal ---------------------------------------------------------


@pytest.mark.parametrize("via", ["API", "labelling page"])
def test_p4_proposing_the_name_of_a_hidden_proposal_succeeds_and_reveals_nothing(world, via):
    other = world.cats["other"]
    item = world.shared(world.ana, world.rhea)[1]

    def ana_proposes():
        if via == "API":
            response = api_post(world.api(world.ana), CATEGORIES,
                                {"name": "B proposal", "parent": other.pk, "proposed": True})
        else:
            response = propose_by_page(world, world.ana, item, "B proposal", other)
        return crawl.answer(response)

    def in_world_where_bertold_proposed(name, then=None):
        def steps():
            propose_by_api(world, world.bert, name, other)
            told = ana_proposes()
            return told, (then() if then else None)
        return crawl.in_world(steps)

    def afterwards():
        proposals = Category.objects.filter(study=world.study, parent=other, name="B proposal")
        mine = {c.proposed_by.username: c for c in proposals}
        seen = {who: sorted((c["name"], c["proposed_by"]) for c in world.api(getattr(world, who)).get(CATEGORIES).json()
                            if c["parent"] == other.pk and c["status"] == "proposed") for who in ("ana", "bert")}
        approve = {who: api_post(world.api(world.owner), f"{CATEGORIES}{mine[who].pk}/approve/", {})
                   for who in ("bertold", "ana") if who in mine}
        return mine, seen, approve

    (told, after), (told_control, _) = (in_world_where_bertold_proposed("B proposal", afterwards),
                                        in_world_where_bertold_proposed("Another idea"))
    assert told == told_control, ("ana's answer depends on bertold's hidden proposal:\n"
                                  + explain(told, told_control, names=("he proposed “B proposal”", "he did not")))
    status, _location, body = told
    assert status == (201 if via == "API" else 200), told
    assert "bertold" not in body and "already exists" not in body
    if via == "labelling page":
        assert "You proposed “B proposal”" in body
    mine, seen, approve = after
    assert set(mine) == {"ana", "bertold"}, "both proposals exist"
    assert all(c.status == CategoryStatus.PROPOSED for c in mine.values())
    assert seen == {"ana": [("B proposal", "ana")], "bert": [("B proposal", "bertold")]}  # each sees their own
    assert approve["bertold"].status_code == 200, approve["bertold"].content
    assert approve["ana"].status_code == 400 and "B proposal" in approve["ana"].content.decode(), (
        "the owner approving the second proposal is told of the clash")


# -- P5: an owner who rates, and agreement runs over the draw ------------------------------------------


def test_p5_an_owner_who_rates_sees_no_agreement_run_over_her_draw_and_cannot_start_one(world):
    bertold_labels(world, "scope")
    run_id = agreement_run_by_api(world)
    runs = list(AgreementRun.objects.filter(study=world.study, draw=world.draw).values_list("pk", flat=True))
    assert run_id in runs and len(runs) == 2
    html, api = world.html(world.rhea), world.api(world.rhea)
    pages = {
        "runs page": html.get(f"/studies/{SLUG}/agreement/"),
        "runs API": api.get(f"/api/studies/{SLUG}/agreement/"),
        **{f"run {pk} page": html.get(f"/studies/{SLUG}/agreement/{pk}/") for pk in runs},
        **{f"run {pk} API": api.get(f"/api/studies/{SLUG}/agreement/{pk}/") for pk in runs},
    }
    for name, response in pages.items():
        body = response.content.decode()
        assert "bertold" not in body, f"the {name} names bertold to rhea"
        if name.startswith("run "):
            assert response.status_code == 404, f"rhea reads the {name}"
        elif response.status_code == 200:
            listed = ({r["id"] for r in response.json()["results"]} if "API" in name
                      else {int(pk) for pk in re.findall(rf"/studies/{SLUG}/agreement/(\d+)/", body)})
            assert not listed & set(runs), f"the {name} lists runs over rhea's draw to her"
        else:
            assert response.status_code == 404
    owner = world.api(world.owner)
    assert {r["id"] for r in owner.get(f"/api/studies/{SLUG}/agreement/").json()["results"]} >= set(runs)
    detail = world.html(world.owner).get(f"/studies/{SLUG}/agreement/{run_id}/")
    assert detail.status_code == 200 and "bertold" in detail.content.decode()


@pytest.mark.parametrize("how", ["API, draw", "API, study", "page, draw"])
def test_p5_an_owner_who_rates_is_refused_an_agreement_run_the_same_whatever_the_co_rater_did(world, how):
    def start():
        before = AgreementRun.objects.count()
        if how.startswith("API"):
            scope = how.split(", ")[1]
            response = api_post(world.api(world.rhea), f"/api/studies/{SLUG}/agreement/", {
                "scope": scope, **({"draw": world.draw.version} if scope == "draw" else {}), "resamples": 0,
                "seed": 1})
        else:
            response = world.html(world.rhea).post(f"/studies/{SLUG}/agreement/", {
                "scope": "draw", "draw": world.draw.pk, "resamples": 0, "seed": 1, "confidence": 0.95})
        return crawl.answer(response), AgreementRun.objects.count() - before

    def in_world_where_bertold(category):
        def steps():
            bertold_labels(world, category)
            return start()
        return crawl.in_world(steps)

    labelled, control = in_world_where_bertold("scope"), in_world_where_bertold("misc")
    assert labelled == control, "the answer depends on bertold's labels:\n" + explain(labelled[0], control[0])
    (status, _location, body), made = labelled
    assert made == 0, "rhea started a run over the draw she rates"
    assert status in (200, 400, 403, 404), status  # the page may come back with the form's error
    assert "bertold" not in (body if isinstance(body, str) else "")


# -- P6: categories made by grouping codes in the pilot -----------------------------------------------


def _visible_as_proposal(world, category_id: int, *, proposer: str) -> None:
    for user in (world.bert, world.vera, world.owner, world.ana):
        listed = {c["id"]: c for c in world.api(user).get(CATEGORIES).json()}
        assert category_id in listed, f"{user.username} does not see the grouped category"
        assert listed[category_id]["status"] == "proposed" and listed[category_id]["proposed_by"] == proposer
        tree = world.html(user).get(f"/studies/{SLUG}/taxonomy/").content.decode()
        start = tree.find(f'id="cat-{category_id}"')
        assert start >= 0, f"{user.username}'s tree page does not show the grouped category"
        assert "proposed" in tree[start:tree.find("</div>", start)], "not marked as proposed on the tree"


def test_p6_a_rater_grouping_codes_into_a_new_category_makes_a_proposal_every_member_sees(world):
    arbitrator = UserFactory(username="arno")
    MembershipFactory(study=world.study, user=arbitrator, is_arbitrator=True)
    codes = [code_use_add(item=world.pilot[1], author=world.ana, text=t).code for t in ("cold start", "big image")]

    response = api_post(world.api(world.ana), f"/api/studies/{SLUG}/codes/group/",
                        {"codes": [codes[0].pk], "new_category": {"name": "From codes", "parent": None}})
    assert response.status_code == 201, response.content
    made = Category.objects.get(pk=response.json()["category"]["id"])
    assert made.status == CategoryStatus.PROPOSED and made.proposed_by == world.ana

    response = world.html(world.ana).post(f"/studies/{SLUG}/codes/group/", {
        "action": "new", "codes": [codes[1].pk], "name": "From the codes page", "parent": ""})
    assert response.status_code == 302
    paged = Category.objects.get(study=world.study, name="From the codes page")
    assert paged.status == CategoryStatus.PROPOSED and paged.proposed_by == world.ana

    for category in (made, paged):
        _visible_as_proposal(world, category.pk, proposer="ana")
    for approver, category in ((world.owner, made), (arbitrator, paged)):
        response = api_post(world.api(approver), f"{CATEGORIES}{category.pk}/approve/", {})
        assert response.status_code == 200 and response.json()["status"] == "active", response.content


def test_p6_an_owner_grouping_codes_makes_an_active_category(world):
    code = code_use_add(item=world.pilot[1], author=world.owner, text="warm pool").code
    response = api_post(world.api(world.owner), f"/api/studies/{SLUG}/codes/group/",
                        {"codes": [code.pk], "new_category": {"name": "Owner's group", "parent": None}})
    assert response.status_code == 201, response.content
    assert Category.objects.get(pk=response.json()["category"]["id"]).status == CategoryStatus.ACTIVE


# -- once arbitration starts, the rule lifts --------------------------------------------------------------


def test_once_arbitration_starts_those_who_rated_see_the_co_raters_labels(world):
    bertold_labels(world, "lambda")
    arbitration_start(draw=world.draw, user=world.owner, allow_incomplete=True)
    lam = world.cats["lambda"].pk
    for user in (world.ana, world.rhea):
        labels = world.api(user).get(f"/api/studies/{SLUG}/labelling/labels/").json()["results"]
        assert {(row["rater"], row["item"]) for row in labels} >= {
            ("bertold", world.shared(world.ana, world.bert)[0].pk),
            ("bertold", world.shared(world.bert, world.rhea)[0].pk)}
        assert world.api(user).get(f"{CATEGORIES}{lam}/").json()["label_count"] == 2
        assert "bertold" in world.html(user).get(f"/studies/{SLUG}/taxonomy/{lam}/").content.decode()
