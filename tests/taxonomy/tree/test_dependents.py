"""Tree changes follow every table that points at a category (taxonomy.tree.dependents): final
labels, labels, codes, re-label requests, arbitrators' roots and examples; the history records
what moved; and the taxonomy's counts add up before and after a merge, split or move."""

from collections import Counter

import pytest
from django.apps.registry import Apps
from django.core.exceptions import ValidationError
from django.db import models
from rest_framework.test import APIClient

from sampling.draws.models import Assignment
from taxonomy.labelling.models import LabelCategory
from taxonomy.review.arbitration.models import (
    ArbitratorRoot,
    FinalLabel,
    FinalLabelCategory,
    PendingCategory,
    RelabelRequest,
)
from taxonomy.review.arbitration.selectors import arbitration_queue
from taxonomy.review.arbitration.services import (
    arbitration_decide,
    arbitration_start,
    arbitrator_roots_set,
    relabel_request_create,
)
from taxonomy.tree import dependents, services
from taxonomy.tree.models import Category, CategoryChange, CategoryStatus
from taxonomy.tree.paths import tree_shape
from tests.factories import PostFactory

from .conftest import code, label

pytestmark = pytest.mark.django_db


# -- the registry covers every relation --------------------------------------------------------


def test_every_relation_to_a_category_says_how_it_follows_tree_changes():
    walked = dependents.relations_to_category()
    # the walk finds foreign keys, one-to-ones and many-to-manys (not a vacuous list) …
    assert {"labelling.LabelCategory.category", "arbitration.FinalLabelCategory.category",
            "arbitration.PendingCategory.category", "tree.Category.examples", "coding.Code.category",
            "arbitration.RelabelRequest.category", "arbitration.ArbitratorRoot.root"} <= set(walked)
    # … and every one of them is registered; nothing registered is stale
    assert dependents.unhandled() == []
    assert sorted(d.key for d in dependents.registered()) == walked


def test_a_new_relation_to_a_category_is_caught():
    """What the test above does when an app adds a table pointing at a category and forgets it."""
    isolated = Apps()

    class Note(models.Model):
        category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="+")
        seen_in = models.ManyToManyField(Category, related_name="+")

        class Meta:
            app_label = "scratch"
            apps = isolated

    assert dependents.unhandled([Note]) == ["scratch.Note.category", "scratch.Note.seen_in"]
    from taxonomy.tree.dependents import check_every_relation_registered

    assert check_every_relation_registered() == []  # the installed models: all registered


# -- a study after arbitration ----------------------------------------------------------------


def pairs(team):
    """item → {rater: assignment} for the draw's reliability items, in item order."""
    out = {}
    for a in Assignment.objects.filter(draw=team.draw).select_related("rater").order_by("item_id"):
        out.setdefault(a.item_id, {})[a.rater.username] = a
    return list(out.values())


@pytest.fixture
def arbitrated(team, tree):
    """Six items, both raters on each; arbitration started, the one disagreement decided.

    Final labels: item 0 quant, 1 conv, 2 quant+conv, 3 serving (decided), 4 browser, 5 mobile."""
    serving = services.category_add(study=team.study, name="Serving", parent=tree["server"], actor=team.owner)
    items = pairs(team)
    both = [[tree["quant"]], [tree["conv"]], [tree["quant"], tree["conv"]], None, [tree["browser"]], [tree["mobile"]]]
    for item, categories in zip(items, both, strict=True):
        label(item["ana"], *(categories or [tree["quant"]]))
        label(item["bo"], *(categories or [tree["mobile"]]))
    arbitration_start(draw=team.draw, user=team.owner)
    decided = arbitration_decide(item=items[3]["ana"].item, arbitrator=team.arbitrator, kind="categories",
                                 category_ids=[serving.pk], reason="serving, not quantization")
    tree = {**tree, "serving": serving}
    return {"items": items, "tree": tree, "decided": decided}


def finals(category) -> set[int]:
    return set(FinalLabelCategory.objects.filter(category=category).values_list("final_id", flat=True))


def labels_on(category) -> set[int]:
    return set(LabelCategory.objects.filter(category=category).values_list("label_id", flat=True))


def taxonomy_counts(team) -> dict:
    """What a published taxonomy counts: per live category its labels and final labels (rows), the
    subtree totals of both, and per root the posts (final labels) under it."""
    shape = tree_shape(study=team.study)
    label_rows = Counter(LabelCategory.objects.filter(label__assignment__draw=team.draw)
                         .values_list("category_id", flat=True))
    final_rows = Counter(FinalLabelCategory.objects.filter(final__item__draw=team.draw)
                         .values_list("category_id", flat=True))
    posts_under_root = {root: set() for root in shape.roots()}
    for final_id, category_id in FinalLabelCategory.objects.filter(final__item__draw=team.draw).values_list(
            "final_id", "category_id"):
        posts_under_root.setdefault(shape.root_id(category_id), set()).add(final_id)
    return {"labels": label_rows, "finals": final_rows, "label_totals": shape.subtree_totals(label_rows),
            "final_totals": shape.subtree_totals(final_rows), "root_posts": posts_under_root, "shape": shape}


