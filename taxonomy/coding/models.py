"""The joint pilot: short free-text codes written on pilot items, then grouped into categories.

A code is a study-wide string ("wrong input shape at serving time"), written
once and reused on many items; ``CodeUse`` says who put it on which pilot item.
Grouping sets ``Code.category``; the tree's merge and split move codes too.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower


class Code(models.Model):
    study = models.ForeignKey("studies.Study", on_delete=models.CASCADE, related_name="codes")
    text = models.CharField(max_length=200)
    category = models.ForeignKey(
        "tree.Category", null=True, blank=True, on_delete=models.PROTECT, related_name="codes"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["text"]
        constraints = [
            models.UniqueConstraint("study", Lower("text"), name="code_unique_text_per_study"),
            models.CheckConstraint(condition=~Q(text=""), name="code_text_not_empty"),
        ]

    def __str__(self) -> str:
        return self.text


class CodeUse(models.Model):
    """A code on a pilot item, written by one rater (everyone in the pilot sees it)."""

    code = models.ForeignKey(Code, on_delete=models.CASCADE, related_name="uses")
    item = models.ForeignKey("sampling.SampleItem", on_delete=models.CASCADE, related_name="code_uses")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.RESTRICT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [models.UniqueConstraint(fields=["code", "item"], name="code_use_once_per_item")]
        indexes = [models.Index(fields=["item"])]
