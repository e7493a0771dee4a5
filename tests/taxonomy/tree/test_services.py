"""Every tree operation: what it changes, what it refuses, that labels and codes follow it and
that the history records who did what, before and after."""

import pytest
from django.core.exceptions import ValidationError

from taxonomy.labelling.models import LabelCategory
from taxonomy.tree import services
from taxonomy.tree.models import Category, CategoryChange, CategoryStatus, ChangeAction
from taxonomy.tree.selectors import taxonomy_tree
from tests.factories import PostFactory, StudyFactory

from .conftest import assignments, code, label

pytestmark = pytest.mark.django_db


def counts(team, user=None):
    """category id → (own labels, subtree labels) as the owner sees them."""
    built = taxonomy_tree(study=team.study, user=user or team.owner)
    return {node.id: (node.label_count, node.subtree_count) for node in built.flat()}


def total_label_uses(team) -> int:
    return LabelCategory.objects.filter(label__assignment__draw__study=team.study).count()


def last_change(category) -> CategoryChange:
    return CategoryChange.objects.filter(category=category).order_by("-id").first()


# -- add --------------------------------------------------------------------------------


def test_add_records_the_change_and_orders_siblings(team, tree):
    change = last_change(tree["conv"])
    assert change.action == ChangeAction.ADD and change.actor == team.owner
    assert change.after["name"] == "Model conversion" and change.after["parent"] == tree["export"].pk
    assert [tree["quant"].position, tree["conv"].position] == [1, 2]


@pytest.mark.parametrize("name", ["model QUANTIZATION", "  Model quantization "])
def test_sibling_name_clash_is_refused_case_insensitively(team, tree, name):
    with pytest.raises(ValidationError, match="already exists"):
        services.category_add(study=team.study, name=name, parent=tree["export"], actor=team.owner)


def test_same_name_under_another_parent_is_fine(team, tree):
    other = services.category_add(study=team.study, name="Model quantization", parent=tree["mobile"],
                                  actor=team.owner)
    assert other.parent == tree["mobile"]


def test_adding_a_child_under_a_labelled_category_is_refused(team, tree):
    label(assignments(team)[0], tree["quant"])
    with pytest.raises(ValidationError, match="labels stay on leaves: split"):
        services.category_add(study=team.study, name="Int8", parent=tree["quant"], actor=team.owner)
    assert not Category.objects.filter(name="Int8").exists()


def test_add_refuses_empty_long_and_foreign_parent(team, tree):
    with pytest.raises(ValidationError, match="needs a name"):
        services.category_add(study=team.study, name="   ", actor=team.owner)
    with pytest.raises(ValidationError, match="at most 200"):
        services.category_add(study=team.study, name="x" * 201, actor=team.owner)
    other = StudyFactory()
    foreign = services.category_add(study=other, name="Elsewhere", actor=team.owner)
    with pytest.raises(ValidationError, match="not in this study"):
        services.category_add(study=team.study, name="Child", parent=foreign, actor=team.owner)


# -- rename, describe ----------------------------------------------------------------------


def test_rename_records_before_and_after(team, tree):
    services.category_rename(category=tree["mobile"], name="Mobile devices", actor=team.arbitrator)
    change = last_change(tree["mobile"])
    assert change.action == ChangeAction.RENAME and change.actor == team.arbitrator
    assert (change.before["name"], change.after["name"]) == ("Mobile", "Mobile devices")


def test_rename_clash_and_case_only_rename(team, tree):
    with pytest.raises(ValidationError, match="“browser” already exists among the roots"):
        services.category_rename(category=tree["mobile"], name="browser", actor=team.owner)
    renamed = services.category_rename(category=tree["mobile"], name="MOBILE", actor=team.owner)
    assert renamed.name == "MOBILE"


def test_describe_sets_notes_and_examples_of_the_study_only(team, tree):
    post = PostFactory(study=team.study)
    services.category_describe(category=tree["quant"], actor=team.owner, definition="Shrinking weights",
                               inclusion="int8, float16", exclusion="pruning → Model Export",
                               examples=[post.pk])
    quant = Category.objects.get(pk=tree["quant"].pk)
    assert (quant.definition, list(quant.examples.all())) == ("Shrinking weights", [post])
    change = last_change(quant)
    assert change.action == ChangeAction.DESCRIBE
    assert change.before["definition"] == "" and change.after["examples"] == [post.pk]
    foreign = PostFactory()
    with pytest.raises(ValidationError, match="Not posts of this study"):
        services.category_describe(category=quant, actor=team.owner, examples=[foreign.pk])
    assert list(quant.examples.all()) == [post]


