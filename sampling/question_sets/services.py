"""Writes for question sets: define a rule, decide single posts by hand,
evaluate (a background job), delete.

Evaluation order (the funnel shows each step that is set, in this order):
start (``within`` sets, or every question) → tags → creation dates → words →
required words → plus sets / plus tags → minus sets → manual decisions.
Tags and dates are filtered in the database; words are matched in Python over
streamed ``(id, title, body)`` values (the body without its code blocks),
never over model instances.
"""

from __future__ import annotations

import html
import json
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Q, RestrictedError
from django.utils import timezone

from annotator.corpus.dump_parser import parse_tag_list
from annotator.dbstats import table_statistics_refresh
from annotator.corpus.models import Post, PostType
from annotator.jobs.models import Job, JobKind, JobStatus
from annotator.jobs.services import ProgressReporter, job_create, job_fail, job_progress, job_succeed

from .models import ManualDecision, QuestionSet, QuestionSetMember, SetReference
from .selectors import question_set_dependencies, question_set_word_scope
from .text import Vocabulary, normalise_words, text_without_code

STREAM_CHUNK = 2000
MEMBER_BATCH = 5000


@dataclass
class QuestionSetRule:
    """What a user defines; names of other sets are resolved in the same study."""

    name: str
    description: str = ""
    within: Sequence[str] = ()
    tags: Sequence[str] = ()
    words: Sequence[str] = ()
    required_words: Sequence[str] = ()
    whole_words: bool = True
    search_title: bool = True
    search_body: bool = True
    date_from: date | None = None
    date_to: date | None = None
    union: Sequence[str] = ()
    union_tags: Sequence[str] = ()
    minus: Sequence[str] = ()
    all_questions: bool = False  # every question of the study; the other steps are optional then


def _tags(value: Sequence[str] | str, field_name: str, errors: dict) -> list[str]:
    text = value if isinstance(value, str) else " ".join(value)
    try:
        return list(parse_tag_list(text))
    except ValueError as exc:
        errors.setdefault(field_name, []).append(str(exc))
        return []


def _resolve_sets(*, study, names: Sequence[str], field_name: str, errors: dict, exclude_pk=None) -> list[QuestionSet]:
    names = [n.strip() for n in names if n and n.strip()]
    found = {qs.name: qs for qs in QuestionSet.objects.filter(study=study, name__in=names)}
    missing = [n for n in names if n not in found]
    if missing:
        errors.setdefault(field_name, []).append(f"No question set named {', '.join(map(repr, missing))} in this study.")
    if exclude_pk is not None and any(qs.pk == exclude_pk for qs in found.values()):
        errors.setdefault(field_name, []).append("A set cannot use itself.")
    return list(dict.fromkeys(found[n] for n in names if n in found))


