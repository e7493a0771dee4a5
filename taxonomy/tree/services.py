"""Writes to the taxonomy tree. Every change is recorded in ``CategoryChange``.

Every row that names a category follows every change, as ``.dependents``
lists them: a merge moves the merged category's labels, final labels, codes,
open re-label requests and arbitrators' restrictions to the survivor, a split
moves the chosen labels, final labels and codes to the new sibling, and a
category that such rows (or live children) still name cannot be retired.
Labels and final labels stay on leaves. Every write locks the categories it touches with
``select_for_update`` in id order (so two editors never deadlock), then
re-reads them: two people acting at once get one winner and one clear message.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q

from annotator.studies.models import Study

from . import dependents
from .models import (
    PUBLIC,
    CategoriesSeen,
    Category,
    CategoryChange,
    CategoryStatus,
    ChangeAction,
)
from .paths import live_children, tree_shape
from .selectors import taxonomy_version

NAME_MAX = 200


def category_snapshot(category: Category) -> dict:
    """What a change record keeps of a category, before and after."""
    snapshot = {
        "name": category.name,
        "parent": category.parent_id,
        "status": category.status,
        "definition": category.definition,
        "inclusion": category.inclusion,
        "exclusion": category.exclusion,
        "position": category.position,
        "merged_into": category.merged_into_id,
    }
    if category.pk:
        snapshot["examples"] = sorted(category.examples.values_list("pk", flat=True))
    return snapshot


def category_change_record(
    *, category: Category, action: str, actor, before: dict | None = None, moved: dict | None = None,
    after: dict | None = None,
) -> CategoryChange:
    """Record one change; ``moved``: dependent name → how many of its rows followed (``.dependents``)."""
    moved = {name: n for name, n in (moved or {}).items() if n}
    return CategoryChange.objects.create(
        study_id=category.study_id, category=category, action=action, actor=actor,
        before=before or {}, after=after if after is not None else category_snapshot(category),
        moved=moved, labels_moved=moved.get("labels", 0), codes_moved=moved.get("codes", 0),
    )


# -- helpers ---------------------------------------------------------------------------


def _lock(*categories: Category | int | None) -> list[Category]:
    """The given categories (or ids), locked in id order and freshly read (same order as given)."""
    keys = [getattr(c, "pk", c) for c in categories]
    ids = sorted({k for k in keys if k is not None})
    locked = {c.pk: c for c in Category.objects.select_for_update().filter(pk__in=ids).order_by("pk")}
    return [locked[k] if k is not None else None for k in keys]


def _ancestors(category: Category) -> tuple[int, ...]:
    """Ids of ``category``'s parent, grandparent, … up to its root (read now, in one query)."""
    return tree_shape(study=category.study_id).ancestors(category.pk)


_live_children = live_children


def _label_uses(category: Category):
    return dependents.get("labels").rows(category)


def _check_leaf_rows(category: Category, *, field: str) -> None:
    """Final labels (and any other rows that stay on leaves, but labels: those are checked with the
    blindness rule in ``_check_may_have_children``) keep a category a leaf."""
    held = [(d, n) for d, n in dependents.leaf_only_counts(category=category) if d.name != "labels"]
    if held:
        what = dependents.counts_text(held)
        raise ValidationError({field: (
            f"“{category.name}” has {what}, and they stay on leaves: split “{category.name}” (move them to a new "
            "sibling) or merge it into another category first, then add children under it.")})


def _clean_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "A category needs a name."})
    if len(name) > NAME_MAX:
        raise ValidationError({"name": f"A category name has at most {NAME_MAX} characters."})
    return name


def _sight(study_id: int, actor):
    from sampling.draws.sight import sight_for

    return sight_for(study=study_id, user=actor)


def _private_proposer(category: Category) -> int | None:
    """The proposer of a private proposal (None for a category every member sees)."""
    if category.status == CategoryStatus.PROPOSED and not category.joint:
        return category.proposed_by_id
    return None


