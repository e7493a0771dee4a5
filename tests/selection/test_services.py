"""Question sets: rules, validation, the funnel, manual decisions, evaluation jobs."""

from datetime import UTC, date, datetime

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from annotator.jobs.models import Job, JobKind, JobStatus
from annotator.jobs.runner import job_run
from sampling.question_sets.models import QuestionSet, QuestionSetMember
from sampling.question_sets.selectors import question_set_change_after, question_set_staleness
from sampling.question_sets.services import (
    QuestionSetRule,
    manual_decision_remove_and_evaluate,
    manual_decision_set,
    manual_decision_set_and_evaluate,
    question_set_delete,
    question_set_evaluate,
    question_set_evaluate_start,
    question_set_save,
    question_set_save_and_evaluate,
)
from tests.factories import AnswerFactory, PostFactory, StudyFactory

pytestmark = pytest.mark.django_db


def q(study, so_id, title, body="<p>text</p>", tags="|tensorflow|", year=2020):
    return PostFactory(study=study, so_id=so_id, title=title, body=body, tags=tags,
                       creation_date=datetime(year, 6, 1, tzinfo=UTC))


def members(question_set):
    return set(QuestionSetMember.objects.filter(question_set=question_set).values_list("post__so_id", flat=True))


@pytest.fixture
def corpus():
    study = StudyFactory()
    posts = {
        1: q(study, 1, "Serving a Keras model on a cloud server", tags="|keras|"),
        2: q(study, 2, "TFLite on Android crashes", body="<p>mobile app</p>", tags="|tensorflow|android|"),
        3: q(study, 3, "Model in the browser", body="<p>runs in the browser with tfjs</p>", tags="|tensorflow|"),
        4: q(study, 4, "Loss is NaN", body="<pre><code>server = 1  # cloud mobile browser</code></pre>"),
        5: q(study, 5, "How to deploy to the cloud", body="<p>deploy on a server</p>", tags="|pytorch|", year=2018),
        6: q(study, 6, "Java question", tags="|java|"),
        7: q(study, 7, "tfserving config", tags="|tfserving|"),
    }
    AnswerFactory(question=posts[1], so_id=100, body="<p>cloud cloud cloud</p>")
    return study, posts


def rule(name, **kw):
    return QuestionSetRule(name=name, **kw)


def test_the_papers_sets_and_baseline(corpus):
    study, _ = corpus
    b = question_set_save(study=study, rule=rule("B", tags=["tensorflow", "keras", "pytorch"]))
    c = question_set_save(study=study, rule=rule("C", within=["B"], words=["cloud", "server", "serving"],
                                                 union_tags=["tfserving"]))
    d = question_set_save(study=study, rule=rule("D", within=["B"], words=["mobile", "android", "ios"]))
    e = question_set_save(study=study, rule=rule("E", within=["B"], words=["browser"]))
    baseline = question_set_save(study=study, rule=rule("baseline", within=["B"], minus=["C", "D", "E"]))

    summary = question_set_evaluate(question_set=baseline)  # evaluates B, C, D, E first
    assert [s["set"] for s in summary["sets"]][-1] == "baseline" and len(summary["sets"]) == 5
    assert members(b) == {1, 2, 3, 4, 5}
    assert members(c) == {1, 5, 7}  # 4 has the words only inside code; 7 via the plus-tags step
    assert members(d) == {2}
    assert members(e) == {3}
    assert members(baseline) == {4}
    c.refresh_from_db()
    assert [(s["step"], s["before"], s["after"]) for s in c.funnel] == [
        ("start", 5, 5), ("words", 5, 2), ("union", 2, 3),
    ]
    baseline.refresh_from_db()
    assert baseline.member_count == 1
    assert baseline.funnel[-1] == {**baseline.funnel[-1], "step": "minus", "before": 5, "after": 1, "dropped": 4}
    assert QuestionSetMember.objects.get(question_set=c, post__so_id=1).matched_words == ["cloud", "server", "serving"]


def test_required_words_dates_and_title_only(corpus):
    study, _ = corpus
    s = question_set_save(study=study, rule=rule("deploy", words=["cloud", "server"], required_words=["deploy"]))
    question_set_evaluate(question_set=s)
    assert members(s) == {5}
    s2 = question_set_save(study=study, rule=rule("recent", words=["cloud"], date_from=date(2019, 1, 1)))
    question_set_evaluate(question_set=s2)
    assert members(s2) == {1}
    s3 = question_set_save(study=study, rule=rule("titles", words=["mobile"], search_body=False))
    question_set_evaluate(question_set=s3)
    assert members(s3) == set()


