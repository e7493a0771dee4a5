"""Question-set pages: who may do what, and the flow an owner follows."""

import re
from datetime import UTC, datetime

import pytest
from django.utils import timezone

from annotator.corpus.models import Post
from annotator.jobs.models import Job, JobKind
from annotator.jobs.runner import job_run
from sampling.question_sets.models import ManualDecision, QuestionSet
from sampling.question_sets.services import QuestionSetRule, question_set_evaluate, question_set_save
from tests.factories import MembershipFactory, PostFactory, StudyFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def study():
    study = StudyFactory()
    PostFactory(study=study, so_id=1, title="Serving on a cloud server", body="<p>deploy</p>", tags="|keras|",
                creation_date=datetime(2020, 1, 1, tzinfo=UTC))
    PostFactory(study=study, so_id=2, title="Android crash", body="<p>mobile <code>cloud()</code></p>",
                tags="|tensorflow|", creation_date=datetime(2021, 1, 1, tzinfo=UTC))
    return study


def login(client, study, **roles):
    member = MembershipFactory(study=study, **roles)
    client.force_login(member.user)
    return member.user


def test_owner_defines_a_set_and_sees_the_funnel_members_and_highlights(client, study, monkeypatch):
    monkeypatch.setattr("annotator.jobs.tasks.run_job.delay", lambda job_id: None)
    login(client, study, is_owner=True)
    response = client.post(f"/studies/{study.slug}/sets/new/", {
        "name": "C", "words": "cloud\nserver", "whole_words": "on", "search_title": "on", "search_body": "on",
    })
    question_set = QuestionSet.objects.get(study=study, name="C")
    job = Job.objects.get(kind=JobKind.QUESTION_SET, params__question_set=question_set.pk)
    assert response.status_code == 302 and response.url.endswith(f"/sets/{question_set.pk}/?job={job.pk}")

    page = client.get(response.url)
    assert b'hx-trigger="every 1s"' in page.content  # the evaluation is shown while it runs
    job_run(job_id=job.pk)
    poll = client.get(response.url, headers={"HX-Request": "true"})
    assert poll.status_code == 286 and poll.headers["HX-Refresh"] == "true"

    page = client.get(f"/studies/{study.slug}/sets/{question_set.pk}/").content.decode()
    assert "every question of the study" in page and "any of cloud, server" in page
    assert "Serving on a cloud server" in page and "Android crash" not in page  # cloud only inside code
    assert "<mark>cloud</mark>" in page and "<mark>server</mark>" in page


def test_a_job_that_ends_while_the_page_is_read_shows_its_funnel(client, study, monkeypatch):
    """The set is read, then its job: an evaluation that ends in between (its funnel written, the
    job succeeded) must not leave the page with neither the funnel nor the progress that reloads."""
    from sampling.question_sets import selectors

    monkeypatch.setattr("annotator.jobs.tasks.run_job.delay", lambda job_id: None)
    login(client, study, is_owner=True)
    response = client.post(f"/studies/{study.slug}/sets/new/", {
        "name": "C", "words": "cloud\nserver", "whole_words": "on", "search_title": "on", "search_body": "on",
    })
    job = Job.objects.get(kind=JobKind.QUESTION_SET)
    read_job = selectors.question_set_job

    def job_ends_meanwhile(**kwargs):
        job_run(job_id=job.pk)  # after the view read the set, before it reads the job
        return read_job(**kwargs)

    monkeypatch.setattr(selectors, "question_set_job", job_ends_meanwhile)
    page = client.get(response.url).content.decode()
    assert '<table class="table funnel">' in page and "Not evaluated yet" not in page


def test_bad_rules_come_back_in_the_form(client, study):
    login(client, study, is_owner=True)
    response = client.post(f"/studies/{study.slug}/sets/new/", {"name": "x", "words": " , ", "search_title": "on"})
    assert response.status_code == 200
    assert "an empty vocabulary is not a rule" in response.content.decode()
    assert not QuestionSet.objects.exists()


