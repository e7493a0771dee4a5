"""Writes of the reliability round: a rater's label on an assigned item, and a
category a rater proposes while labelling."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Exists, Q
from django.http import Http404
from django.utils import timezone

from annotator.prepared import Prepared
from annotator.studies.models import Study
from sampling.draws.models import Assignment, SampleDraw
from taxonomy.tree.models import PUBLIC, Category, CategoryStatus
from taxonomy.tree.services import category_add

from .models import (
    HOTKEYS,
    HotkeyBinding,
    Label,
    LabelCategory,
    LabelKind,
    RaterTally,
)
from .reopening import reopened_answer
from .selectors import (
    CategoryChoice,
    Hotkey,
    assignment_is_open,
    assignment_locked_for_write,
    hotkey_list,
    hotkey_rows,
    label_editable,
)

NOTE_MAX = 5000


def _rater_sees(row: dict, rater) -> bool:
    """Whether a rater during the round can see a category row (``values`` of ``status``, ``joint``,
    ``proposed_by_id``): live, or a joint proposal, or their own (``PUBLIC`` or their proposal)."""
    return (row["status"] == CategoryStatus.ACTIVE or row["status"] == CategoryStatus.PROPOSED
            and (row["joint"] or row["proposed_by_id"] == rater.pk))


_CHOSEN_AND_CHILDREN = Prepared(
    lambda *, study_id, ids: Category.objects.filter(Q(pk__in=ids) | Q(parent_id__in=ids), study_id=study_id)
    .order_by("pk").values("id", "parent_id", "name", "status", "proposed_by_id", "joint", "merged_into_id"),
    share_lock=True, study_id=int, ids=list)


def _categories_check(*, study_id: int, rater, category_ids: list[int]) -> dict[int, dict]:
    """Lock each chosen category's row against a concurrent merge, move or retirement, or raise
    a ValidationError that names each one that cannot be used (and why). Returns the rows
    read (id → its name, status, …): locked, they stay so until the label is committed."""
    # One query: each chosen row and each child of one, share-locked in id order. A share lock:
    # raters choosing the same category do not wait for one another, while the tree's writes
    # (FOR UPDATE, in id order like this) wait for the labels and these for them; adding a child
    # locks its parent, so none appears under a chosen row before the label is committed. Which
    # child this rater can see (what makes a chosen row inner for them) is read off the rows
    # here, not compiled into the query: the simpler query costs each submission less to build
    # than the rows it reads more (a few retired children or others' proposals) cost to skip.
    # The name a retired row was merged into is read only to say so (a refusal is rare; and a
    # row merged while this query waited for its lock is read again, its survivor not).
    chosen = set(category_ids)
    rows = _CHOSEN_AND_CHILDREN.rows(study_id=study_id, ids=category_ids)
    found = {row["id"]: row for row in rows if row["id"] in chosen}
    errors = []
    for pk in category_ids:
        category = found.get(pk)
        # Another rater's proposal is as unknown to this rater as a category of another study.
        if category is None or (category["status"] == CategoryStatus.PROPOSED and not _rater_sees(category, rater)):
            errors.append(f"Category #{pk} is not a category you can use in this study.")
        elif category["status"] == CategoryStatus.RETIRED:
            if category["merged_into_id"] is not None:
                survivor = Category.objects.get(pk=category["merged_into_id"]).name
                errors.append(f"“{category['name']}” was merged into “{survivor}” while you "
                              "were labelling: choose again.")
            else:
                errors.append(f"“{category['name']}” was retired while you were labelling: choose another category.")
    if errors:
        raise ValidationError({"categories": errors})
    # A chosen row is inner for this rater when a child of it is one they can see: live, a joint
    # proposal or their own (a chosen child passed the check above, so it is one of those).
    inner = {row["parent_id"] for row in rows if row["parent_id"] in chosen and _rater_sees(row, rater)}
    if inner:
        raise ValidationError({"categories": [
            f"“{found[pk]['name']}” has subcategories: choose one of them." for pk in category_ids if pk in inner]})
    return found


@transaction.atomic
def label_submit(*, assignment: Assignment, rater, kind: str, category_ids: Iterable[int] = (),
                 note: str = "") -> Label:
    """Create or replace the rater's one label on this assignment (the last submission wins)."""
    # Two tabs of the same rater: the second waits here for the first, then overwrites it. Read
    # as label_submit_on_item reads it: what the write uses (selectors.assignment_locked_for_write).
    assignment = assignment_locked_for_write(rater_id=assignment.rater_id, item_id=assignment.item_id)
    if assignment is None:
        raise Assignment.DoesNotExist("The assignment was deleted.")
    return _label_save(assignment=assignment, rater=rater, kind=kind, category_ids=category_ids, note=note)


