"""Reads of the taxonomy tree."""

from __future__ import annotations

from django.db.models import Exists, OuterRef, QuerySet

from annotator.studies.models import Study

from .models import Category, CategoryChange, CategoryStatus


def taxonomy_version(*, study: Study) -> int:
    """The id of the study's latest tree change (0 for an empty tree): what an agreement figure stores."""
    return CategoryChange.objects.filter(study=study).order_by("-id").values_list("id", flat=True).first() or 0


def category_leaves(*, study: Study) -> QuerySet[Category]:
    """Live categories with no live child: what a label may name."""
    live_child = Category.objects.filter(parent=OuterRef("pk")).exclude(status=CategoryStatus.RETIRED)
    return (
        Category.objects.filter(study=study)
        .exclude(status=CategoryStatus.RETIRED)
        .annotate(has_child=Exists(live_child))
        .filter(has_child=False)
    )