def test_manual_decisions_by_link_with_a_reason(client, study):
    login(client, study, is_owner=True)
    question_set = question_set_save(study=study, rule=QuestionSetRule(name="C", words=["cloud"]))
    url = f"/studies/{study.slug}/sets/{question_set.pk}/decisions/"
    client.post(url, {"question": "https://stackoverflow.com/questions/2/android-crash", "action": "include",
                      "reason": "cloud SDK on Android"})
    decision = ManualDecision.objects.get()
    assert decision.post.so_id == 2 and decision.reason == "cloud SDK on Android"
    question_set_evaluate(question_set=question_set)
    question_set.refresh_from_db()
    assert question_set.member_count == 2
    response = client.post(url, {"question": "999", "action": "include", "reason": "x"}, follow=True)
    assert "No single question 999" in response.content.decode()


def test_a_set_in_use_is_not_deleted_and_the_page_says_why(client, study):
    login(client, study, is_owner=True)
    b = question_set_save(study=study, rule=QuestionSetRule(name="B", tags=["keras"]))
    question_set_save(study=study, rule=QuestionSetRule(name="C", within=["B"], words=["cloud"]))
    response = client.post(f"/studies/{study.slug}/sets/{b.pk}/delete/", follow=True)
    assert "used by C" in response.content.decode()
    assert QuestionSet.objects.filter(pk=b.pk).exists()


@pytest.mark.parametrize("roles", [{}, {"is_rater": True}, {"is_arbitrator": True}])
def test_non_owners_read_but_cannot_change(client, study, roles):
    question_set = question_set_save(study=study, rule=QuestionSetRule(name="C", words=["cloud"]))
    login(client, study, **roles)
    base = f"/studies/{study.slug}/sets/"
    assert client.get(base).status_code == 200
    assert client.get(f"{base}{question_set.pk}/").status_code == 200
    assert client.get(f"{base}new/").status_code == 404
    for path in ("evaluate/", "delete/", "decisions/", "edit/"):
        assert client.post(f"{base}{question_set.pk}/{path}", {"name": "x"}).status_code == 404
    assert QuestionSet.objects.filter(pk=question_set.pk).exists() and not Job.objects.exists()


def test_non_members_get_404_everywhere(client, study):
    question_set = question_set_save(study=study, rule=QuestionSetRule(name="C", words=["cloud"]))
    login(client, StudyFactory(), is_owner=True)  # an owner elsewhere
    base = f"/studies/{study.slug}/sets/"
    for path in ("", "new/", f"{question_set.pk}/", f"{question_set.pk}/edit/"):
        assert client.get(base + path).status_code == 404


def test_a_set_of_another_study_is_404_through_this_study(client, study):
    other = StudyFactory()
    foreign = question_set_save(study=other, rule=QuestionSetRule(name="F", words=["x"]))
    login(client, study, is_owner=True)
    assert client.get(f"/studies/{study.slug}/sets/{foreign.pk}/").status_code == 404


def test_excluding_a_member_re_evaluates_the_set_at_once_and_says_so_meanwhile(client, study, queued,
                                                                               django_capture_on_commit_callbacks):
    login(client, study, is_owner=True)
    question_set = question_set_save(study=study, rule=QuestionSetRule(name="C", words=["cloud", "deploy"]))
    question_set_evaluate(question_set=question_set)
    url = f"/studies/{study.slug}/sets/{question_set.pk}/"
    assert "Serving on a cloud server" in client.get(url).content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"{url}decisions/", {"question": "https://stackoverflow.com/questions/1/x",
                                                   "action": "exclude", "reason": "not about deep learning"})
    job = Job.objects.get(kind=JobKind.QUESTION_SET)
    assert response.status_code == 302 and response.url == f"{url}?job={job.pk}" and queued == [job.pk]
    page = client.get(response.url).content.decode()
    assert 'id="set-reevaluating"' in page and "Being evaluated again" in page
    assert 'hx-trigger="every 1s"' in page
    listed = client.get(f"/studies/{study.slug}/sets/").content.decode()
    assert "being evaluated again" in listed

    job_run(job_id=job.pk)
    page = client.get(url).content.decode()
    assert "Being evaluated again" not in page and "Out of date" not in page
    assert "No question matches this rule." in page  # the excluded one has gone without "Evaluate again"

    with django_capture_on_commit_callbacks(execute=True):
        undo = client.post(f"{url}decisions/{Post.objects.get(so_id=1).pk}/remove/")
    assert undo.status_code == 302 and "?job=" in undo.url
    job_run(job_id=int(undo.url.rsplit("=", 1)[1]))
    assert "Serving on a cloud server" in client.get(url).content.decode()