# -- move ----------------------------------------------------------------------------------


def test_move_to_another_parent_and_position_keeps_labels(team, tree):
    label(assignments(team)[0], tree["quant"])
    label(assignments(team)[1], tree["conv"])
    before = counts(team)
    assert before[tree["server"].pk] == (0, 2)
    services.category_move(category=tree["quant"], parent=tree["mobile"], actor=team.owner)
    after = counts(team)
    assert after[tree["quant"].pk] == (1, 1)
    assert after[tree["server"].pk] == (0, 1) and after[tree["mobile"].pk] == (0, 1)
    assert after[tree["server"].pk][1] + after[tree["mobile"].pk][1] == before[tree["server"].pk][1]
    change = last_change(tree["quant"])
    assert change.action == ChangeAction.MOVE
    assert (change.before["parent"], change.after["parent"]) == (tree["export"].pk, tree["mobile"].pk)
    assert Category.objects.get(pk=tree["conv"].pk).position == 1  # the gap is closed


def test_reorder_among_siblings(team, tree):
    services.category_move(category=tree["browser"], parent=None, position=1, actor=team.owner)
    roots = list(Category.objects.filter(study=team.study, parent=None).order_by("position"))
    assert [c.name for c in roots] == ["Browser", "Server/Cloud", "Mobile"]
    assert [c.position for c in roots] == [1, 2, 3]


def test_move_into_itself_or_its_descendant_is_refused(team, tree):
    with pytest.raises(ValidationError, match="into itself"):
        services.category_move(category=tree["server"], parent=tree["server"], actor=team.owner)
    with pytest.raises(ValidationError, match="own descendant"):
        services.category_move(category=tree["server"], parent=tree["quant"], actor=team.owner)
    assert Category.objects.get(pk=tree["server"].pk).parent_id is None


def test_move_to_another_study_or_a_name_clash_or_a_labelled_parent_is_refused(team, tree):
    foreign = services.category_add(study=StudyFactory(), name="Other", actor=team.owner)
    with pytest.raises(ValidationError, match="not in this study"):
        services.category_move(category=tree["mobile"], parent=foreign, actor=team.owner)
    services.category_add(study=team.study, name="Mobile", parent=tree["server"], actor=team.owner)
    with pytest.raises(ValidationError, match="“Mobile” already exists under “Server/Cloud”"):
        services.category_move(category=tree["mobile"], parent=tree["server"], actor=team.owner)
    label(assignments(team)[0], tree["browser"])
    with pytest.raises(ValidationError, match="labels stay on leaves"):
        services.category_move(category=tree["quant"], parent=tree["browser"], actor=team.owner)


# -- merge -----------------------------------------------------------------------------------


def test_merge_moves_labels_and_codes_and_deduplicates(team, tree):
    a = assignments(team)
    label(a[0], tree["conv"])
    label(a[1], tree["conv"], tree["quant"])  # names both: one row after the merge
    label(a[2], tree["quant"])
    code(team, "tflite converter fails", tree["conv"])
    code(team, "int8 accuracy drop", tree["quant"])
    uses_before = total_label_uses(team)
    server_before = counts(team)[tree["server"].pk][1]
    result = services.category_merge(source=tree["conv"], target=tree["quant"], actor=team.arbitrator)
    assert (result.labels_moved, result.codes_moved) == (2, 1)
    quant_labels = set(LabelCategory.objects.filter(category=tree["quant"]).values_list("label_id", flat=True))
    assert len(quant_labels) == 3  # every labelled post still labelled, none twice
    assert not LabelCategory.objects.filter(category=tree["conv"]).exists()
    assert total_label_uses(team) == uses_before - 1
    assert counts(team)[tree["quant"].pk] == (3, 3)
    assert counts(team)[tree["server"].pk][1] == server_before - 1  # the double label counts once now
    assert set(tree["quant"].codes.values_list("text", flat=True)) == {"tflite converter fails",
                                                                        "int8 accuracy drop"}
    conv = Category.objects.get(pk=tree["conv"].pk)
    assert conv.status == CategoryStatus.RETIRED and conv.merged_into == tree["quant"]
    change = last_change(conv)
    assert change.action == ChangeAction.MERGE and change.actor == team.arbitrator
    assert (change.labels_moved, change.codes_moved) == (2, 1)
    assert change.before["status"] == "active" and change.after["merged_into"] == tree["quant"].pk


