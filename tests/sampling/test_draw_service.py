"""Draws as background jobs: design table, reproducibility, pilot split per
stratum, balanced assignment, freezing, versions and races."""

import hashlib
import threading
from collections import Counter

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from annotator.jobs.models import Job, JobStatus
from annotator.jobs.runner import job_run
from sampling.question_sets.models import QuestionSetMember
from sampling.draws import selectors
from sampling.draws.design import DrawDesign, StratumChoice
from sampling.draws.models import Assignment, DrawStatus, ItemPart, SampleDraw, SampleItem
from sampling.draws.services import (
    sample_draw_labelling_start,
    sample_draw_redistribute_start,
    sample_draw_start,
)
from sampling.draws.snapshot import keys_unpack
from tests.factories import MembershipFactory, StudyFactory, UserFactory, evaluated_set, questions_bulk

pytestmark = pytest.mark.django_db


@pytest.fixture
def study_with_sets(django_capture_on_commit_callbacks):
    study = StudyFactory()
    owner = UserFactory(username="owner")
    MembershipFactory(study=study, user=owner, is_owner=True)
    raters = [UserFactory(username=f"rater{i}") for i in (1, 2, 3)]
    for rater in raters:
        MembershipFactory(study=study, user=rater, is_rater=True)
    server = questions_bulk(study=study, count=1325, first_so_id=1)
    browser = questions_bulk(study=study, count=160, first_so_id=10_000)
    # five server questions also mention the browser: they count in the first stratum only
    server_set = evaluated_set(study=study, name="Server/Cloud", posts=server)
    browser_set = evaluated_set(study=study, name="Browser", posts=browser + server[:5])
    return study, owner, raters, server_set, browser_set


def design(server_set, browser_set, seed=42, **kw):
    return DrawDesign(strata=(StratumChoice(server_set.pk), StratumChoice(browser_set.pk, mode="census")),
                      seed=seed, **kw)


def run(draw):
    job_run(job_id=draw.job_id)
    draw.refresh_from_db()
    return draw


def posts_of(draw):
    return set(SampleItem.objects.filter(draw=draw).values_list("post_id", flat=True))


def test_draw_records_the_design_table_and_splits_and_assigns_per_stratum(study_with_sets, queued):
    study, owner, raters, server_set, browser_set = study_with_sets
    draw = run(sample_draw_start(study=study, design=design(server_set, browser_set), user=owner))
    assert draw.status == DrawStatus.READY and draw.version == 1 and draw.seed == 42
    server, browser = selectors.draw_strata(draw=draw)
    assert (server.population, server.n, round(server.n_exact, 2), server.drawn) == (1325, 298, 297.98, 298)
    assert (browser.set_size, browser.overlap_removed, browser.population, browser.census) == (165, 5, 160, True)
    assert browser.n_exact is None and browser.drawn == 160
    assert draw.sample_size == 458 and SampleItem.objects.filter(draw=draw).count() == 458
    # 30 % pilot per stratum, halves up
    assert (server.pilot, browser.pilot) == (89, 48) and draw.pilot_size == 137
    for stratum, expected in ((server, 89), (browser, 48)):
        assert SampleItem.objects.filter(stratum=stratum, part=ItemPart.PILOT).count() == expected
    # every reliability item to two of the three raters, balanced overall and per stratum
    reliability = SampleItem.objects.filter(draw=draw, part=ItemPart.RELIABILITY)
    assert all(item.assignments.count() == 2 for item in reliability)
    assert not Assignment.objects.filter(item__part=ItemPart.PILOT).exists()
    for stratum in (server, browser):
        load = Counter(Assignment.objects.filter(item__stratum=stratum).values_list("rater__username", flat=True))
        assert set(load) == {"rater1", "rater2", "rater3"} and max(load.values()) - min(load.values()) <= 1
    assignments = Assignment.objects.filter(draw=draw)
    assert assignments.count() == 2 * (458 - 137) and not assignments.filter(submitted_at__isnull=False).exists()
    # the population snapshot is the set's members as (site, id), and drawing again from it gives the same posts;
    # the digest is the SHA-256 of their lines "site<TAB>id<LF>", sorted
    members = sorted(QuestionSetMember.objects.filter(question_set=server_set).values_list("post__site",
                                                                                         "post__so_id"))
    assert draw.algorithm == 2 and keys_unpack(server.population_snapshot.ids) == members
    text = "".join(f"{site}\t{so_id}\n" for site, so_id in members).encode()
    assert server.population_digest == hashlib.sha256(text).hexdigest()
    assert selectors.draw_reproduces(draw=draw) is True
    assert Job.objects.get(pk=draw.job_id).result["sample_size"] == 458


