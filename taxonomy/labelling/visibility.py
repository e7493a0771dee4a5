"""The labels a user may see: the blind-coding rule (``sampling.draws.sight``) applied to labels.

Everything that shows, counts or exports raters' labels reads them through these querysets.
"""

from __future__ import annotations

from django.db.models import Count, QuerySet

from annotator.studies.models import Study
from sampling.draws.sight import Sight, assignment_visible_q, sight_given

from .models import Label, LabelCategory


def label_list_visible(*, study: Study, user, sight: Sight | None = None) -> QuerySet[Label]:
    """Every label of the study that ``user`` may see."""
    return Label.objects.filter(assignment_visible_q(sight_given(study, user, sight), prefix="assignment__"))


def label_category_counts(*, study: Study, user, sight: Sight | None = None) -> dict[int, int]:
    """Category id → number of labels naming it, counting only labels ``user`` may see."""
    rows = (
        LabelCategory.objects.filter(assignment_visible_q(sight_given(study, user, sight), prefix="label__assignment__"))
        .values("category_id")
        .annotate(n=Count("label_id", distinct=True))
    )
    return {row["category_id"]: row["n"] for row in rows}
