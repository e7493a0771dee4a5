"""Reads of the reliability round: the rater's queue, one assignment (404 for
items not assigned to the caller, missing and forbidden alike), the categories
a rater may pick, and the progress counts.

Which labels (and counts of them) a user may see is decided in ``.visibility``,
the one rule of blind coding; every read of other raters' work here goes
through it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from django.core.cache import cache
from django.db import connection
from django.db.models import F, Prefetch, Q, QuerySet, Sum
from django.db.models.functions import Coalesce
from django.http import Http404

from annotator.corpus.models import Post
from annotator.prepared import Prepared, instance
from annotator.studies.models import Membership, Study
from sampling.draws.models import Assignment, DrawStatus, SampleDraw, SampleStratum
from sampling.draws.sight import (
    PreparedPerMember,
    Sight,
    assignment_visible_q,
    round_running_q,
    running_draw_work_q,
    sight_for,
)
from taxonomy.tree.models import PUBLIC, Category, CategoryStatus
from taxonomy.tree.paths import tree_shape
from taxonomy.tree.selectors import taxonomy_version

from .models import HOTKEYS, HotkeyBinding, Label, LabelCategory, RaterTally
from .reopening import assignment_reopened, reopen_request, reopened_first
from .visibility import LabelPages, VisibleLabels, label_list_visible

# Draws whose assignments are not (yet) a rater's work: being drawn, drawn but
# still open to redistribution, failed. Later statuses (arbitration) stay
# readable by their raters.
_NOT_OPEN = (DrawStatus.PENDING, DrawStatus.READY, DrawStatus.FAILED)


# -- blindness: decided in .visibility ---------------------------------------------


def label_list_for_api(*, study: Study, membership: Membership) -> VisibleLabels:
    """The labels the member may see, in the listing's order (draw version, item, rater's
    username), counted and paged without reading every visible label (``VisibleLabels``), each
    row read with its item, post title and rater (``values()``: model instances with their
    post, draw and rater cost several times the query); ``label_rows_complete`` adds a page's
    categories. ``membership``: the member's, read with the study."""
    return VisibleLabels(study=study, membership=membership, pages=_LISTED_LABELS)


# A page of the listing's labels and their categories: prepared, as a rater pages through them.
_LISTED_LABELS = LabelPages(lambda labels: labels.values(
    "assignment_id", "id", "kind", "note", "revision", "updated_at", item=F("assignment__item_id"),
    post=F("assignment__item__post_id"), title=F("assignment__item__post__title"),
    rater=F("assignment__rater__username")))
_LISTED_CATEGORIES = Prepared(
    lambda *, label_ids: LabelCategory.objects.filter(label_id__in=label_ids).order_by("pk")
    .values("label_id", "category_id", "category__name", "category__status"),
    label_ids=list)


def label_rows_complete(page: list[dict]) -> list[dict]:
    """A page of ``label_list_for_api`` as the listing writes it (the fields of the API's
    ``LabelListApi.ListOutput``, in its order), with its labels' categories (id, name, status)
    read in one query."""
    categories: dict[int, list[dict]] = {row["id"]: [] for row in page}
    for row in _LISTED_CATEGORIES.rows(label_ids=list(categories)):
        categories[row["label_id"]].append({"id": row["category_id"], "name": row["category__name"],
                                            "status": row["category__status"]})
    return [{"item": row["item"], "draw": row["draw_version"], "post": row["post"], "title": row["title"],
             "rater": row["rater"], "kind": row["kind"], "categories": categories[row["id"]],
             "note": row["note"], "revision": row["revision"], "updated_at": row["updated_at"]}
            for row in page]


def label_editable(assignment: Assignment) -> bool:
    """Whether the rater may still change this label: until arbitration starts on its
    draw, or while an arbitrator's request to label it again is open."""
    if assignment.draw.status != DrawStatus.LABELLING:
        return False
    if assignment.draw.arbitration_started_at is None:
        return True
    return assignment_reopened(assignment)


def relabel_request_open(*, assignment: Assignment):
    """The open request to label this item again, to show the rater (None: none)."""
    return reopen_request(assignment=assignment)


# -- the rater's queue ---------------------------------------------------------------


