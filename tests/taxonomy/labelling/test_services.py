"""label_submit: validation, last submission wins, both raters kept, the editable
check, proposals usable by their proposer only, retired / merged categories named."""

import pytest
from django.core.exceptions import ValidationError

from sampling.draws.models import Assignment
from taxonomy.labelling import selectors
from taxonomy.labelling.models import Label, LabelCategory
from taxonomy.labelling.services import label_category_propose, label_submit
from taxonomy.tree.models import Category, CategoryStatus
from taxonomy.tree.services import category_add, category_move

pytestmark = pytest.mark.django_db


def ids(*cats):
    return [c.pk for c in cats]


def test_submit_creates_label_and_marks_the_assignment(rnd):
    a = rnd.assignment(rnd.ana)
    label = label_submit(assignment=a, rater=rnd.ana, kind="categories",
                         category_ids=ids(rnd.cats["serving"], rnd.cats["quant"]), note="  tf-serving 404  ")
    assert label.revision == 1 and label.note == "tf-serving 404" and label.kind == "categories"
    assert set(label.categories.values_list("category_id", flat=True)) == set(ids(rnd.cats["serving"],
                                                                                   rnd.cats["quant"]))
    a.refresh_from_db()
    assert a.submitted_at is not None
    assert selectors.assignment_next(study=rnd.study, user=rnd.ana).item_id != a.item_id


def test_last_submission_wins_in_one_row(rnd):
    a = rnd.assignment(rnd.ana)
    first = label_submit(assignment=a, rater=rnd.ana, kind="categories", category_ids=ids(rnd.cats["serving"]),
                         note="first")
    submitted_at = Assignment.objects.get(pk=a.pk).submitted_at
    second = label_submit(assignment=a, rater=rnd.ana, kind="pending", category_ids=[], note="second")
    assert first.pk == second.pk and Label.objects.filter(assignment=a).count() == 1
    second.refresh_from_db()
    assert (second.kind, second.note, second.revision) == ("pending", "second", 2)
    assert not LabelCategory.objects.filter(label=second).exists()
    assert Assignment.objects.get(pk=a.pk).submitted_at == submitted_at  # first submission time kept


def test_two_raters_on_one_item_are_two_labels(rnd):
    a, b = rnd.assignment(rnd.ana), rnd.assignment(rnd.bo)
    assert a.item_id == b.item_id
    label_submit(assignment=a, rater=rnd.ana, kind="categories", category_ids=ids(rnd.cats["serving"]), note="A")
    label_submit(assignment=b, rater=rnd.bo, kind="unclear", category_ids=[], note="B")
    rows = sorted(Label.objects.filter(assignment__item_id=a.item_id).values_list("assignment__rater__username",
                                                                                  "kind", "note"))
    assert rows == [("ana", "categories", "A"), ("bo", "unclear", "B")]


@pytest.mark.parametrize(("kind", "cats", "field", "message"), [
    ("categories", [], "categories", "Choose at least one category"),
    ("false_positive", ["serving"], "kind", "excludes categories"),
    ("pending", ["quant"], "kind", "excludes categories"),
    ("nonsense", [], "kind", "Choose one of"),
    ("categories", ["server"], "categories", "“Server” has subcategories"),
    ("categories", ["root"], "categories", "“Deployment” has subcategories"),
])
def test_bad_input_is_refused_and_nothing_is_written(rnd, kind, cats, field, message):
    a = rnd.assignment(rnd.ana)
    with pytest.raises(ValidationError) as exc:
        label_submit(assignment=a, rater=rnd.ana, kind=kind, category_ids=[rnd.cats[c].pk for c in cats], note="n")
    assert message in " ".join(exc.value.message_dict[field])
    assert not Label.objects.exists()
    assert Assignment.objects.get(pk=a.pk).submitted_at is None


def test_category_of_another_study_or_unknown_is_refused(rnd):
    from tests.factories import StudyFactory

    other = category_add(study=StudyFactory(), name="Elsewhere", actor=rnd.owner)
    with pytest.raises(ValidationError, match=f"Category #{other.pk} is not a category you can use"):
        label_submit(assignment=rnd.assignment(rnd.ana), rater=rnd.ana, kind="categories", category_ids=[other.pk])
    with pytest.raises(ValidationError, match="Category #999999 is not"):
        label_submit(assignment=rnd.assignment(rnd.ana), rater=rnd.ana, kind="categories", category_ids=[999999])


def test_note_too_long_is_refused(rnd):
    with pytest.raises(ValidationError, match="at most 5,000 characters"):
        label_submit(assignment=rnd.assignment(rnd.ana), rater=rnd.ana, kind="pending", note="x" * 5001)


