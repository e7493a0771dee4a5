"""Reads of the arbitration step: the two queues, what an arbitrator sees, final labels."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.http import Http404

from sampling.models import Assignment, DrawStatus, ItemPart, SampleDraw, SampleItem
from taxonomy.labelling.models import Label, LabelCategory, LabelKind, RelabelRequest
from taxonomy.labelling.visibility import sight_for
from taxonomy.tree.models import Category, CategoryStatus
from taxonomy.tree.paths import tree_shape

from .models import ArbitratorRoot, FinalLabel, PendingCategory


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


@dataclass(frozen=True)
class RaterLabel:
    rater: str
    kind: str
    kind_display: str
    categories: list[Category]
    note: str


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


def final_label_list(*, study) -> QuerySet[FinalLabel]:
    return (FinalLabel.objects.filter(item__draw__study=study)
            .select_related("item__post", "item__stratum", "decided_by")
            .prefetch_related("categories__category").order_by("item__draw__version", "item_id"))


def pending_categories_count(*, study) -> int:
    return PendingCategory.objects.filter(study=study).count()


def arbitrators_with_roots(*, study) -> dict[int, list[Category]]:
    roots: dict[int, list[Category]] = {}
    for row in ArbitratorRoot.objects.filter(study=study).select_related("root"):
        roots.setdefault(row.user_id, []).append(row.root)
    return roots



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
