"""Codes on pilot items: written once per study (any case), reused, renamed (merging), grouped."""

import threading

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection

from taxonomy.coding.models import Code, CodeUse
from taxonomy.coding.services import (
    code_rename, code_ungroup, code_use_add, code_use_remove, codes_group, codes_group_new_category,
)
from taxonomy.tree.models import Category, CategoryChange, CategoryStatus
from taxonomy.tree.services import category_add
from tests.factories import StudyFactory, labelling_draw

pytestmark = pytest.mark.django_db


def test_a_new_code_is_created_and_reused_whatever_its_case(pilot):
    first = code_use_add(item=pilot.items[0], author=pilot.ana, text="Wrong input shape at serving time")
    second = code_use_add(item=pilot.items[1], author=pilot.bo, text="wrong INPUT shape at serving time")
    assert first.code_id == second.code_id
    code = Code.objects.get()
    assert code.text == "Wrong input shape at serving time"  # the first spelling stays
    assert code.study == pilot.study and code.created_by == pilot.ana
    assert list(CodeUse.objects.order_by("id").values_list("item_id", "author__username")) == [
        (pilot.items[0].pk, "ana"), (pilot.items[1].pk, "bo")]


def test_whitespace_is_trimmed_and_collapsed(pilot):
    use = code_use_add(item=pilot.items[0], author=pilot.ana, text="  model   too\tlarge \n")
    assert use.code.text == "model too large"
    again = code_use_add(item=pilot.items[1], author=pilot.ana, text="model too large")
    assert again.code_id == use.code_id


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_an_empty_code_is_refused(pilot, text):
    with pytest.raises(ValidationError, match="cannot be empty"):
        code_use_add(item=pilot.items[0], author=pilot.ana, text=text)
    assert not Code.objects.exists()


def test_a_code_has_at_most_200_characters(pilot):
    with pytest.raises(ValidationError, match="at most 200 characters \\(201 given\\)"):
        code_use_add(item=pilot.items[0], author=pilot.ana, text="x" * 201)
    assert code_use_add(item=pilot.items[0], author=pilot.ana, text="y" * 200).code.text == "y" * 200


def test_the_same_code_twice_on_an_item_is_a_no_op(pilot):
    first = code_use_add(item=pilot.items[0], author=pilot.ana, text="GPU out of memory")
    again = code_use_add(item=pilot.items[0], author=pilot.bo, text="gpu out of memory ")
    assert again.pk == first.pk and again.author == pilot.ana  # the first author keeps it
    assert CodeUse.objects.count() == 1 and Code.objects.count() == 1


def test_codes_on_reliability_items_are_refused(pilot):
    with pytest.raises(ValidationError, match="pilot items only: this is a reliability item"):
        code_use_add(item=pilot.reliability[0], author=pilot.ana, text="anything")
    assert not Code.objects.exists()


def test_the_same_text_in_two_studies_is_two_codes(pilot):
    other = StudyFactory()
    other_draw = labelling_draw(study=other, raters=[pilot.ana], pilot=1, reliability=0, per_item=1,
                                first_so_id=1)
    a = code_use_add(item=pilot.items[0], author=pilot.ana, text="serving latency")
    b = code_use_add(item=other_draw.items.get(), author=pilot.ana, text="Serving latency")
    assert a.code_id != b.code_id and b.code.study == other


# -- removing --------------------------------------------------------------------------


def test_the_author_removes_their_code_and_an_unused_ungrouped_code_goes(pilot):
    use = code_use_add(item=pilot.items[0], author=pilot.ana, text="typo cdoe")
    code_use_remove(use=use, actor=pilot.ana)
    assert not CodeUse.objects.exists() and not Code.objects.exists()


def test_a_rater_cannot_remove_another_raters_code_but_an_owner_can(pilot):
    use = code_use_add(item=pilot.items[0], author=pilot.ana, text="model export")
    code_use_add(item=pilot.items[1], author=pilot.ana, text="model export")
    with pytest.raises(PermissionDenied):
        code_use_remove(use=use, actor=pilot.bo)
    assert CodeUse.objects.count() == 2
    code_use_remove(use=use, actor=pilot.owner)
    assert list(CodeUse.objects.values_list("item_id", flat=True)) == [pilot.items[1].pk]
    assert Code.objects.filter(text="model export").exists()  # still on another item


