"""Reads of the arbitration step: the two queues, what an arbitrator sees, final labels, and the
pilot's decisions (each pilot item with the leaves its codes propose)."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet
from django.http import Http404

from annotator.prepared import Prepared
from annotator.studies.models import Membership
from sampling.draws.models import (
    Assignment,
    DrawStatus,
    ItemPart,
    SampleDraw,
    SampleItem,
)
from sampling.draws.sight import sight_for
from taxonomy.coding.models import CodeUse
from taxonomy.coding.selectors import PILOT_DRAW_STATUSES, pilot_item_get
from taxonomy.labelling.models import Label, LabelCategory, LabelKind
from taxonomy.tree.models import PRIVATE, Category, CategoryStatus
from taxonomy.tree.paths import TreeShape, tree_shape

from .models import (
    ArbitratorRoot,
    FinalLabel,
    FinalLabelCategory,
    PendingCategory,
    RelabelRequest,
)


def _open_items(*, study) -> QuerySet[SampleItem]:
    """Reliability items of draws in arbitration, with every label in, none being
    re-labelled, and no final label yet."""
    missing_label = Assignment.objects.filter(item=OuterRef("pk"), label__isnull=True)
    being_relabelled = RelabelRequest.objects.filter(assignment__item=OuterRef("pk"), done_at__isnull=True)
    return (
        SampleItem.objects.filter(draw__study=study, part=ItemPart.RELIABILITY,
                                  draw__arbitration_started_at__isnull=False, final_label__isnull=True)
        .exclude(Exists(missing_label)).exclude(Exists(being_relabelled))
        .select_related("post", "stratum", "draw")
    )


def _pending() -> Exists:
    return Exists(Label.objects.filter(assignment__item=OuterRef("pk"), kind=LabelKind.PENDING))


def _descendants(*, study, roots: set[int]) -> set[int]:
    """The categories an arbitrator restricted to ``roots`` arbitrates: those roots' branches
    (a restriction keeps its branch when the branch is moved under another category)."""
    return tree_shape(study=study).descendants(roots)


def arbitration_queue(*, study, user=None, stratum_id: int | None = None) -> QuerySet[SampleItem]:
    """Items whose raters disagree and no arbitrator has decided; for a restricted
    arbitrator, only those labelled under their roots (or with special labels only)."""
    items = _open_items(study=study).exclude(_pending())
    if stratum_id is not None:
        items = items.filter(stratum_id=stratum_id)
    if user is not None:
        roots = set(ArbitratorRoot.objects.filter(study=study, user=user).values_list("root_id", flat=True))
        if roots:
            allowed = _descendants(study=study, roots=roots)
            any_category = LabelCategory.objects.filter(label__assignment__item=OuterRef("pk"))
            items = items.filter(Exists(any_category.filter(category_id__in=allowed)) | ~Exists(any_category))
    return items.order_by("draw__version", "stratum__position", "pk")


def pending_queue(*, study, stratum_id: int | None = None) -> QuerySet[SampleItem]:
    """Items any rater marked Pending that have no final label yet."""
    items = _open_items(study=study).filter(_pending())
    if stratum_id is not None:
        items = items.filter(stratum_id=stratum_id)
    return items.order_by("draw__version", "stratum__position", "pk")


PENDING_PAGE_MAX = 200  # the Pending page's items at most: each comes with its raters' labels


def pending_page(*, study) -> tuple[list[SampleItem], int]:
    """The Pending page's items, the queue's first ``PENDING_PAGE_MAX`` in its order, and how many
    items are Pending in all (the page says when it shows only the first ones)."""
    queue = pending_queue(study=study)
    items = list(queue[:PENDING_PAGE_MAX])
    return items, (len(items) if len(items) < PENDING_PAGE_MAX else queue.count())


@dataclass(frozen=True)
class QueueCount:
    stratum: str
    draw_version: int
    arbitration: int
    pending: int


def queue_counts(*, study, user=None) -> list[QueueCount]:
    """How many are left, per stratum, in the queue ``user`` sees (all arbitrators' when None)."""
    arbitration = Counter(arbitration_queue(study=study, user=user).values_list("draw__version", "stratum__name"))
    pending = Counter(pending_queue(study=study).values_list("draw__version", "stratum__name"))
    keys = sorted(set(arbitration) | set(pending))
    return [QueueCount(stratum=name, draw_version=version, arbitration=arbitration[(version, name)],
                       pending=pending[(version, name)]) for version, name in keys]


def arbitration_neighbours(*, study, item: SampleItem, user=None) -> tuple[int | None, int | None]:
    """The ids of the items just before and just after ``item`` in the queue ``user`` sees (in its
    order: version, stratum, id), whether or not ``item`` is still in it (decided, say)."""
    version, position, pk = item.draw.version, item.stratum.position, item.pk
    queue = arbitration_queue(study=study, user=user)
    before = (Q(draw__version__lt=version) | Q(draw__version=version, stratum__position__lt=position)
              | Q(draw__version=version, stratum__position=position, pk__lt=pk))
    after = (Q(draw__version__gt=version) | Q(draw__version=version, stratum__position__gt=position)
             | Q(draw__version=version, stratum__position=position, pk__gt=pk))
    previous = (queue.filter(before).order_by("-draw__version", "-stratum__position", "-pk")
                .values_list("pk", flat=True).first())
    following = queue.filter(after).values_list("pk", flat=True).first()
    return previous, following


def arbitration_next(*, study, item: SampleItem, user=None) -> SampleItem | None:
    """The item to arbitrate after ``item``: the next one in the queue, else the first one left
    (those skipped before it), else None."""
    queue = arbitration_queue(study=study, user=user)
    _, following = arbitration_neighbours(study=study, item=item, user=user)
    return queue.filter(pk=following).first() if following else queue.exclude(pk=item.pk).first()


@dataclass(frozen=True)
class RaterLabel:
    rater: str
    kind: str
    kind_display: str
    categories: list[Category]
    note: str

    @property
    def category_ids(self) -> list[int]:
        return [c.pk for c in self.categories]

    @property
    def takeable(self) -> bool:
        """A final label can be this label as it stands (Pending is no final label)."""
        return self.kind != LabelKind.PENDING


def item_get_for_arbitration(*, study, item_id: int) -> SampleItem:
    """A reliability item of a draw in arbitration, or 404 (missing and not yet open alike)."""
    item = (SampleItem.objects.select_related("post", "stratum", "draw")
            .filter(pk=item_id, draw__study=study, part=ItemPart.RELIABILITY,
                    draw__arbitration_started_at__isnull=False).first())
    if item is None:
        raise Http404("No such item in arbitration.")
    return item


def item_rater_labels(*, item: SampleItem) -> list[RaterLabel]:
    """Each rater's label and note, names shown: only once arbitration has started (blindness)."""
    if item.draw.arbitration_started_at is None:
        return []
    labels = (Label.objects.filter(assignment__item=item).select_related("assignment__rater")
              .prefetch_related("categories__category").order_by("assignment__rater__username"))
    return [RaterLabel(rater=label.assignment.rater.username, kind=label.kind,
                       kind_display=label.get_kind_display(),
                       categories=[lc.category for lc in label.categories.all()], note=label.note)
            for label in labels]


def final_label_for(*, item: SampleItem) -> FinalLabel | None:
    return (FinalLabel.objects.filter(item=item).select_related("decided_by")
            .prefetch_related("categories__category").first())


def final_label_list(*, study) -> QuerySet:
    """The study's final labels in the listing's order (draw version, item), as the listing's rows
    (``values()``: model instances with their decider cost several times the query); the
    categories of a page come from ``final_label_rows_complete``, in one query."""
    return (FinalLabel.objects.filter(item__draw__study=study).order_by("item__draw__version", "item_id")
            .values("id", "item_id", "kind", "method", "decided_at", "reason",
                    decided_by_name=F("decided_by__username")))


def final_label_rows_complete(page: list[dict]) -> list[dict]:
    """A page of ``final_label_list`` as the listing writes it: the fields of the API's
    ``FinalLabelOutput``, in its order, with each one's category ids, sorted."""
    categories = _final_category_ids([row["id"] for row in page])
    return [{"item": row["item_id"], "kind": row["kind"], "categories": categories[row["id"]],
             "method": row["method"], "decided_by": row["decided_by_name"], "decided_at": row["decided_at"],
             "reason": row["reason"]} for row in page]


def final_labels_complete(finals: list[FinalLabel]) -> list[FinalLabel]:
    """A page of final labels (instances) with each one's category ids (``category_ids``), sorted."""
    categories = _final_category_ids([final.pk for final in finals])
    for final in finals:
        final.category_ids = categories[final.pk]
    return finals


def _final_category_ids(final_ids: list[int]) -> dict[int, list[int]]:
    """Final label id → its category ids, sorted, for a page of final labels in one query."""
    categories: dict[int, list[int]] = {pk: [] for pk in final_ids}
    for row in _FINAL_CATEGORIES.rows(final_ids=list(final_ids)):
        categories[row["final_id"]].append(row["category_id"])
    return categories


# prepared: the listing reads a page's categories on every page
_FINAL_CATEGORIES = Prepared(
    lambda *, final_ids: FinalLabelCategory.objects.filter(final_id__in=final_ids).order_by("category_id")
    .values("final_id", "category_id"),
    final_ids=list)


def pending_categories_count(*, study) -> int:
    return PendingCategory.objects.filter(study=study).count()


def arbitrators_with_roots(*, study) -> dict[int, list[Category]]:
    roots: dict[int, list[Category]] = {}
    for row in ArbitratorRoot.objects.filter(study=study).select_related("root"):
        roots.setdefault(row.user_id, []).append(row.root)
    return roots



def arbitrator_memberships(*, study) -> list[Membership]:
    """The study's arbitrators, by name."""
    return list(Membership.objects.filter(study=study, is_arbitrator=True).select_related("user")
                .order_by("user__username"))


def arbitrator_membership_get(*, study, user_id: int) -> Membership:
    """An arbitrator of the study, or 404."""
    member = Membership.objects.filter(study=study, user_id=user_id, is_arbitrator=True).select_related("user").first()
    if member is None:
        raise Http404("No such arbitrator.")
    return member


def root_choices(*, study) -> list[tuple[int, str]]:
    """The root categories an arbitrator may be restricted to (retired ones left out), as (id, name)."""
    return list(Category.objects.filter(study=study, parent__isnull=True).exclude(status=CategoryStatus.RETIRED)
                .order_by("name").values_list("pk", "name"))


def roots_get(*, study, ids) -> list[Category]:
    return list(Category.objects.filter(study=study, pk__in=list(ids)).order_by("name"))


def category_get(*, study, category_id: int | None) -> Category | None:
    """A category of the study, or None (none asked for, or not in this study: the service says why)."""
    if category_id is None:
        return None
    return Category.objects.filter(study=study, pk=category_id).first()


def parent_choices(*, study) -> list[tuple[int, str]]:
    """Where a category made from Pending may go: under any category not retired, as (id, path), by path."""
    shape = tree_shape(study=study)
    return sorted(((pk, shape.path(pk)) for pk, row in shape.rows.items() if row.status != CategoryStatus.RETIRED),
                  key=lambda c: c[1].lower())


def category_paths(*, study) -> dict[int, str]:
    """Category id → "Root › Inner › Leaf" for every category of the study."""
    return tree_shape(study=study).paths()


def leaf_choices(*, study) -> list[tuple[int, str]]:
    """Active leaves (proposed ones must be approved first), as (id, path), by path."""
    shape = tree_shape(study=study)
    return sorted(((pk, shape.path(pk)) for pk in shape.leaves() if shape.rows[pk].status == CategoryStatus.ACTIVE),
                  key=lambda c: c[1].lower())


def draws_for_arbitration(*, study, user) -> list:
    """Draws in labelling, each with how many assignments still lack a label; ``sees_labels``
    False (and no counts) on a draw whose raters' progress ``user`` may not see (they rate on it)."""
    sight = sight_for(study=study, user=user)
    draws = list(SampleDraw.objects.filter(study=study, status=DrawStatus.LABELLING)
                 .annotate(missing=Count("assignments", filter=Q(assignments__label__isnull=True)),
                           labelled=Count("assignments", filter=Q(assignments__label__isnull=False)),
                           assigned=Count("assignments"))
                 .select_related("arbitration_started_by").order_by("-version"))
    for draw in draws:
        draw.sees_labels = sight.sees_draw(draw.pk)
        if not draw.sees_labels:
            draw.missing = draw.labelled = draw.assigned = None
    return draws


# -- the pilot's decisions (DESIGN.md step 5) ------------------------------------------------------
#
# The pilot is joint: every member sees its codes, so every member sees its proposals and
# decisions. What a proposal says is read on the tree every member sees (a rater's private
# proposal is in no path and makes no category inner here).

LEAF, INNER, AWAITING, UNGROUPED = "leaf", "inner", "awaiting_approval", "ungrouped"


@dataclass(frozen=True)
class ProposedCode:
    """One code on a pilot item and what it proposes: ``outcome`` is ``leaf`` (its category is an
    active leaf), ``inner`` (grouped into a category with subcategories: no leaf), ``awaiting_approval``
    (its category is a proposal not approved yet) or ``ungrouped`` (in no category)."""

    code_id: int
    text: str
    category_id: int | None  # None when ungrouped, or in a proposal not every member sees
    path: str
    outcome: str

    @property
    def problem(self) -> str:
        """Why this code gives no leaf ("" when it gives one)."""
        if self.outcome == INNER:
            return f"“{self.text}” is grouped into {self.path}, which has subcategories: it gives no leaf."
        if self.outcome == AWAITING:
            where = f"“{self.path}”" if self.path else "a category"
            return f"“{self.text}” is grouped into {where} that awaits approval: it gives no leaf yet."
        if self.outcome == UNGROUPED:
            return f"“{self.text}” is in no category yet."
        return ""


@dataclass
class PilotRow:
    """A pilot item, what its codes propose (the active leaves they are grouped into, in tree
    order) and its decision, if any."""

    item: SampleItem
    codes: list[ProposedCode]
    proposal: list[int]
    final: FinalLabel | None
    paths: dict[int, str]

    @property
    def proposal_paths(self) -> list[str]:
        return [self.paths.get(pk, "") for pk in self.proposal]

    @property
    def problems(self) -> list[str]:
        return [c.problem for c in self.codes if c.outcome != LEAF]

    @property
    def complete(self) -> bool:
        """At least one leaf, and every code gives one: confirming it leaves no code out."""
        return bool(self.proposal) and not self.problems

    @property
    def final_category_ids(self) -> list[int]:
        return sorted(c.category_id for c in self.final.categories.all()) if self.final else []

    @property
    def final_paths(self) -> list[str]:
        return sorted(self.paths.get(pk, "") for pk in self.final_category_ids)

    @property
    def matches_proposal(self) -> bool:
        """The decision is exactly the proposal (the leaves its codes give now)."""
        return (self.final is not None and self.final.kind == "categories"
                and set(self.final_category_ids) == set(self.proposal))


def _public_shape(*, study) -> TreeShape:
    """The tree every member sees: active categories, pilot proposals, retired ones."""
    return tree_shape(study=study, categories=Category.objects.filter(study=study).exclude(PRIVATE))


def _proposed_code(*, code_id: int, text: str, category_id: int | None, shape: TreeShape) -> ProposedCode:
    if category_id is None:
        return ProposedCode(code_id, text, None, "", UNGROUPED)
    if category_id not in shape or not shape.attached(category_id):
        return ProposedCode(code_id, text, None, "", AWAITING)  # a proposal (or under one) not everyone sees
    path = shape.path(category_id)
    if shape.rows[category_id].status != CategoryStatus.ACTIVE:
        return ProposedCode(code_id, text, category_id, path, AWAITING)
    if not shape.is_leaf(category_id):
        return ProposedCode(code_id, text, category_id, path, INNER)
    return ProposedCode(code_id, text, category_id, path, LEAF)


def pilot_rows(*, study, items) -> list[PilotRow]:
    """The proposal and decision of each of ``items`` (pilot items of ``study``), in their order:
    a few queries whatever their number."""
    items = list(items)
    ids = [item.pk for item in items]
    shape = _public_shape(study=study)
    uses: dict[int, list[ProposedCode]] = defaultdict(list)
    for item_id, code_id, text, category_id in (CodeUse.objects.filter(item_id__in=ids)
                                                .order_by("code__text", "code_id")
                                                .values_list("item_id", "code_id", "code__text", "code__category_id")):
        uses[item_id].append(_proposed_code(code_id=code_id, text=text, category_id=category_id, shape=shape))
    finals = {f.item_id: f for f in FinalLabel.objects.filter(item_id__in=ids).select_related("decided_by")
              .prefetch_related("categories")}
    order = {pk: index for index, pk in enumerate(shape.live_order())}
    paths = shape.paths()
    rows = []
    for item in items:
        codes = uses.get(item.pk, [])
        leaves = sorted({c.category_id for c in codes if c.outcome == LEAF}, key=lambda pk: order.get(pk, len(order)))
        rows.append(PilotRow(item=item, codes=codes, proposal=leaves, final=finals.get(item.pk), paths=paths))
    return rows


def pilot_row(*, item: SampleItem) -> PilotRow:
    return pilot_rows(study=item.draw.study_id, items=[item])[0]


def pilot_item_list(*, study, version: int | None = None, undecided: bool = False) -> QuerySet[SampleItem]:
    """The pilot items of the study's drawn versions (or of version ``version``; 404 when it is
    not a drawn version), in the pilot's order; ``undecided``: those without a decision."""
    items = SampleItem.objects.filter(draw__study=study, part=ItemPart.PILOT, draw__status__in=PILOT_DRAW_STATUSES)
    if version is not None:
        if not SampleDraw.objects.filter(study=study, version=version, status__in=PILOT_DRAW_STATUSES).exists():
            raise Http404("No such drawn version.")
        items = items.filter(draw__version=version)
    if undecided:
        items = items.filter(final_label__isnull=True)
    return (items.select_related("post", "stratum", "draw")
            .order_by("draw__version", "stratum__position", "post__so_id", "pk"))


@dataclass(frozen=True)
class PilotCounts:
    items: int
    decided: int
    confirmable: int  # undecided, with a complete proposal: what the bulk confirmation would decide


def pilot_counts(*, study, version: int | None = None) -> PilotCounts:
    items = pilot_item_list(study=study, version=version)
    undecided = pilot_rows(study=study, items=items.filter(final_label__isnull=True))
    total = items.count()
    return PilotCounts(items=total, decided=total - len(undecided),
                       confirmable=sum(1 for row in undecided if row.complete))


def pilot_draws(*, study) -> QuerySet[SampleDraw]:
    """The drawn versions whose pilot items may be decided, newest first."""
    return SampleDraw.objects.filter(study=study, status__in=PILOT_DRAW_STATUSES).order_by("-version")


def pilot_item_for_decision(*, study, item_id: int) -> SampleItem:
    """A pilot item of a drawn version of ``study``. A reliability item of the study is bad input
    (its final label comes from arbitration); anything else is 404."""
    try:
        return pilot_item_get(study=study, item_id=item_id)
    except Http404:
        if SampleItem.objects.filter(pk=item_id, draw__study=study, part=ItemPart.RELIABILITY).exists():
            raise ValidationError({"item": f"Item {item_id} is a reliability item: its final label comes from "
                                           "arbitration, not from the pilot."}) from None
        raise


# -- re-label requests, as the raters' queues see them (taxonomy.labelling.reopening) ----------


def relabel_request_is_open(*, assignment) -> bool:
    return RelabelRequest.objects.filter(assignment=assignment, done_at__isnull=True).exists()


def relabel_request_open(*, assignment) -> RelabelRequest | None:
    return (RelabelRequest.objects.filter(assignment=assignment, done_at__isnull=True)
            .select_related("category", "requested_by").first())


def relabel_first_open(*, study, user) -> int | None:
    """The rater's first assignment of the study with an open request, by item."""
    return (RelabelRequest.objects.filter(assignment__rater=user, assignment__draw__study=study, done_at__isnull=True)
            .order_by("assignment__item_id").values_list("assignment_id", flat=True).first())


def final_label_exists(*, item: SampleItem) -> bool:
    return FinalLabel.objects.filter(item=item).exists()


def arbitration_queue_count(*, study, user=None) -> int:
    """How many items ``arbitration_queue`` holds (``user``'s, or all)."""
    return arbitration_queue(study=study, user=user).count()


def pending_count(*, study) -> int:
    return pending_queue(study=study).count()