@dataclass(frozen=True)
class LabellingDraws:
    """The study's draws in labelling, read once per request and handed to the selectors
    below (``draws=``), each of which would otherwise read them again."""

    ids: list[int]  # open for labelling (arbitration not started), by version
    started: dict[int, object]  # id → labelling_started_at
    arbitrating: bool  # some draw in labelling has started arbitration (re-label requests exist only then)


def labelling_draws(*, study: Study) -> LabellingDraws:
    rows = list(SampleDraw.objects.filter(study=study, status=DrawStatus.LABELLING).order_by("version")
                .values_list("pk", "labelling_started_at", "arbitration_started_at"))
    return LabellingDraws(ids=[pk for pk, _s, arbitration in rows if arbitration is None],
                          started={pk: started for pk, started, arbitration in rows if arbitration is None},
                          arbitrating=any(arbitration is not None for _p, _s, arbitration in rows))


def labelling_draw_ids(*, study: Study) -> list[int]:
    """The study's draws in labelling (one, mostly). Filtering assignments on these ids,
    rather than joining the draws, lets PostgreSQL estimate the rows and plan well."""
    return labelling_draws(study=study).ids


def _draws(study: Study, draws: LabellingDraws | None) -> LabellingDraws:
    return labelling_draws(study=study) if draws is None else draws


def assignment_open_list(*, study: Study, user) -> QuerySet[Assignment]:
    """The user's assignments in the study's draws open to their raters (labelling, arbitration)."""
    return Assignment.objects.filter(rater=user, draw__study=study).exclude(draw__status__in=_NOT_OPEN)


def assignment_is_open(assignment: Assignment, *, study: Study) -> bool:
    """``assignment_open_list``'s rule on one assignment read with its draw."""
    return assignment.draw.study_id == study.pk and assignment.draw.status not in _NOT_OPEN


# Queue order is (draw version, stratum position, item id). Items are written draw by
# draw and, within a draw, stratum by stratum in position order
# (sampling.draws.services._items_write), so item id order is that order, and it needs no
# join: the next item is found among a rater's tens of thousands of assignments
# without reading their items.
def assignment_next_queryset(*, study: Study, user, draws: LabellingDraws | None = None) -> QuerySet[Assignment]:
    """The rater's unlabelled items of draws in labelling, in queue order."""
    # Read from the front of the partial index assignment_todo_by_rater (rater, draw,
    # item WHERE submitted_at IS NULL): the first row is the answer, whether the rater
    # has labelled ten items or fifty thousand.
    return (
        Assignment.objects.filter(draw_id__in=_draws(study, draws).ids, rater=user,
                                  submitted_at__isnull=True)
        .order_by("item_id")  # unique for one rater (one assignment per item and rater)
    )


def assignment_with_item(assignments: QuerySet[Assignment]) -> QuerySet[Assignment]:
    """Assignments read with what an item's page shows: the post whole, and of the draw,
    item and stratum what the panel and the API read (a draw has two dozen columns, and
    compiling them into every item's query costs more than the query itself)."""
    return assignments.select_related("draw", "item__post", "item__stratum").only(
        "draw_id", "item_id", "rater_id", "submitted_at",
        "draw__study_id", "draw__version", "draw__status", "draw__labelling_started_at",
        "draw__arbitration_started_at",
        "item__draw_id", "item__part", "item__post", "item__stratum__draw_id", "item__stratum__position",
        "item__stratum__name")


# What a label's write reads of its assignment and the assignment's draw (its study and state:
# assignment_is_open, label_editable), and nothing more: the rater's tally, by its item's
# stratum, is the database's to keep (labelling 0007). Prepared: compiling this query cost
# each submission more than running it.
_ASSIGNMENT_FOR_WRITE = Prepared(
    lambda *, rater_id, item_id: Assignment.objects.filter(rater_id=rater_id, item_id=item_id)
    .select_for_update(of=("self",)).order_by()  # one row at most (unique): no order to compile
    .values("id", "draw_id", "item_id", "rater_id", "submitted_at",
            "draw__id", "draw__study_id", "draw__status", "draw__arbitration_started_at")[:1],
    rater_id=int, item_id=int)