def test_a_grouped_code_stays_when_its_last_use_goes(pilot):
    use = code_use_add(item=pilot.items[0], author=pilot.ana, text="quantization")
    codes_group_new_category(codes=[use.code], name="Model export", parent=None, actor=pilot.ana)
    code_use_remove(use=use, actor=pilot.ana)
    assert Code.objects.get().category.name == "Model export"


# -- renaming ------------------------------------------------------------------------------


def test_rename_changes_the_text(pilot):
    code = code_use_add(item=pilot.items[0], author=pilot.ana, text="slow serving").code
    assert code_rename(code=code, text=" Slow  serving on CPU ", actor=pilot.bo).pk == code.pk
    assert Code.objects.get().text == "Slow serving on CPU"
    assert code_rename(code=code, text="slow SERVING on cpu", actor=pilot.bo).text == "slow SERVING on cpu"


def test_rename_onto_an_existing_code_merges_and_keeps_every_use(pilot):
    a = code_use_add(item=pilot.items[0], author=pilot.ana, text="oom on gpu").code
    code_use_add(item=pilot.items[1], author=pilot.ana, text="oom on gpu")
    b = code_use_add(item=pilot.items[1], author=pilot.bo, text="GPU out of memory").code
    code_use_add(item=pilot.items[2], author=pilot.bo, text="GPU out of memory")
    category = category_add(study=pilot.study, name="Resources", actor=pilot.owner)
    codes_group(codes=[a], category=category, actor=pilot.owner)

    survivor = code_rename(code=a, text="gpu out of memory", actor=pilot.owner)

    assert survivor.pk == b.pk and survivor.text == "GPU out of memory"
    assert not Code.objects.filter(pk=a.pk).exists()
    assert sorted(CodeUse.objects.filter(code=b).values_list("item_id", flat=True)) == sorted(
        i.pk for i in pilot.items)
    assert CodeUse.objects.count() == 3  # item 1 had both: one use left there
    assert Code.objects.get(pk=b.pk).category == category  # the survivor had none: it takes the merged one's


def test_rename_to_empty_is_refused(pilot):
    code = code_use_add(item=pilot.items[0], author=pilot.ana, text="keep me").code
    with pytest.raises(ValidationError, match="cannot be empty"):
        code_rename(code=code, text="  ", actor=pilot.ana)
    assert Code.objects.get().text == "keep me"


# -- grouping ------------------------------------------------------------------------------


def test_grouping_codes_into_a_new_category(pilot):
    a = code_use_add(item=pilot.items[0], author=pilot.ana, text="tflite conversion fails").code
    b = code_use_add(item=pilot.items[1], author=pilot.bo, text="unsupported op in coreml").code
    root = category_add(study=pilot.study, name="Mobile", actor=pilot.owner)
    category_add(study=pilot.study, name="Deployment", parent=root, actor=pilot.owner)

    category = codes_group_new_category(codes=[a, b], name=" Model conversion ", parent=root, actor=pilot.ana)

    assert category.name == "Model conversion" and category.parent == root and category.study == pilot.study
    assert set(Code.objects.filter(category=category).values_list("pk", flat=True)) == {a.pk, b.pk}
    # a rater's category awaits approval, and the pilot is joint: everyone sees it
    assert category.status == "proposed" and category.joint and category.proposed_by == pilot.ana
    assert CategoryChange.objects.filter(category=category, action="propose", actor=pilot.ana).exists()
    owners = codes_group_new_category(codes=[a], name="Model size", parent=root, actor=pilot.owner)
    assert owners.status == "active" and owners.proposed_by is None


def test_grouping_under_a_leaf_while_a_round_runs_is_refused_without_counting(pilot):
    """ana rates in the running round: whether or not bo labelled the leaf, the answer is the same."""
    a = code_use_add(item=pilot.items[0], author=pilot.ana, text="a").code
    leaf = category_add(study=pilot.study, name="Mobile", actor=pilot.owner)
    with pytest.raises(ValidationError) as refused:
        codes_group_new_category(codes=[a], name="Conversion", parent=leaf, actor=pilot.ana)
    assert "is a leaf" in str(refused.value) and not any(ch.isdigit() for ch in str(refused.value))


def test_grouping_into_an_existing_category_moves_codes_out_of_their_old_one(pilot):
    a = code_use_add(item=pilot.items[0], author=pilot.ana, text="a").code
    b = code_use_add(item=pilot.items[1], author=pilot.ana, text="b").code
    first = category_add(study=pilot.study, name="First", actor=pilot.owner)
    second = category_add(study=pilot.study, name="Second", actor=pilot.owner)
    codes_group(codes=[a], category=first, actor=pilot.ana)
    assert codes_group(codes=[a, b], category=second, actor=pilot.ana) == 2
    assert set(Code.objects.values_list("category__name", flat=True)) == {"Second"}
    code_ungroup(code=a, actor=pilot.ana)
    assert Code.objects.get(pk=a.pk).category is None


