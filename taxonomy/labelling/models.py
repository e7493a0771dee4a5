"""The independent, blind reliability round: one label per assignment (item × rater).

A label is either one or more leaf categories or exactly one special verdict
(False positive, Unclear, Pending), which excludes categories. The one-to-one
with the assignment is what makes "submitted twice from two tabs" one row: the
last submission wins, there are never two.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q


class LabelKind(models.TextChoices):
    CATEGORIES = "categories", "Categories"
    FALSE_POSITIVE = "false_positive", "False positive"
    UNCLEAR = "unclear", "Unclear"
    PENDING = "pending", "Pending"


class Label(models.Model):
    assignment = models.OneToOneField("sampling.Assignment", on_delete=models.CASCADE, related_name="label")
    kind = models.CharField(max_length=16, choices=LabelKind.choices)
    note = models.TextField(blank=True)
    submitted_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    revision = models.PositiveIntegerField(default=1, help_text="How many times the rater submitted it.")

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=[k.value for k in LabelKind]), name="label_kind_valid"),
            models.CheckConstraint(condition=Q(revision__gte=1), name="label_revision_positive"),
        ]


class LabelCategory(models.Model):
    """A leaf category chosen in a label (only when ``label.kind`` is ``categories``)."""

    label = models.ForeignKey(Label, on_delete=models.CASCADE, related_name="categories")
    # PROTECT: categories are retired or merged, never deleted; merge and split move these rows.
    category = models.ForeignKey("tree.Category", on_delete=models.PROTECT, related_name="label_uses")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["label", "category"], name="label_category_once")]
        indexes = [models.Index(fields=["category"])]
