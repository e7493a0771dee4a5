"""Reads of the taxonomy tree.

Who sees what is decided by the blindness rule (``taxonomy.labelling.visibility``):
every member sees the live tree and the joint pilot's proposals; a rater's
private proposal is seen by its proposer, and by owners and arbitrators who rate
on no running round; label counts, and how many labels a change moved, count
only the labels the reader may see.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import F, IntegerField, Min, Q, QuerySet, Value
from django.http import Http404

from annotator.studies.models import Membership, Role, Study
from annotator.studies.selectors import StudyAccess, study_get_for_user
from sampling.draws.models import DrawStatus, SampleDraw
from sampling.draws.sight import Sight, sight_for

from . import paths
from .models import (
    PRIVATE,
    PUBLIC,
    CategoriesSeen,
    Category,
    CategoryChange,
    CategoryStatus,
    ChangeAction,
)
from .paths import TreeShape


def taxonomy_version(*, study: Study) -> int:
    """The id of the study's latest tree change (0 for an empty tree): what an agreement figure stores."""
    return CategoryChange.objects.filter(study=study).order_by("-id").values_list("id", flat=True).first() or 0


def category_leaves(*, study: Study) -> QuerySet[Category]:
    """Live categories with no live child: what a label may name."""
    return paths.leaves(Category.objects.filter(study=study))


# -- access -------------------------------------------------------------------------------


def taxonomy_can_edit(*, access: StudyAccess) -> bool:
    """Owners and arbitrators edit the tree; raters and viewers read it."""
    return access.can(Role.OWNER) or access.can(Role.ARBITRATOR)


def taxonomy_editor_access(*, slug: str, user) -> StudyAccess:
    """The study for an owner or arbitrator; 404 for everyone else (as for every other refused write)."""
    access = study_get_for_user(slug=slug, user=user)
    if not taxonomy_can_edit(access=access):
        raise Http404("No such study.")
    return access


def category_visible_q(sight: Sight) -> Q:
    """The categories ``sight`` shows: all but other raters' private proposals (unless it may see those)."""
    if sight.sees_private_proposals:
        return Q()
    return ~PRIVATE | Q(proposed_by_id=sight.user_id)


def _visible(category: Category, *, sight: Sight) -> bool:
    return (category.status != CategoryStatus.PROPOSED or category.joint or sight.sees_private_proposals
            or (sight.user_id is not None and category.proposed_by_id == sight.user_id))


# -- the tree -----------------------------------------------------------------------------


@dataclass
class CategoryNode:
    category: Category
    path: str
    depth: int
    level: str = ""  # root / inner / leaf (taxonomy.tree.paths)
    label_count: int = 0
    subtree_count: int = 0  # labels naming this node or a node below it (a label naming two counts twice)
    final_posts: int | None = None  # posts with a final label in it or below (None: not asked for)
    children: list[CategoryNode] = field(default_factory=list)

    @property
    def id(self) -> int:
        return self.category.pk

    @property
    def is_leaf(self) -> bool:
        return self.category.status != CategoryStatus.RETIRED and not self.children


@dataclass
class TaxonomyTree:
    roots: list[CategoryNode]
    retired: list[CategoryNode]
    by_id: dict[int, CategoryNode]

    def flat(self) -> list[CategoryNode]:
        """Live nodes depth-first in tree order, then the retired ones."""
        out: list[CategoryNode] = []

        def walk(nodes):
            for node in nodes:
                out.append(node)
                walk(node.children)

        walk(self.roots)
        return out + self.retired

    @property
    def live(self) -> list[CategoryNode]:
        return [n for n in self.flat() if n.category.status != CategoryStatus.RETIRED]


# -- what later steps hold per category ----------------------------------------------------
# Labels (labelling), codes (coding) and posts by final label (results) name categories. The
# tree, earlier in the method, imports none of them: each registers from its AppConfig.ready
# how many of its rows name each category as a reader's sight sees them, and which rows name
# one category for a user (the category page).
CategoryCounts = Callable[[Study, Sight], Mapping[int, int]]
CategoryUses = Callable[[Category, object], Iterable]
_counts: dict[str, CategoryCounts] = {}
_uses: dict[str, CategoryUses] = {}


def category_counts_register(name: str, counts: CategoryCounts) -> None:
    _counts[name] = counts


def category_uses_register(name: str, uses: CategoryUses) -> None:
    _uses[name] = uses


def _category_counts(name: str, study: Study, sight: Sight) -> Mapping[int, int] | None:
    counts = _counts.get(name)
    return counts(study, sight) if counts is not None else None


def category_uses(*, category: Category, user, name: str) -> Iterable:
    """The rows of ``name`` (e.g. "labels", "codes") that name ``category``, as ``user`` may
    see them; empty when no installed step registered that name."""
    uses = _uses.get(name)
    return uses(category, user) if uses is not None else []


