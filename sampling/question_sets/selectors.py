"""Reads of question sets: their members and the figures a study reports on them.

Every figure is computed in the database (``Count``, ``Subquery``,
``Trunc``) or from plain value lists; no ``Post`` instance is loaded.
The arithmetic that is statistics proper (quartiles, the χ² test) is done by
the pure functions in :mod:`sampling.question_sets.statistics`.

Questions that cannot contribute to a figure (no creation date, no owner, an
accepted answer that is not in the study) are counted and reported beside it,
never dropped without a trace.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Count, DateField, Exists, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Trunc
from django.utils import timezone

from annotator.corpus.models import Post, PostType
from annotator.form_utils import query_id

from .models import QuestionSet, QuestionSetMember, SetReference
from .statistics import DurationSummary, ProportionTest, summarise_durations, two_proportion_test

HOUR = timedelta(hours=1)


def _questions_only(questions: QuerySet[Post]) -> QuerySet[Post]:
    # No ordering: an ORDER BY column would otherwise join the GROUP BY of the year table.
    return questions.filter(post_type=PostType.QUESTION).order_by()


def question_set_posts(*, question_set: QuestionSet) -> QuerySet[Post]:
    """The set's member questions (of the set's own study), ordered by site and id."""
    member_ids = QuestionSetMember.objects.filter(question_set=question_set).values("post_id")
    return Post.objects.filter(
        study_id=question_set.study_id, post_type=PostType.QUESTION, pk__in=member_ids
    ).order_by("site", "so_id")


# -- questions per month, quarter or year ---------------------------------------------


class Period(models.TextChoices):
    MONTH = "month", "month"
    QUARTER = "quarter", "quarter"
    YEAR = "year", "year"


def statistics_period(value: str | None) -> str:
    """The period of a statistics request: ``year`` when not given; ValidationError for
    anything but month, quarter or year (a page and the API answer 400 with the message)."""
    if value is None:
        return Period.YEAR
    if value not in Period.values:
        raise ValidationError({"period": [f"“{value[:40]}” is not a period: choose month, quarter or year."]})
    return value


def _period_label(start: date, period: str) -> str:
    if period == Period.YEAR:
        return str(start.year)
    if period == Period.QUARTER:
        return f"{start.year}-Q{(start.month - 1) // 3 + 1}"
    return f"{start.year}-{start.month:02d}"


def _period_next(start: date, period: str) -> date:
    months = {Period.MONTH: 1, Period.QUARTER: 3, Period.YEAR: 12}[period]
    month = start.month - 1 + months
    return date(start.year + month // 12, month % 12 + 1, 1)


@dataclass(frozen=True)
class PeriodRow:
    start: date  # the first day of the period (UTC)
    label: str  # "2020", "2020-Q1", "2020-03"
    questions: int
    askers: int  # distinct owner_user_id of the period's questions, NULL not counted


@dataclass(frozen=True)
class PeriodTable:
    period: str  # month, quarter or year
    periods: tuple[PeriodRow, ...]  # consecutive, first to last; gaps are zero rows
    questions: int  # all questions, dated or not
    askers: int  # distinct over all questions, so not the sum of the periods' figures
    without_date: int  # in ``questions`` but in no period row
    without_owner: int  # in the period rows' questions but in no ``askers`` figure

    @property
    def header(self) -> tuple[str, str, str]:
        return (self.period, "questions", "askers")

    def rows(self) -> list[tuple[str, int, int]]:
        """The period rows as plain tuples, in the order of ``header`` (for CSV)."""
        return [(r.label, r.questions, r.askers) for r in self.periods]


def questions_per_period(*, questions: QuerySet[Post], period: str = Period.YEAR) -> PeriodTable:
    """Questions and distinct askers per calendar month, quarter or year (UTC) of creation.
    Distinct askers are counted per period in the database: they do not add up."""
    questions = _questions_only(questions)
    totals = questions.aggregate(
        questions=Count("pk"),
        askers=Count("owner_user_id", distinct=True),
        without_date=Count("pk", filter=Q(creation_date__isnull=True)),
        without_owner=Count("pk", filter=Q(owner_user_id__isnull=True)),
    )
    per_period = (
        questions.filter(creation_date__isnull=False)
        .annotate(start=Trunc("creation_date", period, output_field=DateField(), tzinfo=UTC))
        .values("start")
        .annotate(questions=Count("pk"), askers=Count("owner_user_id", distinct=True))
        .values_list("start", "questions", "askers")
    )
    counted = {start: (n, askers) for start, n, askers in per_period}
    rows: list[PeriodRow] = []
    if counted:
        start, last = min(counted), max(counted)
        while start <= last:
            rows.append(PeriodRow(start, _period_label(start, period), *counted.get(start, (0, 0))))
            start = _period_next(start, period)
    return PeriodTable(period=period, periods=tuple(rows), **totals)


def questions_per_year(*, questions: QuerySet[Post]) -> PeriodTable:
    return questions_per_period(questions=questions, period=Period.YEAR)


# -- accepted answers ---------------------------------------------------------


@dataclass(frozen=True)
class AcceptedShare:
    questions: int
    without_accepted: int
    share_without_accepted: float | None  # None for an empty set

    @property
    def with_accepted(self) -> int:
        return self.questions - self.without_accepted


def accepted_answer_share(*, questions: QuerySet[Post]) -> AcceptedShare:
    """How many questions have no accepted answer (``accepted_answer_so_id`` unset)."""
    counts = _questions_only(questions).aggregate(
        n=Count("pk"), without=Count("pk", filter=Q(accepted_answer_so_id__isnull=True))
    )
    n, without = counts["n"], counts["without"]
    return AcceptedShare(questions=n, without_accepted=without, share_without_accepted=without / n if n else None)


# -- response times -----------------------------------------------------------


@dataclass(frozen=True)
class ResponseTimes:
    """Hours from each question to its accepted answer.

    Of the questions with an accepted answer, each one is either in ``hours``
    or in exactly one of the skipped counts (checked in this order)."""

    hours: tuple[float, ...]
    without_accepted: int  # nothing to measure; not "skipped"
    answer_not_in_study: int
    question_without_date: int
    answer_without_date: int
    answer_before_question: int  # a negative duration (e.g. merged questions)

    @property
    def skipped(self) -> dict[str, int]:
        return {
            "answer not in the study": self.answer_not_in_study,
            "question without a creation date": self.question_without_date,
            "answer without a creation date": self.answer_without_date,
            "answer created before the question": self.answer_before_question,
        }

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())


def response_times(*, questions: QuerySet[Post]) -> ResponseTimes:
    """Hours from each question's creation to its accepted answer's creation.

    The accepted answer is the answer of the same study and site whose id is
    the question's ``accepted_answer_so_id``; its date comes in by a
    correlated subquery, so only (question date, answer date) pairs are read."""
    accepted_answer = Post.objects.filter(
        study=OuterRef("study"),
        site=OuterRef("site"),
        so_id=OuterRef("accepted_answer_so_id"),
        post_type=PostType.ANSWER,
    )
    questions = _questions_only(questions)
    with_accepted = questions.filter(accepted_answer_so_id__isnull=False).annotate(
        answer_found=Exists(accepted_answer),
        answer_created=Subquery(accepted_answer.values("creation_date")[:1]),
    )
    found = Q(answer_found=True)
    counts = with_accepted.aggregate(
        answer_not_in_study=Count("pk", filter=~found),
        question_without_date=Count("pk", filter=found & Q(creation_date__isnull=True)),
        answer_without_date=Count(
            "pk", filter=found & Q(creation_date__isnull=False) & Q(answer_created__isnull=True)
        ),
    )
    pairs = with_accepted.filter(
        answer_found=True, creation_date__isnull=False, answer_created__isnull=False
    ).values_list("creation_date", "answer_created")
    # timedelta / timedelta divides whole microseconds: 90 minutes is exactly 1.5.
    hours = [(answered - asked) / HOUR for asked, answered in pairs]
    return ResponseTimes(
        hours=tuple(h for h in hours if h >= 0),
        without_accepted=questions.filter(accepted_answer_so_id__isnull=True).count(),
        answer_before_question=sum(1 for h in hours if h < 0),
        **counts,
    )


# -- one set, and two sets side by side ----------------------------------------


@dataclass(frozen=True)
class SetStatistics:
    question_set: QuestionSet
    periods: PeriodTable
    accepted: AcceptedShare
    response_times: ResponseTimes
    durations: DurationSummary  # of ``response_times.hours``


def question_set_statistics(*, question_set: QuestionSet, period: str = Period.YEAR) -> SetStatistics:
    questions = question_set_posts(question_set=question_set)
    times = response_times(questions=questions)
    return SetStatistics(
        question_set=question_set,
        periods=questions_per_period(questions=questions, period=period),
        accepted=accepted_answer_share(questions=questions),
        response_times=times,
        durations=summarise_durations(times.hours),
    )


INDEPENDENCE = "The χ² test assumes two independent samples: no question in both sets."


@dataclass(frozen=True)
class SetComparison:
    first: QuestionSet
    second: QuestionSet
    first_accepted: AcceptedShare
    second_accepted: AcceptedShare
    # x = questions without an accepted answer, n = questions, first set first.
    test: ProportionTest
    first_durations: DurationSummary
    second_durations: DurationSummary
    overlap: int = 0  # questions in both sets

    @property
    def undefined_reason(self) -> str:
        """Why the test has no χ² (an empty set, equal 0/1 shares); "" when it has one."""
        return self.test.undefined_reason

    @property
    def overlap_note(self) -> str:
        """What the questions in both sets mean for the test; "" when the sets are disjoint."""
        k = self.overlap
        if not k:
            return ""
        a, b = self.first.name, self.second.name
        n1, n2 = self.first_accepted.questions, self.second_accepted.questions
        both = f"{k:,} question{' is' if k == 1 else 's are'} in both sets"
        if k == n1:
            where, disjoint = f"every question of “{a}” is also in “{b}”", f"“{a}” with “{b}” minus “{a}”"
        elif k == n2:
            where, disjoint = f"every question of “{b}” is also in “{a}”", f"“{b}” with “{a}” minus “{b}”"
        else:
            where = f"{k:,} of {n1:,} in “{a}”, {k:,} of {n2:,} in “{b}”"
            disjoint = f"“{a}” minus “{b}” with “{b}” minus “{a}”"
        return (f"The sets overlap: {both} ({where}). {INDEPENDENCE} Here the questions in both count twice, "
                f"so the p-value is not valid as it stands: for a valid test compare disjoint sets, e.g. {disjoint} "
                "(a set rule's “minus”).")

    header = ("measure", "first", "second")

    def rows(self) -> list[tuple[str, float | int | None, float | int | None]]:
        """The comparison as (measure, first set, second set) rows, for CSV.
        The test's figures concern both sets and stand in the first column."""
        a, b = self.first_accepted, self.second_accepted
        return [
            ("questions", a.questions, b.questions),
            ("without accepted answer", a.without_accepted, b.without_accepted),
            ("share without accepted answer", a.share_without_accepted, b.share_without_accepted),
            ("response times (n)", self.first_durations.n, self.second_durations.n),
            ("median response time (hours)", self.first_durations.median, self.second_durations.median),
            ("questions in both sets", self.overlap, None),
            ("chi2", self.test.chi2, None),
            ("p", self.test.p_value, None),
            ("chi2 (Yates)", self.test.chi2_corrected, None),
            ("p (Yates)", self.test.p_value_corrected, None),
        ]


