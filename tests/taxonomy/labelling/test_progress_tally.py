"""The rater's progress (labelled / assigned: the item page's line, the progress page and
API) is read from their tallies (sampling.RaterTally, one per draw, rater and stratum), kept
by the database as assignments are submitted (labelling 0007's trigger): it must always equal what counting the assignments gives, whatever is
submitted, re-submitted or refused. The tallies are the one source: made when labelling
starts, and by the migration for draws whose labelling started before."""

import importlib
from types import SimpleNamespace

import pytest
from django.core.exceptions import ValidationError

from sampling.draws.models import Assignment
from sampling.draws.services import sample_draw_labelling_start
from taxonomy.labelling import selectors
from taxonomy.labelling.models import RaterTally
from taxonomy.labelling.services import label_submit
from tests.factories import labelling_draw, migration_apps

pytestmark = pytest.mark.django_db


def counted(draw, rater) -> tuple[int, int]:
    mine = Assignment.objects.filter(draw=draw, rater=rater)
    return mine.filter(submitted_at__isnull=False).count(), mine.count()


def test_tally_follows_first_submissions_only(rnd):
    serving = rnd.cats["serving"].pk
    assert selectors.labelling_progress_mine(study=rnd.study, user=rnd.ana) == (0, 3)
    first, second = rnd.assignment(rnd.ana, 0), rnd.assignment(rnd.ana, 1)
    label_submit(assignment=first, rater=rnd.ana, kind="categories", category_ids=[serving])
    label_submit(assignment=first, rater=rnd.ana, kind="pending")  # a change, not a new item
    label_submit(assignment=second, rater=rnd.ana, kind="unclear")
    with pytest.raises(ValidationError):  # refused: nothing counted
        label_submit(assignment=rnd.assignment(rnd.ana, 2), rater=rnd.ana, kind="categories", category_ids=[])
    assert RaterTally.objects.get(draw=rnd.draw, rater=rnd.ana).submitted == 2
    assert selectors.labelling_progress_mine(study=rnd.study, user=rnd.ana) == (2, 3) == counted(rnd.draw, rnd.ana)
    # the other rater's line is untouched by ana's work
    assert selectors.labelling_progress_mine(study=rnd.study, user=rnd.bo) == (0, 3) == counted(rnd.draw, rnd.bo)


def test_tally_follows_the_assignment_whoever_writes_it(rnd):
    """The database keeps the tally: an assignment's submitted_at set or cleared by any write
    (here the ORM's bulk update, no service) moves its rater's tally of its stratum, and
    nothing else's; setting it again, or writing another column, moves nothing."""
    from django.utils import timezone

    mine = Assignment.objects.filter(draw=rnd.draw, rater=rnd.ana).order_by("pk")
    first, second = list(mine.values_list("pk", flat=True)[:2])
    Assignment.objects.filter(pk__in=[first, second]).update(submitted_at=timezone.now())
    assert counted(rnd.draw, rnd.ana) == (2, 3)
    assert RaterTally.objects.get(draw=rnd.draw, rater=rnd.ana).submitted == 2
    assert RaterTally.objects.get(draw=rnd.draw, rater=rnd.bo).submitted == 0
    Assignment.objects.filter(pk=first).update(submitted_at=timezone.now())  # already set: no change
    Assignment.objects.filter(pk=first).update(rater=rnd.ana)  # another column: no change
    assert RaterTally.objects.get(draw=rnd.draw, rater=rnd.ana).submitted == 2
    Assignment.objects.filter(pk=second).update(submitted_at=None)
    assert RaterTally.objects.get(draw=rnd.draw, rater=rnd.ana).submitted == 1 == counted(rnd.draw, rnd.ana)[0]
    assert selectors.labelling_progress_mine(study=rnd.study, user=rnd.ana) == (1, 3)


def test_line_is_read_from_the_tally(rnd):
    """The page shows the tally (one row), not a count over the assignments."""
    RaterTally.objects.filter(draw=rnd.draw, rater=rnd.ana).update(submitted=2)
    assert selectors.labelling_progress_mine(study=rnd.study, user=rnd.ana) == (2, 3)