def _check_name_free(*, study_id: int, parent: Category | None, name: str, exclude: Category | None = None,
                     field: str = "name", actor=None, private_of: int | None = None) -> None:
    """Names are unique among the siblings every member sees; a private proposal's name
    (``private_of``: its proposer) only among those and its proposer's own proposals, so
    that nobody learns from a clash that someone else proposed a name. An actor who may
    see raters' proposals is told when a public name would meet one (they decide which
    stays); for the others that clash is met when the proposal is approved."""
    siblings = Category.objects.filter(study_id=study_id, parent=parent, name__iexact=name).exclude(
        status=CategoryStatus.RETIRED)
    if exclude is not None:
        siblings = siblings.exclude(pk=exclude.pk)
    where = f"under “{parent.name}”" if parent is not None else "among the roots"
    mine = Q(status=CategoryStatus.PROPOSED, joint=False, proposed_by_id=private_of)
    if siblings.filter(PUBLIC | mine if private_of is not None else PUBLIC).exists():
        raise ValidationError({field: f"“{name}” already exists {where}."})
    if private_of is None:
        proposal = siblings.filter(status=CategoryStatus.PROPOSED, joint=False).select_related("proposed_by").first()
        if proposal is not None and _sight(study_id, actor).sees_private_proposals:
            who = proposal.proposed_by.username if proposal.proposed_by else "a rater"
            raise ValidationError({field: f"“{proposal.name}” is proposed {where} already (by {who}): approve that "
                                          "proposal, or reject it into another category first."})


def _check_may_have_children(parent: Category, *, actor, field: str = "parent") -> None:
    """Labels stay on leaves: a labelled category cannot become an inner node. Whoever
    cannot see every label is told so without a count, and is refused under every leaf
    (one holding only labels they cannot see is a leaf like any other to them)."""
    sight = _sight(parent.study_id, actor)
    if not sight.sees_all:
        from .selectors import category_visible_q

        if not _live_children(parent).filter(category_visible_q(sight)).exists():
            raise ValidationError({field: (
                f"“{parent.name}” is a leaf, and labels stay on leaves. While a labelling round runs whose labels "
                f"you cannot all see, only an owner or arbitrator who does not rate in it subdivides a leaf: put "
                f"your category beside “{parent.name}” (under its parent) or under another category.")})
        return
    labels = _label_uses(parent).count()
    if labels:
        raise ValidationError({field: (
            f"“{parent.name}” has {labels} label{'s' if labels != 1 else ''}, and labels stay on leaves: "
            f"split “{parent.name}” (move its labels to a new sibling) or move the labels to another category "
            "first, then add children under it.")})
    _check_leaf_rows(parent, field=field)


def _check_sees_all(category: Category, *, actor, what: str) -> None:
    """Merging, splitting and retiring move or depend on labels: refused to an owner or
    arbitrator who rates in a running round (they would act on labels they may not see,
    and the outcome would tell them about those labels)."""
    if not _sight(category.study_id, actor).sees_all:
        raise ValidationError({"category": (
            f"{what} a category moves or depends on labels, and you rate in a labelling round that is still "
            "running: until arbitration starts on it, this is left to an owner or arbitrator who does not rate "
            "in it.")})


def _check_same_study(category: Category, other: Category, field: str) -> None:
    if other.study_id != category.study_id:
        raise ValidationError({field: "That category is not in this study."})


def _save_or_clash(category: Category, *, fields: list[str], field: str = "name") -> None:
    """Save; a sibling that took the same name meanwhile (the constraint) becomes a clear message."""
    try:
        with transaction.atomic():
            category.save(update_fields=[*fields, "updated_at"])
    except IntegrityError:
        raise ValidationError({field: f"“{category.name}” already exists there."}) from None


def _public_siblings(*, study_id: int, parent_id: int | None):
    return Category.objects.filter(PUBLIC, study_id=study_id, parent_id=parent_id).order_by("position", "name", "pk")