def question_set_overlap(*, first: QuestionSet, second: QuestionSet) -> int:
    """The number of questions that are members of both sets."""
    in_second = QuestionSetMember.objects.filter(question_set=second).values("post_id")
    return question_set_posts(question_set=first).filter(pk__in=in_second).count()


def question_set_comparison_check(*, first: QuestionSet, second: QuestionSet) -> int:
    """The overlap of two sets that may be compared; ValidationError when they
    are one sample, not two: the same set, or two sets holding the same questions."""
    if first.pk == second.pk:
        raise ValidationError(f"“{first.name}” cannot be compared with itself: the χ² test needs two independent "
                              "samples, and a set compared with itself is one sample twice. Choose two different sets.")
    overlap = question_set_overlap(first=first, second=second)
    if overlap and overlap == question_set_posts(question_set=first).count() == question_set_posts(
            question_set=second).count():
        raise ValidationError(f"“{first.name}” and “{second.name}” hold the same {overlap:,} "
                              f"question{'' if overlap == 1 else 's'}: compared with each other they are one sample "
                              "twice, not two independent samples. Choose sets that differ.")
    return overlap


def question_set_comparison(*, first: QuestionSet, second: QuestionSet) -> SetComparison:
    """The shares of questions without an accepted answer in two sets, their
    χ² test, and the two sets' response-time summaries side by side, with the
    number of questions in both (the test assumes none). ValidationError for a
    set compared with itself (or with a set of the same questions)."""
    overlap = question_set_comparison_check(first=first, second=second)
    shares, durations = [], []
    for question_set in (first, second):
        questions = question_set_posts(question_set=question_set)
        shares.append(accepted_answer_share(questions=questions))
        durations.append(summarise_durations(response_times(questions=questions).hours))
    return SetComparison(
        overlap=overlap,
        first=first,
        second=second,
        first_accepted=shares[0],
        second_accepted=shares[1],
        test=two_proportion_test(
            x1=shares[0].without_accepted, n1=shares[0].questions,
            x2=shares[1].without_accepted, n2=shares[1].questions,
        ),
        first_durations=durations[0],
        second_durations=durations[1],
    )


