"""Reads of reliability labels. Blindness is decided here and nowhere else.

A user sees a label when it is their own, or when they hold no assignment on
that item (an owner or arbitrator who does not rate it). A rater never sees
another rater's label on an item they were assigned: not in pages, API
responses, exports or counts. (Arbitration, issue 6, will open items up.)
"""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from annotator.studies.models import Study
from sampling.models import Assignment

from .models import Label, LabelCategory


def label_list_visible(*, study: Study, user) -> QuerySet[Label]:
    """Every label of the study that ``user`` may see."""
    blind_items = Assignment.objects.filter(rater=user, draw__study=study).values("item_id")
    return Label.objects.filter(assignment__draw__study=study).filter(
        Q(assignment__rater=user) | ~Q(assignment__item_id__in=blind_items)
    )


def label_category_counts(*, study: Study, user) -> dict[int, int]:
    """Category id → number of labels naming it, counting only labels ``user`` may see."""
    rows = (
        LabelCategory.objects.filter(label__in=label_list_visible(study=study, user=user))
        .values("category_id")
        .annotate(n=Count("label_id", distinct=True))
    )
    return {row["category_id"]: row["n"] for row in rows}
