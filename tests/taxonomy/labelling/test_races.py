"""Races, on PostgreSQL (SQLite serialises writers and has no row locks): one rater
submitting from two tabs at once, and two raters labelling the same item at once."""

import threading

import pytest
from django.db import connection

from taxonomy.labelling.models import Label, LabelCategory
from taxonomy.labelling.services import label_submit

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("row locks (select_for_update) need PostgreSQL")


def _at_once(calls):
    barrier, errors = threading.Barrier(len(calls)), []

    def run(fn):
        try:
            barrier.wait()
            fn()
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(fn,)) for fn in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def test_one_rater_two_tabs_one_row_last_wins(rnd):
    a = rnd.assignment(rnd.ana)
    serving, quant = rnd.cats["serving"].pk, rnd.cats["quant"].pk
    for _ in range(5):
        errors = _at_once([
            lambda: label_submit(assignment=a, rater=rnd.ana, kind="categories", category_ids=[serving], note="tab 1"),
            lambda: label_submit(assignment=a, rater=rnd.ana, kind="categories", category_ids=[quant], note="tab 2"),
        ])
        assert errors == []
    label = Label.objects.get(assignment=a)
    assert Label.objects.filter(assignment=a).count() == 1 and label.revision == 10
    chosen = list(LabelCategory.objects.filter(label=label).values_list("category_id", flat=True))
    # whichever came last: its note and its categories, never a mix of the two tabs
    assert (label.note, chosen) in (("tab 1", [serving]), ("tab 2", [quant]))


def test_two_raters_same_item_same_moment_both_kept(rnd):
    a, b = rnd.assignment(rnd.ana), rnd.assignment(rnd.bo)
    assert a.item_id == b.item_id
    serving = rnd.cats["serving"].pk
    errors = _at_once([
        lambda: label_submit(assignment=a, rater=rnd.ana, kind="categories", category_ids=[serving], note="A"),
        lambda: label_submit(assignment=b, rater=rnd.bo, kind="categories", category_ids=[serving], note="B"),
    ])
    assert errors == []
    assert sorted(Label.objects.filter(assignment__item_id=a.item_id).values_list("note", flat=True)) == ["A", "B"]
    assert LabelCategory.objects.filter(category_id=serving).count() == 2


def test_tally_counts_each_item_once_under_concurrent_submissions(rnd):
    """Two tabs on the same new item count it once; two items at once count both."""
    from taxonomy.labelling.models import RaterTally

    first, second, third = (rnd.assignment(rnd.ana, i) for i in range(3))
    errors = _at_once([
        lambda: label_submit(assignment=first, rater=rnd.ana, kind="pending"),
        lambda: label_submit(assignment=first, rater=rnd.ana, kind="unclear"),
    ])
    assert errors == []
    assert RaterTally.objects.get(draw=rnd.draw, rater=rnd.ana).submitted == 1
    errors = _at_once([
        lambda: label_submit(assignment=second, rater=rnd.ana, kind="pending"),
        lambda: label_submit(assignment=third, rater=rnd.ana, kind="unclear"),
    ])
    assert errors == []
    assert RaterTally.objects.get(draw=rnd.draw, rater=rnd.ana).submitted == 3


