"""Arbitration start (agreed items finalised), decisions, races and Pending → new category."""

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone

from sampling.draws.models import Assignment
from taxonomy.labelling.models import Label, LabelCategory
from taxonomy.review.arbitration.models import FinalLabel, FinalMethod, PendingCategory
from taxonomy.review.arbitration.selectors import (
    arbitration_queue,
    item_rater_labels,
    pending_categories_count,
    pending_queue,
    queue_counts,
)
from taxonomy.review.arbitration.services import (
    arbitration_decide,
    arbitration_start,
    arbitrator_roots_set,
    pending_relabel,
    pending_resolve,
)
from taxonomy.tree.services import category_add
from tests.factories import (
    MembershipFactory,
    StudyFactory,
    UserFactory,
    assignment_mark_submitted,
    labelling_draw,
)


def label(assignment, kind="categories", categories=(), note=""):
    now = timezone.now()
    made = Label.objects.create(assignment=assignment, kind=kind, note=note, submitted_at=now, updated_at=now)
    LabelCategory.objects.bulk_create(LabelCategory(label=made, category=c) for c in categories)
    assignment_mark_submitted(assignment, now)
    return made


@pytest.fixture
def setting():
    """Two raters on four reliability items: agree, disagree, one says Pending, agree on False positive."""
    study = StudyFactory()
    r1, r2, arbitrator = UserFactory(username="ann"), UserFactory(username="bob"), UserFactory(username="arb")
    for user in (r1, r2):
        MembershipFactory(study=study, user=user, is_rater=True)
    MembershipFactory(study=study, user=arbitrator, is_arbitrator=True)
    draw = labelling_draw(study=study, raters=[r1, r2], pilot=1, reliability=4, per_item=2)
    server = category_add(study=study, name="Server", actor=arbitrator)
    mobile = category_add(study=study, name="Mobile", actor=arbitrator)
    gpu = category_add(study=study, name="GPU memory", actor=arbitrator, parent=server)
    export = category_add(study=study, name="Export", actor=arbitrator, parent=server)
    apk = category_add(study=study, name="App size", actor=arbitrator, parent=mobile)
    items = list(draw.items.filter(part="reliability").order_by("pk"))

    def mine(item, rater):
        return Assignment.objects.get(item=item, rater=rater)

    label(mine(items[0], r1), categories=[gpu, export])
    label(mine(items[0], r2), categories=[export, gpu])
    label(mine(items[1], r1), categories=[gpu], note="memory <b>leak</b>")
    label(mine(items[1], r2), categories=[apk])
    label(mine(items[2], r1), kind="pending")
    label(mine(items[2], r2), categories=[export])
    label(mine(items[3], r1), kind="false_positive")
    label(mine(items[3], r2), kind="false_positive")
    return dict(study=study, draw=draw, r1=r1, r2=r2, arbitrator=arbitrator, items=items, server=server,
                mobile=mobile, gpu=gpu, export=export, apk=apk)


@pytest.mark.django_db
def test_start_finalises_agreed_items_and_queues_the_rest(setting):
    s = setting
    started = arbitration_start(draw=s["draw"], user=s["arbitrator"])
    assert (started.agreed, started.to_arbitrate, started.pending, started.incomplete) == (2, 1, 1, 0)
    agreed = FinalLabel.objects.get(item=s["items"][0])
    assert agreed.method == FinalMethod.AGREED and agreed.decided_by is None
    assert {c.category_id for c in agreed.categories.all()} == {s["gpu"].pk, s["export"].pk}
    assert FinalLabel.objects.get(item=s["items"][3]).kind == "false_positive"
    assert list(arbitration_queue(study=s["study"])) == [s["items"][1]]
    assert list(pending_queue(study=s["study"])) == [s["items"][2]]
    [count] = queue_counts(study=s["study"])
    assert (count.arbitration, count.pending) == (1, 1)
    with pytest.raises(ValidationError, match="already started"):
        arbitration_start(draw=s["draw"], user=s["arbitrator"])