# -- what changed: sets out of date, and what uses them ------------------------------


def question_set_dependencies(*, start) -> set[int]:
    """Ids of the sets in ``start`` and of every set their rules use, directly or through others."""
    seen: set[int] = set()
    frontier = {qs.pk for qs in start}
    while frontier:
        seen |= frontier
        frontier = set(
            SetReference.objects.filter(question_set_id__in=frontier).values_list("target_id", flat=True)
        ) - seen
    return seen


@dataclass(frozen=True)
class SetChange:
    """The latest change after some moment to a set or to a set its rule uses."""

    question_set: QuestionSet  # the set asked about
    changed: str  # the name of the set that changed: the set itself or one its rule uses
    at: datetime
    rule: bool  # its rule or manual decisions changed (members to follow), else its members did

    @property
    def itself(self) -> bool:
        return self.changed == self.question_set.name

    @property
    def what(self) -> str:
        """ "its rule changed", "“C”, which its rule uses, changed" …"""
        if self.itself:
            return "its rule or manual decisions changed" if self.rule else "its members changed"
        return f"“{self.changed}”, which its rule uses, changed"


def question_set_change_after(*, question_set: QuestionSet, moment: datetime | None) -> SetChange | None:
    """The latest change after ``moment`` to the set or to a set its rule uses: a rule or
    manual decision saved (its evaluation may still be running), or members changed by an
    evaluation. None when nothing changed since (or ``moment`` is None). The one answer to
    "is this out of date?" for a set's own evaluation (``question_set_staleness``), for
    comparisons and baselines that use it, and for a draw from it (``moment`` = drawn at)."""
    if moment is None:
        return None
    latest: SetChange | None = None
    rows = QuestionSet.objects.filter(pk__in=question_set_dependencies(start=[question_set])).values_list(
        "name", "rule_changed_at", "members_changed_at")
    for name, rule_at, members_at in rows:
        for at, rule in ((rule_at, True), (members_at, False)):
            if at is not None and at > moment and (latest is None or at > latest.at):
                latest = SetChange(question_set=question_set, changed=name, at=at, rule=rule)
    return latest


