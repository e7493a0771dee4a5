"""The study home as the method's stages: each stage's state and numbers at different points
of the method, the next step per role, the blindness of the numbers, the jobs in their stage,
a bounded number of queries, and the navigation (order, current page)."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from taxonomy.review.agreement.services import agreement_run_start
from annotator.jobs.models import Job, JobKind, JobStatus
from annotator.jobs.runner import job_run
from sampling.question_sets.services import question_set_evaluate_start
from annotator.studies.selectors import study_get_for_user
from annotator.studies.stages import State, stages_for
from sampling.draws.models import Assignment, ItemPart, SampleItem
from taxonomy.review.arbitration.services import arbitration_start
from taxonomy.labelling.services import label_submit
from tests.factories import (
    JobFactory,
    MembershipFactory,
    StudyFactory,
    UserFactory,
    evaluated_set,
    labelling_draw,
    questions_bulk,
)

pytestmark = pytest.mark.django_db

ORDER = ["corpus", "question-sets", "draw", "pilot", "labelling", "agreement", "arbitration", "results", "classifier"]


def stages(study, user) -> dict:
    access = study_get_for_user(slug=study.slug, user=user)
    return {stage.key: stage for stage in stages_for(access, user)}


def login(client, user):
    client.force_login(user)
    return client


def label(draw, rater, count: int) -> None:
    """``rater`` labels their first ``count`` open assignments of ``draw`` (a special label)."""
    for assignment in Assignment.objects.filter(draw=draw, rater=rater, submitted_at__isnull=True).order_by(
            "item_id")[:count]:
        label_submit(assignment=assignment, rater=rater, kind="false_positive")


@pytest.fixture
def team():
    study = StudyFactory(name="Deployment", slug="deployment")
    t = SimpleNamespace(study=study)
    t.owner = MembershipFactory(study=study, is_owner=True, user=UserFactory(username="olga")).user
    t.ana = MembershipFactory(study=study, is_rater=True, user=UserFactory(username="ana")).user
    t.bert = MembershipFactory(study=study, is_rater=True, user=UserFactory(username="bert")).user
    t.arbi = MembershipFactory(study=study, is_arbitrator=True, user=UserFactory(username="arbi")).user
    t.vera = MembershipFactory(study=study, user=UserFactory(username="vera")).user
    return t


def labelling_team(team, *, reliability: int = 10):
    """``team`` with questions, an evaluated set and a draw in labelling for ana and bert."""
    posts = questions_bulk(study=team.study, count=4)
    evaluated_set(study=team.study, name="B", posts=posts)
    team.draw = labelling_draw(study=team.study, raters=[team.ana, team.bert], pilot=2, reliability=reliability,
                               per_item=2)
    return team


# -- the stages in the method's order, at different points ------------------------------------


def test_an_empty_study_starts_at_the_corpus_and_every_later_step_is_blocked(team):
    owner = stages(team.study, team.owner)
    assert list(owner) == ORDER
    assert owner["corpus"].state == State.NOT_STARTED
    assert [a.label for a in owner["corpus"].actions] == ["Import a Stack Exchange dump"]
    assert owner["corpus"].actions[0].url == "/studies/deployment/imports/"
    for key in ORDER[1:]:
        assert owner[key].state == State.BLOCKED, key
        assert owner[key].blocker, key
    viewer = stages(team.study, team.vera)
    assert viewer["corpus"].actions == [] and "owner" in viewer["corpus"].blocker


def test_posts_and_an_evaluated_set_lead_to_the_draw(team):
    questions_bulk(study=team.study, count=3)
    owner = stages(team.study, team.owner)
    assert owner["corpus"].state == State.DONE
    assert owner["corpus"].numbers[0] == "3 questions"
    assert owner["question-sets"].state == State.NOT_STARTED
    assert [a.label for a in owner["question-sets"].actions] == ["New question set"]
    assert owner["draw"].state == State.BLOCKED and "evaluated" in owner["draw"].blocker

    evaluated_set(study=team.study, name="B", posts=list(team.study.posts.all()))
    owner = stages(team.study, team.owner)
    assert owner["question-sets"].state == State.DONE
    assert owner["question-sets"].numbers == ["1 set", "1 evaluated"]
    assert owner["draw"].state == State.NOT_STARTED
    assert owner["draw"].actions[0].label == "New draw"
    assert owner["draw"].actions[0].url == "/studies/deployment/draws/new/"
    assert stages(team.study, team.ana)["draw"].actions == []  # only owners draw


def test_a_drawn_sample_waits_for_the_pilot_and_an_owner_to_start_labelling(team):
    posts = questions_bulk(study=team.study, count=2)
    evaluated_set(study=team.study, name="B", posts=posts)
    draw = labelling_draw(study=team.study, raters=[team.ana, team.bert], pilot=3, reliability=4, status="ready")
    owner = stages(team.study, team.owner)
    assert owner["draw"].state == State.IN_PROGRESS
    assert owner["draw"].numbers == ["v1: 7 posts", "3 pilot, 4 reliability"]
    assert owner["draw"].actions[0].url == f"/studies/deployment/draws/{draw.version}/"
    assert owner["pilot"].state == State.NOT_STARTED
    assert owner["pilot"].numbers[0] == "0 / 3 pilot posts coded (v1)"
    assert owner["labelling"].state == State.NOT_STARTED
    assert owner["labelling"].actions[0].label == "Start labelling on v1"
    rater = stages(team.study, team.ana)
    assert rater["pilot"].actions[0].label == "Code the pilot"
    assert rater["labelling"].actions == [] and "owner starts labelling" in rater["labelling"].blocker
    assert stages(team.study, team.vera)["pilot"].actions[0].label == "Group the codes" or all(
        a.label != "Code the pilot" for a in stages(team.study, team.vera)["pilot"].actions)


def test_labelling_numbers_for_an_owner_name_who_is_behind(team):
    labelling_team(team)
    label(team.draw, team.ana, 8)
    label(team.draw, team.bert, 2)
    owner = stages(team.study, team.owner)["labelling"]
    assert owner.state == State.IN_PROGRESS
    assert owner.numbers[:2] == ["10 / 20 labels in", "bert behind"]
    assert [a.label for a in owner.actions] == ["Progress"]
    arbitrator = stages(team.study, team.arbi)["labelling"]
    assert "bert behind" in arbitrator.numbers


def test_a_rater_sees_their_own_progress_only(team):
    labelling_team(team)
    label(team.draw, team.ana, 3)
    before = stages(team.study, team.ana)
    ana = before["labelling"]
    assert ana.state == State.IN_PROGRESS
    assert "you: 3 / 10 labelled" in ana.numbers
    assert not any("behind" in n or "bert" in n or "/ 20" in n for n in ana.numbers)
    assert ana.actions[0].label == "Label the next post" and ana.actions[0].url == "/studies/deployment/labelling/"
    # bert's work changes nothing ana is shown, in any stage, even when he has finished.
    label(team.draw, team.bert, 10)
    after = stages(team.study, team.ana)
    assert [(s.key, s.state, s.numbers, s.blocker, s.actions) for s in before.values()] == \
           [(s.key, s.state, s.numbers, s.blocker, s.actions) for s in after.values()]
    assert stages(team.study, team.owner)["labelling"].numbers[0] == "13 / 20 labels in"


def test_the_study_home_of_a_rater_does_not_change_with_a_co_raters_work(team, client):
    labelling_team(team)
    login(client, team.ana)

    def home() -> str:
        page = client.get("/studies/deployment/").content.decode()
        return re.sub(r'("X-CSRFToken": "|name="csrfmiddlewaretoken" value=")[^"]+"', "", page)

    before = home()
    label(team.draw, team.bert, 10)
    assert home() == before


def test_a_rater_who_is_done_reviews_their_labels_and_still_waits(team):
    labelling_team(team)
    label(team.draw, team.ana, 10)
    ana = stages(team.study, team.ana)
    assert ana["labelling"].state == State.IN_PROGRESS  # the others' progress is not hers to know
    assert [a.label for a in ana["labelling"].actions] == ["Review my labels", "Progress"]
    assert ana["arbitration"].state == State.BLOCKED and "closes" in ana["arbitration"].blocker


def test_arbitration_and_results_once_the_round_is_closed(team):
    labelling_team(team, reliability=4)
    label(team.draw, team.ana, 4)
    label(team.draw, team.bert, 4)
    owner = stages(team.study, team.owner)
    assert owner["labelling"].state == State.DONE
    assert owner["arbitration"].state == State.NOT_STARTED
    assert "Start arbitration" in [a.label for a in owner["arbitration"].actions]
    assert owner["results"].state == State.BLOCKED

    arbitration_start(draw=team.draw, user=team.owner)
    for user in (team.owner, team.ana, team.vera):  # every member sees the closed round
        s = stages(team.study, user)
        assert s["labelling"].state == State.DONE
        assert s["labelling"].numbers == ["v1 closed: 8 / 8 labels in"]
        assert s["arbitration"].state == State.DONE  # everyone agreed: nothing left to decide
        assert "4 / 4 reliability posts decided" in s["arbitration"].numbers
        assert "0 disagreements left" in s["arbitration"].numbers
        assert s["results"].state == State.DONE
        assert s["results"].numbers[0] == "4 final labels"
    assert stages(team.study, team.ana)["arbitration"].actions == []  # raters do not arbitrate
    assert stages(team.study, team.ana)["arbitration"].url == ""  # nor get a link that answers 404
    agreement = stages(team.study, team.ana)["agreement"]  # agreement_access: not for raters
    assert agreement.url == "" and agreement.actions == [] and agreement.jobs == []


def test_every_link_answers_for_every_role_once_the_round_is_closed(team, client, queued):
    labelling_team(team, reliability=4)
    label(team.draw, team.ana, 4)
    for assignment in Assignment.objects.filter(draw=team.draw, rater=team.bert).order_by("item_id")[:2]:
        label_submit(assignment=assignment, rater=team.bert, kind="unclear")
    label(team.draw, team.bert, 2)
    job_run(job_id=agreement_run_start(study=team.study, scope="draw", draw=team.draw, resamples=0, seed=1,
                                       user=team.owner).job_id)
    arbitration_start(draw=team.draw, user=team.owner)
    _every_link_answers(team, client)


def test_disagreements_wait_in_arbitration(team):
    labelling_team(team, reliability=2)
    label(team.draw, team.ana, 2)
    for assignment in Assignment.objects.filter(draw=team.draw, rater=team.bert):
        label_submit(assignment=assignment, rater=team.bert, kind="unclear")
    arbitration_start(draw=team.draw, user=team.owner)
    arbitrator = stages(team.study, team.arbi)
    assert arbitrator["arbitration"].state == State.IN_PROGRESS
    assert "2 disagreements left" in arbitrator["arbitration"].numbers
    assert arbitrator["arbitration"].actions[0].label == "Arbitrate"
    assert arbitrator["results"].state == State.NOT_STARTED


# -- jobs in their stage, with links that work ---------------------------------------------------


def test_each_job_shows_in_its_stage_and_its_link_answers(team, client, queued):
    labelling_team(team, reliability=4)
    label(team.draw, team.ana, 4)
    label(team.draw, team.bert, 4)
    JobFactory(study=team.study, kind=JobKind.IMPORT, status=JobStatus.SUCCEEDED, finished_at=timezone.now())
    question_set = team.study.question_sets.get()
    job_run(job_id=question_set_evaluate_start(question_set=question_set, user=team.owner).pk)
    run = agreement_run_start(study=team.study, scope="draw", draw=team.draw, resamples=0, seed=1, user=team.owner)
    job_run(job_id=run.job_id)
    Job.objects.create(study=team.study, kind=JobKind.SAMPLE_DRAW, params={"draw": team.draw.pk, "version": 1},
                       status=JobStatus.SUCCEEDED, finished_at=timezone.now())
    owner = stages(team.study, team.owner)
    assert [j.title for j in owner["corpus"].jobs] == [f"Import #{Job.objects.filter(kind='import').get().pk}"]
    assert [j.title for j in owner["question-sets"].jobs] == ["Evaluation of B"]
    assert [j.title for j in owner["draw"].jobs] == ["Draw v1"]
    assert [j.title for j in owner["agreement"].jobs] == [f"Run #{run.pk} (one draw)"]
    assert owner["agreement"].state == State.DONE
    assert any("items" in n for n in owner["agreement"].numbers)
    login(client, team.owner)
    for stage in owner.values():
        for job in stage.jobs:
            assert client.get(job.url).status_code == 200, (stage.key, job.url)
        for action in stage.actions:
            assert client.get(action.url).status_code == 200, (stage.key, action.url)
    page = client.get("/studies/deployment/").content.decode()
    assert f'href="/studies/deployment/agreement/{run.pk}/"' in page
    assert "/imports/%d/" % run.job_id not in page  # no longer listed as an import


def test_every_action_link_answers_for_every_role(team, client):
    labelling_team(team)
    label(team.draw, team.ana, 2)
    _every_link_answers(team, client)


def _every_link_answers(team, client) -> None:
    for user in (team.owner, team.ana, team.bert, team.arbi, team.vera):
        client.logout()
        login(client, user)
        for stage in stages(team.study, user).values():
            for url in [stage.url] * bool(stage.url) + [a.url for a in stage.actions] + [j.url for j in stage.jobs]:
                assert client.get(url).status_code == 200, (user.username, stage.key, url)


# -- a bounded number of queries ----------------------------------------------------------------


def _home_queries(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/studies/deployment/").status_code == 200
    return len(queries)


@pytest.mark.parametrize("user", ["owner", "ana"])
def test_the_number_of_queries_does_not_grow_with_the_study(team, client, django_assert_max_num_queries, user):
    labelling_team(team, reliability=4)
    label(team.draw, team.ana, 2)
    login(client, getattr(team, user))
    small = _home_queries(client)
    more = labelling_draw(study=team.study, raters=[team.ana, team.bert, team.owner], pilot=20, reliability=60,
                          first_so_id=500_000)
    label(more, team.ana, 30)
    label(more, team.bert, 10)
    evaluated_set(study=team.study, name="C", posts=list(team.study.posts.all()[:50]))
    with django_assert_max_num_queries(small):
        assert client.get("/studies/deployment/").status_code == 200
    with django_assert_max_num_queries(45):
        assert client.get("/studies/deployment/").status_code == 200


# -- navigation and the study list ---------------------------------------------------------------


NAV_ORDER = ["Deployment", "Posts", "Imports", "Question sets", "Draws", "Pilot", "Taxonomy", "Labelling", "Agreement",
             "Arbitration", "Results", "Classifier", "Members"]


def _nav(html: str) -> list[tuple[str, bool]]:
    nav = re.search(r'<nav class="study-nav"[^>]*>(.*?)</nav>', html, re.S).group(1)
    return [(re.sub(r"<[^>]+>", "", text).strip(), 'aria-current="page"' in attrs)
            for attrs, text in re.findall(r"<a ([^>]*)>(.*?)</a>", nav, re.S)]


def test_the_navigation_follows_the_method_and_marks_the_current_page(team, client):
    login(client, team.owner)
    home = _nav(client.get("/studies/deployment/").content.decode())
    assert [name for name, _ in home] == NAV_ORDER
    assert [name for name, current in home if current] == ["Deployment"]  # the study's name: its home
    for url, name in (("/studies/deployment/draws/", "Draws"), ("/studies/deployment/sets/", "Question sets"),
                      ("/studies/deployment/members/", "Members"), ("/studies/deployment/imports/", "Imports"), ("/studies/deployment/codes/", "Pilot"),
                      ("/studies/deployment/pilot/", "Pilot"), ("/studies/deployment/results/", "Results")):
        assert [n for n, current in _nav(client.get(url).content.decode()) if current] == [name], url


def test_the_navigation_keeps_the_method_order_for_a_rater(team, client):
    login(client, team.ana)
    names = [name for name, _ in _nav(client.get("/studies/deployment/").content.decode())]
    assert names == [n for n in NAV_ORDER if n in names] and "Labelling" in names and "Arbitration" not in names


def test_the_study_list_counts_every_member(team, client):
    login(client, team.ana)
    page = client.get("/").content.decode()
    assert re.search(r"<td>5</td>", page), page


# -- a stage with a job under way follows it ----------------------------------------------------


def test_a_stage_with_a_running_job_polls_itself_and_reloads_the_page_when_it_ends(team, client):
    login(client, team.owner)
    job = JobFactory(study=team.study, kind=JobKind.IMPORT, status=JobStatus.RUNNING, bytes_total=200, bytes_read=50)
    page = client.get("/studies/deployment/").content.decode()
    assert 'hx-get="/studies/deployment/?stage=corpus" hx-trigger="every 2s"' in page
    assert page.count('hx-trigger="every 2s"') == 1  # only the stage whose job runs
    poll = client.get("/studies/deployment/?stage=corpus", HTTP_HX_REQUEST="true")
    assert poll.status_code == 200
    body = poll.content.decode()
    assert body.lstrip().startswith('<li class="stage stage-in-progress stage-now" id="stage-corpus"') and "25 %" in body
    assert "<html" not in body
    Job.objects.filter(pk=job.pk).update(status=JobStatus.SUCCEEDED, finished_at=timezone.now())
    done = client.get("/studies/deployment/?stage=corpus", HTTP_HX_REQUEST="true")
    assert done.status_code == 200 and done["HX-Refresh"] == "true"  # later stages follow from it
    assert client.get("/studies/deployment/?stage=nothing", HTTP_HX_REQUEST="true").status_code == 404


def test_the_pilot_counts_coded_posts_and_codes(team):
    from taxonomy.coding.services import code_use_add

    posts = questions_bulk(study=team.study, count=2)
    evaluated_set(study=team.study, name="B", posts=posts)
    draw = labelling_draw(study=team.study, raters=[team.ana, team.bert], pilot=3, reliability=2, status="ready")
    first, second, _third = SampleItem.objects.filter(draw=draw, part=ItemPart.PILOT).order_by("pk")
    code_use_add(item=first, author=team.ana, text="GPU memory")
    code_use_add(item=first, author=team.bert, text="Docker image size")
    code_use_add(item=second, author=team.ana, text="GPU memory")
    pilot = stages(team.study, team.vera)["pilot"]
    assert pilot.state == State.IN_PROGRESS
    assert pilot.numbers == ["2 / 3 pilot posts coded (v1)", "2 codes, 0 grouped", "0 categories"]
    assert "Code the pilot" not in [a.label for a in pilot.actions]  # a viewer reads only
    assert stages(team.study, team.bert)["pilot"].actions[0].label == "Code the pilot"


def test_a_failed_draw_blocks_the_draw_stage_with_its_reason(team):
    from sampling.draws.models import SampleDraw

    posts = questions_bulk(study=team.study, count=2)
    evaluated_set(study=team.study, name="B", posts=posts)
    SampleDraw.objects.create(study=team.study, version=1, status="failed", seed=1, error="The set is empty.")
    draw = stages(team.study, team.owner)["draw"]
    assert draw.state == State.BLOCKED and draw.blocker == "v1 failed: The set is empty."
    assert draw.actions[0].label == "New draw"


def test_the_home_says_where_the_study_stands(team, client):
    login(client, team.owner)
    assert 'Now: <a href="#stage-corpus">Corpus</a>' in client.get("/studies/deployment/").content.decode()
    labelling_team(team, reliability=2)
    page = client.get("/studies/deployment/").content.decode()
    assert 'Now: <a href="#stage-labelling">Labelling</a>' in page  # the pilot not coded does not hold it back
    assert re.search(r'<li class="stage stage-in-progress stage-now" id="stage-labelling" aria-current="step"', page)
    assert page.count('aria-current="step"') == 1
    label(team.draw, team.ana, 2)
    label(team.draw, team.bert, 2)
    arbitration_start(draw=team.draw, user=team.owner)
    # every step done: the study stands at its results (the optional classifier, not begun, is not "now")
    assert 'Now: <a href="#stage-results">Results</a>' in client.get("/studies/deployment/").content.decode()