def _renumber(*, study_id: int, parent_id: int | None, moved: Category, position: int | None = None,
              after: Category | None = None) -> None:
    """Put ``moved`` at ``position`` (1 = first; None = last), or right after ``after``, among its
    siblings that every member sees, numbered 1, 2, … (private proposals keep their numbers
    out of that sequence, so that no gap tells of one)."""
    siblings = list(_public_siblings(study_id=study_id, parent_id=parent_id).exclude(pk=moved.pk))
    if after is not None:
        index = next((i + 1 for i, s in enumerate(siblings) if s.pk == after.pk), len(siblings))
    else:
        index = len(siblings) if position is None else max(0, min(position - 1, len(siblings)))
    siblings.insert(index, moved)
    for number, sibling in enumerate(siblings, start=1):
        if sibling.position != number:
            sibling.position = number
            if sibling.pk != moved.pk:
                Category.objects.filter(pk=sibling.pk).update(position=number)


def _check_merge(*, source: Category, target: Category, field: str = "target") -> None:
    _check_same_study(source, target, field)
    if target.pk == source.pk:
        raise ValidationError({field: "A category cannot be merged into itself."})
    if source.pk in _ancestors(target):
        raise ValidationError({field: f"“{target.name}” is inside “{source.name}”: merge of a category into "
                                      "its own descendant (refused)."})
    if source.status == CategoryStatus.RETIRED:
        raise ValidationError({field: f"“{source.name}” is retired already."})
    if target.status != CategoryStatus.ACTIVE:
        raise ValidationError({field: f"“{target.name}” is {target.get_status_display().lower()}: "
                                      "merge into an active category."})
    children = _live_children(source).count()
    if children:
        raise ValidationError({field: f"“{source.name}” has {children} sub-categor"
                                      f"{'ies' if children != 1 else 'y'}: move them elsewhere first, then merge."})
    if dependents.leaf_only_counts(category=source) and _live_children(target).exists():
        raise ValidationError({field: f"“{target.name}” has sub-categories and labels stay on leaves: "
                                      "merge into a leaf."})


# -- add, rename, describe ---------------------------------------------------------------


@transaction.atomic
def category_add(
    *, study: Study, name: str, actor, parent: Category | None = None, definition: str = "",
    inclusion: str = "", exclusion: str = "", proposed: bool = False, joint: bool = False,
) -> Category:
    """A new category under ``parent`` (a root when None). ``proposed`` makes it a proposal
    awaiting approval: private to its proposer (a rater labelling), or ``joint``, seen by
    every member (made in the joint pilot)."""
    name = _clean_name(name)
    if parent is not None:
        if parent.study_id != study.pk:
            raise ValidationError({"parent": "That parent is not in this study."})
        (parent,) = _lock(parent)
        if parent.status == CategoryStatus.RETIRED:
            raise ValidationError({"parent": f"“{parent.name}” is retired."})
        _check_may_have_children(parent, actor=actor)
    status = CategoryStatus.PROPOSED if proposed else CategoryStatus.ACTIVE
    joint = proposed and joint
    private_of = getattr(actor, "pk", None) if proposed and not joint else None
    _check_name_free(study_id=study.pk, parent=parent, name=name, actor=actor, private_of=private_of)
    siblings = Category.objects.filter(study=study, parent=parent).exclude(status=CategoryStatus.RETIRED)
    if status == CategoryStatus.ACTIVE or joint:
        # numbered after the siblings everyone sees: a gap would tell of a private proposal
        siblings = siblings.filter(PUBLIC)
    position = (siblings.order_by("-position").values_list("position", flat=True).first() or 0) + 1
    try:
        with transaction.atomic():
            category = Category.objects.create(
                study=study, parent=parent, name=name, definition=definition, inclusion=inclusion,
                exclusion=exclusion, status=status, position=position, created_by=actor,
                proposed_by=actor if proposed else None, joint=joint,
            )
    except IntegrityError:
        raise ValidationError({"name": f"“{name}” already exists here."}) from None
    category_change_record(
        category=category, action=ChangeAction.PROPOSE if proposed else ChangeAction.ADD, actor=actor
    )
    return category


@transaction.atomic
def category_rename(*, category: Category, name: str, actor) -> Category:
    name = _clean_name(name)
    (category,) = _lock(category)
    if name == category.name:
        return category
    if category.status != CategoryStatus.RETIRED:
        _check_name_free(study_id=category.study_id, parent=category.parent, name=name, exclude=category,
                         actor=actor, private_of=_private_proposer(category))
    before = category_snapshot(category)
    category.name = name
    _save_or_clash(category, fields=["name"])
    category_change_record(category=category, action=ChangeAction.RENAME, actor=actor, before=before)
    return category