def test_a_baseline_and_a_comparison_say_a_set_they_use_changed(client, study, queued):
    login(client, study, is_owner=True)
    b = question_set_save(study=study, rule=QuestionSetRule(name="B", tags=["keras", "tensorflow"]))
    c = question_set_save(study=study, rule=QuestionSetRule(name="C", within=["B"], words=["cloud"]))
    baseline = question_set_save(study=study, rule=QuestionSetRule(name="Baseline", within=["B"], minus=["C"]))
    question_set_evaluate(question_set=baseline)
    base = f"/studies/{study.slug}/sets/"
    assert "Out of date" not in client.get(f"{base}{baseline.pk}/").content.decode()

    # C's rule changes (and C is evaluated again at once); the baseline is not.
    client.post(f"{base}{c.pk}/edit/", {"name": "C", "within": ["B"], "words": "crash", "whole_words": "on",
                                        "search_title": "on", "search_body": "on"})
    job_run(job_id=Job.objects.get(kind=JobKind.QUESTION_SET, params__question_set=c.pk).pk)
    c.refresh_from_db()
    when = timezone.localtime(c.members_changed_at).strftime("%Y-%m-%d %H:%M")

    page = client.get(f"{base}{baseline.pk}/").content.decode()
    assert f"Out of date: “C”, which its rule uses, changed on {when}" in page
    assert f"Out of date: “C”, which its rule uses, changed on {when}" in client.get(
        f"{base}{baseline.pk}/statistics/").content.decode()
    listed = client.get(base).content.decode()
    assert "out of date: “C”, which its rule uses, changed on" in listed
    compared = client.get(f"{base}compare/", {"first": baseline.pk, "second": b.pk}).content.decode()
    assert "compare-stale" in compared and f"“C”, which its rule uses, changed on {when}" in compared
    assert "Out of date" not in client.get(f"{base}{c.pk}/").content.decode()


def test_an_all_questions_set_from_the_form(client, study, queued):
    login(client, study, is_owner=True)
    response = client.post(f"/studies/{study.slug}/sets/new/", {
        "name": "All questions", "all_questions": "on", "search_title": "on", "search_body": "on",
        "whole_words": "on"})
    question_set = QuestionSet.objects.get(name="All questions")
    assert response.status_code == 302 and question_set.all_questions
    job_run(job_id=Job.objects.get(kind=JobKind.QUESTION_SET).pk)
    page = client.get(f"/studies/{study.slug}/sets/{question_set.pk}/").content.decode()
    assert "Rule:</strong> all questions of the study" in page
    assert "2 questions" in page and "Android crash" in page and "Serving on a cloud server" in page
    edit = client.get(f"/studies/{study.slug}/sets/{question_set.pk}/edit/").content.decode()
    assert re.search(r"<input[^>]*name=\"all_questions\"[^>]*checked", edit)


def test_an_evaluated_set_is_read_once(client, study, monkeypatch):
    """Once its job has written it, every later view reads the set once (not again after its job)."""
    from sampling.question_sets import selectors

    monkeypatch.setattr("annotator.jobs.tasks.run_job.delay", lambda job_id: None)
    login(client, study, is_owner=True)
    response = client.post(f"/studies/{study.slug}/sets/new/", {
        "name": "C", "words": "cloud\nserver", "whole_words": "on", "search_title": "on", "search_body": "on",
    })
    job_run(job_id=Job.objects.get(kind=JobKind.QUESTION_SET).pk)
    reads, read_set = [], selectors.question_set_get
    monkeypatch.setattr(selectors, "question_set_get", lambda **kw: reads.append(kw) or read_set(**kw))
    page = client.get(response.url).content.decode()
    assert '<table class="table funnel">' in page and len(reads) == 1