def assert_every_final_label_on_a_live_leaf(team):
    shape = tree_shape(study=team.study)
    for category_id in FinalLabelCategory.objects.filter(final__item__draw__study=team.study).values_list(
            "category_id", flat=True):
        assert shape.is_leaf(category_id), f"a final label names {shape.path(category_id)}, not a live leaf"


def test_merge_moves_final_labels_deduplicated_and_the_counts_add_up(team, arbitrated):
    t = arbitrated["tree"]
    before = taxonomy_counts(team)
    quant_finals, conv_finals = finals(t["quant"]), finals(t["conv"])
    quant_labels, conv_labels = labels_on(t["quant"]), labels_on(t["conv"])
    result = services.category_merge(source=t["conv"], target=t["quant"], actor=team.owner)
    assert result.moved == {"labels": 4, "final_labels": 2}  # rows that named “conv”
    after = taxonomy_counts(team)
    assert finals(t["conv"]) == set() and finals(t["quant"]) == quant_finals | conv_finals
    assert labels_on(t["conv"]) == set() and labels_on(t["quant"]) == quant_labels | conv_labels
    # item 2 named both: its final label keeps one row, so the rows drop by the overlap, and no more
    overlap = len(quant_finals & conv_finals)
    assert overlap == 1
    assert after["finals"][t["quant"].pk] == before["finals"][t["quant"].pk] + before["finals"][t["conv"].pk] - overlap
    assert after["final_totals"][t["server"].pk] == before["final_totals"][t["server"].pk] - overlap
    # the posts each root covers do not change (the merge stays under Server/Cloud)
    assert after["root_posts"] == before["root_posts"]
    assert sum(after["labels"].values()) == sum(before["labels"].values()) - len(quant_labels & conv_labels)
    assert_every_final_label_on_a_live_leaf(team)
    change = CategoryChange.objects.filter(category=t["conv"]).order_by("-id").first()
    assert change.moved == {"labels": 4, "final_labels": 2} and (change.labels_moved, change.codes_moved) == (4, 0)


def test_split_moves_the_chosen_final_labels_and_the_counts_add_up(team, arbitrated):
    t = arbitrated["tree"]
    before = taxonomy_counts(team)
    first = arbitrated["items"][0]
    final0 = FinalLabel.objects.get(item=first["ana"].item)
    result = services.category_split(source=t["quant"], name="Int8", actor=team.owner,
                                     label_ids=[first["ana"].label.pk, first["bo"].label.pk],
                                     final_label_ids=[final0.pk])
    assert result.moved == {"labels": 2, "final_labels": 1}
    after = taxonomy_counts(team)
    new = result.new
    assert finals(new) == {final0.pk} and final0.pk not in finals(t["quant"])
    for kind in ("finals", "labels"):
        assert after[kind][t["quant"].pk] + after[kind][new.pk] == before[kind][t["quant"].pk]
        assert sum(after[kind].values()) == sum(before[kind].values())
    for totals in ("final_totals", "label_totals"):
        assert after[totals][t["export"].pk] == before[totals][t["export"].pk]
        assert after[totals][t["server"].pk] == before[totals][t["server"].pk]
    assert after["root_posts"] == before["root_posts"]
    assert_every_final_label_on_a_live_leaf(team)
    change = CategoryChange.objects.filter(category=t["quant"], action="split").get()
    assert change.moved == {"labels": 2, "final_labels": 1}


def test_split_refuses_final_labels_of_another_category_and_changes_nothing(team, arbitrated):
    t = arbitrated["tree"]
    other = FinalLabel.objects.get(item=arbitrated["items"][4]["ana"].item)  # “Browser”
    with pytest.raises(ValidationError, match=f"Not final labels of “Model quantization”.*{other.pk}"):
        services.category_split(source=t["quant"], name="Int8", actor=team.owner, final_label_ids=[other.pk])
    assert not Category.objects.filter(name="Int8").exists() and finals(t["browser"]) == {other.pk}