@transaction.atomic
def category_describe(
    *, category: Category, actor, definition: str | None = None, inclusion: str | None = None,
    exclusion: str | None = None, examples: Iterable | None = None,
) -> Category:
    """Set the definition, notes and/or example posts (None leaves a part as it is)."""
    from annotator.corpus.models import Post

    (category,) = _lock(category)
    before = category_snapshot(category)
    fields = []
    for field, value in (("definition", definition), ("inclusion", inclusion), ("exclusion", exclusion)):
        if value is not None:
            setattr(category, field, value.strip())
            fields.append(field)
    if fields:
        category.save(update_fields=[*fields, "updated_at"])
    if examples is not None:
        ids = sorted({getattr(e, "pk", e) for e in examples})
        posts = list(Post.objects.filter(study_id=category.study_id, pk__in=ids))
        missing = sorted(set(ids) - {p.pk for p in posts})
        if missing:
            raise ValidationError({"examples": f"Not posts of this study: {', '.join(map(str, missing))}."})
        category.examples.set(posts)
    after = category_snapshot(category)
    if after != before:
        category_change_record(category=category, action=ChangeAction.DESCRIBE, actor=actor, before=before,
                               after=after)
    return category


# -- move --------------------------------------------------------------------------------


@transaction.atomic
def category_move(*, category: Category, actor, parent: Category | None, position: int | None = None) -> Category:
    """Put ``category`` (and its subtree) under ``parent`` (None: a root), at ``position`` among its
    new siblings (1 = first, None = last). Refused into itself, its own subtree, or another study."""
    if parent is not None:
        _check_same_study(category, parent, "parent")
        # Lock the new parent's whole ancestor chain: two crossing moves then wait for each other
        # and the second sees the first one's result, so no cycle can slip in between.
        locked = _lock(category, parent, *_ancestors(parent))
        category, parent = locked[0], locked[1]
        if category.pk in (parent.pk, *_ancestors(parent)):
            raise ValidationError({"parent": (
                "A category cannot be moved into itself." if parent.pk == category.pk else
                f"“{parent.name}” is inside “{category.name}”: a category cannot be moved into its own "
                "descendant.")})
        if parent.status == CategoryStatus.RETIRED:
            raise ValidationError({"parent": f"“{parent.name}” is retired: restore it first."})
        if parent.pk != category.parent_id:
            _check_may_have_children(parent, actor=actor)
    else:
        (category,) = _lock(category)
    if category.status == CategoryStatus.RETIRED:
        raise ValidationError({"parent": f"“{category.name}” is retired: restore it before moving it."})
    if position is not None and position < 1:
        raise ValidationError({"position": "Positions start at 1 (first among its siblings)."})
    new_parent_id = parent.pk if parent is not None else None
    if new_parent_id != category.parent_id:
        _check_name_free(study_id=category.study_id, parent=parent, name=category.name, exclude=category,
                         field="parent", actor=actor, private_of=_private_proposer(category))
    before = category_snapshot(category)
    category.parent = parent
    _renumber(study_id=category.study_id, parent_id=new_parent_id, moved=category, position=position)
    if before["parent"] != new_parent_id:  # close the gap it left
        old = _public_siblings(study_id=category.study_id, parent_id=before["parent"]).exclude(pk=category.pk)
        for number, sibling in enumerate(old, start=1):
            if sibling.position != number:
                Category.objects.filter(pk=sibling.pk).update(position=number)
    _save_or_clash(category, fields=["parent", "position"], field="parent")
    after = category_snapshot(category)
    if after != before:
        category_change_record(category=category, action=ChangeAction.MOVE, actor=actor, before=before,
                               after=after)
    return category


# -- merge, split --------------------------------------------------------------------------


