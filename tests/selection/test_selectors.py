"""Figures on question sets: members, questions and askers per year, the share
without an accepted answer, response times, one set's statistics and two sets
compared. Checked on the real datascience.meta dump against counts taken
straight from its XML, and on hand-made posts for every edge case."""

from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from lxml import etree
from scipy.stats import chi2_contingency

from annotator.corpus.models import Post, PostType
from annotator.corpus.services import import_file_describe, import_run
from sampling.question_sets.models import QuestionSet, QuestionSetMember
from sampling.question_sets.selectors import (
    accepted_answer_share,
    question_set_comparison,
    question_set_overlap,
    question_set_posts,
    question_set_statistics,
    questions_per_period,
    questions_per_year,
    response_times,
    statistics_period,
)
from sampling.question_sets.statistics import summarise_durations, two_proportion_test
from tests.factories import AnswerFactory, PostFactory, QuestionSetFactory, QuestionSetMemberFactory, StudyFactory

pytestmark = pytest.mark.django_db

META_DUMP = "datascience.meta.stackexchange.com-Posts.xml"
META_SITE = "datascience.meta.stackexchange.com"


def set_of(study, questions, name=None) -> QuestionSet:
    """A set whose members are ``questions`` (a queryset or list of posts),
    created directly: the rule evaluation is not what is under test here."""
    question_set = QuestionSetFactory(study=study, **({"name": name} if name else {}))
    pks = questions.values_list("pk", flat=True) if isinstance(questions, QuerySet) else [q.pk for q in questions]
    QuestionSetMember.objects.bulk_create(QuestionSetMember(question_set=question_set, post_id=pk) for pk in pks)
    return question_set