@transaction.atomic
def question_set_save(*, study, rule: QuestionSetRule, question_set: QuestionSet | None = None, user=None) -> QuestionSet:
    """Create or change a set's rule. Raises ValidationError (field → messages)
    for an empty name, unknown sets, a cycle, bad tags or dates, or a rule that
    selects nothing at all."""
    errors: dict[str, list[str]] = {}
    name = (rule.name or "").strip()
    if not name:
        errors["name"] = ["A question set needs a name."]
    elif QuestionSet.objects.filter(study=study, name=name).exclude(pk=getattr(question_set, "pk", None)).exists():
        errors["name"] = [f"There is already a set named “{name}”."]
    tags = _tags(rule.tags, "tags", errors)
    union_tags = _tags(rule.union_tags, "union_tags", errors)
    words = list(normalise_words(rule.words))
    required = list(normalise_words(rule.required_words))
    if not (rule.search_title or rule.search_body):
        errors["search_body"] = ["Search the title, the body, or both."]
    if rule.date_from and rule.date_to and rule.date_from > rule.date_to:
        errors["date_to"] = ["The end date is before the start date."]
    own_pk = getattr(question_set, "pk", None)
    refs = {
        kind: _resolve_sets(study=study, names=names, field_name=kind, errors=errors, exclude_pk=own_pk)
        for kind, names in (("within", rule.within), ("union", rule.union), ("minus", rule.minus))
    }
    if own_pk is not None:
        used = [qs for sets in refs.values() for qs in sets]
        if own_pk in question_set_dependencies(start=used):
            errors.setdefault("union", []).append(
                "That would make a cycle: one of these sets already uses this set, directly or through others."
            )
    if rule.all_questions and refs["within"]:
        errors.setdefault("within", []).append(
            "A set of all questions starts from every question of the study: leave “within” empty.")
    if not rule.all_questions and not any([refs["within"], tags, words, required, rule.date_from, rule.date_to,
                                           refs["union"], union_tags]):
        errors.setdefault("__all__", []).append(
            "The rule selects every question: give tags, words, dates or sets (an empty vocabulary is not a rule), "
            "or tick “All questions” if that is what you mean."
        )
    if errors:
        raise ValidationError(errors)

    question_set = question_set or QuestionSet(study=study, created_by=user)
    for attr, value in dict(
        name=name, description=rule.description, tags=tags, words=words, required_words=required,
        whole_words=rule.whole_words, search_title=rule.search_title, search_body=rule.search_body,
        date_from=rule.date_from, date_to=rule.date_to, union_tags=union_tags, all_questions=rule.all_questions,
        rule_changed_at=timezone.now(),
    ).items():
        setattr(question_set, attr, value)
    try:
        with transaction.atomic():
            question_set.save()
    except IntegrityError as exc:
        raise ValidationError({"name": [f"There is already a set named “{name}”."]}) from exc
    question_set.references.all().delete()
    SetReference.objects.bulk_create(
        SetReference(question_set=question_set, target=target, kind=kind)
        for kind, sets in refs.items()
        for target in sets
    )
    return question_set


@transaction.atomic
def question_set_delete(*, question_set: QuestionSet) -> None:
    users = sorted(SetReference.objects.filter(target=question_set).values_list("question_set__name", flat=True))
    if users:
        raise ValidationError(f"“{question_set.name}” is used by {', '.join(users)}: change those rules first.")
    try:
        question_set.delete()
    except RestrictedError as exc:  # a rule started using it meanwhile
        raise ValidationError(f"“{question_set.name}” is used by another set's rule.") from exc


@transaction.atomic
def manual_decision_set(*, question_set: QuestionSet, post: Post, action: str, reason: str, user=None) -> ManualDecision:
    if post.study_id != question_set.study_id or post.post_type != PostType.QUESTION:
        raise ValidationError({"post": "Only questions of this study can be included or excluded."})
    if action not in ManualDecision.Action.values:
        raise ValidationError({"action": "Choose include or exclude."})
    if not (reason or "").strip():
        raise ValidationError({"reason": "Say why: the reason is part of the set's record."})
    decision, _created = ManualDecision.objects.update_or_create(
        question_set=question_set, post=post,
        defaults={"action": action, "reason": reason.strip(), "decided_by": user},
    )
    QuestionSet.objects.filter(pk=question_set.pk).update(rule_changed_at=decision.decided_at)
    return decision


@transaction.atomic
def manual_decision_remove(*, question_set: QuestionSet, post: Post) -> bool:
    """Undo the decision on ``post``; False when there was none."""
    deleted, _ = ManualDecision.objects.filter(question_set=question_set, post=post).delete()
    if deleted:
        QuestionSet.objects.filter(pk=question_set.pk).update(rule_changed_at=timezone.now())
    return bool(deleted)


# -- changes that take effect at once: saved, and the set's evaluation queued -------------
# Each in one transaction with its job, queued after commit: with the job queue down the
# change is refused whole (503), never saved without its evaluation.