class _Moved:
    """``moved``: dependent name → how many of its rows followed (``.dependents``)."""

    moved: dict

    @property
    def labels_moved(self) -> int:
        return self.moved.get("labels", 0)

    @property
    def codes_moved(self) -> int:
        return self.moved.get("codes", 0)

    @property
    def final_labels_moved(self) -> int:
        return self.moved.get("final_labels", 0)


@dataclass(frozen=True)
class MergeResult(_Moved):
    source: Category
    target: Category
    moved: dict


@transaction.atomic
def category_merge(*, source: Category, target: Category, actor) -> MergeResult:
    """Every row naming ``source`` that follows a merge (labels, final labels, codes, …: ``.dependents``)
    now names ``target``; ``source`` is retired with ``merged_into``."""
    _check_same_study(source, target, "target")
    _check_sees_all(source, actor=actor, what="Merging")
    source, target = _lock(source, target)
    _check_merge(source=source, target=target)
    return _merge(source=source, target=target, actor=actor, action=ChangeAction.MERGE)


def _merge(*, source: Category, target: Category, actor, action: str) -> MergeResult:
    before = category_snapshot(source)
    moved = dependents.merge_into(source=source, target=target)
    source.status = CategoryStatus.RETIRED
    source.merged_into = target
    source.save(update_fields=["status", "merged_into", "updated_at"])
    after = {**category_snapshot(source), "merged_into_name": target.name}
    change = category_change_record(category=source, action=action, actor=actor, before=before, after=after,
                                    moved=moved)
    return MergeResult(source=source, target=target, moved=change.moved)


@dataclass(frozen=True)
class SplitResult(_Moved):
    source: Category
    new: Category
    moved: dict  # rows that went to ``new`` (or were copied to it)


@transaction.atomic
def category_split(
    *, source: Category, name: str, actor, label_ids: Iterable[int] = (), code_ids: Iterable[int] = (),
    final_label_ids: Iterable[int] = (), definition: str = "",
) -> SplitResult:
    """A new sibling of ``source`` named ``name``; the chosen labels (ids of labels naming ``source``,
    among those ``actor`` may see), final labels (ids of final labels naming it) and codes move to it,
    the rest stay. Rows that follow a split by copy (an arbitrator's restriction) are copied to it."""
    _check_sees_all(source, actor=actor, what="Splitting")
    name = _clean_name(name)
    (source,) = _lock(source)
    if source.status == CategoryStatus.RETIRED:
        raise ValidationError({"name": f"“{source.name}” is retired: restore it before splitting it."})
    chosen = dependents.split_check(source=source, actor=actor, chosen={
        "labels": label_ids, "codes": code_ids, "final_labels": final_label_ids})
    parent = source.parent
    _check_name_free(study_id=source.study_id, parent=parent, name=name, actor=actor)
    before = category_snapshot(source)
    try:
        with transaction.atomic():
            new = Category.objects.create(
                study_id=source.study_id, parent=parent, name=name, definition=definition.strip(),
                status=CategoryStatus.ACTIVE, position=source.position, created_by=actor,
            )
    except IntegrityError:
        raise ValidationError({"name": f"“{name}” already exists here."}) from None
    _renumber(study_id=source.study_id, parent_id=source.parent_id, moved=new, after=source)
    new.save(update_fields=["position"])
    source.refresh_from_db(fields=["position"])
    moved = dependents.split_off(source=source, new=new, chosen=chosen)
    category_change_record(category=new, action=ChangeAction.ADD, actor=actor,
                           after={**category_snapshot(new), "split_from": source.pk})
    change = category_change_record(
        category=source, action=ChangeAction.SPLIT, actor=actor, before=before,
        after={**category_snapshot(source), "split_into": new.pk, "split_into_name": new.name}, moved=moved,
    )
    return SplitResult(source=source, new=new, moved=change.moved)


# -- retire, restore, approve, reject ---------------------------------------------------------


