"""Writes of the arbitration step: start it on a draw, decide items, resolve Pending ones, and
record the pilot's decisions."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from annotator.dbstats import table_statistics_refresh
from annotator.errors import Conflict
from annotator.studies.models import Membership
from sampling.draws.models import (
    Assignment,
    DrawStatus,
    ItemPart,
    SampleDraw,
    SampleItem,
)
from sampling.draws.sight import sight_for
from taxonomy.coding.selectors import PILOT_DRAW_STATUSES
from taxonomy.labelling.models import Label, LabelCategory, LabelKind
from taxonomy.tree.models import Category, CategoryStatus
from taxonomy.tree.paths import live_children, tree_shape
from taxonomy.tree.services import category_add

from .models import (
    ArbitratorRoot,
    FinalKind,
    FinalLabel,
    FinalLabelCategory,
    FinalMethod,
    PendingCategory,
    RelabelRequest,
)
from .selectors import category_get, pilot_item_list, pilot_rows

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
    # A study's final labels were none, and are now most of a draw's items: without telling
    # the planner, the listing reads them by probing every item of the study for one.
    table_statistics_refresh(FinalLabel, FinalLabelCategory)
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


class DecisionConflict(Conflict):
    """Someone else decided the item, or changed its decision, first: theirs stands (the API answers 409)."""


def _final_exists_error(final: FinalLabel) -> DecisionConflict:
    who = _who(final.decided_by) if final.method != FinalMethod.AGREED else "the raters (agreed)"
    return DecisionConflict(
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
@transaction.atomic
def relabel_request_create(*, assignments: Iterable[Assignment], requested_by, category: Category | None = None,
                           message: str = "") -> int:
    """Ask raters to label these items again; an open request is not duplicated. Returns how many were made."""
    open_ids = set(RelabelRequest.objects.filter(assignment__in=list(assignments), done_at__isnull=True)
                   .values_list("assignment_id", flat=True))
    made = RelabelRequest.objects.bulk_create(
        RelabelRequest(assignment=a, category=category, message=message, requested_by=requested_by)
        for a in assignments if a.pk not in open_ids)
    return len(made)


def relabel_request_answer(*, assignment: Assignment, now) -> None:
    """A rater's new label on an item of a draw in arbitration answers the open request on it
    (in the label's transaction; ``taxonomy.labelling.reopening``); the item may then settle."""
    if RelabelRequest.objects.filter(assignment=assignment, done_at__isnull=True).update(done_at=now):
        item_settle(item_id=assignment.item_id)


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


# -- the pilot's decisions (DESIGN.md step 5) ------------------------------------------------------


# The line a change adds to the reason, naming the decision it replaced; dropped from a reason
# given back (the edit form shows the note without it), so that only the latest change is named.
REPLACES_PREFIX = "Replaces the decision of "
BULK_REASON = "Confirmed in bulk: the leaves its codes are grouped into."


def _pilot_decider(*, study_id: int, user) -> None:
    if not Membership.objects.filter(study_id=study_id, user=user).filter(
            Q(is_owner=True) | Q(is_arbitrator=True)).exists():
        raise PermissionDenied("Only an owner or an arbitrator records the pilot's decisions.")


def _pilot_item_locked(*, item_id: int, study_id: int) -> SampleItem:
    item = (SampleItem.objects.select_for_update(of=("self",)).select_related("draw")
            .filter(pk=item_id, draw__study_id=study_id).first())
    if item is None:
        raise ValidationError({"item": f"No item {item_id} in this study."})
    if item.part != ItemPart.PILOT:
        raise ValidationError({"item": f"Item {item_id} is a reliability item: its final label comes from "
                                       "arbitration, not from the pilot."})
    if item.draw.status not in PILOT_DRAW_STATUSES:
        raise ValidationError({"item": f"Version {item.draw.version} is not drawn: its pilot cannot be decided."})
    return item


def final_label_text(*, kind: str, category_ids: Iterable[int], paths: dict[int, str]) -> str:
    """"Server › GPU memory; Mobile › App size", or "False positive" / "Unclear"."""
    if kind != FinalKind.CATEGORIES:
        return FinalKind(kind).label
    return "; ".join(sorted(paths.get(pk, f"category {pk}") for pk in category_ids))


def pilot_note(reason: str) -> str:
    """A pilot decision's reason without the line naming the decision it replaced."""
    return "\n".join(line for line in (reason or "").splitlines() if not line.startswith(REPLACES_PREFIX)).strip()


def _pilot_decided_error(final: FinalLabel, *, paths: dict[int, str], changed: bool) -> DecisionConflict:
    what = final_label_text(kind=final.kind, category_ids=[c.category_id for c in final.categories.all()],
                            paths=paths)
    when = f"{timezone.localtime(final.decided_at):%Y-%m-%d %H:%M:%S}"
    if changed:
        return DecisionConflict(f"Meanwhile {_who(final.decided_by)} changed this decision ({when}) to: {what}. "
                                "Look at it, then change it again if need be.")
    return DecisionConflict(f"This item was already decided by {_who(final.decided_by)} at {when}: {what}. "
                            "Their decision stands; edit it to change it.")


@transaction.atomic
def pilot_decision_set(*, item: SampleItem, actor, kind: str, category_ids: Sequence[int] = (), reason: str = "",
                       replaces: datetime | None = None) -> FinalLabel:
    """Record the team's decision on a pilot item (method "pilot"): one or more active leaves, or
    False positive / Unclear, with an optional note; who and when are recorded. By default the
    decision confirms the leaves its codes are grouped into (``selectors.pilot_row``), but any
    leaves may be chosen.

    The first decision is taken with ``replaces`` None; changing it later names the decision it
    replaces by its ``decided_at`` as the caller read it. So two people deciding at once get one
    winner and the other a ``DecisionConflict`` naming the standing decision, never a silent
    overwrite. A change keeps the latest decision and says in its reason which one it replaced."""
    study_id = item.draw.study_id
    _pilot_decider(study_id=study_id, user=actor)
    item = _pilot_item_locked(item_id=item.pk, study_id=study_id)
    categories = _final_categories(study_id=study_id, kind=kind, category_ids=category_ids)
    note = pilot_note(reason)
    existing = (FinalLabel.objects.select_for_update(of=("self",)).select_related("decided_by")
                .prefetch_related("categories").filter(item=item).first())
    now = timezone.now()
    if existing is None:
        final = FinalLabel.objects.create(item=item, kind=kind, method=FinalMethod.PILOT, decided_by=actor,
                                          decided_at=now, reason=note)
        FinalLabelCategory.objects.bulk_create(FinalLabelCategory(final=final, category=c) for c in categories)
        return final
    paths = tree_shape(study=study_id).paths()
    if existing.method != FinalMethod.PILOT:  # cannot happen: only pilot items reach here
        raise _final_exists_error(existing)
    if replaces is None or replaces != existing.decided_at:
        raise _pilot_decided_error(existing, paths=paths, changed=replaces is not None)
    before = (existing.kind, sorted(c.category_id for c in existing.categories.all()))
    if before == (kind, [c.pk for c in categories]) and note == pilot_note(existing.reason):
        return existing  # nothing changes: the decision and who took it stay as they are
    what = final_label_text(kind=before[0], category_ids=before[1], paths=paths)
    replaced = (f"{REPLACES_PREFIX}{_who(existing.decided_by)} "
                f"({timezone.localtime(existing.decided_at):%Y-%m-%d %H:%M}): {what}.")
    existing.kind, existing.decided_by, existing.decided_at = kind, actor, now
    existing.reason = f"{note}\n{replaced}" if note else replaced
    existing.save(update_fields=["kind", "decided_by", "decided_at", "reason"])
    FinalLabelCategory.objects.filter(final=existing).delete()
    FinalLabelCategory.objects.bulk_create(FinalLabelCategory(final=existing, category=c) for c in categories)
    return existing


@dataclass(frozen=True)
class PilotConfirmation:
    confirmed: list[FinalLabel]
    skipped: list[tuple[SampleItem, str]]  # undecided items left as they are, and why


@transaction.atomic
def pilot_proposals_confirm(*, study, actor, version: int | None = None,
                            item_ids: Sequence[int] | None = None) -> PilotConfirmation:
    """Confirm at once the proposal of every undecided pilot item (of draw ``version``, or the items
    ``item_ids``; default: every drawn version) whose proposal is complete: at least one leaf, and
    every code on it grouped into an active leaf. The others are skipped with the reason (a code in
    no category, in an inner category or in one awaiting approval would otherwise be left out
    silently); decided items are never touched."""
    _pilot_decider(study_id=study.pk, user=actor)
    if item_ids is not None:
        wanted = sorted({int(pk) for pk in item_ids})
        if not wanted:
            raise ValidationError({"items": "Choose at least one pilot item."})
        found = set(pilot_item_list(study=study).filter(pk__in=wanted).values_list("pk", flat=True))
        if missing := [pk for pk in wanted if pk not in found]:
            raise ValidationError({"items": f"Not pilot items of a drawn version of this study: "
                                            f"{', '.join(map(str, missing))}."})
        candidates = pilot_item_list(study=study).filter(pk__in=wanted)
    else:
        candidates = pilot_item_list(study=study, version=version)
    # Locked in id order (as every decision takes its item), then read: proposals as they are now.
    locked = set(SampleItem.objects.select_for_update(of=("self",)).filter(pk__in=candidates.values("pk"))
                 .order_by("pk").values_list("pk", flat=True))
    rows = pilot_rows(study=study, items=candidates.filter(pk__in=locked))
    confirmed, skipped = [], []
    now = timezone.now()
    for row in rows:
        if row.final is not None:
            if item_ids is not None:
                skipped.append((row.item, f"already decided by {_who(row.final.decided_by)}"))
            continue
        if not row.complete:
            skipped.append((row.item, " ".join(row.problems) or "its codes give no leaf"))
            continue
        try:
            categories = _final_categories(study_id=study.pk, kind=FinalKind.CATEGORIES, category_ids=row.proposal)
        except ValidationError as exc:
            skipped.append((row.item, " ".join(exc.messages)))
            continue
        final = FinalLabel.objects.create(item=row.item, kind=FinalKind.CATEGORIES, method=FinalMethod.PILOT,
                                          decided_by=actor, decided_at=now, reason=BULK_REASON)
        FinalLabelCategory.objects.bulk_create(FinalLabelCategory(final=final, category=c) for c in categories)
        confirmed.append(final)
    return PilotConfirmation(confirmed=confirmed, skipped=skipped)


# -- Pending → category, as the page and the API ask for it --------------------------------------------


@dataclass(frozen=True)
class PendingSettled:
    category: Category
    created: bool  # the category was made from these items (new_name), not chosen
    finals: list[FinalLabel]  # resolve: the items' final labels
    relabel_requests: int  # relabel: the requests made to their raters


def _pending_target(*, study, category_id: int | None) -> Category | None:
    found = category_get(study=study, category_id=category_id)
    if found is None and category_id is not None:
        raise ValidationError({"category": f"No category {category_id} in this study."})
    return found


def pending_settle(*, study, items: Sequence[SampleItem], arbitrator, relabel: bool, reason: str = "",
                   category_id: int | None = None, new_name: str = "", new_parent_id: int | None = None,
                   new_definition: str = "") -> PendingSettled:
    """Pending items to an existing leaf (``category_id``) or a new one (``new_name`` under
    ``new_parent_id``): their final label (``pending_resolve``, ``reason`` required) or, with
    ``relabel``, a request to their raters to label them again against it (``pending_relabel``,
    ``reason`` is the message). The one action behind the Pending page and its API."""
    target = {"items": items, "arbitrator": arbitrator, "category": _pending_target(study=study, category_id=category_id),
              "new_name": new_name, "new_parent": _pending_target(study=study, category_id=new_parent_id),
              "new_definition": new_definition}
    if relabel:
        category, made = pending_relabel(message=reason, **target)
        return PendingSettled(category=category, created=category_id is None, finals=[], relabel_requests=made)
    category, finals = pending_resolve(reason=reason, **target)
    return PendingSettled(category=category, created=category_id is None, finals=finals, relabel_requests=0)
