"""Writes to the taxonomy tree. Every change is recorded in ``CategoryChange``."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from annotator.studies.models import Study

from .models import Category, CategoryChange, CategoryStatus, ChangeAction


def category_snapshot(category: Category) -> dict:
    """What a change record keeps of a category, before and after."""
    return {
        "name": category.name,
        "parent": category.parent_id,
        "status": category.status,
        "definition": category.definition,
        "inclusion": category.inclusion,
        "exclusion": category.exclusion,
        "position": category.position,
        "merged_into": category.merged_into_id,
    }


def category_change_record(
    *, category: Category, action: str, actor, before: dict | None = None, labels_moved: int = 0,
    codes_moved: int = 0, after: dict | None = None,
) -> CategoryChange:
    return CategoryChange.objects.create(
        study_id=category.study_id, category=category, action=action, actor=actor,
        before=before or {}, after=after if after is not None else category_snapshot(category),
        labels_moved=labels_moved, codes_moved=codes_moved,
    )


@transaction.atomic
def category_add(
    *, study: Study, name: str, actor, parent: Category | None = None, definition: str = "",
    inclusion: str = "", exclusion: str = "", proposed: bool = False,
) -> Category:
    """A new category under ``parent`` (a root when None); ``proposed`` marks a rater's proposal."""
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "A category needs a name."})
    if len(name) > 200:
        raise ValidationError({"name": "A category name has at most 200 characters."})
    if parent is not None:
        if parent.study_id != study.pk:
            raise ValidationError({"parent": "That parent is not in this study."})
        if parent.status == CategoryStatus.RETIRED:
            raise ValidationError({"parent": f"“{parent.name}” is retired."})
    status = CategoryStatus.PROPOSED if proposed else CategoryStatus.ACTIVE
    siblings = Category.objects.filter(study=study, parent=parent).exclude(status=CategoryStatus.RETIRED)
    if siblings.filter(name__iexact=name).exists():
        raise ValidationError({"name": f"“{name}” already exists here."})
    position = (siblings.order_by("-position").values_list("position", flat=True).first() or 0) + 1
    try:
        with transaction.atomic():
            category = Category.objects.create(
                study=study, parent=parent, name=name, definition=definition, inclusion=inclusion,
                exclusion=exclusion, status=status, position=position, created_by=actor,
                proposed_by=actor if proposed else None,
            )
    except IntegrityError:
        raise ValidationError({"name": f"“{name}” already exists here."}) from None
    category_change_record(
        category=category, action=ChangeAction.PROPOSE if proposed else ChangeAction.ADD, actor=actor
    )
    return category