@transaction.atomic
def question_set_save_and_evaluate(*, study, rule: QuestionSetRule, question_set: QuestionSet | None = None,
                                   user=None) -> tuple[QuestionSet, Job]:
    saved = question_set_save(study=study, rule=rule, question_set=question_set, user=user)
    return saved, question_set_evaluate_start(question_set=saved, user=user, reuse_waiting=True)


@transaction.atomic
def manual_decision_set_and_evaluate(*, question_set: QuestionSet, post: Post, action: str, reason: str,
                                     user=None) -> tuple[ManualDecision, Job]:
    decision = manual_decision_set(question_set=question_set, post=post, action=action, reason=reason, user=user)
    return decision, question_set_evaluate_start(question_set=question_set, user=user, reuse_waiting=True)


@transaction.atomic
def manual_decision_remove_and_evaluate(*, question_set: QuestionSet, post: Post, user=None) -> Job | None:
    """The job re-evaluating the set, or None when there was no decision to undo."""
    if not manual_decision_remove(question_set=question_set, post=post):
        return None
    return question_set_evaluate_start(question_set=question_set, user=user, reuse_waiting=True)


# -- evaluation -----------------------------------------------------------------


def _tag_filter(tags: Sequence[str]) -> Q:
    q = Q()
    for tag in tags:
        q |= Q(tags__contains=f"|{tag}|")
    return q


def _evaluation_order(question_set: QuestionSet) -> list[QuestionSet]:
    """The set and everything it uses, dependencies first."""
    ids = question_set_dependencies(start=[question_set])
    sets = {qs.pk: qs for qs in QuestionSet.objects.filter(pk__in=ids)}
    edges: dict[int, set[int]] = {pk: set() for pk in sets}
    for source, target in SetReference.objects.filter(question_set_id__in=ids).values_list("question_set_id", "target_id"):
        edges[source].add(target)
    order: list[QuestionSet] = []
    state: dict[int, str] = {}

    def visit(pk: int) -> None:
        if state.get(pk) == "done":
            return
        if state.get(pk) == "visiting":  # prevented on save; guarded against old data
            raise ValidationError(f"The rules of {sets[pk].name!r} form a cycle.")
        state[pk] = "visiting"
        for target in sorted(edges[pk]):
            visit(target)
        state[pk] = "done"
        order.append(sets[pk])

    visit(question_set.pk)
    return order


def _members(question_set_ids: Iterable[int]) -> set[int]:
    return set(QuestionSetMember.objects.filter(question_set_id__in=list(question_set_ids)).values_list("post_id", flat=True))


def _word_prefilter(words: Sequence[str], *, title: bool, body: bool) -> Q | None:
    """A condition the database can check that every true match satisfies (so
    it only saves work, never changes the result): some word appears, as a
    substring, in the searched fields. One case-insensitive regular expression
    per field, of escaped literals. None when no safe condition exists
    (non-ASCII words, where SQL and Python may fold case differently)."""
    if not words or any(not w.isascii() for w in words):
        return None
    variants: set[str] = set()
    for word in words:
        # A phrase may be split by markup in the HTML: require its longest token only.
        token = max(word.split(), key=len)
        variants |= {token, html.escape(token, quote=True), html.escape(token, quote=False)}
    pattern = "|".join(re.escape(v) for v in sorted(variants))
    condition = Q()
    if title:
        condition |= Q(title__iregex=pattern)
    if body:
        condition |= Q(body__iregex=pattern)
    return condition


def _texts(ids: list[int]):
    for start in range(0, len(ids), STREAM_CHUNK):
        chunk = ids[start:start + STREAM_CHUNK]
        yield from Post.objects.filter(pk__in=chunk).order_by("pk").values_list("pk", "title", "body")