def test_label_racing_a_merge_never_names_the_retired_category(rnd):
    """A submission naming a category while an owner merges it away: either the label
    is saved first and the merge moves it, or the merge is first and the submission is
    refused with the merge named. Never a label left on the retired category."""
    from django.core.exceptions import ValidationError

    from taxonomy.tree.models import Category, CategoryStatus
    from taxonomy.tree.services import category_add, category_merge

    for i in range(3):
        source = category_add(study=rnd.study, name=f"Source {i}", actor=rnd.owner, parent=rnd.cats["server"])
        target = category_add(study=rnd.study, name=f"Target {i}", actor=rnd.owner, parent=rnd.cats["server"])
        a = rnd.assignment(rnd.ana, i)
        outcomes = []

        def submit(a=a, source=source):
            try:
                label_submit(assignment=a, rater=rnd.ana, kind="categories", category_ids=[source.pk])
            except ValidationError as exc:
                outcomes.append(exc)

        errors = _at_once([
            submit,
            lambda source=source, target=target: category_merge(
                source=Category.objects.get(pk=source.pk), target=Category.objects.get(pk=target.pk),
                actor=rnd.owner),
        ])
        assert errors == []
        assert Category.objects.get(pk=source.pk).status == CategoryStatus.RETIRED
        assert not LabelCategory.objects.filter(category_id=source.pk).exists()
        if outcomes:
            assert f"“Source {i}” was merged into “Target {i}”" in outcomes[0].messages[0]
            assert not Label.objects.filter(assignment=a).exists()
        else:
            assert list(LabelCategory.objects.filter(label__assignment=a).values_list("category_id", flat=True)) \
                == [target.pk]


def _holding(fn, *, ready: threading.Event, release: threading.Event, errors: list):
    """Run ``fn`` in a transaction of this thread's own connection and keep it open (its row
    locks held) until ``release`` is set."""
    from django.db import transaction

    def run():
        try:
            with transaction.atomic():
                fn()
                ready.set()
                release.wait(10)
        except Exception as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)
            ready.set()
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def _with_lock_timeout(fn):
    """``fn`` in a transaction that gives up on any row lock after 300 ms (instead of waiting)."""
    from django.db import transaction

    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL lock_timeout = '300ms'")
        return fn()


def test_raters_choosing_the_same_category_do_not_wait_for_each_other_but_a_merge_waits(rnd):
    """The chosen category is share-locked: a second rater's label on it goes through while the
    first rater's transaction is still open, and a merge of that category waits for both."""
    from django.db.utils import OperationalError

    from taxonomy.tree.models import Category, CategoryStatus
    from taxonomy.tree.services import category_merge

    serving, quant = rnd.cats["serving"], rnd.cats["quant"]
    first, second = rnd.assignment(rnd.ana), rnd.assignment(rnd.bo, 1)
    ready, release, errors = threading.Event(), threading.Event(), []
    holder = _holding(lambda: label_submit(assignment=first, rater=rnd.ana, kind="categories",
                                           category_ids=[serving.pk], note="held"),
                      ready=ready, release=release, errors=errors)
    try:
        assert ready.wait(10) and errors == []
        # Not queued behind the open transaction (it would time out on the lock).
        _with_lock_timeout(lambda: label_submit(assignment=second, rater=rnd.bo, kind="categories",
                                                category_ids=[serving.pk], note="alongside"))
        # A merge of the category must wait for the label that names it.
        with pytest.raises(OperationalError, match="lock timeout"):
            _with_lock_timeout(lambda: category_merge(source=Category.objects.get(pk=serving.pk),
                                                      target=Category.objects.get(pk=quant.pk), actor=rnd.owner))
    finally:
        release.set()
        holder.join()
    assert errors == []
    # Once the label is committed the merge goes through and moves both labels.
    category_merge(source=Category.objects.get(pk=serving.pk), target=Category.objects.get(pk=quant.pk),
                   actor=rnd.owner)
    assert Category.objects.get(pk=serving.pk).status == CategoryStatus.RETIRED
    assert sorted(LabelCategory.objects.filter(category_id=quant.pk).values_list("label__note", flat=True)) \
        == ["alongside", "held"]


def test_share_lock_needs_a_transaction(db):
    """Outside a transaction a share lock would end with its own statement: refused, loudly."""
    from django.db.transaction import TransactionManagementError

    from annotator.prepared import Prepared
    from taxonomy.tree.models import Category

    locked = Prepared(lambda *, study_id: Category.objects.filter(study_id=study_id).order_by("pk").values("id"),
                      share_lock=True, study_id=int)
    with pytest.raises(TransactionManagementError):
        locked.rows(study_id=1)
