"""The blind rule's filter (``sampling.draws.sight``) names the draws a user sees whole, so that
both sides of it use an index; it must select exactly the rows the rule's plain form does
("own rows, or rows not on a sealed draw") for every kind of member and draw."""

import dataclasses

import pytest
from django.utils import timezone

from sampling.draws.models import Assignment
from sampling.draws.sight import assignment_visible_q, assignments_visible, sight_for
from tests.factories import MembershipFactory, StudyFactory, UserFactory, labelling_draw

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    study, other = StudyFactory(slug="s1"), StudyFactory(slug="s2")
    users = {name: UserFactory(username=name) for name in
             ("rater", "rating_owner", "owner", "arbitrator", "viewer", "idle_rater", "outsider")}
    roles = {"rater": {"is_rater": True}, "rating_owner": {"is_owner": True, "is_rater": True},
             "owner": {"is_owner": True}, "arbitrator": {"is_arbitrator": True}, "viewer": {},
             "idle_rater": {"is_rater": True}}
    for name, flags in roles.items():
        MembershipFactory(study=study, user=users[name], **flags)
    raters = [users["rater"], users["rating_owner"]]
    done = labelling_draw(study=study, raters=raters, first_so_id=100)
    done.arbitration_started_at = timezone.now()
    done.save(update_fields=["arbitration_started_at"])
    running = labelling_draw(study=study, raters=raters, first_so_id=200)
    # a second running draw the owner does not rate on, and one in another study
    labelling_draw(study=study, raters=[users["rater"], users["idle_rater"]], first_so_id=300)
    MembershipFactory(study=other, user=users["rater"], is_rater=True)
    labelling_draw(study=other, raters=[users["rater"]], first_so_id=400)
    return study, users, running


def test_the_indexed_filter_selects_what_the_plain_rule_does_for_every_member(world):
    study, users, _running = world
    for name, user in users.items():
        sight = sight_for(study=study, user=user)
        plain = dataclasses.replace(sight, open_draws=None)
        named = set(assignments_visible(study=study, user=user, sight=sight).values_list("pk", flat=True))
        assert named == set(Assignment.objects.filter(assignment_visible_q(plain)).values_list("pk", flat=True)), name
        if sight.sealed:  # the draws named are the study's others, whole
            assert sight.open_draws.isdisjoint(sight.sealed)


def test_a_rater_on_a_running_draw_sees_own_rows_there_and_every_row_elsewhere(world):
    study, users, running = world
    sight = sight_for(study=study, user=users["rating_owner"])
    assert running.pk in sight.sealed and running.pk not in sight.open_draws
    seen = assignments_visible(study=study, user=users["rating_owner"], sight=sight)
    on_running = seen.filter(draw=running)
    assert on_running.exists() and set(on_running.values_list("rater_id", flat=True)) == {users["rating_owner"].pk}
    # the owner rates on `running` only: every rater's rows of the other running draw, and of the done one
    assert seen.exclude(draw=running).values("rater_id").distinct().count() == 3
    assert not seen.filter(draw__study__slug="s2").exists()
