"""The labels a user may see: the blind-coding rule (``sampling.draws.sight``) applied to labels.

Everything that shows, counts or exports raters' labels reads them through these querysets.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.db.models import Count, QuerySet

from annotator.studies.models import Membership, Study
from sampling.draws.models import Assignment
from sampling.draws.sight import Sight, assignment_visible_q, sight_given, work_visible_q

from .models import Label, LabelCategory, RaterTally


def label_list_visible(*, study: Study, user, sight: Sight | None = None) -> QuerySet[Label]:
    """Every label of the study that ``user`` may see."""
    return Label.objects.filter(assignment_visible_q(sight_given(study, user, sight), prefix="assignment__"))


def label_category_counts(*, study: Study, user, sight: Sight | None = None) -> dict[int, int]:
    """Category id → number of labels naming it, counting only labels ``user`` may see."""
    rows = (
        LabelCategory.objects.filter(assignment_visible_q(sight_given(study, user, sight), prefix="label__assignment__"))
        .values("category_id")
        .annotate(n=Count("label_id", distinct=True))
    )
    return {row["category_id"]: row["n"] for row in rows}


@dataclass(frozen=True)
class _DrawLabels:
    """The visible labels of one draw: one rater's (``rater_id``) or every rater's (None)."""

    draw_id: int
    version: int
    rater_id: int | None
    count: int

    def rows(self, start: int, stop: int, fields: tuple[str, ...], expressions: dict) -> list[dict]:
        # The page is cut from the submitted assignments alone (a label exists exactly for
        # those: ``label_submit`` writes both in one transaction), read in this order from the
        # front of a partial index on them (sampling 0010); only its rows are then read with
        # their labels and whatever ``expressions`` join, unordered, and put in the page's
        # order here. Cut after those joins, the page cost every row before it (PostgreSQL
        # cannot tell that a rater's submitted assignments are all theirs, and sorted the whole
        # draw's), and ordering the joined rows cost more to plan than to run.
        page = Assignment.objects.filter(draw_id=self.draw_id, submitted_at__isnull=False)
        if self.rater_id is None:
            page = page.order_by("item_id", "rater__username")
        else:
            page = page.filter(rater_id=self.rater_id).order_by("item_id")
        position = {pk: i for i, pk in enumerate(page.values_list("pk", flat=True)[start:stop])}
        rows = list(Label.objects.filter(assignment_id__in=position).values("assignment_id", *fields, **expressions))
        for row in rows:
            row["draw_version"] = self.version
        rows.sort(key=lambda row: position[row["assignment_id"]])
        return rows


class VisibleLabels(Sequence):
    """The labels a member may see (``label_list_visible``'s rows) in the listing's order: by
    draw version, item, rater's username; each row the ``values()`` of ``fields`` and
    ``expressions``, with the label's ``assignment_id`` and its draw's ``draw_version``. Counted
    from the raters' tallies (the one source of "labelled": a label exists for each submitted
    assignment) that the member may see, the rule applied in that query (``work_visible_q``):
    a draw is seen whole where another rater's tally is visible, else it shows the member's own
    labels. Read a slice at a time, a draw at a time, each draw from an index in that order: a
    page costs its rows and its offset within its draw, where sorting and counting the whole
    list cost every visible label (a rater with 7,000 labels of their own paid for all of them
    on every page). A ``Sequence``, so that Django's paginator counts it with ``len`` and cuts a
    page with a slice. ``membership``: the member's, read with the study."""

    def __init__(self, *, study: Study, membership: Membership, fields: tuple[str, ...] = ("id",),
                 expressions: dict | None = None):
        if membership.study_id != study.pk:
            raise ValueError("VisibleLabels: the membership of another study")
        self._fields, self._expressions = fields, expressions or {}
        drawn: dict[int, list] = {}  # draw id → [version, labels, seen whole], by version
        for draw_id, version, rater_id, submitted in (
                RaterTally.objects.filter(work_visible_q(membership=membership), draw__study_id=study.pk)
                .order_by("draw__version").values_list("draw_id", "draw__version", "rater_id", "submitted")):
            entry = drawn.setdefault(draw_id, [version, 0, False])
            entry[1] += submitted
            entry[2] |= rater_id != membership.user_id
        self._draws = [_DrawLabels(draw_id=pk, version=version, rater_id=None if whole else membership.user_id,
                                   count=count)
                       for pk, (version, count, whole) in drawn.items() if count]

    def __len__(self) -> int:
        return sum(draw.count for draw in self._draws)

    def __getitem__(self, index):
        if not isinstance(index, slice):
            position = index + len(self) if index < 0 else index
            rows = self[position:position + 1] if position >= 0 else []
            if not rows:
                raise IndexError(index)
            return rows[0]
        start, stop, step = index.indices(len(self))
        if step != 1:
            raise ValueError("VisibleLabels: slices with a step are not supported")
        rows: list[dict] = []
        first = 0  # the position of the draw's first label in the whole list
        for draw in self._draws:
            if start < first + draw.count and stop > first:
                rows += draw.rows(max(start - first, 0), min(stop - first, draw.count), self._fields,
                                  self._expressions)
            first += draw.count
            if first >= stop:
                break
        return rows

