"""The independent, blind reliability round: one label per assignment (item × rater).

A label is either one or more leaf categories or exactly one special verdict
(False positive, Unclear, Pending), which excludes categories. The one-to-one
with the assignment is what makes "submitted twice from two tabs" one row: the
last submission wins, there are never two.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q


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


HOTKEYS = range(1, 10)


class HotkeyBinding(models.Model):
    """A rater's key 1–9 in a study: the category it ticks while labelling. Assigned once (the
    first nine leaves in tree order, the first time the rater labels), then changed only by the
    rater: a key never changes meaning by use. A merge moves it to the survivor
    (``taxonomy.tree.dependents``). An empty key has no category: one the rater never set
    takes the next leaf of the tree once there is one (a tree smaller than nine leaves when
    labelling began); one the rater emptied stays empty."""

    study = models.ForeignKey("studies.Study", on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.PositiveSmallIntegerField()
    # PROTECT: categories are retired or merged, never deleted; a merge moves these rows.
    category = models.ForeignKey("tree.Category", null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="hotkeys")
    chosen = models.BooleanField(default=False, help_text="set by the rater (not the default assignment)")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["study", "user", "key"], name="hotkey_one_per_key"),
            # a category is on one key of a rater (its study is the category's)
            models.UniqueConstraint(fields=["user", "category"], name="hotkey_category_once"),
            models.CheckConstraint(condition=Q(key__gte=1) & Q(key__lte=9), name="hotkey_key_1_to_9"),
        ]


class RaterTally(models.Model):
    """How many of one rater's assignments in one stratum of a draw there are, and how many
    of them are submitted: the one source of "labelled / assigned" (the item page's line,
    the progress page and API), read from a few rows instead of counted over a rater's tens
    of thousands of assignments (a count over 100,000 of them takes 9–16 ms even from an
    index, more than a whole cheap request). Made when labelling starts, with ``assigned``
    counted then (a draw frozen in labelling never gains or loses assignments). ``submitted``
    is kept by the database (a trigger, migration 0007): one more in the statement that sets
    an assignment's ``submitted_at``, one less in the one that clears it, whoever writes it."""

    draw = models.ForeignKey("sampling.SampleDraw", on_delete=models.CASCADE, related_name="tallies")
    stratum = models.ForeignKey("sampling.SampleStratum", on_delete=models.CASCADE, related_name="+")
    rater = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    assigned = models.PositiveIntegerField(default=0)
    submitted = models.PositiveIntegerField(default=0)

    class Meta:
        # Made in sampling (migrations sampling 0006, 0008), moved here with its table (labelling 0006).
        db_table = "sampling_ratertally"
        constraints = [
            models.UniqueConstraint(fields=["draw", "rater", "stratum"], name="tally_once_per_draw_rater_stratum"),
            models.CheckConstraint(condition=Q(submitted__lte=F("assigned")), name="tally_submitted_within_assigned"),
        ]

    def __str__(self) -> str:
        return (f"draw {self.draw_id} stratum {self.stratum_id} rater {self.rater_id}: "
                f"{self.submitted} / {self.assigned} submitted")