def test_substring_matching_is_a_choice(corpus):
    study, _ = corpus
    whole = question_set_save(study=study, rule=rule("whole", words=["serv"]))
    sub = question_set_save(study=study, rule=rule("sub", words=["serv"], whole_words=False))
    question_set_evaluate(question_set=whole)
    question_set_evaluate(question_set=sub)
    assert members(whole) == set() and members(sub) == {1, 5, 7}  # "tfserving" contains "serv"


def test_regex_looking_words_are_literal(corpus):
    study, _ = corpus
    s = question_set_save(study=study, rule=rule("regex", words=[".*", "a|b"], whole_words=False))
    question_set_evaluate(question_set=s)
    assert members(s) == set()


def test_manual_include_and_exclude_with_reasons(corpus):
    study, posts = corpus
    s = question_set_save(study=study, rule=rule("cloud", words=["cloud"]))
    manual_decision_set(question_set=s, post=posts[6], action="include", reason="about a cloud SDK in Java")
    manual_decision_set(question_set=s, post=posts[5], action="exclude", reason="not about deep learning")
    question_set_evaluate(question_set=s)
    assert members(s) == {1, 6}
    s.refresh_from_db()
    assert s.funnel[-1]["step"] == "manual"
    with pytest.raises(ValidationError):
        manual_decision_set(question_set=s, post=posts[6], action="include", reason="  ")
    answer = AnswerFactory(question=posts[2], so_id=200)
    with pytest.raises(ValidationError):
        manual_decision_set(question_set=s, post=answer, action="include", reason="an answer")


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"name": " "}, "name"),
        ({"name": "x", "within": ["nope"]}, "within"),
        ({"name": "x", "tags": ["bad tag!"]}, "tags"),
        ({"name": "x", "words": ["  ", ""]}, "__all__"),  # an empty vocabulary is not a rule
        ({"name": "x", "words": ["a"], "date_from": date(2020, 1, 2), "date_to": date(2020, 1, 1)}, "date_to"),
        ({"name": "x", "words": ["a"], "search_title": False, "search_body": False}, "search_body"),
    ],
)
def test_bad_rules_are_refused_with_the_field(corpus, kwargs, field):
    study, _ = corpus
    with pytest.raises(ValidationError) as exc:
        question_set_save(study=study, rule=QuestionSetRule(**kwargs))
    assert field in exc.value.message_dict
    assert not QuestionSet.objects.filter(study=study).exists()


def test_cycles_are_refused(corpus):
    study, _ = corpus
    a = question_set_save(study=study, rule=rule("A", tags=["keras"]))
    question_set_save(study=study, rule=rule("B", within=["A"], words=["cloud"]))
    question_set_save(study=study, rule=rule("C", union=["B"], tags=["java"]))
    with pytest.raises(ValidationError, match="cycle"):
        question_set_save(study=study, rule=rule("A", tags=["keras"], minus=["C"]), question_set=a)
    with pytest.raises(ValidationError):
        question_set_save(study=study, rule=rule("A", union=["A"]), question_set=a)


def test_a_set_in_use_cannot_be_deleted_and_says_by_whom(corpus):
    study, _ = corpus
    a = question_set_save(study=study, rule=rule("A", tags=["keras"]))
    question_set_save(study=study, rule=rule("B", within=["A"], words=["cloud"]))
    with pytest.raises(ValidationError, match="used by B"):
        question_set_delete(question_set=a)
    assert QuestionSet.objects.filter(pk=a.pk).exists()


def test_sets_of_another_study_are_not_visible(corpus):
    study, _ = corpus
    other = StudyFactory()
    question_set_save(study=other, rule=rule("A", tags=["keras"]))
    with pytest.raises(ValidationError):
        question_set_save(study=study, rule=rule("B", within=["A"], words=["x"]))


def test_an_empty_result_and_re_evaluation_after_an_import(corpus):
    study, _ = corpus
    s = question_set_save(study=study, rule=rule("nothing", tags=["cobol"]))
    question_set_evaluate(question_set=s)
    s.refresh_from_db()
    assert s.member_count == 0 and members(s) == set()
    q(study, 50, "COBOL on mainframes", tags="|cobol|")
    question_set_evaluate(question_set=s)
    assert members(s) == {50}