def taxonomy_tree(*, study: Study, user, with_final: bool = False) -> TaxonomyTree:
    """The study's categories as nested nodes with their (visible) label counts and paths;
    ``with_final``: also how many posts each holds by final label (the published count)."""
    categories = list(Category.objects.filter(study=study).select_related("proposed_by").order_by(
        "position", "name", "pk"))
    sight = sight_for(study=study, user=user)
    counts = _category_counts("labels", study, sight) or {}
    visible = {c.pk: c for c in categories if _visible(c, sight=sight)}
    # The shape of what this reader sees: a hidden proposal's name is in no path, and a
    # live child of one stays hidden with it (it is attached to no root they see).
    shape = TreeShape(visible.values())
    final = _category_counts("final_posts", study, sight) if with_final else None
    nodes = {pk: CategoryNode(category=c, path=shape.path(pk), depth=shape.depth(pk), level=shape.level(pk),
                              label_count=counts.get(pk, 0),
                              final_posts=None if final is None else final.get(pk, 0)) for pk, c in visible.items()}
    for pk in shape.live_order():
        nodes[pk].children = [nodes[child] for child in shape.live_children(pk)]
    roots = [nodes[pk] for pk in shape.roots()]
    retired = [nodes[pk] for pk in sorted((pk for pk in visible if not shape.is_live(pk)), key=shape.sort_key)]
    totals = shape.subtree_totals(counts)
    reachable: dict[int, CategoryNode] = {}
    for node in [*(nodes[pk] for pk in shape.live_order()), *retired]:
        node.subtree_count = totals[node.id]
        reachable[node.id] = node
    return TaxonomyTree(roots=roots, retired=retired, by_id=reachable)


def category_get(*, study: Study, category_id, user=None) -> Category:
    """One category of the study; 404 for another study's, a missing one, or a proposal ``user`` may not see."""
    try:
        category_id = int(category_id)
    except (TypeError, ValueError):
        raise Http404("No such category.") from None
    category = Category.objects.filter(study=study, pk=category_id).select_related(
        "parent", "merged_into", "proposed_by", "created_by").first()
    if category is None:
        raise Http404("No such category.")
    if user is not None and not _visible(category, sight=sight_for(study=study, user=user)):
        raise Http404("No such category.")
    return category


def category_path(*, category: Category) -> str:
    """"Root › Inner › Leaf" of one category (its study's rows read in one query)."""
    return paths.tree_shape(study=category.study_id).path(category.pk)


# -- search (type-ahead for labelling and coding) --------------------------------------------


@dataclass(frozen=True)
class CategoryHit:
    category: Category
    path: str
    is_leaf: bool

    @property
    def id(self) -> int:
        return self.category.pk

    @property
    def name(self) -> str:
        return self.category.name

    @property
    def status(self) -> str:
        return self.category.status


def category_search(*, study: Study, user, q: str = "", leaves_only: bool = True, limit: int = 20) -> list[CategoryHit]:
    """Live categories (leaves only by default) whose name or path contains every word of ``q``
    (case-insensitive), best first: a name starting with ``q``, then a name containing it, then by path.
    Proposed categories appear for their proposer, and for owners and arbitrators."""
    tree = taxonomy_tree(study=study, user=user)
    words = (q or "").casefold().split()
    needle = " ".join(words)
    hits = []
    for node in tree.live:
        if leaves_only and not node.is_leaf:
            continue
        haystack = node.path.casefold()
        if all(word in haystack for word in words):
            name = node.category.name.casefold()
            rank = 0 if needle and name.startswith(needle) else 1 if needle and needle in name else 2
            hits.append((rank, haystack, CategoryHit(category=node.category, path=node.path, is_leaf=node.is_leaf)))
    hits.sort(key=lambda row: row[:2])
    return [hit for _, _, hit in hits[:limit]]


# -- detail and history ----------------------------------------------------------------------


def category_change_list(*, study: Study, user=None, category: Category | None = None) -> QuerySet[CategoryChange]:
    """Newest first; the changes of a live proposal only for those who may see it. How many
    labels a change moved (``labels_shown``) is told only to a reader who sees every label
    (else None): a count of labels moved by a merge is a count of labels."""
    changes = CategoryChange.objects.filter(study=study).select_related("category", "actor").order_by("-id")
    sees_all = True
    if user is not None:
        sight = sight_for(study=study, user=user)
        sees_all = sight.sees_all
        if not sight.sees_private_proposals:
            changes = changes.filter(category__in=Category.objects.filter(category_visible_q(sight), study=study))
    changes = changes.annotate(labels_shown=F("labels_moved") if sees_all else Value(None, IntegerField()))
    if category is not None:
        changes = changes.filter(category=category)
    return changes


def change_moved_shown(change: CategoryChange) -> dict[str, int]:
    """What a change moved (kind name → rows), as its reader may be told: without the
    labels for one who does not see every label (``category_change_list`` leaves their
    ``labels_shown`` None)."""
    hidden = getattr(change, "labels_shown", change.labels_moved) is None
    return {name: n for name, n in (change.moved or {}).items() if n and not (hidden and name == "labels")}


