"""Writes of the arbitration step: start it on a draw, decide items, resolve Pending ones."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from sampling.models import Assignment, DrawStatus, ItemPart, SampleDraw, SampleItem
from taxonomy.labelling.models import Label, LabelCategory, LabelKind, RelabelRequest
from taxonomy.labelling.services import relabel_request_create
from taxonomy.labelling.visibility import sight_for
from taxonomy.tree.models import Category, CategoryStatus
from taxonomy.tree.paths import live_children, tree_shape
from taxonomy.tree.services import category_add

from .models import ArbitratorRoot, FinalKind, FinalLabel, FinalLabelCategory, FinalMethod, PendingCategory

Signature = tuple[str, frozenset[int]]


@dataclass(frozen=True)
class ArbitrationStart:
    draw: SampleDraw
    agreed: int
    to_arbitrate: int
    pending: int
    incomplete: int


def _who(user) -> str:
    return user.username if user else "someone"


def item_signatures(*, draw: SampleDraw, item_ids: Sequence[int] | None = None) -> dict[int, list[Signature]]:
    """Item id → one (kind, categories) per submitted label of the draw's reliability items."""
    labels = Label.objects.filter(assignment__draw=draw)
    if item_ids is not None:
        labels = labels.filter(assignment__item_id__in=list(item_ids))
    categories: dict[int, set[int]] = defaultdict(set)
    for label_id, category_id in LabelCategory.objects.filter(label__in=labels).values_list(
        "label_id", "category_id"
    ):
        categories[label_id].add(category_id)
    by_item: dict[int, list[Signature]] = defaultdict(list)
    for label_id, item_id, kind in labels.values_list("pk", "assignment__item_id", "kind"):
        by_item[item_id].append((kind, frozenset(categories.get(label_id, ()))))
    return by_item


@transaction.atomic
def arbitration_start(*, draw: SampleDraw, user, allow_incomplete: bool = False) -> ArbitrationStart:
    """Close the reliability round of ``draw``: labels become final inputs, the
    raters' labels are no longer hidden from each other, items where every rater
    gave the same label get it as their final label ("agreed"); the others wait
    in the arbitration queue, and items any rater marked Pending in the Pending queue."""
    draw = SampleDraw.objects.select_for_update(of=("self",)).select_related("arbitration_started_by").get(pk=draw.pk)
    if draw.arbitration_started_at is not None:
        raise ValidationError(
            f"Arbitration of version {draw.version} already started "
            f"({_who(draw.arbitration_started_by)}, {timezone.localtime(draw.arbitration_started_at):%Y-%m-%d %H:%M})."
        )
    if draw.status != DrawStatus.LABELLING:
        raise ValidationError(f"Version {draw.version} is not being labelled: arbitration follows labelling.")
    if user is not None and not sight_for(study=draw.study_id, user=user).sees_draw(draw.pk) and not allow_incomplete:
        # The starter rates on this draw: how many labels are in is the others' progress.
        raise ValidationError(
            f"You rate on version {draw.version} yourself, so you cannot see whether the other raters are done. "
            "Once they tell you they are, confirm it (allow_incomplete / the checkbox): arbitration then starts "
            "with the labels that are in, and items with a missing label stay out of the queues.")
    missing = Assignment.objects.filter(draw=draw, label__isnull=True).count()
    if missing and not allow_incomplete:
        raise ValidationError(
            f"{missing:,} assignment{'s are' if missing != 1 else ' is'} not labelled yet. Wait for the raters, "
            "or start anyway: items with a missing label then stay out of the queues."
        )
    now = timezone.now()
    draw.arbitration_started_at, draw.arbitration_started_by = now, user
    draw.save(update_fields=["arbitration_started_at", "arbitration_started_by"])

    assigned = defaultdict(int)
    for item_id in Assignment.objects.filter(draw=draw).values_list("item_id", flat=True):
        assigned[item_id] += 1
    signatures = item_signatures(draw=draw)
    agreed = to_arbitrate = pending = incomplete = 0
    finals: list[tuple[FinalLabel, frozenset[int]]] = []
    for item_id, count in assigned.items():
        labels = signatures.get(item_id, [])
        if len(labels) < count:
            incomplete += 1
        elif any(kind == LabelKind.PENDING for kind, _ in labels):
            pending += 1
        elif len(set(labels)) == 1:
            kind, category_ids = labels[0]
            reason = "one rater" if len(labels) == 1 else ""
            finals.append((FinalLabel(item_id=item_id, kind=kind, method=FinalMethod.AGREED, decided_at=now,
                                      reason=reason), category_ids))
            agreed += 1
        else:
            to_arbitrate += 1
    FinalLabel.objects.bulk_create([final for final, _ in finals])
    saved = {f.item_id: f.pk for f in FinalLabel.objects.filter(item__draw=draw)}
    FinalLabelCategory.objects.bulk_create(
        FinalLabelCategory(final_id=saved[final.item_id], category_id=cid)
        for final, category_ids in finals for cid in sorted(category_ids)
    )
    return ArbitrationStart(draw=draw, agreed=agreed, to_arbitrate=to_arbitrate, pending=pending,
                            incomplete=incomplete)