def test_merge_into_itself_or_own_descendant_is_refused(team, tree):
    with pytest.raises(ValidationError, match="into itself"):
        services.category_merge(source=tree["quant"], target=tree["quant"], actor=team.owner)
    with pytest.raises(ValidationError, match=r"merge of a category into its own descendant \(refused\)"):
        services.category_merge(source=tree["export"], target=tree["quant"], actor=team.owner)
    assert Category.objects.get(pk=tree["export"].pk).status == CategoryStatus.ACTIVE


def test_merge_refuses_inner_source_other_study_and_inner_target_for_labels(team, tree):
    with pytest.raises(ValidationError, match="move them elsewhere first"):
        services.category_merge(source=tree["export"], target=tree["mobile"], actor=team.owner)
    foreign = services.category_add(study=StudyFactory(), name="Other", actor=team.owner)
    with pytest.raises(ValidationError, match="not in this study"):
        services.category_merge(source=tree["mobile"], target=foreign, actor=team.owner)
    label(assignments(team)[0], tree["browser"])
    with pytest.raises(ValidationError, match="merge into a leaf"):
        services.category_merge(source=tree["browser"], target=tree["export"], actor=team.owner)
    assert LabelCategory.objects.filter(category=tree["browser"]).count() == 1


# -- split -----------------------------------------------------------------------------------


def test_split_moves_the_chosen_labels_and_codes_only(team, tree):
    a = assignments(team)
    labels = [label(a[i], tree["quant"]) for i in range(4)]
    codes = [code(team, f"code {i}", tree["quant"]) for i in range(3)]
    server_before = counts(team)[tree["server"].pk][1]
    result = services.category_split(source=tree["quant"], name="Pruning", actor=team.owner,
                                     label_ids=[labels[0].pk, labels[2].pk], code_ids=[codes[1].pk])
    assert (result.labels_moved, result.codes_moved) == (2, 1)
    new = result.new
    assert new.parent == tree["export"] and new.status == CategoryStatus.ACTIVE
    assert set(LabelCategory.objects.filter(category=new).values_list("label_id", flat=True)) == {
        labels[0].pk, labels[2].pk}
    after = counts(team)
    assert after[tree["quant"].pk] == (2, 2) and after[new.pk] == (2, 2)
    assert after[tree["server"].pk][1] == server_before == 4
    assert list(new.codes.values_list("text", flat=True)) == ["code 1"]
    ordered = list(Category.objects.filter(parent=tree["export"]).exclude(status="retired").order_by("position"))
    assert [c.name for c in ordered] == ["Model quantization", "Pruning", "Model conversion"]
    change = last_change(tree["quant"])
    assert change.action == ChangeAction.SPLIT and change.after["split_into"] == new.pk
    assert (change.labels_moved, change.codes_moved) == (2, 1)


def test_split_refuses_labels_and_codes_of_another_category(team, tree):
    other = label(assignments(team)[0], tree["conv"])
    with pytest.raises(ValidationError, match="Not labels of “Model quantization”"):
        services.category_split(source=tree["quant"], name="Pruning", actor=team.owner, label_ids=[other.pk])
    foreign_code = code(team, "elsewhere", tree["conv"])
    with pytest.raises(ValidationError, match="Not codes of"):
        services.category_split(source=tree["quant"], name="Pruning", actor=team.owner, code_ids=[foreign_code.pk])
    with pytest.raises(ValidationError, match="already exists"):
        services.category_split(source=tree["quant"], name="model conversion", actor=team.owner)
    assert not Category.objects.filter(name="Pruning").exists()
    assert LabelCategory.objects.get(label=other).category == tree["conv"]


def test_split_cannot_move_labels_the_actor_may_not_see(team, tree):
    """An owner who also rates an item is blind to the other rater's label there."""
    from annotator.studies.models import Membership

    Membership.objects.filter(study=team.study, user=team.owner).update(is_rater=True)
    first = assignments(team)[0]
    from sampling.draws.models import Assignment

    Assignment.objects.create(draw=team.draw, item=first.item, rater=team.owner)
    hidden = label(first, tree["quant"])
    # while the round they rate in runs, splitting (which moves labels) is left to those who see them all
    with pytest.raises(ValidationError, match="you rate in a labelling round that is still running"):
        services.category_split(source=tree["quant"], name="Pruning", actor=team.owner, label_ids=[hidden.pk])