def _match_row(question_set: QuestionSet, vocabulary: Vocabulary, required: Vocabulary, title: str, body: str):
    """(words found or None when the words step drops the row, required words
    found or None when the required step drops it)."""
    parts = []
    if question_set.search_title:
        parts.append(title)
    if question_set.search_body:
        parts.append(text_without_code(body))
    text = "\n".join(parts)
    found = vocabulary.matches(text) if question_set.words else []
    if question_set.words and not found:
        return None, None
    if not question_set.required_words:
        return found, []
    also = required.matches(text)
    return found, (also or None)


def _members_write(*, question_set_id: int, ids: list[int], matched: dict[int, list[str]]) -> None:
    """COPY on PostgreSQL (hundreds of thousands of members in seconds); batched
    inserts elsewhere. The caller holds the transaction."""
    if connection.vendor == "postgresql":
        table = QuestionSetMember._meta.db_table
        with connection.cursor() as cursor, cursor.cursor.copy(
            f"COPY {table} (question_set_id, post_id, matched_words) FROM STDIN"
        ) as copy:
            for pk in ids:
                copy.write_row((question_set_id, pk, json.dumps(matched.get(pk, []))))
        return
    for start in range(0, len(ids), MEMBER_BATCH):
        QuestionSetMember.objects.bulk_create(
            QuestionSetMember(question_set_id=question_set_id, post_id=pk, matched_words=matched.get(pk, []))
            for pk in ids[start:start + MEMBER_BATCH]
        )


@dataclass
class _Evaluation:
    """One set's evaluation as it goes: the candidates (a queryset until the words are matched,
    then ids), how many there are, the funnel so far, the words each member matched, and where
    the time went."""

    question_set: QuestionSet
    report: Callable[..., None]
    candidates: Any = None
    count: int = 0
    ids: set[int] | None = None
    funnel: list[dict[str, Any]] = field(default_factory=list)
    matched: dict[int, list[str]] = field(default_factory=dict)
    timing: dict[str, float] = field(default_factory=lambda: {"database": 0.0, "python": 0.0,
                                                              "writing members": 0.0})

    def step(self, step: str, label: str, before: int, after: int, **extra) -> None:
        self.funnel.append({"step": step, "label": label, "before": before, "after": after,
                            "kept": min(before, after), "dropped": max(0, before - after),
                            "added": max(0, after - before), **extra})

    def narrow(self, step: str, label: str, after_queryset, **extra) -> None:
        """A database filter step over the candidates."""
        new = after_queryset.count()
        self.step(step, label, self.count, new, **extra)
        self.candidates, self.count = after_queryset, new


def _references(question_set: QuestionSet) -> dict[str, list[QuestionSet]]:
    refs = {kind: [] for kind in SetReference.Kind.values}
    for ref in question_set.references.select_related("target"):
        refs[ref.kind].append(ref.target)
    return refs


def _evaluation_start(ev: _Evaluation, questions, within: list[QuestionSet]) -> None:
    if within:
        ev.candidates = questions.filter(pk__in=_members(t.pk for t in within))
        label = "within " + " ∪ ".join(t.name for t in within)
    else:
        ev.candidates = questions
        label = "every question of the study" + (" (all questions)" if ev.question_set.all_questions else "")
    ev.count = ev.candidates.count()
    ev.step("start", label, ev.count, ev.count)


def _evaluation_tags_and_dates(ev: _Evaluation) -> None:
    question_set = ev.question_set
    if question_set.tags:
        ev.narrow("tags", "carrying any of: " + ", ".join(question_set.tags),
                  ev.candidates.filter(_tag_filter(question_set.tags)))
    if question_set.date_from or question_set.date_to:
        dated = Q()
        if question_set.date_from:
            dated &= Q(creation_date__date__gte=question_set.date_from)
        if question_set.date_to:
            dated &= Q(creation_date__date__lte=question_set.date_to)
        undated = ev.candidates.filter(creation_date__isnull=True).count()
        span = f"{question_set.date_from or '…'} to {question_set.date_to or '…'}"
        ev.narrow("dates", f"created {span}", ev.candidates.filter(dated), without_date=undated)