@transaction.atomic
def label_submit_on_item(*, study: Study, rater, item_id: int, kind: str, category_ids: Iterable[int] = (),
                         note: str = "") -> Label:
    """``label_submit`` on the rater's own assignment on this item, found and locked in one
    query (what a page posts: the item, not the assignment). Raises ``Http404`` where the
    rater has no open assignment on it (pages and the API answer 404 alike). The label's
    ``assignment`` is the one read under the lock, with only what the write reads of its draw
    and item (``selectors.assignment_locked_for_write``): a caller that shows the item reads it."""
    # The rater's one assignment on the item (unique), then whether it is open: the same rule as
    # assignment_open_list, on the draw read with it (a simpler query to build, on every submission).
    assignment = assignment_locked_for_write(rater_id=rater.pk, item_id=item_id)
    if assignment is None or not assignment_is_open(assignment, study=study):
        raise Http404("No such item in your queue.")
    return _label_save(assignment=assignment, rater=rater, kind=kind, category_ids=category_ids, note=note)


def _label_save(*, assignment: Assignment, rater, kind: str, category_ids: Iterable[int], note: str) -> Label:
    """The label of ``assignment``, read under its row lock, written. The label returned carries
    its ``assignment`` and ``chosen``: its categories as ``LabelCategoryRef`` shows them (id,
    name, status, read under the categories' locks), in the order given."""
    if assignment.rater_id != rater.pk:
        raise ValidationError("This item is not assigned to you.")
    if not label_editable(assignment):
        raise ValidationError("Labelling of this draw is closed: the label can no longer be changed.")
    if kind not in LabelKind.values:
        raise ValidationError({"kind": f"Choose one of: {', '.join(LabelKind.labels)}."})
    ids = list(dict.fromkeys(int(pk) for pk in category_ids))
    note = (note or "").strip()
    if len(note) > NOTE_MAX:
        raise ValidationError({"note": f"A note has at most {NOTE_MAX:,} characters (this one has {len(note):,})."})
    if kind == LabelKind.CATEGORIES:
        if not ids:
            raise ValidationError({"categories": "Choose at least one category, or False positive, Unclear or "
                                                 "Pending."})
        found = _categories_check(study_id=assignment.draw.study_id, rater=rater, category_ids=ids)
    else:
        found = {}
        if ids:
            raise ValidationError({"kind": f"“{LabelKind(kind).label}” excludes categories: untick them or "
                                           "choose Categories."})
    now = timezone.now()
    # The label is written with the assignment's submission (read here under the lock).
    label = Label.objects.filter(assignment=assignment).first() if assignment.submitted_at else None
    if label is None:
        label = Label.objects.create(assignment=assignment, kind=kind, note=note, submitted_at=now, updated_at=now)
    else:
        label.assignment = assignment
        label.kind, label.note, label.updated_at = kind, note, now
        label.revision += 1
        label.save(update_fields=["kind", "note", "updated_at", "revision"])
        label.categories.all().delete()
    LabelCategory.objects.bulk_create(LabelCategory(label=label, category_id=pk) for pk in ids)
    label.chosen = [{"id": pk, "name": found[pk]["name"], "status": found[pk]["status"]} for pk in ids]
    if assignment.submitted_at is None:
        # Once per assignment (its first submission, under its lock). The rater's tally of its
        # stratum follows in the same statement, by the database's trigger (labelling 0007).
        Assignment.objects.filter(pk=assignment.pk).update(submitted_at=now)
        assignment.submitted_at = now
    if assignment.draw.arbitration_started_at is None:
        return label  # re-label requests are made in arbitration only
    reopened_answer(assignment=assignment, now=now)
    return label


def label_category_propose(*, study: Study, rater, name: str, parent_id: int | None,
                           definition: str = "") -> Category:
    """A new leaf proposed by a rater during the round: usable at once by them, by no one
    else until it is approved. The parent is one of the categories the rater can see."""
    parent = None
    if parent_id is not None:
        parent = Category.objects.filter(
            Q(study=study) & (PUBLIC | Q(status=CategoryStatus.PROPOSED, proposed_by=rater)),
            pk=parent_id).first()
        if parent is None:
            raise ValidationError({"parent": "Choose a parent among the study's live categories."})
    return category_add(study=study, name=name, actor=rater, parent=parent, definition=(definition or "").strip(),
                        proposed=True)


# -- the rater's keys 1–9 ---------------------------------------------------------------


def hotkeys_get_or_assign(*, study: Study, user, choices: list[CategoryChoice]) -> list[Hotkey]:
    """The rater's keys 1–9 (``choices``: their categories, as ``category_choices``), the defaults
    written the first time and where a key is due one (``hotkeys_fill``)."""
    rows = hotkeys_fill(study=study, user=user, rows=hotkey_rows(study=study, user=user), choices=choices)
    return hotkey_list(rows=rows, choices=choices)