def assignment_locked_for_write(*, rater_id: int, item_id: int) -> Assignment | None:
    """The rater's assignment on the item (None: none), locked until the transaction ends, with
    what a label's write reads of it and of its draw (the rest is deferred)."""
    rows = _ASSIGNMENT_FOR_WRITE.rows(rater_id=rater_id, item_id=item_id)
    if not rows:
        return None
    assignment = instance(Assignment, rows[0])
    assignment.draw = instance(SampleDraw, rows[0], prefix="draw__")
    return assignment


def assignment_next(*, study: Study, user, draws: LabellingDraws | None = None) -> Assignment | None:
    """The rater's first unlabelled item of a draw in labelling, in a stable order."""
    # Pick the id first, then read that one row with its post: joining the posts of
    # every candidate before sorting them is what would make this slow.
    # An arbitrator's request to label an item again comes first.
    draws = _draws(study, draws)
    pk = None
    if draws.arbitrating:
        pk = reopened_first(study=study, user=user)
    if pk is None:
        pk = assignment_next_queryset(study=study, user=user, draws=draws).values_list("pk", flat=True).first()
    if pk is None:
        return None
    return assignment_with_item(Assignment.objects.filter(pk=pk)).first()


def assignment_get_for_rater(*, study: Study, user, item_id: int) -> Assignment:
    """The caller's assignment on this item, or 404 (missing and not assigned alike)."""
    assignment = assignment_with_item(assignment_open_list(study=study, user=user).filter(item_id=item_id)).first()
    if assignment is None:
        raise Http404("No such item in your queue.")
    return assignment


def assignment_neighbours(*, assignment: Assignment) -> tuple[int | None, int | None]:
    """Item ids of the rater's previous and next assignment in queue order (any state)."""
    # Both in one round trip, in SQL: as two ORM queries, building them costs several
    # times what the two index probes do, on a page served after every submission.
    table = Assignment._meta.db_table
    sql = (f"SELECT (SELECT item_id FROM {table} WHERE rater_id = %s AND draw_id = %s AND item_id < %s "
           f"ORDER BY item_id DESC LIMIT 1), (SELECT item_id FROM {table} WHERE rater_id = %s AND draw_id = %s "
           "AND item_id > %s ORDER BY item_id LIMIT 1)")
    key = [assignment.rater_id, assignment.draw_id, assignment.item_id]
    with connection.cursor() as cursor:
        cursor.execute(sql, key + key)
        previous, following = cursor.fetchone()
    return previous, following


def assignment_label(*, assignment: Assignment) -> Label | None:
    """The caller's own label on their own assignment (never anyone else's)."""
    # its categories with their names in one more query (not one for the links, one for the names)
    return Label.objects.filter(assignment=assignment).prefetch_related(
        Prefetch("categories", queryset=LabelCategory.objects.select_related("category"))).first()


def label_list_mine(*, study: Study, user) -> QuerySet[Assignment]:
    """The rater's submitted items, latest change first, with their label."""
    return (
        assignment_open_list(study=study, user=user).filter(label__isnull=False)
        .select_related("draw", "item__post", "item__stratum", "label")
        .prefetch_related("label__categories__category")
        .order_by("-label__updated_at", "-id")
    )


# -- categories a rater may pick -----------------------------------------------------


@dataclass(frozen=True)
class CategoryChoice:
    id: int
    name: str
    path: str  # "Root › Inner › Leaf"
    status: str
    is_leaf: bool
    proposed_by_me: bool


def _live_for_user(*, study: Study, user) -> Q:
    """Active categories and the joint pilot's proposals, plus this user's own proposals
    (others' private proposals are not theirs to use, nor to know of)."""
    return Q(study=study) & (PUBLIC | Q(status=CategoryStatus.PROPOSED, proposed_by=user))


def category_choices(*, study: Study, user, q: str = "", leaves_only: bool = True) -> list[CategoryChoice]:
    """The categories ``user`` may name, with their paths, in tree order; ``q`` filters on
    every word of the path. A category is a leaf for this user when none of the
    categories they can see has it as parent (another rater's proposal under it
    does not make it inner for them)."""
    words = [w.lower() for w in q.split()[:10]]
    return [c for c in _category_tree(study=study, user=user)
            if (c.is_leaf or not leaves_only) and all(w in c.path.lower() for w in words)]


