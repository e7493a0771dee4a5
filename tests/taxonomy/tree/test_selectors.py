"""The tree with its counts (blind for raters), category_get, search and history filtering."""

import pytest
from django.http import Http404

from taxonomy.labelling import selectors as labelling_selectors
from taxonomy.tree import selectors, services
from tests.factories import StudyFactory

from .conftest import assignments, label

pytestmark = pytest.mark.django_db


def test_tree_nests_and_counts_subtrees(team, tree):
    a = assignments(team)
    label(a[0], tree["quant"])
    label(a[1], tree["quant"])
    label(a[2], tree["conv"])
    label(a[3], tree["mobile"])
    built = selectors.taxonomy_tree(study=team.study, user=team.owner)
    assert [n.category.name for n in built.roots] == ["Server/Cloud", "Mobile", "Browser"]
    server = built.roots[0]
    assert [c.category.name for c in server.children] == ["Model Export"]
    export = server.children[0]
    assert [(c.category.name, c.label_count, c.is_leaf) for c in export.children] == [
        ("Model quantization", 2, True), ("Model conversion", 1, True)]
    assert (export.label_count, export.subtree_count, export.is_leaf) == (0, 3, False)
    assert server.subtree_count == 3 and built.roots[1].subtree_count == 1
    assert built.by_id[tree["conv"].pk].path == "Server/Cloud › Model Export › Model conversion"


def test_a_rater_counts_only_the_labels_they_may_see(team, tree):
    ana, bo = team.raters
    shared = [x for x in assignments(team, ana) if x.item_id in {y.item_id for y in assignments(team, bo)}]
    assert shared, "the factory gives every item to both raters"
    label(shared[0], tree["quant"])  # ana's label
    bo_same_item = next(x for x in assignments(team, bo) if x.item_id == shared[0].item_id)
    label(bo_same_item, tree["quant"])  # bo's label on the same item
    as_ana = selectors.taxonomy_tree(study=team.study, user=ana).by_id[tree["quant"].pk]
    as_owner = selectors.taxonomy_tree(study=team.study, user=team.owner).by_id[tree["quant"].pk]
    assert as_ana.label_count == 1 and as_owner.label_count == 2
    visible = list(labelling_selectors.category_labels_visible(category=tree["quant"], user=ana))
    assert [use.label.assignment.rater for use in visible] == [ana]


def test_proposals_are_seen_by_their_proposer_owners_and_arbitrators_only(team, tree):
    ana, bo = team.raters
    proposal = services.category_add(study=team.study, name="Cold start", parent=tree["server"], actor=ana,
                                     proposed=True)
    for user, sees in ((ana, True), (team.owner, True), (team.arbitrator, True), (bo, False),
                       (team.viewer, False)):
        built = selectors.taxonomy_tree(study=team.study, user=user)
        assert (proposal.pk in built.by_id) is sees, user
        hits = [h.id for h in selectors.category_search(study=team.study, user=user, q="cold")]
        assert (hits == [proposal.pk]) is sees, user
        changes = selectors.category_change_list(study=team.study, user=user)
        assert changes.filter(category=proposal).exists() is sees, user
    with pytest.raises(Http404):
        selectors.category_get(study=team.study, category_id=proposal.pk, user=bo)
    assert selectors.category_get(study=team.study, category_id=proposal.pk, user=ana) == proposal


def test_category_get_404s_for_other_studies_and_garbage(team, tree):
    foreign = services.category_add(study=StudyFactory(), name="Other", actor=team.owner)
    for value in (foreign.pk, 10**9, "abc", None):
        with pytest.raises(Http404):
            selectors.category_get(study=team.study, category_id=value, user=team.owner)


def test_search_matches_name_and_path_leaves_only_best_first(team, tree):
    def names(q, **kw):
        return [h.name for h in selectors.category_search(study=team.study, user=team.owner, q=q, **kw)]

    assert names("model") == ["Model conversion", "Model quantization"]  # "Model Export" is inner
    assert names("model", leaves_only=False) == ["Model Export", "Model conversion", "Model quantization"]
    assert names("SERVER quant") == ["Model quantization"]  # words may come from the path
    assert names("export") == ["Model conversion", "Model quantization"]
    assert names("") == ["Browser", "Mobile", "Model conversion", "Model quantization"]
    assert names("nothing like it") == []
    hit = selectors.category_search(study=team.study, user=team.owner, q="quantization")[0]
    assert hit.path == "Server/Cloud › Model Export › Model quantization" and hit.is_leaf
    services.category_retire(category=tree["browser"], actor=team.owner)
    assert "Browser" not in names("")


def test_history_diffs_show_names_for_parents(team, tree):
    services.category_move(category=tree["quant"], parent=tree["mobile"], actor=team.owner)
    change = selectors.category_change_list(study=team.study, category=tree["quant"]).first()
    diffs = selectors.change_field_diffs(changes=[change])[change.pk]
    assert any(d.field == "parent" and (d.before, d.after) == ("Model Export", "Mobile") for d in diffs)