@dataclass(frozen=True)
class SetStaleness:
    change: SetChange
    reevaluating: bool  # an evaluation of the set is queued or running

    @property
    def message(self) -> str:
        when = timezone.localtime(self.change.at).strftime("%Y-%m-%d %H:%M")
        evaluated = timezone.localtime(self.change.question_set.evaluated_at).strftime("%Y-%m-%d %H:%M")
        then = ("it is being evaluated again" if self.reevaluating
                else "evaluate it again to bring it up to date")
        return (f"Out of date: {self.change.what} on {when}, after “{self.change.question_set.name}” was "
                f"evaluated ({evaluated}); {then}.")


def question_set_staleness(*, question_set: QuestionSet) -> SetStaleness | None:
    """Why the set's last evaluation is out of date (its rule or decisions changed since, or
    a set it uses changed since), or None when it is not (or was never evaluated)."""
    change = question_set_change_after(question_set=question_set, moment=question_set.evaluated_at)
    if change is None:
        return None
    job = question_set_job(question_set=question_set)
    return SetStaleness(change=change, reevaluating=job is not None and not job.is_finished)


def question_set_evaluating_ids(*, study) -> set[int]:
    """Ids of the study's sets with an evaluation queued or running."""
    from annotator.jobs.models import Job, JobKind, JobStatus

    params = Job.objects.filter(study=study, kind=JobKind.QUESTION_SET,
                                status__in=[JobStatus.QUEUED, JobStatus.RUNNING]).values_list("params", flat=True)
    return {p.get("question_set") for p in params}