def _category_tree(*, study: Study, user) -> list[CategoryChoice]:
    """Every category ``user`` may see, in tree order. Every change to a tree is recorded
    (taxonomy.tree.services), so the latest change id versions it: the tree is read and
    arranged once per version and user in each process, and every item after that
    costs one indexed read of that id. A taxonomy has hundreds of categories, not
    millions: it is read in one query and arranged by ``taxonomy.tree.paths``."""
    key = f"labelling:tree:{study.pk}:{taxonomy_version(study=study)}:{user.pk}"
    tree = cache.get(key)
    if tree is not None:
        return tree
    # Only what this user may see decides paths and leaves: one under a parent they cannot
    # see (someone else's proposal) is not theirs either.
    shape = tree_shape(study=study, categories=Category.objects.filter(_live_for_user(study=study, user=user)))
    tree = []
    for pk in shape.live_order():
        row = shape.rows[pk]
        tree.append(CategoryChoice(id=pk, name=row.name, path=shape.path(pk), status=row.status,
                                   is_leaf=shape.is_leaf(pk), proposed_by_me=row.status == CategoryStatus.PROPOSED))
    cache.set(key, tree, timeout=3600)
    return tree


# -- progress (counts only, never label contents) ------------------------------------


@dataclass
class RaterProgress:
    rater_id: int
    username: str
    labelled: int = 0
    assigned: int = 0
    by_stratum: dict[int, list[int]] = field(default_factory=dict)  # stratum id → [labelled, assigned]

    @property
    def percent(self) -> int:
        return int(100 * self.labelled / self.assigned) if self.assigned else 0


@dataclass(frozen=True)
class LabellingProgress:
    strata: list[SampleStratum]
    raters: list[RaterProgress]

    @property
    def labelled(self) -> int:
        return sum(r.labelled for r in self.raters)

    @property
    def assigned(self) -> int:
        return sum(r.assigned for r in self.raters)


def labelling_progress(*, study: Study, user, sight: Sight | None = None,
                       membership: Membership | None = None) -> LabellingProgress:
    """Labelled / assigned reliability items per rater and stratum, over the study's
    draws in labelling, from the raters' tallies (sampling.RaterTally, the one source of
    these figures): of every rater whose progress ``user`` may see (the blindness rule:
    their own, and everyone's on the draws they may see every rater's work of).
    ``membership``: the user's, read with the study, where no ``sight`` is at hand (the API):
    the rule is then applied in the tallies' query (``running_draw_work_q``), not read first."""
    if sight is None and membership is not None:
        if membership.study_id != study.pk:
            raise ValueError("labelling_progress: the membership of another study")
        rows = _TALLIES_SEEN.rows(membership)
        strata_rows = _RUNNING_STRATA.rows(study_id=study.pk)
    else:
        sight = sight if sight is not None else sight_for(study=study, user=user)
        draw_ids = sorted(sight.running) if sight.running is not None else labelling_draw_ids(study=study)
        # A tally has an assignment's draw and rater: the assignments' visibility rule applies as it is.
        rows = _tallies_ordered(RaterTally.objects.filter(assignment_visible_q(sight), draw_id__in=draw_ids))
        strata_rows = _strata_ordered(SampleStratum.objects.filter(draw_id__in=draw_ids))
    raters: dict[int, RaterProgress] = {}
    for row in rows:
        entry = raters.setdefault(row["rater_id"], RaterProgress(row["rater_id"], row["rater__username"]))
        entry.by_stratum[row["stratum_id"]] = [row["submitted"], row["assigned"]]
        entry.labelled += row["submitted"]
        entry.assigned += row["assigned"]
    strata = []
    for row in strata_rows:
        stratum = instance(SampleStratum, row)
        stratum.draw = instance(SampleDraw, row, prefix="draw__")
        strata.append(stratum)
    return LabellingProgress(strata=strata, raters=list(raters.values()))