def _evaluation_words(ev: _Evaluation) -> None:
    """Match the vocabulary in Python over streamed (id, title, body) rows: ids first (one scan
    with the database prefilter), then the texts by primary key, in chunks."""
    question_set = ev.question_set
    if not (question_set.words or question_set.required_words):
        ev.ids = set(ev.candidates.values_list("pk", flat=True))
        return
    vocabulary = Vocabulary(tuple(question_set.words), whole_words=question_set.whole_words)
    required = Vocabulary(tuple(question_set.required_words), whole_words=question_set.whole_words)
    kept_words = kept_required = done = 0
    streamed = ev.candidates
    for words in (question_set.words, question_set.required_words):
        prefilter = _word_prefilter(words, title=question_set.search_title, body=question_set.search_body)
        if prefilter is not None:
            streamed = streamed.filter(prefilter)
    ids_to_read = list(streamed.order_by("pk").values_list("pk", flat=True))
    ev.report(force=True, phase=f"matching words in {question_set.name}", rows_read=0, rows_total=len(ids_to_read))
    rows = _texts(ids_to_read)
    clock = time.perf_counter
    while True:
        t0 = clock()
        row = next(rows, None)
        t1 = clock()
        ev.timing["database"] += t1 - t0
        if row is None:
            break
        done += 1
        pk, title, body = row
        words_found, required_found = _match_row(question_set, vocabulary, required, title, body)
        if words_found is not None:
            kept_words += 1
            if required_found is not None:
                kept_required += 1
                ev.matched[pk] = words_found + [w for w in required_found if w not in words_found]
        if done % STREAM_CHUNK == 0:
            ev.report(rows_read=done)
        ev.timing["python"] += clock() - t1
    ev.report(force=True, rows_read=done)
    if question_set.words:
        ev.step("words", f"any of {', '.join(question_set.words)} in {question_set_word_scope(question_set)}",
                ev.count, kept_words)
        ev.count = kept_words
    if question_set.required_words:
        ev.step("required_words", f"also any of {', '.join(question_set.required_words)}", ev.count, kept_required)
        ev.count = kept_required
    ev.ids = set(ev.matched)


def _evaluation_set_operations(ev: _Evaluation, questions, refs: dict[str, list[QuestionSet]]) -> None:
    """Plus sets and plus tags, minus sets, then the manual decisions, over the ids."""
    question_set, ids = ev.question_set, ev.ids
    if refs["union"] or question_set.union_tags:
        before = len(ids)
        parts = []
        if refs["union"]:
            ids |= _members(t.pk for t in refs["union"])
            parts.append(" ∪ ".join(t.name for t in refs["union"]))
        if question_set.union_tags:
            ids |= set(questions.filter(_tag_filter(question_set.union_tags)).values_list("pk", flat=True))
            parts.append("questions carrying any of " + ", ".join(question_set.union_tags))
        ev.step("union", "plus " + " and ".join(parts), before, len(ids))
    if refs["minus"]:
        before = len(ids)
        ids -= _members(t.pk for t in refs["minus"])
        ev.step("minus", "minus " + " ∪ ".join(t.name for t in refs["minus"]), before, len(ids))
    decisions = list(question_set.manual_decisions.values_list("post_id", "action"))
    if decisions:
        before = len(ids)
        ids |= {pk for pk, action in decisions if action == ManualDecision.Action.INCLUDE}
        ids -= {pk for pk, action in decisions if action == ManualDecision.Action.EXCLUDE}
        ev.step("manual", f"{len(decisions)} manual decision(s)", before, len(ids))


