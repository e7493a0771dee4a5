"""Final labels (DESIGN.md steps 5 and 8-9): how every sampled item's label was reached.

When arbitration starts on a draw, items whose raters gave the same label get
their final label at once (``agreed``); items where they disagree wait in the
arbitration queue for an arbitrator (``arbitrated``); items any rater marked
Pending wait in the Pending queue (``from_pending``). Pilot items, coded jointly,
get theirs from an owner or arbitrator who confirms or edits the leaves their
codes were grouped into (``pilot``). One final label per item: the one-to-one is
what makes two arbitrators deciding at once one decision.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class FinalKind(models.TextChoices):
    CATEGORIES = "categories", "Categories"
    FALSE_POSITIVE = "false_positive", "False positive"
    UNCLEAR = "unclear", "Unclear"


class FinalMethod(models.TextChoices):
    AGREED = "agreed", "Agreed"
    ARBITRATED = "arbitrated", "Arbitrated"
    FROM_PENDING = "from_pending", "From Pending"
    PILOT = "pilot", "Pilot (joint decision)"


class FinalLabel(models.Model):
    item = models.OneToOneField("sampling.SampleItem", on_delete=models.CASCADE, related_name="final_label")
    kind = models.CharField(max_length=16, choices=FinalKind.choices)
    method = models.CharField(max_length=16, choices=FinalMethod.choices)
    # Null for "agreed": the raters reached it; the arbitration start is recorded on the draw.
    # For "pilot": whoever confirmed or last changed the team's decision.
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField()
    reason = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=[k.value for k in FinalKind]), name="final_kind_valid"),
            models.CheckConstraint(condition=Q(method__in=[m.value for m in FinalMethod]),
                                   name="final_method_valid"),
            # A decision names who took it and why; a pilot decision (the team's, confirming
            # what its codes say) names who recorded it, its reason is an optional note.
            models.CheckConstraint(condition=Q(method="agreed") | Q(method="pilot", decided_by__isnull=False)
                                   | Q(decided_by__isnull=False) & ~Q(reason=""),
                                   name="final_decision_has_arbitrator_and_reason"),
        ]


class FinalLabelCategory(models.Model):
    final = models.ForeignKey(FinalLabel, on_delete=models.CASCADE, related_name="categories")
    category = models.ForeignKey("tree.Category", on_delete=models.PROTECT, related_name="final_uses")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["final", "category"], name="final_category_once")]
        indexes = [models.Index(fields=["category"])]


class ArbitratorRoot(models.Model):
    """Restricts an arbitrator to items labelled under these root categories
    (one arbitrator per platform). An arbitrator with no row sees every item."""

    study = models.ForeignKey("studies.Study", on_delete=models.CASCADE, related_name="arbitrator_roots")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    root = models.ForeignKey("tree.Category", on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["study", "user", "root"], name="arbitrator_root_once")]


class PendingCategory(models.Model):
    """A leaf created from Pending items: what the study reports as "categories added from Pending"."""

    study = models.ForeignKey("studies.Study", on_delete=models.CASCADE, related_name="pending_categories")
    category = models.OneToOneField("tree.Category", on_delete=models.PROTECT, related_name="from_pending")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)


class RelabelRequest(models.Model):
    """An arbitrator asks a rater to label an item again, e.g. against a category
    created from Pending items. While it is open the rater's label on that item is
    editable again (even after arbitration started) and the item is in their queue."""

    assignment = models.ForeignKey("sampling.Assignment", on_delete=models.CASCADE, related_name="relabel_requests")
    category = models.ForeignKey("tree.Category", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                                 help_text="the category to consider, when the request is about one")
    message = models.TextField(blank=True)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    requested_at = models.DateTimeField(auto_now_add=True)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        # Made in labelling (migration labelling 0003), moved here with its table (arbitration 0004).
        db_table = "labelling_relabelrequest"
        constraints = [
            models.UniqueConstraint(fields=["assignment"], condition=Q(done_at__isnull=True),
                                    name="relabel_one_open_request_per_assignment"),
        ]