def _tallies_ordered(tallies: QuerySet[RaterTally]) -> QuerySet:
    return (tallies.values("rater_id", "rater__username", "stratum_id", "submitted", "assigned")
            .order_by("rater__username", "stratum_id"))


def _strata_ordered(strata: QuerySet[SampleStratum]) -> QuerySet:
    """What the page and the API show of a stratum: its name and its draw's version."""
    return (strata.values("id", "name", "position", "draw_id", "draw__id", "draw__version")
            .order_by("draw__version", "position"))


# The tallies of the study's draws whose round runs that a member sees: the API's progress call
# reads them on every poll.
_TALLIES_SEEN = PreparedPerMember(
    lambda member: _tallies_ordered(RaterTally.objects.filter(round_running_q(prefix="draw__"),
                                                              draw__study_id=member.study_id)
                                    .filter(running_draw_work_q(membership=member))))
_RUNNING_STRATA = Prepared(
    lambda *, study_id: _strata_ordered(SampleStratum.objects.filter(round_running_q(prefix="draw__"),
                                                                     draw__study_id=study_id)),
    study_id=int)


def labelling_progress_mine(*, study: Study, user, draws: LabellingDraws | None = None) -> tuple[int, int]:
    """(labelled, assigned) for one rater over the draws in labelling: the line on the
    item page, from the rater's tallies (sampling.RaterTally)."""
    draw_ids = _draws(study, draws).ids
    if not draw_ids:
        return 0, 0
    totals = RaterTally.objects.filter(draw_id__in=draw_ids, rater=user).aggregate(
        labelled=Coalesce(Sum("submitted"), 0), assigned=Coalesce(Sum("assigned"), 0))
    return totals["labelled"], totals["assigned"]


def category_notes(*, study: Study, category_id: int) -> Category:
    """A category's definition, inclusion and exclusion notes, and its example posts
    (``example_posts``: id and title, in the order they were given), for the labelling panel.
    Nothing about labels: the panel shows no one's work but the rater's."""
    return (Category.objects.filter(study=study, pk=category_id).only("name", "definition", "inclusion", "exclusion")
            .prefetch_related(Prefetch("examples", queryset=Post.objects.only("id", "title", "so_id").order_by("pk"),
                                       to_attr="example_posts")).get())


# -- the rater's keys 1–9 ---------------------------------------------------------------


@dataclass(frozen=True)
class Hotkey:
    key: int
    category: CategoryChoice | None  # None: an empty key, or one whose category the rater can no longer use
    chosen: bool  # set by the rater
    name: str = ""  # the leaf's whole name; "Parent › Leaf" where another of the rater's leaves has its name


def hotkey_rows(*, study: Study, user) -> dict[int, tuple[int | None, bool]]:
    """The rater's stored keys: key → (category id or None, set by the rater). Empty before
    the first time they label in the study."""
    return {key: (category_id, chosen) for key, category_id, chosen in HotkeyBinding.objects.filter(
        study=study, user=user).values_list("key", "category_id", "chosen")}


def hotkey_list(*, rows: dict[int, tuple[int | None, bool]], choices: list[CategoryChoice]) -> list[Hotkey]:
    """Keys 1–9 with the leaf each ticks (``choices``: the rater's categories, as
    ``category_choices``). A key whose category is no longer a leaf the rater may use (retired,
    split into sub-categories) shows empty and does nothing."""
    leaves = {c.id: c for c in choices if c.is_leaf}
    names = Counter(c.name.casefold() for c in leaves.values())
    out = []
    for key in HOTKEYS:
        category_id, chosen = rows.get(key, (None, False))
        category = leaves.get(category_id)
        name = ""
        if category is not None:
            name = " › ".join(category.path.split(" › ")[-2:]) if names[category.name.casefold()] > 1 else category.name
        out.append(Hotkey(key=key, category=category, chosen=chosen, name=name))
    return out


def category_labels_visible(*, category: Category, user):
    """The label uses naming ``category`` that ``user`` may see, with their post and rater."""
    return (
        LabelCategory.objects.filter(category=category,
                                     label__in=label_list_visible(study=category.study, user=user))
        .select_related("label__assignment__item__post", "label__assignment__rater")
        .order_by("label__assignment__item__post__so_id", "label_id")
    )