def arbitrator_may_decide(*, item: SampleItem, user) -> bool:
    """True unless the arbitrator is restricted to roots none of the item's labelled categories is under
    (a restricted root's branch, wherever it was moved: see ``taxonomy.tree.dependents``)."""
    roots = set(ArbitratorRoot.objects.filter(study_id=item.draw.study_id, user=user).values_list("root_id", flat=True))
    if not roots:
        return True
    category_ids = set(LabelCategory.objects.filter(label__assignment__item=item).values_list("category_id", flat=True))
    if not category_ids:
        return True  # only special labels: any arbitrator
    shape = tree_shape(study=item.draw.study_id)
    return any(shape.is_under(cid, roots) for cid in category_ids)


def _final_categories(*, study_id: int, kind: str, category_ids: Sequence[int]) -> list[Category]:
    if kind not in FinalKind.values:
        raise ValidationError({"kind": "Choose categories, False positive or Unclear."})
    ids = sorted({int(c) for c in category_ids})
    if kind != FinalKind.CATEGORIES:
        if ids:
            raise ValidationError({"categories": f"{FinalKind(kind).label} excludes categories."})
        return []
    if not ids:
        raise ValidationError({"categories": "Choose at least one category."})
    # Locked in id order, as the tree's merge and split take them: a label saved
    # while a merge runs can never end up on the retired category.
    found = {c.pk: c for c in Category.objects.select_for_update(of=("self",)).select_related("merged_into")
             .filter(study_id=study_id, pk__in=ids).order_by("pk")}
    problems = []
    for cid in ids:
        category = found.get(cid)
        if category is None:
            problems.append(f"category {cid} is not in this study")
        elif category.status != CategoryStatus.ACTIVE:
            where = f" (merged into “{category.merged_into.name}”)" if category.merged_into_id else ""
            problems.append(f"“{category.name}” is {category.get_status_display().lower()}{where}")
        elif live_children(category).exists():
            problems.append(f"“{category.name}” has subcategories: choose a leaf")
    if problems:
        raise ValidationError({"categories": "; ".join(problems) + "."})
    return [found[cid] for cid in ids]


def _final_exists_error(final: FinalLabel) -> ValidationError:
    who = _who(final.decided_by) if final.method != FinalMethod.AGREED else "the raters (agreed)"
    return ValidationError(
        f"This item was already decided by {who} at {timezone.localtime(final.decided_at):%H:%M:%S}: "
        f"{final.get_method_display().lower()}. Their decision stands."
    )


def _final_save(*, item: SampleItem, kind: str, categories: Iterable[Category], method: str, user,
                reason: str) -> FinalLabel:
    existing = FinalLabel.objects.filter(item=item).select_related("decided_by").first()
    if existing:
        raise _final_exists_error(existing)
    try:
        with transaction.atomic():
            final = FinalLabel.objects.create(item=item, kind=kind, method=method, decided_by=user,
                                              decided_at=timezone.now(), reason=reason)
    except IntegrityError:  # the one-to-one: someone decided between our check and our insert
        raise _final_exists_error(FinalLabel.objects.select_related("decided_by").get(item=item)) from None
    FinalLabelCategory.objects.bulk_create(FinalLabelCategory(final=final, category=c) for c in categories)
    return final


def _arbitrable_item(*, item_id: int, study_id: int) -> SampleItem:
    item = (SampleItem.objects.select_for_update(of=("self",)).select_related("draw").filter(
        pk=item_id, draw__study_id=study_id, part=ItemPart.RELIABILITY).first())
    if item is None:
        raise ValidationError("No such reliability item in this study.")
    if item.draw.arbitration_started_at is None:
        raise ValidationError(f"Arbitration of version {item.draw.version} has not started.")
    if RelabelRequest.objects.filter(assignment__item=item, done_at__isnull=True).exists():
        raise ValidationError(f"Item {item.pk} is being labelled again by its raters: wait for their labels.")
    return item


@transaction.atomic
def arbitration_decide(*, item: SampleItem, arbitrator, kind: str, category_ids: Sequence[int] = (),
                       reason: str) -> FinalLabel:
    """The final label of a disagreement. Two arbitrators at once: the first
    decision stands; the second gets a ValidationError saying whose it is."""
    item = _arbitrable_item(item_id=item.pk, study_id=item.draw.study_id)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why: the reason is part of the published record."})
    categories = _final_categories(study_id=item.draw.study_id, kind=kind, category_ids=category_ids)
    if not arbitrator_may_decide(item=item, user=arbitrator):
        raise ValidationError("This item is labelled under root categories you do not arbitrate.")
    return _final_save(item=item, kind=kind, categories=categories, method=FinalMethod.ARBITRATED,
                       user=arbitrator, reason=reason)