def test_grouping_refuses_no_codes_a_retired_category_and_another_studys_codes(pilot):
    code = code_use_add(item=pilot.items[0], author=pilot.ana, text="a").code
    category = category_add(study=pilot.study, name="Live", actor=pilot.owner)
    with pytest.raises(ValidationError, match="Select at least one code"):
        codes_group(codes=[], category=category, actor=pilot.ana)
    with pytest.raises(ValidationError, match="Select at least one code"):
        codes_group_new_category(codes=[], name="X", parent=None, actor=pilot.ana)
    retired = category_add(study=pilot.study, name="Old", actor=pilot.owner)
    Category.objects.filter(pk=retired.pk).update(status=CategoryStatus.RETIRED)
    retired.refresh_from_db()
    with pytest.raises(ValidationError, match="retired"):
        codes_group(codes=[code], category=retired, actor=pilot.ana)
    elsewhere = category_add(study=StudyFactory(), name="Elsewhere", actor=pilot.owner)
    with pytest.raises(ValidationError, match="category's study"):
        codes_group(codes=[code], category=elsewhere, actor=pilot.ana)
    assert Code.objects.get().category is None


def test_a_new_category_with_a_taken_name_groups_nothing(pilot):
    code = code_use_add(item=pilot.items[0], author=pilot.ana, text="a").code
    category_add(study=pilot.study, name="Serving", actor=pilot.owner)
    with pytest.raises(ValidationError, match="already exists"):
        codes_group_new_category(codes=[code], name="serving", parent=None, actor=pilot.ana)
    assert Code.objects.get().category is None and Category.objects.count() == 1


# -- races ------------------------------------------------------------------------------------


def _at_once(*calls):
    """Run the calls in threads released together; returns their results or exceptions."""
    barrier, results = threading.Barrier(len(calls)), [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait()
            results[index] = call()
        except Exception as exc:  # noqa: BLE001 - returned to the test
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


@pytest.mark.django_db(transaction=True)
def test_two_raters_typing_the_same_new_code_at_once_get_one_code(pilot):
    for _ in range(3):
        CodeUse.objects.all().delete()
        Code.objects.all().delete()
        results = _at_once(
            lambda: code_use_add(item=pilot.items[0], author=pilot.ana, text="Serving timeout"),
            lambda: code_use_add(item=pilot.items[1], author=pilot.bo, text="serving TIMEOUT"),
            lambda: code_use_add(item=pilot.items[1], author=pilot.ana, text="serving timeout"),
        )
        assert not [r for r in results if isinstance(r, Exception)], results
        assert Code.objects.count() == 1
        assert sorted(CodeUse.objects.values_list("item_id", flat=True)) == [pilot.items[0].pk, pilot.items[1].pk]


@pytest.mark.django_db(transaction=True)
def test_two_renames_onto_the_same_new_text_merge_instead_of_failing(pilot):
    a = code_use_add(item=pilot.items[0], author=pilot.ana, text="a").code
    b = code_use_add(item=pilot.items[1], author=pilot.bo, text="b").code
    results = _at_once(
        lambda: code_rename(code=a, text="Same text", actor=pilot.ana),
        lambda: code_rename(code=b, text="same TEXT", actor=pilot.bo),
    )
    assert not [r for r in results if isinstance(r, Exception)], results
    code = Code.objects.get()
    assert code.text.lower() == "same text"
    assert CodeUse.objects.filter(code=code).count() == 2


def test_a_private_proposal_holds_no_pilot_codes(pilot):
    """The pilot is joint: a code in a private proposal would show its name to everyone."""
    from taxonomy.labelling.services import label_category_propose

    root = category_add(study=pilot.study, name="Mobile", actor=pilot.owner)
    category_add(study=pilot.study, name="Conversion", parent=root, actor=pilot.owner)
    private = label_category_propose(study=pilot.study, rater=pilot.ana, name="Edge TPU", parent_id=root.pk)
    a = code_use_add(item=pilot.items[0], author=pilot.ana, text="a").code
    with pytest.raises(ValidationError, match="private proposal"):
        codes_group(codes=[a], category=private, actor=pilot.ana)
    assert Code.objects.get(pk=a.pk).category is None