def test_evaluation_as_a_job(corpus, django_capture_on_commit_callbacks, monkeypatch):
    study, _ = corpus
    s = question_set_save(study=study, rule=rule("cloud", words=["cloud"]))
    queued = []
    monkeypatch.setattr("annotator.jobs.tasks.run_job.delay", lambda job_id: queued.append(job_id))
    with django_capture_on_commit_callbacks(execute=True):
        job = question_set_evaluate_start(question_set=s)
    assert queued == [job.pk] and job.kind == JobKind.QUESTION_SET
    job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error
    # Only questions containing "cloud" somewhere (1, 4 in code, 5) reach Python; 2 match outside code.
    assert job.result["members"] == 2 and job.rows_total == job.rows_read == 3
    assert Job.objects.get(pk=job.pk).percent == 100


def test_a_study_with_sets_that_use_each_other_can_be_deleted(corpus):
    """RESTRICT, not PROTECT: a used set cannot go alone, but goes with its study."""
    study, _ = corpus
    question_set_save(study=study, rule=rule("A", tags=["keras"]))
    question_set_save(study=study, rule=rule("B", within=["A"], words=["cloud"]))
    question_set_evaluate(question_set=QuestionSet.objects.get(name="B"))
    study.delete()
    assert not QuestionSet.objects.exists() and not QuestionSetMember.objects.exists()


@pytest.mark.parametrize(
    "body, words, whole",
    [
        ("<p>our R&amp;D team deploys</p>", ["r&d"], False),  # escaped in the HTML, plain in the text
        ("<p>we use tf <b>serving</b> daily</p>", ["tf serving"], True),  # a phrase split by markup
        ("<p>déploiement sur le nuage</p>", ["déploiement"], True),  # non-ASCII: no database prefilter
        ("<p>quote &quot;serve&quot; it</p>", ['"serve"'], False),
    ],
)
def test_the_database_prefilter_never_loses_a_match(corpus, body, words, whole):
    study, _ = corpus
    q(study, 77, "Unrelated title", body=body)
    s = question_set_save(study=study, rule=rule("x", words=words, whole_words=whole))
    question_set_evaluate(question_set=s)
    assert 77 in members(s)


# -- all questions --------------------------------------------------------------------


def test_an_all_questions_set_holds_every_question_and_works_as_a_baseline(corpus):
    study, posts = corpus
    everything = question_set_save(study=study, rule=rule("All questions", all_questions=True))
    c = question_set_save(study=study, rule=rule("C", words=["cloud", "server"]))
    rest = question_set_save(study=study, rule=rule("All but C", all_questions=True, minus=["C"]))

    question_set_evaluate(question_set=rest)
    question_set_evaluate(question_set=everything)
    everything.refresh_from_db()

    assert members(everything) == set(posts) and everything.member_count == 7  # questions, not the answer
    assert everything.funnel == [{"step": "start", "label": "every question of the study (all questions)",
                                  "before": 7, "after": 7, "kept": 7, "dropped": 0, "added": 0}]
    assert members(c) == {1, 5} and members(rest) == {2, 3, 4, 6, 7}
    # A later import: the next evaluation takes the new question in, like any rule.
    q(study, 60, "A new question", tags="|cobol|")
    question_set_evaluate(question_set=everything)
    assert 60 in members(everything)


def test_all_questions_is_a_choice_the_user_makes_and_excludes_within(corpus):
    study, _ = corpus
    with pytest.raises(ValidationError, match="tick “All questions”"):
        question_set_save(study=study, rule=rule("Nothing given"))
    question_set_save(study=study, rule=rule("B", tags=["keras"]))
    with pytest.raises(ValidationError) as refused:
        question_set_save(study=study, rule=rule("Both", all_questions=True, within=["B"]))
    assert "leave “within” empty" in str(refused.value.message_dict["within"])


# -- changes take effect at once; what depends on a changed set says so ---------------------


