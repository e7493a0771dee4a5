"""The rater's progress line (labelled / assigned) is read from their tally
(sampling.RaterTally), kept by label_submit: it must always equal what counting the
assignments gives, whatever is submitted, re-submitted or refused; where a draw has
no tally (labelling started before tallies existed), the line is counted instead."""

import importlib

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError

from sampling.models import Assignment, RaterTally
from sampling.services import sample_draw_labelling_start
from taxonomy.labelling import selectors
from taxonomy.labelling.services import label_submit
from tests.factories import labelling_draw

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


def test_line_is_read_from_the_tally(rnd):
    """The page shows the tally (one row), not a count over the assignments."""
    RaterTally.objects.filter(draw=rnd.draw, rater=rnd.ana).update(submitted=2)
    assert selectors.labelling_progress_mine(study=rnd.study, user=rnd.ana) == (2, 3)


def test_draw_without_tally_is_counted(rnd):
    label_submit(assignment=rnd.assignment(rnd.ana), rater=rnd.ana, kind="pending")
    RaterTally.objects.filter(draw=rnd.draw).delete()
    assert selectors.labelling_progress_mine(study=rnd.study, user=rnd.ana) == (1, 3)
    # and a submission with no tally to keep still succeeds
    label_submit(assignment=rnd.assignment(rnd.ana, 1), rater=rnd.ana, kind="pending")
    assert selectors.labelling_progress_mine(study=rnd.study, user=rnd.ana) == (2, 3)


def test_two_draws_in_labelling_one_with_tally_one_without(rnd):
    second = labelling_draw(study=rnd.study, raters=[rnd.ana, rnd.bo], pilot=0, reliability=2, per_item=2,
                            first_so_id=950_000)
    RaterTally.objects.filter(draw=second).delete()
    label_submit(assignment=rnd.assignment(rnd.ana), rater=rnd.ana, kind="pending")
    later = Assignment.objects.filter(draw=second, rater=rnd.ana).select_related("draw").first()
    label_submit(assignment=later, rater=rnd.ana, kind="unclear")
    assert selectors.labelling_progress_mine(study=rnd.study, user=rnd.ana) == (2, 5)


def test_labelling_start_makes_a_tally_per_rater(rnd):
    draw = labelling_draw(study=rnd.study, raters=[rnd.ana, rnd.bo], pilot=0, reliability=3, per_item=1,
                          status="ready", first_so_id=960_000)
    assert not RaterTally.objects.filter(draw=draw).exists()
    sample_draw_labelling_start(draw=draw, user=rnd.owner)
    tallies = dict(RaterTally.objects.filter(draw=draw).values_list("rater__username", "submitted"))
    assert tallies == {"ana": 0, "bo": 0}
    sample_draw_labelling_start(draw=draw, user=rnd.owner)  # a second start changes nothing
    assert RaterTally.objects.filter(draw=draw).count() == 2


def test_migration_backfills_tallies_from_the_assignments(rnd):
    label_submit(assignment=rnd.assignment(rnd.ana), rater=rnd.ana, kind="pending")
    label_submit(assignment=rnd.assignment(rnd.ana, 1), rater=rnd.ana, kind="pending")
    RaterTally.objects.all().delete()
    migration = importlib.import_module("sampling.migrations.0006_rater_tally")
    migration.tallies_backfill(apps, None)
    tallies = dict(RaterTally.objects.filter(draw=rnd.draw).values_list("rater__username", "submitted"))
    assert tallies == {"ana": 2, "bo": 0}
