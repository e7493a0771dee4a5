"""The labels a user may see: the blind-coding rule (``sampling.draws.sight``) applied to labels.

Everything that shows, counts or exports raters' labels reads them through these querysets.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from django.db.models import Count, QuerySet

from annotator.prepared import Prepared
from annotator.studies.models import Membership, Study
from sampling.draws.models import Assignment
from sampling.draws.sight import PreparedPerMember, Sight, assignment_visible_q, sight_given, work_visible_q

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


# The tallies of a study a member sees, by draw version: every page of the listing reads them.
_TALLIES_SEEN = PreparedPerMember(
    lambda member: RaterTally.objects.filter(work_visible_q(membership=member), draw__study_id=member.study_id)
    .order_by("draw__version").values("draw_id", "draw__version", "rater_id", "submitted"))


class LabelPages:
    """How a listing reads a page of one draw's visible labels, in the listing's order (item,
    rater's username): ``values`` turns the page's labels (a ``Label`` queryset) into the
    ``values()`` the listing shows, with each label's ``assignment_id``. The page is cut from
    the draw's submitted assignments alone (a label exists exactly for those: ``label_submit``
    writes both in one transaction), in that order from the front of a partial index on them
    (sampling 0010); only its rows are then read with their labels and whatever ``values``
    joins, unordered, and put in the page's order here. Cut after those joins, the page cost
    every row before it (PostgreSQL cannot tell that a rater's submitted assignments are all
    theirs, and sorted the whole draw's); read in one query with them, a page PostgreSQL has not
    seen on the connection is planned whole (1.5 ms), where the cut alone plans in a fraction of
    that. Both queries prepared."""

    def __init__(self, values: Callable[[QuerySet[Label]], QuerySet]):
        def submitted(draw_id: int) -> QuerySet[Assignment]:
            return Assignment.objects.filter(draw_id=draw_id, submitted_at__isnull=False)

        self._whole = Prepared(  # every rater's labels of the draw
            lambda *, draw_id, offset, limit: submitted(draw_id).order_by("item_id", "rater__username")
            .values("pk")[offset:offset + limit],
            draw_id=int, offset=int, limit=int)
        self._own = Prepared(  # one rater's
            lambda *, draw_id, rater_id, offset, limit: submitted(draw_id).filter(rater_id=rater_id)
            .order_by("item_id").values("pk")[offset:offset + limit],
            draw_id=int, rater_id=int, offset=int, limit=int)
        self._labels = Prepared(
            lambda *, assignment_ids: values(Label.objects.filter(assignment_id__in=assignment_ids)),
            assignment_ids=list)

    def rows(self, *, draw_id: int, rater_id: int | None, start: int, stop: int) -> list[dict]:
        if rater_id is None:
            page = self._whole.rows(draw_id=draw_id, offset=start, limit=stop - start)
        else:
            page = self._own.rows(draw_id=draw_id, rater_id=rater_id, offset=start, limit=stop - start)
        position = {row["pk"]: i for i, row in enumerate(page)}
        rows = self._labels.rows(assignment_ids=list(position))
        rows.sort(key=lambda row: position[row["assignment_id"]])
        return rows


@dataclass(frozen=True)
class _DrawLabels:
    """The visible labels of one draw: one rater's (``rater_id``) or every rater's (None)."""

    draw_id: int
    version: int
    rater_id: int | None
    count: int

    def rows(self, start: int, stop: int, pages: LabelPages) -> list[dict]:
        rows = pages.rows(draw_id=self.draw_id, rater_id=self.rater_id, start=start, stop=stop)
        for row in rows:
            row["draw_version"] = self.version
        return rows


class VisibleLabels(Sequence):
    """The labels a member may see (``label_list_visible``'s rows) in the listing's order: by
    draw version, item, rater's username; each row as ``pages`` reads it (``LabelPages``), with
    its draw's ``draw_version``. Counted from the raters' tallies (the one source of
    "labelled": a label exists for each submitted assignment) that the member may see, the rule
    applied in that query (``work_visible_q``): a draw is seen whole where another rater's tally
    is visible, else it shows the member's own labels. Read a slice at a time, a draw at a time,
    each draw from an index in that order: a page costs its rows and its offset within its draw,
    where sorting and counting the whole list cost every visible label (a rater with 7,000
    labels of their own paid for all of them on every page). A ``Sequence``, so that Django's
    paginator counts it with ``len`` and cuts a page with a slice. ``membership``: the member's,
    read with the study."""

    def __init__(self, *, study: Study, membership: Membership, pages: LabelPages):
        if membership.study_id != study.pk:
            raise ValueError("VisibleLabels: the membership of another study")
        self._pages = pages
        drawn: dict[int, list] = {}  # draw id → [version, labels, seen whole], by version
        for row in _TALLIES_SEEN.rows(membership):
            entry = drawn.setdefault(row["draw_id"], [row["draw__version"], 0, False])
            entry[1] += row["submitted"]
            entry[2] |= row["rater_id"] != membership.user_id
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
                rows += draw.rows(max(start - first, 0), min(stop - first, draw.count), self._pages)
            first += draw.count
            if first >= stop:
                break
        return rows