def test_a_decision_or_a_rule_change_queues_the_sets_evaluation_after_commit(
        corpus, queued, django_capture_on_commit_callbacks):
    study, posts = corpus
    with django_capture_on_commit_callbacks(execute=True):
        c, first = question_set_save_and_evaluate(study=study, rule=rule("C", words=["cloud", "server"]))
    assert queued == [first.pk] and first.params == {"question_set": c.pk, "name": "C"}
    job_run(job_id=first.pk)
    assert members(c) == {1, 5}

    with django_capture_on_commit_callbacks(execute=True):
        _decision, job = manual_decision_set_and_evaluate(question_set=c, post=posts[5], action="exclude",
                                                          reason="about deployment, not the cloud")
        # Until it runs, the set says it is being evaluated again, and why.
        staleness = question_set_staleness(question_set=QuestionSet.objects.get(pk=c.pk))
    assert queued == [first.pk, job.pk] and staleness.reevaluating and staleness.change.rule
    assert "its rule or manual decisions changed" in staleness.message and "evaluated again" in staleness.message
    job_run(job_id=job.pk)
    assert members(c) == {1}
    assert question_set_staleness(question_set=QuestionSet.objects.get(pk=c.pk)) is None

    with django_capture_on_commit_callbacks(execute=True):
        undo = manual_decision_remove_and_evaluate(question_set=c, post=posts[5])
        assert manual_decision_remove_and_evaluate(question_set=c, post=posts[5]) is None  # nothing left to undo
    job_run(job_id=undo.pk)
    assert members(c) == {1, 5}


def test_changes_while_an_evaluation_waits_in_the_queue_make_one_evaluation(corpus, queued):
    study, posts = corpus
    c, job = question_set_save_and_evaluate(study=study, rule=rule("C", words=["cloud", "server"]))
    _d, again = manual_decision_set_and_evaluate(question_set=c, post=posts[1], action="exclude", reason="x")
    _d, third = manual_decision_set_and_evaluate(question_set=c, post=posts[5], action="exclude", reason="y")
    assert again.pk == third.pk == job.pk and Job.objects.filter(kind=JobKind.QUESTION_SET).count() == 1
    job_run(job_id=job.pk)
    assert members(c) == set()  # the queued job read every decision when it started
    # Asked for by hand ("Evaluate again"), an evaluation is always a new job.
    assert question_set_evaluate_start(question_set=c).pk != job.pk


def test_a_baseline_is_out_of_date_once_a_set_it_uses_changes(corpus):
    study, posts = corpus
    question_set_save(study=study, rule=rule("B", tags=["tensorflow", "keras", "pytorch"]))
    c = question_set_save(study=study, rule=rule("C", within=["B"], words=["cloud", "server"]))
    baseline = question_set_save(study=study, rule=rule("baseline", within=["B"], minus=["C"]))
    question_set_evaluate(question_set=baseline)
    baseline.refresh_from_db()
    assert question_set_staleness(question_set=baseline) is None

    # Evaluating C again without a change to its members changes nothing downstream.
    question_set_evaluate(question_set=c)
    assert question_set_staleness(question_set=baseline) is None

    manual_decision_set(question_set=c, post=posts[5], action="exclude", reason="deployment")
    stale = question_set_staleness(question_set=baseline)
    assert stale.change.changed == "C" and stale.change.rule and not stale.reevaluating
    assert stale.message.startswith("Out of date: “C”, which its rule uses, changed on ")
    assert "evaluate it again" in stale.message

    question_set_evaluate(question_set=c)  # C alone: its members change, the baseline's do not yet
    c.refresh_from_db()
    stale = question_set_staleness(question_set=baseline)
    assert stale.change.changed == "C" and not stale.change.rule and stale.change.at == c.members_changed_at

    question_set_evaluate(question_set=baseline)
    baseline.refresh_from_db()
    assert question_set_staleness(question_set=baseline) is None and members(baseline) == {2, 3, 4, 5}


def test_a_change_after_a_moment_is_what_a_draw_from_the_set_reports(corpus):
    study, posts = corpus
    c = question_set_save(study=study, rule=rule("C", words=["cloud", "server"]))
    question_set_evaluate(question_set=c)
    c.refresh_from_db()
    drawn_at = timezone.now()
    assert question_set_change_after(question_set=c, moment=drawn_at) is None
    assert question_set_change_after(question_set=c, moment=None) is None

    manual_decision_set(question_set=c, post=posts[1], action="exclude", reason="not about serving")
    pending = question_set_change_after(question_set=c, moment=drawn_at)
    assert pending.itself and pending.rule and pending.what == "its rule or manual decisions changed"

    question_set_evaluate(question_set=c)
    c.refresh_from_db()
    done = question_set_change_after(question_set=c, moment=drawn_at)
    assert done.at == c.members_changed_at == c.evaluated_at and done.what == "its members changed"