@dataclass(frozen=True)
class FieldChange:
    field: str
    before: object
    after: object


FIELD_LABELS = {"name": "name", "parent": "parent", "status": "status", "definition": "definition",
                "inclusion": "inclusion", "exclusion": "exclusion", "position": "position",
                "merged_into": "merged into", "examples": "examples", "split_into": "split into",
                "split_from": "split from"}
CATEGORY_FIELDS = {"parent", "merged_into", "split_into", "split_from"}


def change_field_diffs(*, changes) -> dict[int, list[FieldChange]]:
    """Change id → the fields that differ between before and after, with category ids shown as names."""
    changes = list(changes)
    ids = set()
    for change in changes:
        for snapshot in (change.before, change.after):
            ids.update(v for k, v in snapshot.items() if k in CATEGORY_FIELDS and v)
    names = dict(Category.objects.filter(pk__in=ids).values_list("pk", "name"))
    out = {}
    for change in changes:
        rows = []
        for key, label in FIELD_LABELS.items():
            before, after = change.before.get(key), change.after.get(key)
            if before == after or (not change.before and after in (None, "", [], 0) and key != "name"):
                continue
            if key in CATEGORY_FIELDS:
                before = names.get(before, "(root)" if key == "parent" else "—") if before or key == "parent" else "—"
                after = names.get(after, "(root)" if key == "parent" else "—") if after or key == "parent" else "—"
            if key == "examples":
                before, after = len(before or []), len(after or [])
            rows.append(FieldChange(field=label, before=before if before not in (None, "") else "—",
                                    after=after if after not in (None, "") else "—"))
        out[change.pk] = rows
    return out


# -- new categories announced while labelling ---------------------------------------------------

ANNOUNCED_ACTIONS = (ChangeAction.ADD, ChangeAction.APPROVE)
ANNOUNCED_SHOWN = 10


@dataclass(frozen=True)
class CategoryAnnouncement:
    category_id: int
    path: str
    approved: bool  # a proposal approved (else a category added)
    actor: str | None
    at: datetime


@dataclass(frozen=True)
class Announcements:
    items: list[CategoryAnnouncement]  # newest first, at most ANNOUNCED_SHOWN
    more: int  # announced but not shown
    up_to: int  # the last change they cover: dismissing marks the history seen up to it


NO_ANNOUNCEMENTS = Announcements(items=[], more=0, up_to=0)


def categories_announced(*, study: Study, user) -> Announcements:
    """The categories to tell ``user`` about when they open labelling: added, or approved from a
    proposal, by someone else since labelling started on a draw of the study (and since they
    last dismissed these), once each, newest first, under their current path.

    Blind by construction: only categories that are active now and sit under public categories
    (``PUBLIC``: active ones, joint proposals) are told, with a path of public names only, so
    every member is told the same; a private proposal, approved or not, is never named before
    it is active (``taxonomy.labelling.visibility`` has the rule)."""
    if not getattr(user, "is_authenticated", False) or not Membership.objects.filter(
            study=study, user=user).exists():
        return NO_ANNOUNCEMENTS
    since = SampleDraw.objects.filter(study=study, status=DrawStatus.LABELLING).aggregate(
        since=Min("labelling_started_at"))["since"]
    if since is None:
        return NO_ANNOUNCEMENTS
    up_to = taxonomy_version(study=study)
    seen = CategoriesSeen.objects.filter(study=study, user=user).values_list("change_id", flat=True).first() or 0
    changes = (CategoryChange.objects.filter(study=study, id__gt=seen, id__lte=up_to, at__gte=since,
                                             action__in=ANNOUNCED_ACTIONS, category__status=CategoryStatus.ACTIVE)
               .exclude(actor_id=user.pk).select_related("actor").order_by("-id"))
    newest: dict[int, CategoryChange] = {}
    for change in changes:
        newest.setdefault(change.category_id, change)
    if not newest:
        return Announcements(items=[], more=0, up_to=up_to)
    shape = paths.tree_shape(study=study, categories=Category.objects.filter(PUBLIC, study=study))
    items = [CategoryAnnouncement(category_id=pk, path=shape.path(pk), approved=change.action == ChangeAction.APPROVE,
                                  actor=change.actor.username if change.actor else None, at=change.at)
             for pk, change in newest.items() if shape.is_live(pk) and shape.attached(pk)]
    return Announcements(items=items[:ANNOUNCED_SHOWN], more=max(0, len(items) - ANNOUNCED_SHOWN), up_to=up_to)


def category_examples(*, category: Category) -> QuerySet:
    """The posts given as the category's examples, by id."""
    return category.examples.order_by("pk")


def category_example_ids(*, category: Category) -> list[int]:
    return list(category_examples(category=category).values_list("pk", flat=True))