# -- retire, restore ---------------------------------------------------------------------------


def test_retire_refuses_labels_codes_and_children_then_restore(team, tree):
    label(assignments(team)[0], tree["quant"])
    with pytest.raises(ValidationError, match="has 1 label: merge it into another category"):
        services.category_retire(category=tree["quant"], actor=team.owner)
    code(team, "a code", tree["conv"])
    with pytest.raises(ValidationError, match="has 1 code: merge"):
        services.category_retire(category=tree["conv"], actor=team.owner)
    with pytest.raises(ValidationError, match="2 sub-categories: move or merge them first"):
        services.category_retire(category=tree["export"], actor=team.owner)
    services.category_retire(category=tree["browser"], actor=team.owner)
    assert Category.objects.get(pk=tree["browser"].pk).status == CategoryStatus.RETIRED
    services.category_add(study=team.study, name="Browser", actor=team.owner)  # the name is free again
    with pytest.raises(ValidationError, match="already exists"):
        services.category_restore(category=tree["browser"], actor=team.owner)
    services.category_retire(category=tree["mobile"], actor=team.owner)
    restored = services.category_restore(category=tree["mobile"], actor=team.arbitrator)
    assert restored.status == CategoryStatus.ACTIVE
    change = last_change(restored)
    assert change.action == ChangeAction.RESTORE and change.before["status"] == "retired"


def test_restore_refuses_merged_and_under_retired_parent(team, tree):
    services.category_merge(source=tree["conv"], target=tree["quant"], actor=team.owner)
    with pytest.raises(ValidationError, match="was merged into “Model quantization”"):
        services.category_restore(category=tree["conv"], actor=team.owner)
    leaf = services.category_add(study=team.study, name="Leaf", parent=tree["mobile"], actor=team.owner)
    services.category_retire(category=leaf, actor=team.owner)
    services.category_retire(category=tree["mobile"], actor=team.owner)
    with pytest.raises(ValidationError, match="parent “Mobile” is retired"):
        services.category_restore(category=leaf, actor=team.owner)


# -- proposals ---------------------------------------------------------------------------------


def test_approve_a_proposal(team, tree):
    proposal = services.category_add(study=team.study, name="Serving latency", parent=tree["server"],
                                     actor=team.raters[0], proposed=True)
    assert last_change(proposal).action == ChangeAction.PROPOSE and proposal.proposed_by == team.raters[0]
    services.category_approve(category=proposal, actor=team.arbitrator)
    assert Category.objects.get(pk=proposal.pk).status == CategoryStatus.ACTIVE
    assert last_change(proposal).action == ChangeAction.APPROVE
    with pytest.raises(ValidationError, match="not a proposal"):
        services.category_approve(category=proposal, actor=team.arbitrator)


def test_reject_moves_the_proposals_labels_to_the_chosen_leaf(team, tree):
    proposal = services.category_add(study=team.study, name="Serving latency", parent=tree["server"],
                                     actor=team.raters[0], proposed=True)
    mine = assignments(team, team.raters[0])
    label(mine[0], proposal)
    label(mine[1], proposal, tree["quant"])
    before = total_label_uses(team)
    with pytest.raises(ValidationError, match="choose a leaf"):
        services.category_reject(category=proposal, target=tree["export"], actor=team.owner)
    with pytest.raises(ValidationError, match="into itself"):
        services.category_reject(category=proposal, target=proposal, actor=team.owner)
    result = services.category_reject(category=proposal, target=tree["quant"], actor=team.owner)
    assert result.labels_moved == 2
    assert LabelCategory.objects.filter(category=tree["quant"]).count() == 2
    assert total_label_uses(team) == before - 1
    proposal.refresh_from_db()
    assert proposal.status == CategoryStatus.RETIRED and proposal.merged_into == tree["quant"]
    change = last_change(proposal)
    assert change.action == ChangeAction.REJECT and change.labels_moved == 2
    with pytest.raises(ValidationError, match="not a proposal"):
        services.category_reject(category=tree["conv"], target=tree["quant"], actor=team.owner)