def test_same_seed_same_posts_other_seed_other_posts(study_with_sets, queued):
    study, owner, _, server_set, browser_set = study_with_sets
    first = run(sample_draw_start(study=study, design=design(server_set, browser_set, seed=7), user=owner))
    again = run(sample_draw_start(study=study, design=design(server_set, browser_set, seed=7), user=owner))
    other = run(sample_draw_start(study=study, design=design(server_set, browser_set, seed=8), user=owner))
    assert (first.version, again.version, other.version) == (1, 2, 3)
    assert posts_of(first) == posts_of(again) and posts_of(first) != posts_of(other)
    pilot = lambda d: set(SampleItem.objects.filter(draw=d, part="pilot").values_list("post_id", flat=True))  # noqa: E731
    assert pilot(first) == pilot(again)


def test_a_seed_is_chosen_and_recorded_when_none_is_given(study_with_sets, queued):
    study, owner, _, server_set, browser_set = study_with_sets
    draw = run(sample_draw_start(study=study, design=design(server_set, browser_set, seed=None), user=owner))
    assert draw.seed >= 0 and Job.objects.get(pk=draw.job_id).params["seed"] == draw.seed


def test_override_needs_a_reason_and_at_most_n(study_with_sets, queued):
    study, owner, _, server_set, browser_set = study_with_sets
    bad = DrawDesign(strata=(StratumChoice(server_set.pk, mode="override", n=2000, reason=""),))
    with pytest.raises(ValidationError) as err:
        sample_draw_start(study=study, design=bad, user=owner)
    text = " ".join(err.value.messages)
    assert "larger than the set's 1,325 posts" in text and "say why" in text
    ok = DrawDesign(strata=(StratumChoice(server_set.pk, mode="override", n=100, reason="budget"),), seed=1)
    draw = run(sample_draw_start(study=study, design=ok, user=owner))
    stratum = draw.strata.get()
    assert (stratum.n, stratum.drawn, stratum.override_reason, stratum.n_exact) == (100, 100, "budget", None)
    assert not SampleDraw.objects.filter(version=2).exists()


@pytest.mark.parametrize("field, value, message", [
    ("confidence", 1.0, "confidence level must be between 0 and 1"),
    ("margin", 0.0, "margin of error must be between 0 and 1"),
    ("proportion", 1.5, "proportion p must be between 0 and 1"),
    ("raters_per_item", 4, "only 3 raters will rate"),
    ("pilot_share", 1.2, "pilot share must be between 0 and 1"),
])
def test_bad_parameters_are_refused_and_nothing_is_recorded(study_with_sets, field, value, message):
    study, owner, _, server_set, browser_set = study_with_sets
    with pytest.raises(ValidationError) as err:
        sample_draw_start(study=study, design=design(server_set, browser_set, **{field: value}), user=owner)
    assert field in err.value.message_dict and message in " ".join(err.value.message_dict[field])
    assert not SampleDraw.objects.exists() and not Job.objects.exists()


def test_unevaluated_or_empty_sets_are_refused(study_with_sets):
    study, owner, _, server_set, _ = study_with_sets
    server_set.member_count = None
    server_set.save()
    empty = evaluated_set(study=study, name="Nothing", posts=[])
    with pytest.raises(ValidationError) as err:
        sample_draw_start(study=study, design=DrawDesign(strata=(StratumChoice(server_set.pk),
                                                                 StratumChoice(empty.pk))), user=owner)
    text = " ".join(err.value.messages)
    assert "has not been evaluated" in text and "“Nothing” is empty" in text


def test_a_stratum_emptied_before_the_job_ran_fails_the_draw_clearly(study_with_sets, queued):
    study, owner, _, server_set, browser_set = study_with_sets
    draw = sample_draw_start(study=study, design=design(server_set, browser_set), user=owner)
    QuestionSetMember.objects.filter(question_set=browser_set).delete()
    draw = run(draw)
    assert draw.status == DrawStatus.FAILED and "“Browser” is empty now" in draw.error
    job = Job.objects.get(pk=draw.job_id)
    assert job.status == JobStatus.FAILED and "“Browser” is empty now" in job.error
    assert not SampleItem.objects.exists() and not Assignment.objects.exists()