def _final_labels_counted_by_planner() -> int | None:
    """The planner's row count of the final labels table (None: never analysed)."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT stat FROM sqlite_stat1 WHERE tbl = %s AND idx IS NULL OR tbl = %s "
                           "ORDER BY idx IS NULL DESC", [FinalLabel._meta.db_table, FinalLabel._meta.db_table])
            row = cursor.fetchone()
            return int(row[0].split()[0]) if row else None
        cursor.execute("SELECT reltuples FROM pg_class WHERE relname = %s", [FinalLabel._meta.db_table])
        tuples = cursor.fetchone()[0]
        return None if tuples < 0 else int(tuples)


@pytest.mark.django_db
def test_start_tells_the_planner_how_many_final_labels_there_are(setting):
    # Without statistics, SQLite read a study's final labels by probing every item of the study.
    arbitration_start(draw=setting["draw"], user=setting["arbitrator"])
    assert _final_labels_counted_by_planner() == FinalLabel.objects.count() == 2


@pytest.mark.django_db
def test_start_waits_for_missing_labels_unless_told(setting):
    s = setting
    Label.objects.filter(assignment__item=s["items"][1], assignment__rater=s["r2"]).delete()
    with pytest.raises(ValidationError, match="1 assignment is not labelled"):
        arbitration_start(draw=s["draw"], user=s["arbitrator"])
    s["draw"].refresh_from_db()
    assert s["draw"].arbitration_started_at is None
    started = arbitration_start(draw=s["draw"], user=s["arbitrator"], allow_incomplete=True)
    assert started.incomplete == 1
    assert s["items"][1] not in arbitration_queue(study=s["study"])


@pytest.mark.django_db
def test_rater_labels_are_shown_side_by_side_only_after_the_start(setting):
    s = setting
    assert item_rater_labels(item=s["items"][1]) == []
    arbitration_start(draw=s["draw"], user=s["arbitrator"])
    s["items"][1].draw.refresh_from_db()
    shown = item_rater_labels(item=s["items"][1])
    assert [(r.rater, [c.name for c in r.categories], r.note) for r in shown] == [
        ("ann", ["GPU memory"], "memory <b>leak</b>"), ("bob", ["App size"], "")]


@pytest.mark.django_db
def test_decide_records_who_why_and_refuses_a_second_decision(setting):
    s = setting
    arbitration_start(draw=s["draw"], user=s["arbitrator"])
    item = s["items"][1]
    with pytest.raises(ValidationError, match="reason"):
        arbitration_decide(item=item, arbitrator=s["arbitrator"], kind="categories", category_ids=[s["gpu"].pk],
                           reason="  ")
    with pytest.raises(ValidationError, match="choose a leaf"):
        arbitration_decide(item=item, arbitrator=s["arbitrator"], kind="categories",
                           category_ids=[s["server"].pk], reason="x")
    with pytest.raises(ValidationError, match="excludes categories"):
        arbitration_decide(item=item, arbitrator=s["arbitrator"], kind="unclear", category_ids=[s["gpu"].pk],
                           reason="x")
    final = arbitration_decide(item=item, arbitrator=s["arbitrator"], kind="categories",
                               category_ids=[s["gpu"].pk], reason="the body is about GPU memory")
    assert (final.method, final.decided_by, final.reason) == (FinalMethod.ARBITRATED, s["arbitrator"],
                                                              "the body is about GPU memory")
    other = UserFactory(username="other-arbitrator")
    with pytest.raises(ValidationError, match="already decided by arb"):
        arbitration_decide(item=item, arbitrator=other, kind="unclear", reason="late")
    assert FinalLabel.objects.filter(item=item).count() == 1
    assert not arbitration_queue(study=s["study"]).exists()


@pytest.mark.django_db
def test_decide_before_the_start_is_refused(setting):
    s = setting
    with pytest.raises(ValidationError, match="has not started"):
        arbitration_decide(item=s["items"][1], arbitrator=s["arbitrator"], kind="unclear", reason="x")


@pytest.mark.django_db
def test_an_arbitrator_restricted_to_a_root_sees_only_its_items(setting):
    s = setting
    arbitration_start(draw=s["draw"], user=s["arbitrator"])
    mobile_only = UserFactory(username="mobile-arb")
    MembershipFactory(study=s["study"], user=mobile_only, is_arbitrator=True)
    arbitrator_roots_set(study=s["study"], user=mobile_only, roots=[s["mobile"]])
    # item 1 is labelled GPU memory (Server) and App size (Mobile): both arbitrators see it
    assert list(arbitration_queue(study=s["study"], user=mobile_only)) == [s["items"][1]]
    arbitrator_roots_set(study=s["study"], user=mobile_only, roots=[s["server"]])
    assert list(arbitration_queue(study=s["study"], user=mobile_only)) == [s["items"][1]]
    LabelCategory.objects.filter(category=s["gpu"], label__assignment__item=s["items"][1]).update(
        category=s["apk"])
    assert list(arbitration_queue(study=s["study"], user=mobile_only)) == []
    with pytest.raises(ValidationError, match="do not arbitrate"):
        arbitration_decide(item=s["items"][1], arbitrator=mobile_only, kind="unclear", reason="x")
    with pytest.raises(ValidationError, match="not a root"):
        arbitrator_roots_set(study=s["study"], user=mobile_only, roots=[s["gpu"]])


@pytest.mark.django_db
def test_pending_item_becomes_a_new_category_counted_as_from_pending(setting):
    s = setting
    arbitration_start(draw=s["draw"], user=s["arbitrator"])
    item = s["items"][2]
    with pytest.raises(ValidationError, match="definition"):
        pending_resolve(items=[item], arbitrator=s["arbitrator"], reason="new kind of problem",
                        new_name="Cold start", new_parent=s["server"])
    with pytest.raises(ValidationError, match="not marked Pending"):
        pending_resolve(items=[s["items"][1]], arbitrator=s["arbitrator"], reason="x", category=s["gpu"])
    category, finals = pending_resolve(items=[item], arbitrator=s["arbitrator"], reason="new kind of problem",
                                       new_name="Cold start", new_parent=s["server"],
                                       new_definition="The first request after deployment is slow.")
    assert category.parent == s["server"] and category.definition.startswith("The first request")
    assert [f.method for f in finals] == [FinalMethod.FROM_PENDING]
    assert [c.category for c in finals[0].categories.all()] == [category]
    assert pending_categories_count(study=s["study"]) == 1
    assert PendingCategory.objects.get().created_by == s["arbitrator"]
    assert not pending_queue(study=s["study"]).exists()


@pytest.mark.django_db(transaction=True)
def test_two_arbitrators_deciding_at_once_one_decision_stands(setting):
    if connection.vendor != "postgresql":
        pytest.skip("row locks: PostgreSQL only (SQLite serialises writers)")
    s = setting
    arbitration_start(draw=s["draw"], user=s["arbitrator"])
    other = UserFactory(username="second")
    MembershipFactory(study=s["study"], user=other, is_arbitrator=True)
    barrier = threading.Barrier(2)
    outcomes = []

    def decide(user, kind):
        try:
            barrier.wait()
            arbitration_decide(item=s["items"][1], arbitrator=user, kind=kind, reason=f"{user.username} says")
            outcomes.append("won")
        except ValidationError as exc:
            outcomes.append(" ".join(exc.messages))
        finally:
            connection.close()

    threads = [threading.Thread(target=decide, args=(u, k)) for u, k in ((s["arbitrator"], "unclear"),
                                                                        (other, "false_positive"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes, key=len)[0] == "won"
    assert "already decided by" in sorted(outcomes, key=len)[1]
    assert FinalLabel.objects.filter(item=s["items"][1]).count() == 1


@pytest.mark.django_db
def test_arbitration_closes_the_round_and_lifts_blindness(setting):
    from taxonomy.labelling.selectors import assignment_next
    from taxonomy.labelling.services import label_submit
    from taxonomy.labelling.visibility import label_list_visible

    s = setting
    other_item = s["items"][1]
    theirs = Label.objects.get(assignment__item=other_item, assignment__rater=s["r2"])
    assert theirs not in label_list_visible(study=s["study"], user=s["r1"])
    Label.objects.filter(assignment__rater=s["r1"], assignment__item=s["items"][3]).delete()
    Assignment.objects.filter(rater=s["r1"], item=s["items"][3]).update(submitted_at=None)
    assert assignment_next(study=s["study"], user=s["r1"]).item == s["items"][3]

    arbitration_start(draw=s["draw"], user=s["arbitrator"], allow_incomplete=True)
    assert theirs in label_list_visible(study=s["study"], user=s["r1"])
    assert assignment_next(study=s["study"], user=s["r1"]) is None  # nothing more to label
    with pytest.raises(ValidationError):
        label_submit(assignment=Assignment.objects.get(item=other_item, rater=s["r1"]), rater=s["r1"],
                     kind="unclear")
    assert Label.objects.get(assignment__item=other_item, assignment__rater=s["r1"]).kind == "categories"


@pytest.mark.django_db
def test_pending_items_relabelled_against_a_new_category_then_settle(setting):
    from taxonomy.labelling.selectors import assignment_next, label_editable
    from taxonomy.labelling.services import label_submit
    from taxonomy.review.arbitration.models import RelabelRequest

    s = setting
    arbitration_start(draw=s["draw"], user=s["arbitrator"])
    item = s["items"][2]  # ann: Pending, bob: Export
    category, made = pending_relabel(items=[item], arbitrator=s["arbitrator"], message="try the new one",
                                     new_name="Cold start", new_parent=s["server"], new_definition="slow start")
    assert made == 2 and pending_categories_count(study=s["study"]) == 1
    with pytest.raises(ValidationError, match="being labelled again"):  # asked once, not twice
        pending_relabel(items=[item], arbitrator=s["arbitrator"], category=category)
    # out of both queues while the raters work; back in their own queues, editable again
    assert not pending_queue(study=s["study"]).exists() and item not in arbitration_queue(study=s["study"])
    ann_assignment = Assignment.objects.get(item=item, rater=s["r1"])
    assert assignment_next(study=s["study"], user=s["r1"]) == ann_assignment
    assert label_editable(Assignment.objects.select_related("draw").get(pk=ann_assignment.pk))
    label_submit(assignment=ann_assignment, rater=s["r1"], kind="categories", category_ids=[category.pk])
    assert not FinalLabel.objects.filter(item=item).exists()  # bob has not answered yet
    assert not label_editable(Assignment.objects.select_related("draw").get(pk=ann_assignment.pk))
    bob_assignment = Assignment.objects.get(item=item, rater=s["r2"])
    label_submit(assignment=bob_assignment, rater=s["r2"], kind="categories", category_ids=[category.pk])
    final = FinalLabel.objects.get(item=item)
    assert (final.method, [c.category for c in final.categories.all()]) == ("agreed", [category])
    assert not RelabelRequest.objects.filter(done_at__isnull=True).exists()


@pytest.mark.django_db
def test_relabelled_items_that_still_disagree_go_to_arbitration(setting):
    from taxonomy.labelling.services import label_submit

    s = setting
    arbitration_start(draw=s["draw"], user=s["arbitrator"])
    item = s["items"][2]
    pending_relabel(items=[item], arbitrator=s["arbitrator"], category=s["gpu"])
    for rater, kind, ids in ((s["r1"], "categories", [s["gpu"].pk]), (s["r2"], "unclear", [])):
        label_submit(assignment=Assignment.objects.get(item=item, rater=rater), rater=rater, kind=kind,
                     category_ids=ids)
    assert not FinalLabel.objects.filter(item=item).exists()
    assert item in arbitration_queue(study=s["study"])