def test_move_keeps_every_final_label_and_moves_the_subtree_totals(team, arbitrated):
    t = arbitrated["tree"]
    before = taxonomy_counts(team)
    services.category_move(category=t["export"], parent=None, actor=team.owner)
    after = taxonomy_counts(team)
    assert after["finals"] == before["finals"] and after["labels"] == before["labels"]
    assert after["final_totals"][t["export"].pk] == before["final_totals"][t["export"].pk]
    assert (after["final_totals"][t["server"].pk]
            == before["final_totals"][t["server"].pk] - before["final_totals"][t["export"].pk])
    roots = after["shape"].roots()
    assert sum(after["final_totals"][r] for r in roots) == sum(before["final_totals"][r]
                                                                for r in before["shape"].roots())
    assert_every_final_label_on_a_live_leaf(team)


def test_a_category_with_final_labels_stays_a_leaf(team, arbitrated):
    """“Serving” holds a final label and no rater's label: still no children under it."""
    serving = arbitrated["tree"]["serving"]
    assert labels_on(serving) == set() and finals(serving)
    with pytest.raises(ValidationError, match="“Serving” has 1 final label, and they stay on leaves"):
        services.category_add(study=team.study, name="TF Serving", parent=serving, actor=team.owner)
    with pytest.raises(ValidationError, match="1 final label"):
        services.category_move(category=arbitrated["tree"]["browser"], parent=serving, actor=team.owner)


def test_retire_is_refused_while_final_labels_name_the_category_then_a_merge_carries_them(team, arbitrated):
    t = arbitrated["tree"]
    serving = t["serving"]
    with pytest.raises(ValidationError, match="“Serving” has 1 final label: merge it into another category"):
        services.category_retire(category=serving, actor=team.owner)
    assert Category.objects.get(pk=serving.pk).status == CategoryStatus.ACTIVE
    decided = arbitrated["decided"]
    services.category_merge(source=serving, target=t["quant"], actor=team.owner)
    assert finals(t["quant"]) >= {decided.pk}
    assert not FinalLabelCategory.objects.filter(category__status=CategoryStatus.RETIRED).exists()


def test_reject_of_a_proposal_carries_its_final_labels(team, arbitrated):
    t = arbitrated["tree"]
    proposal = Category.objects.create(study=team.study, name="Cold start", parent=t["server"], status="proposed",
                                       proposed_by=team.raters[0])
    decided = arbitrated["decided"]
    FinalLabelCategory.objects.filter(final=decided).update(category=proposal)
    result = services.category_reject(category=proposal, target=t["serving"], actor=team.owner)
    assert result.final_labels_moved == 1 and finals(t["serving"]) == {decided.pk}


# -- the other dependents -------------------------------------------------------------------------


def test_open_relabel_requests_follow_a_merge_and_hold_off_a_retirement(team, tree):
    a = [x["ana"] for x in pairs(team)]
    relabel_request_create(assignments=[a[0]], requested_by=team.arbitrator, category=tree["conv"], message="again")
    open_request = RelabelRequest.objects.get(assignment=a[0])
    done = RelabelRequest.objects.create(assignment=a[1], category=tree["conv"], requested_by=team.arbitrator)
    RelabelRequest.objects.filter(pk=done.pk).update(done_at=done.requested_at)
    with pytest.raises(ValidationError, match="1 open re-label request"):
        services.category_retire(category=tree["conv"], actor=team.owner)
    result = services.category_merge(source=tree["conv"], target=tree["quant"], actor=team.owner)
    assert result.moved == {"relabel_requests": 1}
    assert RelabelRequest.objects.get(pk=open_request.pk).category == tree["quant"]
    assert RelabelRequest.objects.get(pk=done.pk).category == tree["conv"]  # answered: history


def test_arbitrator_roots_follow_merge_and_split_and_hold_off_a_retirement(team, tree):
    arbitrator_roots_set(study=team.study, user=team.arbitrator, roots=[tree["browser"]])
    with pytest.raises(ValidationError, match="1 arbitrator restricted to it"):
        services.category_retire(category=tree["browser"], actor=team.owner)
    split = services.category_split(source=tree["browser"], name="WebGL", actor=team.owner)
    assert split.moved == {"arbitrator_roots": 1}
    roots = set(ArbitratorRoot.objects.filter(user=team.arbitrator).values_list("root_id", flat=True))
    assert roots == {tree["browser"].pk, split.new.pk}
    # merged into a root it already arbitrates: one restriction, not two
    merged = services.category_merge(source=split.new, target=tree["browser"], actor=team.owner)
    assert merged.moved == {"arbitrator_roots": 1}
    assert list(ArbitratorRoot.objects.filter(user=team.arbitrator).values_list("root_id", flat=True)) == [
        tree["browser"].pk]
    services.category_merge(source=tree["browser"], target=tree["mobile"], actor=team.owner)
    assert list(ArbitratorRoot.objects.filter(user=team.arbitrator).values_list("root_id", flat=True)) == [
        tree["mobile"].pk]