def test_two_draws_in_labelling_add_up(rnd):
    second = labelling_draw(study=rnd.study, raters=[rnd.ana, rnd.bo], pilot=0, reliability=2, per_item=2,
                            first_so_id=950_000)
    label_submit(assignment=rnd.assignment(rnd.ana), rater=rnd.ana, kind="pending")
    later = Assignment.objects.filter(draw=second, rater=rnd.ana).select_related("draw").first()
    label_submit(assignment=later, rater=rnd.ana, kind="unclear")
    assert selectors.labelling_progress_mine(study=rnd.study, user=rnd.ana) == (2, 5)


def test_progress_per_stratum_equals_counting(rnd):
    """The progress page's figures per rater and stratum, from the tallies, equal a count
    of the assignments, on a draw of two strata."""
    from django.db.models import Count, Q

    from sampling.draws.models import SampleItem, SampleStratum

    draw = labelling_draw(study=rnd.study, raters=[rnd.ana, rnd.bo], pilot=0, reliability=4, per_item=2,
                          status="ready", first_so_id=970_000)
    other = SampleStratum.objects.create(draw=draw, position=1, name="Other", mode="census", set_size=2,
                                         population=2, n=2, drawn=2)
    SampleItem.objects.filter(pk__in=draw.items.order_by("pk").values_list("pk", flat=True)[2:]).update(stratum=other)
    sample_draw_labelling_start(draw=draw, user=rnd.owner)
    for assignment in Assignment.objects.filter(draw=draw, rater=rnd.ana).select_related("draw").order_by("pk")[1:]:
        label_submit(assignment=assignment, rater=rnd.ana, kind="pending")
    progress = selectors.labelling_progress(study=rnd.study, user=rnd.owner)
    counted_rows = (Assignment.objects.filter(draw__status="labelling", draw__study=rnd.study)
                    .values_list("rater_id", "item__stratum_id")
                    .annotate(done=Count("id", filter=Q(submitted_at__isnull=False)), n=Count("id")))
    expected = {(rater, stratum): [done, n] for rater, stratum, done, n in counted_rows}
    assert {(r.rater_id, s): v for r in progress.raters for s, v in r.by_stratum.items()} == expected
    assert {r.rater_id: (r.labelled, r.assigned) for r in progress.raters} == {
        rnd.ana.pk: (3, 7), rnd.bo.pk: (0, 7)}


def test_labelling_start_makes_a_tally_per_rater(rnd):
    draw = labelling_draw(study=rnd.study, raters=[rnd.ana, rnd.bo], pilot=0, reliability=3, per_item=1,
                          status="ready", first_so_id=960_000)
    assert not RaterTally.objects.filter(draw=draw).exists()
    sample_draw_labelling_start(draw=draw, user=rnd.owner)
    tallies = dict(RaterTally.objects.filter(draw=draw).values_list("rater__username", "submitted"))
    assert tallies == {"ana": 0, "bo": 0}
    assigned = dict(RaterTally.objects.filter(draw=draw).values_list("rater__username", "assigned"))
    assert assigned == {"ana": 2, "bo": 1}
    sample_draw_labelling_start(draw=draw, user=rnd.owner)  # a second start changes nothing
    assert RaterTally.objects.filter(draw=draw).count() == 2


def test_migration_backfills_tallies_from_the_assignments(rnd):
    label_submit(assignment=rnd.assignment(rnd.ana), rater=rnd.ana, kind="pending")
    label_submit(assignment=rnd.assignment(rnd.ana, 1), rater=rnd.ana, kind="pending")
    RaterTally.objects.all().delete()
    migration = importlib.import_module("sampling.draws.migrations.0008_rater_tally_per_stratum")
    migration.tallies_rebuild(migration_apps("sampling", "0008_rater_tally_per_stratum"),
                              SimpleNamespace(connection=SimpleNamespace(vendor="none")))
    tallies = {name: (done, n) for name, done, n in RaterTally.objects.filter(draw=rnd.draw).values_list(
        "rater__username", "submitted", "assigned")}
    assert tallies == {"ana": (2, 3), "bo": (0, 3)}