@transaction.atomic
def item_settle(*, item_id: int) -> FinalLabel | None:
    """After re-labelling: an item of a draw in arbitration whose labels are all in, none
    Pending and all the same gets that final label ("agreed"); otherwise it stays in its queue."""
    item = SampleItem.objects.select_for_update(of=("self",)).select_related("draw").filter(pk=item_id).first()
    if item is None or item.draw.arbitration_started_at is None or FinalLabel.objects.filter(item=item).exists():
        return None
    assignments = Assignment.objects.filter(item=item)
    if RelabelRequest.objects.filter(assignment__in=assignments, done_at__isnull=True).exists():
        return None
    labels = item_signatures(draw=item.draw, item_ids=[item.pk]).get(item.pk, [])
    if len(labels) < assignments.count() or any(kind == LabelKind.PENDING for kind, _ in labels) \
            or len(set(labels)) != 1:
        return None
    kind, category_ids = labels[0]
    final = FinalLabel.objects.create(item=item, kind=kind, method=FinalMethod.AGREED, decided_at=timezone.now(),
                                      reason="agreed after re-labelling")
    FinalLabelCategory.objects.bulk_create(FinalLabelCategory(final=final, category_id=c) for c in sorted(category_ids))
    return final


def _pending_items_locked(items: Sequence[SampleItem]) -> list[SampleItem]:
    if not items:
        raise ValidationError("Choose at least one Pending item.")
    study_id = items[0].draw.study_id
    locked = [_arbitrable_item(item_id=i.pk, study_id=study_id) for i in sorted(items, key=lambda i: i.pk)]
    for item in locked:
        if not Label.objects.filter(assignment__item=item, kind=LabelKind.PENDING).exists():
            raise ValidationError(f"Item {item.pk} was not marked Pending by any rater.")
    return locked


def _pending_category(*, locked: list[SampleItem], arbitrator, category: Category | None, new_name: str,
                      new_parent: Category | None, new_definition: str) -> Category:
    """The existing leaf chosen, or a new leaf created from Pending items (with a definition)."""
    study_id = locked[0].draw.study_id
    if (category is None) == (not new_name.strip()):
        raise ValidationError("Either choose an existing category or name a new one.")
    if category is not None:
        _final_categories(study_id=study_id, kind=FinalKind.CATEGORIES, category_ids=[category.pk])
        return category
    if not new_definition.strip():
        raise ValidationError({"definition": "A category created from Pending needs a definition."})
    category = category_add(study=locked[0].draw.study, name=new_name, actor=arbitrator, parent=new_parent,
                            definition=new_definition.strip())
    PendingCategory.objects.create(study_id=study_id, category=category, created_by=arbitrator)
    return category


@transaction.atomic
def pending_relabel(*, items: Sequence[SampleItem], arbitrator, message: str = "", category: Category | None = None,
                    new_name: str = "", new_parent: Category | None = None, new_definition: str = "",
                    ) -> tuple[Category, int]:
    """Instead of deciding Pending items: make (or choose) the category and ask every
    rater of these items to label them again against it. Their new labels then settle
    the items as at the start of arbitration: agreed, to arbitrate, or Pending again."""
    locked = _pending_items_locked(items)
    category = _pending_category(locked=locked, arbitrator=arbitrator, category=category, new_name=new_name,
                                 new_parent=new_parent, new_definition=new_definition)
    made = relabel_request_create(assignments=list(Assignment.objects.filter(item__in=locked)),
                                  requested_by=arbitrator, category=category, message=(message or "").strip())
    return category, made


@transaction.atomic
def pending_resolve(*, items: Sequence[SampleItem], arbitrator, reason: str, category: Category | None = None,
                    new_name: str = "", new_parent: Category | None = None, new_definition: str = "",
                    ) -> tuple[Category, list[FinalLabel]]:
    """Give Pending items their final label: an existing leaf, or a new leaf
    created from them (recorded as a category added from Pending)."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why: the reason is part of the published record."})
    locked = _pending_items_locked(items)
    category = _pending_category(locked=locked, arbitrator=arbitrator, category=category, new_name=new_name,
                                 new_parent=new_parent, new_definition=new_definition)
    finals = [_final_save(item=item, kind=FinalKind.CATEGORIES, categories=[category],
                          method=FinalMethod.FROM_PENDING, user=arbitrator, reason=reason) for item in locked]
    return category, finals


@transaction.atomic
def arbitrator_roots_set(*, study, user, roots: Sequence[Category]) -> None:
    """Restrict an arbitrator to these root categories (none: every item)."""
    for root in roots:
        if root.study_id != study.pk or root.parent_id is not None:
            raise ValidationError({"roots": f"“{root.name}” is not a root category of this study."})
    ArbitratorRoot.objects.filter(study=study, user=user).delete()
    ArbitratorRoot.objects.bulk_create(ArbitratorRoot(study=study, user=user, root=r) for r in roots)