def test_a_merged_root_hands_its_items_to_its_arbitrator(team, tree):
    """Items labelled in a merged root stay in the queue of the arbitrator restricted to it."""
    items = pairs(team)
    label(items[0]["ana"], tree["browser"])
    label(items[0]["bo"], tree["quant"])
    for item in items[1:]:
        label(item["ana"], tree["conv"])
        label(item["bo"], tree["conv"])
    arbitrator_roots_set(study=team.study, user=team.arbitrator, roots=[tree["browser"]])
    services.category_merge(source=tree["browser"], target=tree["mobile"], actor=team.owner)
    arbitration_start(draw=team.draw, user=team.owner)
    assert [i.pk for i in arbitration_queue(study=team.study, user=team.arbitrator)] == [items[0]["ana"].item_id]


def test_codes_examples_and_the_pending_record_on_merge(team, tree):
    c = code(team, "int8 weights", tree["conv"])
    post, shared = PostFactory(study=team.study), PostFactory(study=team.study)
    services.category_describe(category=tree["conv"], actor=team.owner, examples=[post.pk, shared.pk])
    services.category_describe(category=tree["quant"], actor=team.owner, examples=[shared.pk])
    PendingCategory.objects.create(study=team.study, category=tree["conv"], created_by=team.owner)
    result = services.category_merge(source=tree["conv"], target=tree["quant"], actor=team.owner)
    assert result.moved == {"codes": 1, "examples": 2}
    assert c.__class__.objects.get(pk=c.pk).category == tree["quant"]
    assert sorted(tree["quant"].examples.values_list("pk", flat=True)) == sorted([post.pk, shared.pk])
    assert tree["conv"].examples.count() == 2  # the retired category keeps its own
    # how “conv” came to be stays on record: it was made from Pending items
    assert PendingCategory.objects.get(study=team.study).category == tree["conv"]


# -- the API and the form ---------------------------------------------------------------------------


def test_the_split_api_and_form_move_chosen_final_labels(client, team, arbitrated):
    t = arbitrated["tree"]
    final0, final2 = (FinalLabel.objects.get(item=arbitrated["items"][i]["ana"].item) for i in (0, 2))
    api = APIClient()
    api.force_authenticate(team.owner)
    base = f"/api/studies/{team.study.slug}/categories/"
    response = api.post(f"{base}{t['quant'].pk}/split/", {"name": "Int8", "final_labels": [final0.pk]},
                        format="json")
    assert response.status_code == 201, response.content
    assert response.json()["final_labels_moved"] == 1 and response.json()["moved"] == {"final_labels": 1}
    assert finals(Category.objects.get(name="Int8")) == {final0.pk}
    refused = api.post(f"{base}{t['quant'].pk}/split/", {"name": "X", "final_labels": [final0.pk]}, format="json")
    assert refused.status_code == 400 and "Not final labels" in refused.json()["final_labels"][0]
    changes = api.get(f"/api/studies/{team.study.slug}/taxonomy/changes/", {"category": t["quant"].pk}).json()
    assert changes["results"][0]["moved"] == {"final_labels": 1}

    client.force_login(team.owner)
    panel = client.get(f"/studies/{team.study.slug}/taxonomy/{t['quant'].pk}/edit/").content.decode()
    assert 'name="split-final_labels"' in panel and f'value="{final2.pk}"' in panel
    response = client.post(f"/studies/{team.study.slug}/taxonomy/{t['quant'].pk}/split/",
                           {"split-name": "Float16", "split-final_labels": [final2.pk]})
    assert response.status_code == 302
    assert finals(Category.objects.get(name="Float16")) == {final2.pk}


def test_the_migration_moves_final_labels_an_old_merge_stranded(team, arbitrated):
    """Installations that merged before final labels followed: arbitration 0002 repairs them."""
    import importlib

    from tests.factories import migration_apps

    migration = importlib.import_module("taxonomy.review.arbitration.migrations.0002_final_labels_follow_merges")
    t = arbitrated["tree"]
    stranded = finals(t["conv"])
    # an old merge: conv → quant moved only labels, then quant → serving the same way
    for source, target in ((t["conv"], t["quant"]), (t["quant"], t["serving"])):
        LabelCategory.objects.filter(category=source).delete()
        Category.objects.filter(pk=source.pk).update(status=CategoryStatus.RETIRED, merged_into=target)
    quant_finals = finals(t["quant"])
    migration.follow_merges(migration_apps("arbitration", "0002_final_labels_follow_merges"), None)
    assert finals(t["conv"]) == finals(t["quant"]) == set()
    assert finals(t["serving"]) == stranded | quant_finals | {arbitrated["decided"].pk}
    assert_every_final_label_on_a_live_leaf(team)