def test_someone_elses_assignment_is_refused(rnd):
    with pytest.raises(ValidationError, match="not assigned to you"):
        label_submit(assignment=rnd.assignment(rnd.ana), rater=rnd.bo, kind="pending")
    assert not Label.objects.exists()


def test_editable_only_while_the_draw_is_labelling(rnd):
    a = rnd.assignment(rnd.ana)
    label_submit(assignment=a, rater=rnd.ana, kind="pending")
    assert selectors.label_editable(a) is True
    rnd.draw.status = "ready"  # anything but "labelling" closes it (arbitration, issue 6, will be one)
    rnd.draw.save(update_fields=["status"])
    a = Assignment.objects.select_related("draw").get(pk=a.pk)
    assert selectors.label_editable(a) is False
    with pytest.raises(ValidationError, match="Labelling of this draw is closed"):
        label_submit(assignment=a, rater=rnd.ana, kind="unclear")
    assert Label.objects.get(assignment=a).kind == "pending"


def test_retired_category_is_named_and_the_label_unchanged(rnd):
    a = rnd.assignment(rnd.ana)
    label_submit(assignment=a, rater=rnd.ana, kind="categories", category_ids=ids(rnd.cats["quant"]), note="old")
    export = rnd.cats["export"]
    export.status = CategoryStatus.RETIRED
    export.merged_into = rnd.cats["serving"]
    export.save()
    with pytest.raises(ValidationError) as exc:
        label_submit(assignment=a, rater=rnd.ana, kind="categories", category_ids=ids(export, rnd.cats["quant"]),
                     note="new note")
    assert exc.value.message_dict["categories"] == [
        "“Export” was merged into “Serving” while you were labelling: choose again."]
    label = Label.objects.get(assignment=a)
    assert (label.note, label.revision) == ("old", 1)  # nothing half-written
    rnd.cats["quant"].status = CategoryStatus.RETIRED
    rnd.cats["quant"].save()
    with pytest.raises(ValidationError, match="“Quantization” was retired while you were labelling"):
        label_submit(assignment=a, rater=rnd.ana, kind="categories", category_ids=ids(rnd.cats["quant"]))


def test_proposed_category_is_usable_by_its_proposer_only(rnd):
    proposal = label_category_propose(study=rnd.study, rater=rnd.ana, name="Model warm-up",
                                      parent_id=rnd.cats["server"].pk, definition="first request slow")
    assert proposal.status == CategoryStatus.PROPOSED and proposal.proposed_by == rnd.ana
    ana_paths = [c.path for c in selectors.category_choices(study=rnd.study, user=rnd.ana)]
    bo_paths = [c.path for c in selectors.category_choices(study=rnd.study, user=rnd.bo)]
    assert "Deployment › Server › Model warm-up" in ana_paths
    assert not any("warm-up" in p for p in bo_paths)
    label_submit(assignment=rnd.assignment(rnd.ana), rater=rnd.ana, kind="categories", category_ids=[proposal.pk])
    with pytest.raises(ValidationError, match=f"Category #{proposal.pk} is not a category you can use"):
        label_submit(assignment=rnd.assignment(rnd.bo), rater=rnd.bo, kind="categories", category_ids=[proposal.pk])


def test_a_proposal_under_a_leaf_is_refused_the_same_whether_or_not_it_is_labelled(rnd):
    """Labels stay on leaves, and a rater must not learn whether another labelled one."""
    quant = rnd.cats["quant"]
    with pytest.raises(ValidationError) as before:
        label_category_propose(study=rnd.study, rater=rnd.ana, name="Int8", parent_id=quant.pk)
    label_submit(assignment=rnd.assignment(rnd.bo), rater=rnd.bo, kind="categories", category_ids=[quant.pk])
    with pytest.raises(ValidationError) as after:
        label_category_propose(study=rnd.study, rater=rnd.ana, name="Int8", parent_id=quant.pk)
    assert before.value.message_dict == after.value.message_dict
    assert "is a leaf" in str(after.value) and not any(ch.isdigit() for ch in str(after.value))
    assert quant.pk in {c.id for c in selectors.category_choices(study=rnd.study, user=rnd.ana)}