# -- pages: lists, members with their matches in context, the rule in words ----


def question_set_word_scope(question_set: QuestionSet) -> str:
    """Where and how a set's words are looked for, as its rule and its funnel say it:
    "title and body outside code (whole words)"."""
    where = " and ".join(part for part, on in (("title", question_set.search_title),
                                                ("body outside code", question_set.search_body)) if on)
    return f"{where} ({'whole words' if question_set.whole_words else 'substrings'})"


def question_set_rule_summary(*, question_set: QuestionSet) -> str:
    """The rule in one line, in the order its steps apply."""
    refs: dict[str, list[str]] = {"within": [], "union": [], "minus": []}
    for kind, name in question_set.references.values_list("kind", "target__name").order_by("target__name"):
        refs[kind].append(name)
    # Without "within" a rule starts from every question: said only for an all-questions set,
    # so that "all questions" in a rule means that set.
    parts = [f"within {' ∪ '.join(refs['within'])}"] if refs["within"] else []
    if question_set.all_questions:
        parts.append("all questions of the study")
    if question_set.tags:
        parts.append("tagged " + " or ".join(question_set.tags))
    if question_set.date_from or question_set.date_to:
        parts.append(f"created {question_set.date_from or '…'} to {question_set.date_to or '…'}")
    if question_set.words:
        parts.append(f"with {' / '.join(question_set.words)} in {question_set_word_scope(question_set)}")
    if question_set.required_words:
        parts.append("and " + " / ".join(question_set.required_words))
    plus = refs["union"] + [f"tag {t}" for t in question_set.union_tags]
    if plus:
        parts.append("plus " + ", ".join(plus))
    if refs["minus"]:
        parts.append("minus " + " ∪ ".join(refs["minus"]))
    return "; ".join(parts) or "every question"


