"""Writes of the joint pilot: codes on pilot items, renaming (merging), grouping into categories.

A code is unique per study case-insensitively (a database constraint); two
raters typing the same new code at the same moment end up with one code and
two uses, never an error.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q, Value
from django.db.models.functions import Lower

from annotator.studies.models import Membership
from sampling.draws.models import ItemPart, SampleItem
from taxonomy.tree.models import Category, CategoryStatus
from taxonomy.tree.services import category_add

from .models import Code, CodeUse
from .selectors import PILOT_DRAW_STATUSES

CODE_MAX_LENGTH = 200


def code_text_clean(text: str) -> str:
    """Whitespace trimmed and runs of it collapsed; refused when empty or too long."""
    text = " ".join((text or "").split())
    if not text:
        raise ValidationError({"text": "A code cannot be empty."})
    if len(text) > CODE_MAX_LENGTH:
        raise ValidationError({"text": f"A code has at most {CODE_MAX_LENGTH} characters ({len(text)} given)."})
    return text


def _same_text(study_id: int, text: str):
    """The study's codes equal to ``text`` ignoring case, compared as the unique constraint does (LOWER)."""
    return Code.objects.filter(study_id=study_id).alias(lower=Lower("text")).filter(lower=Lower(Value(text)))


def _code_get_or_create(*, study_id: int, text: str, author) -> Code:
    """The study's code for ``text`` (any case), created if new, locked for this transaction."""
    for _ in range(3):
        code = _same_text(study_id, text).select_for_update().first()
        if code is not None:
            return code
        try:
            with transaction.atomic():
                return Code.objects.create(study_id=study_id, text=text, created_by=author)
        except IntegrityError:
            continue  # someone created it meanwhile: take theirs
    raise ValidationError({"text": "The code changed while it was being saved; please try again."})


def _is_owner(*, study_id: int, user) -> bool:
    return Membership.objects.filter(study_id=study_id, user=user, is_owner=True).exists()


@transaction.atomic
def code_use_add(*, item: SampleItem, author, text: str) -> CodeUse:
    """Put a code on a pilot item (creating the code if the study has no such
    code yet). The same code twice on an item is a no-op: the existing use is returned."""
    text = code_text_clean(text)
    if item.part != ItemPart.PILOT:
        raise ValidationError(
            {"item": "Codes are written on pilot items only: this is a reliability item, labelled independently."}
        )
    study_id = item.draw.study_id
    if item.draw.status not in PILOT_DRAW_STATUSES:
        raise ValidationError({"item": "This draw is not drawn yet (or failed): its items cannot be coded."})
    code = _code_get_or_create(study_id=study_id, text=text, author=author)
    existing = CodeUse.objects.filter(code=code, item=item).select_related("code", "author").first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            return CodeUse.objects.create(code=code, item=item, author=author)
    except IntegrityError:  # the same code put on the same item at the same moment
        return CodeUse.objects.select_related("code", "author").get(code=code, item=item)


@transaction.atomic
def code_use_remove(*, use: CodeUse, actor) -> None:
    """Take a code off an item: its author may, and so may an owner. A code left
    on no item and in no category goes too (a typo should not live on in the suggestions)."""
    code = Code.objects.select_for_update().filter(pk=use.code_id).first()
    if code is None:
        return
    if use.author_id != actor.pk and not _is_owner(study_id=code.study_id, user=actor):
        raise PermissionDenied("Only the code's author or an owner can remove it from this item.")
    CodeUse.objects.filter(pk=use.pk).delete()
    if code.category_id is None and not code.uses.exists():
        code.delete()


@transaction.atomic
def code_rename(*, code: Code, text: str, actor) -> Code:
    """Rename a code. When the study already has a code with that text (any case),
    the two merge: every use moves to that code (the survivor), which keeps its
    category (or takes this one's when it has none), and this code goes.
    Returns the code that holds the text afterwards."""
    text = code_text_clean(text)
    code = Code.objects.select_for_update().filter(pk=code.pk).first()
    if code is None:
        raise ValidationError({"text": "This code no longer exists (merged or removed meanwhile)."})
    for _ in range(2):
        survivor = _same_text(code.study_id, text).exclude(pk=code.pk).select_for_update().first()
        if survivor is not None:
            return _code_merge(code=code, survivor=survivor)
        if code.text == text:
            return code
        try:
            with transaction.atomic():
                code.text = text
                code.save(update_fields=["text"])
            return code
        except IntegrityError:
            code.refresh_from_db(fields=["text"])  # another rename took the text meanwhile: merge into it
    raise ValidationError({"text": "The codes changed while renaming; please try again."})


def _code_merge(*, code: Code, survivor: Code) -> Code:
    already = CodeUse.objects.filter(code=survivor).values("item_id")
    CodeUse.objects.filter(code=code, item_id__in=already).delete()  # the survivor is on that item already
    CodeUse.objects.filter(code=code).update(code=survivor)
    if survivor.category_id is None and code.category_id is not None:
        survivor.category_id = code.category_id
        survivor.save(update_fields=["category"])
    code.delete()
    return survivor


def _check_group(*, codes, category: Category) -> list[int]:
    ids = sorted({c.pk for c in codes})
    if not ids:
        raise ValidationError({"codes": "Select at least one code."})
    if category.status == CategoryStatus.RETIRED:
        raise ValidationError({"category": f"“{category.name}” is retired."})
    if category.status == CategoryStatus.PROPOSED and not category.joint:
        raise ValidationError({"category": f"“{category.name}” is a rater's private proposal: the pilot is joint, "
                                           "so its codes go to categories everyone sees (approve it first)."})
    if any(c.study_id != category.study_id for c in codes):
        raise ValidationError({"codes": "Every code must belong to the category's study."})
    return ids


@transaction.atomic
def codes_group(*, codes, category: Category, actor) -> int:
    """Put these codes in ``category`` (moving them out of any other). Returns how many."""
    ids = _check_group(codes=codes, category=category)
    locked = list(Code.objects.select_for_update().filter(pk__in=ids).order_by("pk"))
    if len(locked) != len(ids):
        raise ValidationError({"codes": "Some of these codes no longer exist (merged or removed meanwhile)."})
    category = Category.objects.select_for_update().get(pk=category.pk)
    if category.status == CategoryStatus.RETIRED:
        raise ValidationError({"category": f"“{category.name}” was retired meanwhile."})
    return Code.objects.filter(pk__in=ids).update(category=category)


@transaction.atomic
def codes_group_new_category(*, codes, name: str, parent: Category | None, actor) -> Category:
    """Create a category (under ``parent``, or a root) and put these codes in it. The pilot
    is joint: every member sees the new category at once. Made by a rater, it is a
    proposal that awaits an owner's or arbitrator's approval (as the method has them
    approve every category); made by an owner or arbitrator, it is active."""
    codes = list(codes)
    if not codes:
        raise ValidationError({"codes": "Select at least one code."})
    study = codes[0].study
    approver = Membership.objects.filter(study=study, user=actor).filter(
        Q(is_owner=True) | Q(is_arbitrator=True)).exists()
    category = category_add(study=study, name=name, parent=parent, actor=actor, proposed=not approver, joint=True)
    codes_group(codes=codes, category=category, actor=actor)
    return category


@transaction.atomic
def code_ungroup(*, code: Code, actor) -> Code:
    """Take the code out of its category."""
    Code.objects.filter(pk=code.pk).update(category=None)
    code.category = None
    return code