def test_inner_or_leaf_is_decided_by_the_children_this_rater_can_see(rnd):
    """A category is inner for a rater when a child they can see is under it: another rater's
    private proposal or a retired child does not make it so; a chosen child does."""
    mobile, quant = rnd.cats["mobile"], rnd.cats["quant"]
    label_category_propose(study=rnd.study, rater=rnd.bo, name="Edge TPU", parent_id=mobile.pk)
    Category.objects.filter(pk=quant.pk).update(status=CategoryStatus.RETIRED)
    # for ana, Mobile's only children are retired or bo's: a leaf, as the choices show it
    assert mobile.pk in {c.id for c in selectors.category_choices(study=rnd.study, user=rnd.ana)}
    label_submit(assignment=rnd.assignment(rnd.ana), rater=rnd.ana, kind="categories", category_ids=[mobile.pk])
    # for bo, his own proposal is under it
    with pytest.raises(ValidationError, match="“Mobile” has subcategories"):
        label_submit(assignment=rnd.assignment(rnd.bo), rater=rnd.bo, kind="categories", category_ids=[mobile.pk])
    # a parent chosen with its own child: the parent is refused, the child named nowhere
    with pytest.raises(ValidationError) as both:
        label_submit(assignment=rnd.assignment(rnd.ana, 1), rater=rnd.ana, kind="categories",
                     category_ids=ids(rnd.cats["serving"], rnd.cats["server"]))
    assert both.value.message_dict["categories"] == ["“Server” has subcategories: choose one of them."]
    assert Label.objects.filter(assignment__rater=rnd.bo).count() == 0


def test_a_proposal_beside_the_leaves_is_the_proposers_alone(rnd):
    mobile = rnd.cats["mobile"]
    label_category_propose(study=rnd.study, rater=rnd.ana, name="Int8", parent_id=mobile.pk)
    assert "Int8" in {c.name for c in selectors.category_choices(study=rnd.study, user=rnd.ana)}
    assert "Int8" not in {c.name for c in selectors.category_choices(study=rnd.study, user=rnd.bo)}


def test_proposal_needs_a_live_parent_and_a_name(rnd):
    bo_proposal = label_category_propose(study=rnd.study, rater=rnd.bo, name="Edge TPU",
                                         parent_id=rnd.cats["mobile"].pk)
    with pytest.raises(ValidationError, match="live categories"):
        label_category_propose(study=rnd.study, rater=rnd.ana, name="Coral", parent_id=bo_proposal.pk)
    with pytest.raises(ValidationError, match="needs a name"):
        label_category_propose(study=rnd.study, rater=rnd.ana, name="  ", parent_id=rnd.cats["mobile"].pk)


def test_search_matches_every_word_of_the_path(rnd):
    found = selectors.category_choices(study=rnd.study, user=rnd.ana, q="serv exp")
    assert [c.path for c in found] == ["Deployment › Server › Export"]
    assert [c.name for c in selectors.category_choices(study=rnd.study, user=rnd.ana)] == [
        "Serving", "Export", "Quantization"]


def test_choices_follow_every_tree_change(rnd):
    """The choices are kept per tree version: a rename, a proposal, its approval and a
    retirement each show at the next read, for the user they concern."""
    from taxonomy.tree.services import category_approve, category_rename, category_retire

    def paths(user):
        return [c.path for c in selectors.category_choices(study=rnd.study, user=user)]

    assert "Deployment › Server › Serving" in paths(rnd.ana) == paths(rnd.bo)
    category_rename(category=rnd.cats["serving"], name="Model serving", actor=rnd.owner)
    assert "Deployment › Server › Model serving" in paths(rnd.ana)
    proposal = label_category_propose(study=rnd.study, rater=rnd.ana, name="Batching", parent_id=rnd.cats["server"].pk)
    assert "Deployment › Server › Batching" in paths(rnd.ana)
    assert "Deployment › Server › Batching" not in paths(rnd.bo)
    category_approve(category=proposal, actor=rnd.owner)
    assert "Deployment › Server › Batching" in paths(rnd.bo)
    category_retire(category=rnd.cats["export"], actor=rnd.owner)
    assert all("Export" not in p for p in paths(rnd.ana) + paths(rnd.bo))


def test_a_private_proposal_leaves_no_gap_in_the_numbering_others_see(rnd):
    """Positions are shown with the tree: a hidden proposal must not shift them."""
    server = rnd.cats["server"]
    label_category_propose(study=rnd.study, rater=rnd.bo, name="Edge", parent_id=server.pk)
    added = category_add(study=rnd.study, name="Batching", parent=server, actor=rnd.owner)
    visible = Category.objects.filter(parent=server).exclude(status="proposed").order_by("position")
    assert [c.position for c in visible] == [1, 2, 3] and added.position == 3
    category_move(category=added, parent=server, position=1, actor=rnd.owner)
    assert [c.position for c in Category.objects.filter(parent=server).exclude(status="proposed")
            .order_by("position")] == [1, 2, 3]