def question_set_get(*, study, set_id: int) -> QuestionSet:
    """The set of this study, or 404 for a missing set and for another study's alike."""
    from django.http import Http404

    question_set = QuestionSet.objects.filter(study=study, pk=set_id).prefetch_related("references__target").first()
    if question_set is None:
        raise Http404("No such question set.")
    return question_set


def question_set_list(*, study, with_state: bool = False) -> list[QuestionSet]:
    """The study's sets with their rule in words; ``with_state`` adds ``evaluating`` (an
    evaluation is queued or running) and ``staleness`` (``question_set_staleness``)."""
    sets = list(QuestionSet.objects.filter(study=study).prefetch_related("references__target"))
    evaluating = question_set_evaluating_ids(study=study) if with_state else set()
    for question_set in sets:
        question_set.rule_text = question_set_rule_summary(question_set=question_set)
        if with_state:
            question_set.evaluating = question_set.pk in evaluating
            change = question_set_change_after(question_set=question_set, moment=question_set.evaluated_at)
            question_set.staleness = change and SetStaleness(change=change, reevaluating=question_set.evaluating)
    return sets


def question_set_job(*, question_set: QuestionSet, job_id: str | None = None):
    """The evaluation job named in the URL, else the set's latest one."""
    from annotator.jobs.models import Job, JobKind

    jobs = Job.objects.filter(study_id=question_set.study_id, kind=JobKind.QUESTION_SET,
                              params__question_set=question_set.pk)
    if job_id:
        return jobs.filter(pk=pk).first() if (pk := query_id(job_id)) is not None else None
    return jobs.order_by("-created_at", "-id").first()


def member_list(*, question_set: QuestionSet) -> QuerySet[QuestionSetMember]:
    return (QuestionSetMember.objects.filter(question_set=question_set)
            .select_related("post").order_by("-post__creation_date", "post_id"))


@dataclass(frozen=True)
class MemberRow:
    post: Post
    matched_words: list[str]
    snippets: list[tuple[str, str, str]]


def member_rows(*, question_set: QuestionSet, members) -> list[MemberRow]:
    """One page of members with their matched words highlighted in context
    (title, then the body without code), as the rule searched them."""
    from .text import Vocabulary, snippets, text_without_code

    vocabulary = Vocabulary(tuple(question_set.words) + tuple(question_set.required_words),
                            whole_words=question_set.whole_words)
    rows = []
    for member in members:
        post = member.post
        found: list[tuple[str, str, str]] = []
        if member.matched_words:
            texts = ([post.title] if question_set.search_title else []) + (
                [text_without_code(post.body)] if question_set.search_body else [])
            for text in texts:
                found += snippets(text, vocabulary, limit=3 - len(found))
                if len(found) >= 3:
                    break
        rows.append(MemberRow(post=post, matched_words=member.matched_words, snippets=found))
    return rows


def manual_decision_list(*, question_set: QuestionSet):
    return question_set.manual_decisions.select_related("post", "decided_by").order_by("-decided_at")


def question_set_evaluated_list(*, study) -> QuerySet[QuestionSet]:
    """The study's evaluated sets (those with members to count), by name."""
    return QuestionSet.objects.filter(study=study, evaluated_at__isnull=False).order_by("name")


def question_set_names(*, study, exclude: QuestionSet | None = None) -> list[str]:
    """The names of the study's sets but ``exclude`` (what a set's rule may refer to)."""
    return list(QuestionSet.objects.filter(study=study).exclude(pk=getattr(exclude, "pk", None))
                .values_list("name", flat=True))


def question_set_reference_names(*, question_set: QuestionSet) -> dict[str, list[str]]:
    """The names of the sets the rule refers to, by kind (within, union, minus)."""
    refs: dict[str, list[str]] = {"within": [], "union": [], "minus": []}
    for ref in question_set.references.select_related("target"):
        refs[ref.kind].append(ref.target.name)
    return refs