def test_a_design_the_preview_says_cannot_be_drawn_is_refused_before_a_version_is_used(study_with_sets, queued):
    """The preview's reasons (no posts left after the overlap, n above N) refuse the start
    itself: no draw row, no job, and the next draw is still version 1."""
    study, owner, _, server_set, browser_set = study_with_sets
    subset = evaluated_set(study=study, name="Subset", posts=[m.post for m in server_set.members.all()[:10]])
    all_earlier = DrawDesign(strata=(StratumChoice(server_set.pk), StratumChoice(subset.pk, mode="census")), seed=1)
    _, preview = selectors.draw_design_check(study=study, design=all_earlier)
    assert not preview.drawable and preview.errors == [
        "“Subset” has no posts left: all 10 are counted in earlier strata. Remove it or put it first."]
    with pytest.raises(ValidationError) as err:
        sample_draw_start(study=study, design=all_earlier, user=owner)
    assert err.value.message_dict == {"strata": preview.errors}
    # n by hand above the N left after the overlap (160 of the browser set's 165 posts)
    above_n = DrawDesign(strata=(StratumChoice(server_set.pk),
                                 StratumChoice(browser_set.pk, mode="override", n=163, reason="all of them")))
    with pytest.raises(ValidationError) as err:
        sample_draw_start(study=study, design=above_n, user=owner)
    assert err.value.message_dict["strata"] == ["“Browser”: n = 163 is larger than N = 160; take a census instead."]
    assert not SampleDraw.objects.exists() and not Job.objects.exists() and queued == []
    assert sample_draw_start(study=study, design=design(server_set, browser_set), user=owner).version == 1


def test_a_stratum_whose_posts_come_to_count_earlier_after_the_start_fails_the_draw_named(study_with_sets, queued):
    """The job checks again: the sets may change between the start and the draw."""
    study, owner, _, server_set, _ = study_with_sets
    subset = evaluated_set(study=study, name="Subset", posts=[m.post for m in server_set.members.all()[:10]])
    other = evaluated_set(study=study, name="Other", posts=[m.post for m in server_set.members.all()[10:20]])
    draw = sample_draw_start(study=study, design=DrawDesign(
        strata=(StratumChoice(other.pk), StratumChoice(subset.pk, mode="census")), seed=1), user=owner)
    QuestionSetMember.objects.bulk_create(QuestionSetMember(question_set=other, post=m.post)
                                          for m in subset.members.all())
    draw = run(draw)
    assert draw.status == DrawStatus.FAILED and "“Subset” has no posts left: all 10" in draw.error


def test_the_set_changing_after_the_draw_is_reported_and_the_draw_stays(study_with_sets, queued):
    study, owner, _, server_set, browser_set = study_with_sets
    draw = run(sample_draw_start(study=study, design=design(server_set, browser_set), user=owner))
    before = posts_of(draw)
    QuestionSetMember.objects.filter(question_set=browser_set).delete()
    browser_set.member_count = 0
    browser_set.save()
    drift = selectors.draw_drift(draw=draw, strata=selectors.draw_strata(draw=draw))
    assert [(d.name, d.message) for d in drift] == [("Browser", "its question set is empty now (it had 165 "
                                                                "posts when drawn)")]
    assert posts_of(draw) == before and selectors.draw_reproduces(draw=draw) is True


def test_a_rule_edited_after_the_draw_is_reported_with_its_date_though_the_count_is_the_same(
        study_with_sets, queued):
    from datetime import timedelta

    from django.utils import timezone

    study, owner, _, server_set, browser_set = study_with_sets
    draw = run(sample_draw_start(study=study, design=design(server_set, browser_set), user=owner))
    assert selectors.draw_drift(draw=draw, strata=selectors.draw_strata(draw=draw)) == []
    edited = draw.drawn_at + timedelta(minutes=5)
    type(browser_set).objects.filter(pk=browser_set.pk).update(rule_changed_at=edited)
    drift = selectors.draw_drift(draw=draw, strata=selectors.draw_strata(draw=draw))
    when = timezone.localtime(edited).strftime("%Y-%m-%d %H:%M")
    assert [(d.name, d.message) for d in drift] == [
        ("Browser", f"its question set changed on {when} (its rule or manual decisions changed), after the draw")]