def at(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


# -- the real dump -------------------------------------------------------------


def _dump_date(value: str) -> datetime:
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


@pytest.fixture
def meta_xml(shared_data):
    """The dump's rows, read independently of the importer."""
    root = etree.parse(str(shared_data / META_DUMP)).getroot()
    rows = [dict(row.attrib) for row in root.iter("row")]
    return {
        "questions": [r for r in rows if r["PostTypeId"] == "1"],
        "posts": {r["Id"]: r for r in rows},
    }


@pytest.fixture
def meta_set(shared_data):
    study = StudyFactory()
    import_run(study=study, files=[import_file_describe(path=str(shared_data / META_DUMP))])
    return set_of(study, Post.objects.filter(study=study, post_type=PostType.QUESTION), name="all of meta")


def test_real_dump_questions_and_askers_per_year_match_the_xml(meta_set, meta_xml):
    questions = meta_xml["questions"]
    expected_questions = Counter(int(q["CreationDate"][:4]) for q in questions)
    askers = defaultdict(set)
    for q in questions:
        if "OwnerUserId" in q:
            askers[int(q["CreationDate"][:4])].add(q["OwnerUserId"])
    first, last = min(expected_questions), max(expected_questions)
    expected_rows = [
        (str(year), expected_questions.get(year, 0), len(askers.get(year, ()))) for year in range(first, last + 1)
    ]

    table = question_set_statistics(question_set=meta_set).periods

    assert table.rows() == expected_rows
    assert table.header == ("year", "questions", "askers")
    # The figures the issue quotes, and the README's totals.
    assert table.rows()[0] == ("2014", 46, expected_rows[0][2]) and table.rows()[-1][:2] == ("2024", 3)
    assert table.questions == len(questions) == 257
    assert table.askers == len({q["OwnerUserId"] for q in questions if "OwnerUserId" in q}) == 134
    assert table.without_owner == sum("OwnerUserId" not in q for q in questions) == 2
    assert table.without_date == 0
    assert sum(r.questions for r in table.periods) == 257


@pytest.mark.parametrize("period", ["month", "quarter"])
def test_real_dump_questions_and_askers_per_month_and_quarter_match_the_xml(meta_set, meta_xml, period):
    """Counted here from the XML's dates as text, apart from the database's truncation."""
    def key(created: str) -> str:
        year, month = created[:4], int(created[5:7])
        return f"{year}-{month:02d}" if period == "month" else f"{year}-Q{(month - 1) // 3 + 1}"

    questions = meta_xml["questions"]
    expected = Counter(key(q["CreationDate"]) for q in questions)
    askers = defaultdict(set)
    for q in questions:
        if "OwnerUserId" in q:
            askers[key(q["CreationDate"])].add(q["OwnerUserId"])

    table = question_set_statistics(question_set=meta_set, period=period).periods

    assert table.period == period and table.header == (period, "questions", "askers")
    nonzero = [(label, n, a) for label, n, a in table.rows() if n]
    assert nonzero == sorted((label, n, len(askers[label])) for label, n in expected.items())
    assert sum(n for _label, n, _a in table.rows()) == len(questions) == 257
    # Consecutive periods, first to last, the empty ones as zeros.
    steps = {"month": 1, "quarter": 3}[period]
    starts = [row.start for row in table.periods]
    assert all((b.year * 12 + b.month) - (a.year * 12 + a.month) == steps for a, b in zip(starts, starts[1:]))


def test_real_dump_accepted_answers_and_response_times_match_the_xml(
    meta_set, meta_xml, django_assert_max_num_queries
):
    posts = meta_xml["posts"]
    accepted = [q for q in meta_xml["questions"] if "AcceptedAnswerId" in q]
    expected_hours = sorted(
        (_dump_date(posts[q["AcceptedAnswerId"]]["CreationDate"]) - _dump_date(q["CreationDate"])).total_seconds()
        / 3600
        for q in accepted
    )

    # A handful of aggregate queries for the whole set, none per question.
    with django_assert_max_num_queries(6):
        stats = question_set_statistics(question_set=meta_set)

    assert (stats.accepted.questions, stats.accepted.with_accepted, stats.accepted.without_accepted) == (257, 83, 174)
    assert len(accepted) == 83
    assert stats.accepted.share_without_accepted == pytest.approx(174 / 257)
    times = stats.response_times
    assert sorted(times.hours) == pytest.approx(expected_hours, abs=1e-9)
    assert times.skipped_total == 0 and times.without_accepted == 174
    assert stats.durations == summarise_durations(expected_hours)
    assert stats.durations.n == 83


def test_real_dump_comparison_of_two_sets(meta_set, meta_xml):
    study = meta_set.study
    questions = Post.objects.filter(study=study, post_type=PostType.QUESTION)
    early = set_of(study, questions.filter(creation_date__lt=at(2017, 1, 1)), name="2014–2016")
    late = set_of(study, questions.filter(creation_date__gte=at(2017, 1, 1)), name="2017 on")

    def counts(rows):
        return sum("AcceptedAnswerId" not in q for q in rows), len(rows)

    x1, n1 = counts([q for q in meta_xml["questions"] if q["CreationDate"] < "2017"])
    x2, n2 = counts([q for q in meta_xml["questions"] if q["CreationDate"] >= "2017"])
    assert n1 + n2 == 257 and x1 + x2 == 174

    comparison = question_set_comparison(first=early, second=late)

    assert (comparison.first_accepted.without_accepted, comparison.first_accepted.questions) == (x1, n1)
    assert (comparison.second_accepted.without_accepted, comparison.second_accepted.questions) == (x2, n2)
    assert comparison.test == two_proportion_test(x1=x1, n1=n1, x2=x2, n2=n2)
    assert comparison.test.chi2 is not None and comparison.undefined_reason == ""
    medians = {row[0]: row[1:] for row in comparison.rows()}["median response time (hours)"]
    assert medians == (
        question_set_statistics(question_set=early).durations.median,
        question_set_statistics(question_set=late).durations.median,
    )
    assert None not in medians


def test_real_dump_overlapping_sets_count_the_questions_in_both(meta_set, meta_xml):
    study = meta_set.study
    questions = Post.objects.filter(study=study, post_type=PostType.QUESTION)
    until_2018 = set_of(study, questions.filter(creation_date__lt=at(2019, 1, 1)), name="to 2018")
    from_2016 = set_of(study, questions.filter(creation_date__gte=at(2016, 1, 1)), name="from 2016")
    ids = {name: {q["Id"] for q in meta_xml["questions"] if keep(q["CreationDate"])}
           for name, keep in (("to", lambda d: d < "2019"), ("from", lambda d: d >= "2016"))}
    both = len(ids["to"] & ids["from"])
    assert 0 < both < min(map(len, ids.values()))

    comparison = question_set_comparison(first=until_2018, second=from_2016)

    assert comparison.overlap == question_set_overlap(first=until_2018, second=from_2016) == both
    assert f"{both:,} questions are in both sets" in comparison.overlap_note
    assert ("questions in both sets", both, None) in comparison.rows()
    # the test is that of the two shares as given (SciPy agrees), the overlap is reported beside it
    without = {name: sum("AcceptedAnswerId" not in meta_xml["posts"][i] for i in ids[name]) for name in ids}
    table = [[without["to"], len(ids["to"]) - without["to"]], [without["from"], len(ids["from"]) - without["from"]]]
    assert comparison.test.chi2 == pytest.approx(chi2_contingency(table, correction=False)[0], rel=1e-12)
    assert comparison.test.p_value_corrected == pytest.approx(chi2_contingency(table)[1], rel=1e-12)
    nested = question_set_comparison(first=meta_set, second=from_2016)
    assert nested.overlap == len(ids["from"]) and "every question of “from 2016” is also in “all of meta”" in \
        nested.overlap_note


def test_a_set_is_not_compared_with_itself_nor_with_a_set_of_the_same_questions():
    study = StudyFactory()
    questions = [PostFactory(study=study), PostFactory(study=study)]
    one, twin = set_of(study, questions, name="one"), set_of(study, questions, name="twin")
    with pytest.raises(ValidationError, match="“one” cannot be compared with itself"):
        question_set_comparison(first=one, second=one)
    with pytest.raises(ValidationError, match="“one” and “twin” hold the same 2 questions"):
        question_set_comparison(first=one, second=twin)
    empty, other_empty = QuestionSetFactory(study=study), QuestionSetFactory(study=study)
    assert "no questions" in question_set_comparison(first=empty, second=other_empty).undefined_reason


# -- members --------------------------------------------------------------------


def test_set_posts_are_its_member_questions_only():
    study = StudyFactory()
    question_set = QuestionSetFactory(study=study)
    members = [QuestionSetMemberFactory(question_set=question_set).post for _ in range(3)]
    QuestionSetMemberFactory(question_set=QuestionSetFactory(study=study))  # another set's member
    PostFactory(study=study)  # in the study, in no set
    answer = AnswerFactory(question=members[0])
    QuestionSetMember.objects.create(question_set=question_set, post=answer)  # not a question: not counted

    posts = question_set_posts(question_set=question_set)

    assert sorted(posts.values_list("pk", flat=True)) == sorted(p.pk for p in members)
    assert accepted_answer_share(questions=posts).questions == 3


# -- empty sets -------------------------------------------------------------------


def test_an_empty_set_has_no_figures_and_no_division_by_zero():
    empty = QuestionSetFactory()

    stats = question_set_statistics(question_set=empty)

    assert stats.periods.periods == () and stats.periods.rows() == []
    assert (stats.periods.questions, stats.periods.askers, stats.periods.without_date,
            stats.periods.without_owner) == (
        0, 0, 0, 0,
    )
    assert stats.accepted.questions == 0 and stats.accepted.share_without_accepted is None
    assert stats.response_times.hours == () and stats.response_times.skipped_total == 0
    assert stats.durations.n == 0 and stats.durations.median is None


def test_comparing_with_an_empty_set_is_undefined_and_says_why():
    study = StudyFactory()
    full = set_of(study, [PostFactory(study=study), PostFactory(study=study, accepted_answer_so_id=1)])
    empty = QuestionSetFactory(study=study)

    comparison = question_set_comparison(first=full, second=empty)

    assert comparison.test.chi2 is None and comparison.test.p_value is None
    assert "no questions" in comparison.undefined_reason
    assert comparison.second_accepted.share_without_accepted is None
    assert comparison.second_durations.median is None
    assert all(len(row) == 3 for row in comparison.rows())


# -- years ------------------------------------------------------------------------


def test_years_are_filled_between_first_and_last_and_missing_fields_are_counted():
    study = StudyFactory()
    posts = [
        PostFactory(study=study, creation_date=at(2019, 3, 1), owner_user_id=7),
        PostFactory(study=study, creation_date=at(2019, 8, 1), owner_user_id=7),
        PostFactory(study=study, creation_date=at(2019, 9, 1), owner_user_id=None),
        PostFactory(study=study, creation_date=at(2022, 1, 1), owner_user_id=8),
        PostFactory(study=study, creation_date=None, owner_user_id=9),
        PostFactory(study=study, creation_date=None, owner_user_id=None),
    ]

    table = questions_per_year(questions=question_set_posts(question_set=set_of(study, posts)))

    assert table.rows() == [("2019", 3, 1), ("2020", 0, 0), ("2021", 0, 0), ("2022", 1, 1)]
    assert (table.questions, table.askers, table.without_date, table.without_owner) == (6, 3, 2, 2)


def test_years_ignore_the_callers_ordering_and_answers():
    study = StudyFactory()
    for day, score in [(1, 5), (2, 3), (3, 9)]:
        question = PostFactory(study=study, creation_date=at(2020, 1, day), score=score, owner_user_id=day)
    AnswerFactory(question=question, creation_date=at(2021, 1, 1))

    # An ORDER BY on score must not split the year's GROUP BY into one row per score.
    table = questions_per_year(questions=Post.objects.filter(study=study).order_by("-score", "so_id"))

    assert table.rows() == [("2020", 3, 3)]


def test_a_year_is_the_utc_year_whatever_the_time_zone_setting(settings):
    settings.TIME_ZONE = "Pacific/Auckland"  # 2019-12-31 23:30 UTC is already 2020 there
    study = StudyFactory()
    PostFactory(study=study, creation_date=at(2019, 12, 31, 23, 30), owner_user_id=1)

    table = questions_per_year(questions=Post.objects.filter(study=study))

    assert table.rows() == [("2019", 1, 1)]


def test_months_and_quarters_fill_gaps_and_count_askers_per_period(settings):
    settings.TIME_ZONE = "Pacific/Auckland"  # UTC months, whatever the setting
    study = StudyFactory()
    for created, owner in [(at(2019, 11, 30, 23), 1), (at(2019, 11, 2), 1), (at(2020, 1, 31, 23, 59), 2),
                           (at(2020, 2, 1), 1), (at(2020, 4, 1), None)]:
        PostFactory(study=study, creation_date=created, owner_user_id=owner)
    questions = Post.objects.filter(study=study)

    months = questions_per_period(questions=questions, period="month")
    quarters = questions_per_period(questions=questions, period="quarter")

    assert months.rows() == [("2019-11", 2, 1), ("2019-12", 0, 0), ("2020-01", 1, 1), ("2020-02", 1, 1),
                             ("2020-03", 0, 0), ("2020-04", 1, 0)]
    assert quarters.rows() == [("2019-Q4", 2, 1), ("2020-Q1", 2, 2), ("2020-Q2", 1, 0)]
    assert [row.start for row in quarters.periods] == [date(2019, 10, 1), date(2020, 1, 1), date(2020, 4, 1)]
    assert (months.questions, months.askers, months.without_owner) == (5, 2, 1)


def test_a_period_other_than_month_quarter_or_year_is_refused():
    assert statistics_period(None) == "year" and statistics_period("quarter") == "quarter"
    for bad in ("", "week", "YEAR", "year "):
        with pytest.raises(ValidationError, match="not a period"):
            statistics_period(bad)


# -- accepted answers and response times --------------------------------------------


def test_share_without_accepted_answer():
    study = StudyFactory()
    posts = [PostFactory(study=study, accepted_answer_so_id=None) for _ in range(3)]
    posts.append(PostFactory(study=study, accepted_answer_so_id=99))

    share = accepted_answer_share(questions=Post.objects.filter(pk__in=[p.pk for p in posts]))

    assert (share.questions, share.without_accepted, share.with_accepted) == (4, 3, 1)
    assert share.share_without_accepted == 0.75


def test_response_time_hours_are_exact():
    study = StudyFactory()
    question = PostFactory(study=study, so_id=10, creation_date=at(2020, 5, 1, 12, 0), accepted_answer_so_id=11)
    AnswerFactory(question=question, so_id=11, creation_date=at(2020, 5, 1, 13, 30))
    AnswerFactory(question=question, so_id=12, creation_date=at(2020, 5, 1, 12, 5))  # not the accepted one
    later = PostFactory(study=study, so_id=20, creation_date=at(2020, 5, 1, 0, 0, 0, 1), accepted_answer_so_id=21)
    AnswerFactory(question=later, so_id=21, creation_date=at(2020, 5, 3, 0, 0, 0, 1))

    times = response_times(questions=Post.objects.filter(study=study))

    assert sorted(times.hours) == [1.5, 48.0]
    assert times.skipped_total == 0 and times.without_accepted == 0


def test_questions_whose_answer_cannot_be_timed_are_skipped_and_counted():
    study, elsewhere = StudyFactory(), StudyFactory()
    site = "stackoverflow.com"
    t0 = at(2021, 6, 1, 9, 0)

    def question(so_id, accepted, created=t0):
        return PostFactory(study=study, site=site, so_id=so_id, creation_date=created, accepted_answer_so_id=accepted)

    timed = question(1, 2)
    AnswerFactory(question=timed, so_id=2, creation_date=t0 + timedelta(minutes=90))
    # The accepted answer is missing from the study; the same id in another
    # study, on another site, or as a question does not stand in for it.
    question(3, 4)
    PostFactory(study=elsewhere, site=site, so_id=4, post_type=PostType.ANSWER, parent_so_id=3, creation_date=t0)
    PostFactory(study=study, site="superuser.com", so_id=4, post_type=PostType.ANSWER, parent_so_id=3,
                creation_date=t0)
    question(5, 6)
    PostFactory(study=study, site=site, so_id=6, creation_date=t0)  # a question, not an answer
    # Dates missing.
    undated_question = question(7, 8, created=None)
    AnswerFactory(question=undated_question, so_id=8, creation_date=t0)
    undated_answer = question(9, 10)
    AnswerFactory(question=undated_answer, so_id=10, creation_date=None)
    # Accepted answer older than its question (merged questions do this).
    merged = question(11, 12)
    AnswerFactory(question=merged, so_id=12, creation_date=t0 - timedelta(hours=3))
    question(13, None)  # nothing to time, and not "skipped"

    questions = Post.objects.filter(study=study, site=site, so_id__in=[1, 3, 5, 7, 9, 11, 13])
    times = response_times(questions=questions)

    assert times.hours == (1.5,)
    assert times.skipped == {
        "answer not in the study": 2,
        "question without a creation date": 1,
        "answer without a creation date": 1,
        "answer created before the question": 1,
    }
    assert times.without_accepted == 1
    # Every question with an accepted answer is timed or skipped for exactly one reason.
    with_accepted = accepted_answer_share(questions=questions).with_accepted
    assert len(times.hours) + times.skipped_total == with_accepted == 6


# -- comparison ---------------------------------------------------------------------


def test_comparison_matches_the_proportion_test_and_puts_medians_side_by_side():
    study = StudyFactory()
    t0 = at(2022, 2, 1)
    first_questions, second_questions = [], []
    # First set: 6 questions, 2 without an accepted answer; answered after 1, 2, 3 and 10 hours.
    for i, hours in enumerate([1, 2, 3, 10, None, None]):
        q = PostFactory(study=study, creation_date=t0, accepted_answer_so_id=None if hours is None else 500 + i)
        if hours is not None:
            AnswerFactory(question=q, so_id=500 + i, creation_date=t0 + timedelta(hours=hours))
        first_questions.append(q)
    # Second set: 5 questions, 4 without; one answered after 30 minutes.
    q = PostFactory(study=study, creation_date=t0, accepted_answer_so_id=600)
    AnswerFactory(question=q, so_id=600, creation_date=t0 + timedelta(minutes=30))
    second_questions = [q, *(PostFactory(study=study, creation_date=t0) for _ in range(4))]

    comparison = question_set_comparison(first=set_of(study, first_questions), second=set_of(study, second_questions))

    assert comparison.test == two_proportion_test(x1=2, n1=6, x2=4, n2=5)
    assert (comparison.test.p1, comparison.test.p2) == (2 / 6, 4 / 5)
    assert (comparison.first_accepted.share_without_accepted, comparison.second_accepted.share_without_accepted) == (
        2 / 6, 4 / 5,
    )
    assert (comparison.first_durations.median, comparison.second_durations.median) == (2.5, 0.5)
    rows = {row[0]: row[1:] for row in comparison.rows()}
    assert comparison.header == ("measure", "first", "second")
    assert rows["median response time (hours)"] == (2.5, 0.5)
    assert rows["without accepted answer"] == (2, 4)
    assert rows["chi2"][0] == comparison.test.chi2