def _evaluation_store(ev: _Evaluation) -> None:
    """Replace the set's members and funnel; a change of members dates the set's dependants."""
    question_set, ids = ev.question_set, ev.ids
    with transaction.atomic():
        locked = QuestionSet.objects.select_for_update().get(pk=question_set.pk)
        members = QuestionSetMember.objects.filter(question_set=locked)
        # Sets that use this one, and draws from it, are out of date when its members change.
        changed = locked.evaluated_at is None or set(members.values_list("post_id", flat=True)) != ids
        members.delete()
        _members_write(question_set_id=locked.pk, ids=sorted(ids), matched=ev.matched)
        locked.member_count = len(ids)
        locked.funnel = ev.funnel
        locked.evaluated_at = timezone.now()
        if changed:
            locked.members_changed_at = locked.evaluated_at
        locked.save(update_fields=["member_count", "funnel", "evaluated_at", "members_changed_at"])
    table_statistics_refresh(QuestionSetMember)
    question_set.member_count, question_set.funnel = len(ids), ev.funnel


def question_set_evaluate_one(*, question_set: QuestionSet, progress: Callable[..., None] | None = None) -> dict[str, Any]:
    """Evaluate one set, whose referenced sets are already evaluated, step by step in the
    module's order; store its members and funnel. Returns the funnel summary."""
    ev = _Evaluation(question_set=question_set, report=progress or (lambda **_: None))
    refs = _references(question_set)
    questions = Post.objects.filter(study_id=question_set.study_id, post_type=PostType.QUESTION)
    started = time.perf_counter()
    _evaluation_start(ev, questions, refs["within"])
    _evaluation_tags_and_dates(ev)
    _evaluation_words(ev)
    _evaluation_set_operations(ev, questions, refs)
    before_write = time.perf_counter()
    _evaluation_store(ev)
    ev.timing["writing members"] = time.perf_counter() - before_write
    # Everything else (counts, tag/date filters, set operations) is database work too.
    ev.timing["database"] += time.perf_counter() - started - sum(ev.timing.values())
    return {"set": question_set.name, "members": len(ev.ids), "funnel": ev.funnel,
            "seconds": {k: round(v, 3) for k, v in ev.timing.items()}}


def question_set_evaluate(*, question_set: QuestionSet, progress: Callable[..., None] | None = None) -> dict[str, Any]:
    """Evaluate the set and, first, every set its rule uses (fresh, in order)."""
    started = time.monotonic()
    results = [question_set_evaluate_one(question_set=qs, progress=progress)
               for qs in _evaluation_order(question_set)]
    return {"sets": results, "members": results[-1]["members"], "seconds": round(time.monotonic() - started, 3)}


@transaction.atomic
def question_set_evaluate_start(*, question_set: QuestionSet, user=None, reuse_waiting: bool = False) -> Job:
    """Queue the set's evaluation. With ``reuse_waiting`` (a change to the rule), a job of
    the set still waiting in the queue is that evaluation already: it reads the rule when
    it starts, so ten exclusions in a row make one evaluation, not ten."""
    if reuse_waiting:
        waiting = (Job.objects.select_for_update().filter(
            study_id=question_set.study_id, kind=JobKind.QUESTION_SET, params__question_set=question_set.pk,
            status=JobStatus.QUEUED).order_by("-created_at", "-id").first())
        if waiting is not None:
            return waiting
    return job_create(study=question_set.study, kind=JobKind.QUESTION_SET, created_by=user,
                      params={"question_set": question_set.pk, "name": question_set.name})


def question_set_job_execute(*, job: Job) -> dict[str, Any] | None:
    question_set = QuestionSet.objects.filter(pk=job.params.get("question_set"), study=job.study).first()
    if question_set is None:
        job_fail(job=job, error="The question set was deleted before it could be evaluated.")
        return None
    try:
        summary = question_set_evaluate(
            question_set=question_set, progress=ProgressReporter(lambda **f: job_progress(job=job, **f))
        )
    except ValidationError as exc:
        job_fail(job=job, error=" ".join(exc.messages))
        return None
    job_succeed(job=job, result=summary)
    return summary

