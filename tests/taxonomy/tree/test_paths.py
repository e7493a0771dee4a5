"""Paths, roots, depth, level and leaves come from one place (taxonomy.tree.paths), and every
page that shows a category path or a leaf choice agrees with it."""

import pytest

from taxonomy.review.agreement.selectors import agreement_label_names
from taxonomy.review.arbitration.selectors import category_paths, leaf_choices
from taxonomy.review.arbitration.services import arbitrator_may_decide
from taxonomy.labelling.selectors import category_choices
from taxonomy.tree import selectors, services
from taxonomy.tree.paths import PATH_SEPARATOR, CategoryRow, TreeShape, tree_shape

from .conftest import assignments, label

ROWS = [
    CategoryRow(1, None, "Server/Cloud", "active", 1),
    CategoryRow(2, 1, "Model Export", "active", 1),
    CategoryRow(3, 2, "Model quantization", "active", 2),
    CategoryRow(4, 2, "model conversion", "active", 1),
    CategoryRow(5, None, "Mobile", "active", 2),
    CategoryRow(6, 5, "Old", "retired", 1),
    CategoryRow(7, None, "Browser", "retired", 3),
]


def test_paths_roots_depths_levels_and_leaves():
    shape = TreeShape(ROWS)
    assert shape.path(3) == PATH_SEPARATOR.join(["Server/Cloud", "Model Export", "Model quantization"])
    assert [shape.root_id(i) for i in (1, 2, 3, 6)] == [1, 1, 1, 5]
    assert [shape.depth(i) for i in (1, 2, 3)] == [0, 1, 2]
    assert [shape.level(i) for i in (1, 2, 3, 5)] == ["root", "inner", "leaf", "root"]
    # a retired child does not make its parent inner; a retired category is never a leaf
    assert shape.is_leaf(5) and not shape.is_leaf(6) and not shape.is_leaf(7)
    assert shape.roots() == [1, 5]  # the retired root is not a live root
    assert shape.live_order() == [1, 2, 4, 3, 5]  # siblings by position, then name
    assert shape.leaves() == [4, 3, 5]
    assert shape.descendants({2}) == {2, 3, 4} and shape.is_under(3, {1}) and not shape.is_under(5, {1})


def test_a_name_containing_the_separator_does_not_change_the_depth():
    shape = TreeShape([CategoryRow(1, None, "A › B"), CategoryRow(2, 1, "C")])
    assert shape.path(2) == "A › B › C" and shape.depth(2) == 1


def test_a_parent_cycle_cannot_hang_and_is_attached_to_no_root():
    """Corrupt data (a cycle that the check constraints cannot forbid across rows) ends every walk."""
    shape = TreeShape([CategoryRow(1, 2, "A"), CategoryRow(2, 3, "B"), CategoryRow(3, 1, "C"),
                       CategoryRow(4, None, "Root")])
    assert set(shape.path(1).split(PATH_SEPARATOR)) == {"A", "B", "C"}
    assert not shape.attached(1) and shape.attached(4)
    assert shape.live_order() == [4]
    assert shape.is_under(1, {3})  # stops instead of looping


def test_rows_the_caller_leaves_out_cut_the_path_and_detach_the_branch():
    """What a rater's tree holds is decided by the caller: a child of a category they may not see
    belongs to no root of theirs, and its parent's absence makes nothing inner."""
    visible = [r for r in ROWS if r.id != 2]
    shape = TreeShape(visible)
    assert shape.path(3) == "Model quantization" and not shape.attached(3)
    assert shape.is_leaf(1)  # its only child is not in the rows
    assert 3 not in shape.live_order()


def test_subtree_totals_add_up():
    shape = TreeShape(ROWS)
    totals = shape.subtree_totals({3: 2, 4: 1, 5: 4, 6: 7})
    assert totals[2] == 3 and totals[1] == 3 and totals[5] == 4  # the retired child does not count
    assert totals[6] == 7 and totals[7] == 0


@pytest.mark.django_db
def test_every_page_shows_the_same_paths_and_leaves(team, tree):
    """The tree, labelling, coding, arbitration and agreement read one shape."""
    services.category_retire(category=tree["browser"], actor=team.owner)
    shape = tree_shape(study=team.study)
    built = selectors.taxonomy_tree(study=team.study, user=team.owner)
    assert {n.id: n.path for n in built.flat()} == shape.paths()
    assert {n.id: (n.depth, n.level) for n in built.live} == {
        pk: (shape.depth(pk), shape.level(pk)) for pk in shape.live_order()}
    assert category_paths(study=team.study) == shape.paths()
    assert leaf_choices(study=team.study) == sorted(((pk, shape.path(pk)) for pk in shape.leaves()),
                                                    key=lambda c: c[1].lower())
    assert selectors.category_path(category=tree["conv"]) == shape.path(tree["conv"].pk)
    ana = team.raters[0]
    assert [(c.id, c.path, c.is_leaf) for c in category_choices(study=team.study, user=ana, leaves_only=False)] == [
        (pk, shape.path(pk), shape.is_leaf(pk)) for pk in shape.live_order()]
    names = agreement_label_names(study=team.study, keys=[str(tree["quant"].pk), "unclear"])
    assert names == {str(tree["quant"].pk): shape.path(tree["quant"].pk), "unclear": "Unclear"}
    assert list(selectors.category_leaves(study=team.study).order_by("pk").values_list("pk", flat=True)) == sorted(
        shape.leaves())


@pytest.mark.django_db
def test_a_raters_own_proposal_makes_a_leaf_inner_for_them_only(team, tree):
    from taxonomy.tree.models import Category

    ana, bo = team.raters
    # (made directly: while a round runs, a rater proposes beside a leaf, not under it)
    Category.objects.create(study=team.study, name="Int8", parent=tree["conv"], status="proposed", proposed_by=ana)
    mine = {c.id: c.is_leaf for c in category_choices(study=team.study, user=ana, leaves_only=False)}
    theirs = {c.id: c.is_leaf for c in category_choices(study=team.study, user=bo, leaves_only=False)}
    assert mine[tree["conv"].pk] is False and theirs[tree["conv"].pk] is True


@pytest.mark.django_db
def test_a_restricted_arbitrator_keeps_the_branch_of_their_root_when_it_is_moved(team, tree):
    """An arbitrator restricted to a root decides items labelled in that branch, wherever it goes."""
    from taxonomy.review.arbitration.services import arbitrator_roots_set

    a = assignments(team)
    label(a[0], tree["quant"])
    arbitrator_roots_set(study=team.study, user=team.arbitrator, roots=[tree["server"]])
    item = a[0].item
    assert arbitrator_may_decide(item=item, user=team.arbitrator)
    services.category_move(category=tree["server"], parent=tree["mobile"], actor=team.owner)
    assert arbitrator_may_decide(item=item, user=team.arbitrator)
    arbitrator_roots_set(study=team.study, user=team.arbitrator, roots=[tree["browser"]])
    assert not arbitrator_may_decide(item=item, user=team.arbitrator)