def hotkeys_fill(*, study: Study, user, rows: dict[int, tuple[int | None, bool]],
                 choices: list[CategoryChoice]) -> dict[int, tuple[int | None, bool]]:
    """The rater's keys with the defaults written where they are due: the first time (no rows),
    every key 1–9, the first nine leaves in tree order; later, until the rater sets a key, an
    empty key (the tree had fewer than nine leaves) takes the next leaf on no key. A key with a
    category never changes here: keys change by the rater's hand or a merge.
    ``rows`` as ``selectors.hotkey_rows``; returns them as they now are."""
    on_a_key = {category_id for category_id, _ in rows.values() if category_id is not None}
    spare = iter([c.id for c in choices if c.is_leaf and c.id not in on_a_key])
    if not rows:
        new = {key: (next(spare, None), False) for key in HOTKEYS}
        # Two tabs opening at once: the first one's rows stand.
        HotkeyBinding.objects.bulk_create([HotkeyBinding(study=study, user=user, key=key, category_id=category_id)
                                           for key, (category_id, _) in new.items()], ignore_conflicts=True)
        return hotkey_rows(study=study, user=user)
    if any(chosen for _, chosen in rows.values()):
        return rows  # the rater has set their keys: nothing changes them but the rater (and a merge)
    due = [key for key, (category_id, _) in sorted(rows.items()) if category_id is None]
    filled = False
    for key in due:
        category_id = next(spare, None)
        if category_id is None:
            break
        # Only if still empty and unset (another tab may have filled it meanwhile).
        filled |= bool(HotkeyBinding.objects.filter(study=study, user=user, key=key, category__isnull=True,
                                                    chosen=False)
                       .exclude(Exists(HotkeyBinding.objects.filter(user=user, category_id=category_id)))
                       .update(category_id=category_id))
    return hotkey_rows(study=study, user=user) if filled else rows


@transaction.atomic
def hotkeys_set(*, study: Study, user, keys: Mapping[int, int | None], choices: list[CategoryChoice]) -> None:
    """The rater sets some of their keys: key → leaf id, or None to empty it. A category is on
    one key: given to another, it leaves the key it was on (which is then empty). The keys
    not named keep their categories. ``choices``: the rater's categories (``category_choices``)."""
    leaves = {c.id: c for c in choices if c.is_leaf}
    errors = []
    for key, category_id in sorted(keys.items()):
        if key not in HOTKEYS:
            errors.append(f"There is no key {key}: keys are 1 to 9.")
        elif category_id is not None and category_id not in leaves:
            errors.append(f"Key {key}: category #{category_id} is not a leaf you can label with.")
    named = [category_id for category_id in keys.values() if category_id is not None]
    twice = sorted({pk for pk in named if named.count(pk) > 1})
    if twice:
        errors.extend(f"“{leaves[pk].name if pk in leaves else pk}” is given to more than one key: a category "
                      "is on one key." for pk in twice)
    if errors:
        raise ValidationError({"keys": errors})
    hotkeys_get_or_assign(study=study, user=user, choices=choices)  # the defaults first: the rest keeps them
    rows = {row.key: row for row in HotkeyBinding.objects.select_for_update().filter(study=study, user=user)}
    final = {key: row.category_id for key, row in rows.items()}
    for key, row in rows.items():
        if key not in keys and row.category_id in named:
            final[key] = None  # the category moves to its new key
    final.update(keys)
    # Empty the keys that change first: a category is on one key of a rater at any moment.
    changed = [key for key in sorted(final) if key not in rows or key in keys or rows[key].category_id != final[key]]
    HotkeyBinding.objects.filter(study=study, user=user, key__in=changed).update(category=None)
    for key in changed:
        HotkeyBinding.objects.update_or_create(study=study, user=user, key=key,
                                               defaults={"category_id": final[key], "chosen": True})


def rater_tallies_make(*, draw: SampleDraw) -> None:
    """The raters' tallies of a draw put in labelling: per rater and stratum, the assignments
    counted once here (none submitted yet, as labels are taken only from now on);
    the database keeps ``submitted`` from then on (``RaterTally``)."""
    RaterTally.objects.bulk_create(
        RaterTally(draw=draw, rater_id=row["rater_id"], stratum_id=row["item__stratum_id"], assigned=row["assigned"],
                   submitted=row["submitted"])
        for row in Assignment.objects.filter(draw=draw).values("rater_id", "item__stratum_id").annotate(
            assigned=Count("id"), submitted=Count("id", filter=Q(submitted_at__isnull=False))).order_by())