@transaction.atomic
def category_retire(*, category: Category, actor) -> Category:
    """Take a category out of the tree; refused while rows that must follow it (labels, final labels,
    codes, …: ``.dependents``) or live children name it."""
    _check_sees_all(category, actor=actor, what="Retiring")
    (category,) = _lock(category)
    if category.status == CategoryStatus.RETIRED:
        raise ValidationError({"category": f"“{category.name}” is retired already."})
    blockers = dependents.retire_blockers(category=category)
    if blockers:
        what = dependents.counts_text(blockers)
        raise ValidationError({"category": f"“{category.name}” has {what}: merge it into another category "
                                           "(they move there) or move them first, then retire it."})
    children = _live_children(category).count()
    if children:
        raise ValidationError({"category": f"“{category.name}” has {children} sub-categor"
                                           f"{'ies' if children != 1 else 'y'}: move or merge them first."})
    before = category_snapshot(category)
    category.status = CategoryStatus.RETIRED
    category.save(update_fields=["status", "updated_at"])
    category_change_record(category=category, action=ChangeAction.RETIRE, actor=actor, before=before)
    return category


@transaction.atomic
def category_restore(*, category: Category, actor) -> Category:
    """Bring a retired category back (as active, last among its siblings)."""
    category, parent = _lock(category, category.parent)
    if category.status != CategoryStatus.RETIRED:
        raise ValidationError({"category": f"“{category.name}” is not retired."})
    if category.merged_into_id is not None:
        raise ValidationError({"category": (
            f"“{category.name}” was merged into “{category.merged_into.name}” and its labels went there: "
            f"split “{category.merged_into.name}” to get it back.")})
    if parent is not None:
        if parent.status == CategoryStatus.RETIRED:
            raise ValidationError({"category": f"Its parent “{parent.name}” is retired: restore it first."})
        _check_may_have_children(parent, actor=actor, field="category")
    _check_name_free(study_id=category.study_id, parent=parent, name=category.name, exclude=category,
                     field="category", actor=actor)
    before = category_snapshot(category)
    category.status = CategoryStatus.ACTIVE
    _renumber(study_id=category.study_id, parent_id=category.parent_id, moved=category, position=None)
    _save_or_clash(category, fields=["status", "position"], field="category")
    category_change_record(category=category, action=ChangeAction.RESTORE, actor=actor, before=before)
    return category


@transaction.atomic
def category_approve(*, category: Category, actor) -> Category:
    """A rater's proposal becomes an active category for everyone."""
    (category,) = _lock(category)
    if category.status != CategoryStatus.PROPOSED:
        raise ValidationError({"category": f"“{category.name}” is not a proposal "
                                           f"(it is {category.get_status_display().lower()})."})
    _check_name_free(study_id=category.study_id, parent=category.parent, name=category.name, exclude=category,
                     field="category")
    before = category_snapshot(category)
    category.status = CategoryStatus.ACTIVE
    _save_or_clash(category, fields=["status"], field="category")
    category_change_record(category=category, action=ChangeAction.APPROVE, actor=actor, before=before)
    return category


@transaction.atomic
def category_reject(*, category: Category, target: Category, actor) -> MergeResult:
    """Refuse a proposal: its labels and codes go to ``target`` (an active leaf), it is retired."""
    _check_same_study(category, target, "target")
    _check_sees_all(category, actor=actor, what="Rejecting")
    category, target = _lock(category, target)
    if category.status != CategoryStatus.PROPOSED:
        raise ValidationError({"category": f"“{category.name}” is not a proposal "
                                           f"(it is {category.get_status_display().lower()})."})
    if _live_children(target).exists():
        raise ValidationError({"target": f"“{target.name}” has sub-categories: choose a leaf."})
    _check_merge(source=category, target=target)
    return _merge(source=category, target=target, actor=actor, action=ChangeAction.REJECT)


def categories_announced_dismiss(*, study: Study, user, up_to: int | None = None) -> None:
    """``user`` has read the new categories announced up to change ``up_to`` (the one the
    announcement covered; None: every change so far). A later addition is announced again; an
    older ``up_to`` (a second tab) never takes the bookmark back."""
    latest = taxonomy_version(study=study)
    up_to = latest if up_to is None else min(up_to, latest)
    seen, created = CategoriesSeen.objects.get_or_create(study=study, user=user, defaults={"change_id": up_to})
    if not created:
        CategoriesSeen.objects.filter(pk=seen.pk, change_id__lt=up_to).update(change_id=up_to)