def test_labelling_freezes_the_draw_and_a_new_version_leaves_the_old_readable(study_with_sets, queued):
    study, owner, raters, server_set, browser_set = study_with_sets
    draw = run(sample_draw_start(study=study, design=design(server_set, browser_set), user=owner))
    draw = run(sample_draw_redistribute_start(draw=draw, pilot_share=0.5, raters_per_item=3, user=owner))
    assert draw.pilot_size == 149 + 80 and draw.status == DrawStatus.READY
    assert set(Assignment.objects.filter(draw=draw).values_list("item_id", flat=True)) == set(
        SampleItem.objects.filter(draw=draw, part="reliability").values_list("id", flat=True))
    assert Assignment.objects.filter(draw=draw).count() == 3 * (458 - 229)
    before = (posts_of(draw), Assignment.objects.filter(draw=draw).count())

    sample_draw_labelling_start(draw=draw, user=owner)
    draw.refresh_from_db()
    assert draw.is_frozen and draw.labelling_started_by == owner
    with pytest.raises(ValidationError, match="the draw is frozen"):
        sample_draw_redistribute_start(draw=draw, pilot_share=0.3, raters_per_item=2, user=owner)
    newer = run(sample_draw_start(study=study, design=design(server_set, browser_set, seed=99), user=owner,
                                  expected_version=1))
    assert newer.version == 2 and newer.status == DrawStatus.READY
    draw.refresh_from_db()
    assert draw.status == DrawStatus.LABELLING
    assert (posts_of(draw), Assignment.objects.filter(draw=draw).count()) == before


def test_redistributing_to_chosen_raters(study_with_sets, queued):
    study, owner, raters, server_set, browser_set = study_with_sets
    draw = run(sample_draw_start(study=study, design=design(server_set, browser_set), user=owner))
    draw = run(sample_draw_redistribute_start(draw=draw, pilot_share=0.3, raters_per_item=1,
                                              rater_ids=[raters[0].pk, raters[2].pk], user=owner))
    load = Counter(Assignment.objects.filter(draw=draw).values_list("rater__username", flat=True))
    assert set(load) == {"rater1", "rater3"} and abs(load["rater1"] - load["rater3"]) <= 1
    with pytest.raises(ValidationError, match="Only raters"):
        sample_draw_redistribute_start(draw=draw, pilot_share=0.3, raters_per_item=1, rater_ids=[owner.pk])


def test_a_second_draw_while_one_is_in_progress_is_told_who_goes_first(study_with_sets, queued):
    study, owner, _, server_set, browser_set = study_with_sets
    sample_draw_start(study=study, design=design(server_set, browser_set), user=owner)
    other = UserFactory(username="coowner")
    MembershipFactory(study=study, user=other, is_owner=True)
    with pytest.raises(ValidationError, match="Another draw is in progress \\(version 1 by owner"):
        sample_draw_start(study=study, design=design(server_set, browser_set), user=other)
    assert SampleDraw.objects.count() == 1


def test_a_form_opened_before_a_newer_draw_is_refused(study_with_sets, queued):
    study, owner, _, server_set, browser_set = study_with_sets
    run(sample_draw_start(study=study, design=design(server_set, browser_set), user=owner, expected_version=0))
    with pytest.raises(ValidationError, match="A new draw was made since you opened this form \\(version 1"):
        sample_draw_start(study=study, design=design(server_set, browser_set), user=owner, expected_version=0)


@pytest.mark.django_db(transaction=True)
def test_two_owners_starting_at_the_same_moment_one_wins(queued):
    study = StudyFactory()
    owners = [UserFactory(username=f"owner{i}") for i in (1, 2)]
    for user in owners:
        MembershipFactory(study=study, user=user, is_owner=True, is_rater=True)
    posts = questions_bulk(study=study, count=50)
    qs = evaluated_set(study=study, name="All", posts=posts)
    barrier, outcomes = threading.Barrier(2), []

    def start(user):
        try:
            barrier.wait()
            sample_draw_start(study=study, design=DrawDesign(strata=(StratumChoice(qs.pk),)), user=user,
                              expected_version=0)
            outcomes.append("won")
        except ValidationError as exc:
            outcomes.append(" ".join(exc.messages))
        finally:
            connection.close()

    threads = [threading.Thread(target=start, args=(u,)) for u in owners]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes)[-1] == "won" and outcomes.count("won") == 1, outcomes
    loser = next(o for o in outcomes if o != "won")
    assert "Another draw is in progress" in loser or "A new draw was made" in loser or "same moment" in loser
    assert SampleDraw.objects.filter(study=study).count() == 1
