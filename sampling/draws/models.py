"""Draws: a stratified, seeded sample of a study's question sets, its pilot
split and the assignment of its reliability items to raters.

A draw is a numbered version. It records its seed, every parameter and, per
stratum, the population it was drawn from (the set's members, compressed),
so the same seed over the same populations gives exactly the same posts, and
the draw stays readable after the sets change. It also records the version of
the drawing algorithm (``sampling.draws.draw``): version 2 orders posts by their
(site, Stack Exchange id), so the same data draws the same sample on any
installation; draws made before keep version 1 (database ids). Once labelling
starts a draw is frozen; a different sample is a new version.
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from .draw import ALGORITHM, ALGORITHMS


class DrawStatus(models.TextChoices):
    PENDING = "pending", "Being drawn"
    READY = "ready", "Drawn, labelling not started"
    LABELLING = "labelling", "Labelling (frozen)"
    FAILED = "failed", "Failed"


class SampleDraw(models.Model):
    study = models.ForeignKey("studies.Study", on_delete=models.CASCADE, related_name="draws")
    version = models.PositiveIntegerField()
    status = models.CharField(max_length=20, choices=DrawStatus.choices, default=DrawStatus.PENDING)
    seed = models.BigIntegerField()
    algorithm = models.PositiveSmallIntegerField(
        default=ALGORITHM, help_text="version of the drawing algorithm (sampling.draws.draw): 2 orders posts by "
                                     "(site, id on the site); 1, draws made before, by database id")
    confidence = models.FloatField(default=0.95)
    margin = models.FloatField(default=0.05)
    proportion = models.FloatField(default=0.5)
    rounding = models.CharField(max_length=10, default="ceil")
    pilot_share = models.FloatField(default=0.3)
    raters_per_item = models.PositiveSmallIntegerField(default=2)
    rater_ids = models.JSONField(default=list, blank=True, help_text="the raters the reliability part goes to")
    job = models.ForeignKey("jobs.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                            help_text="the last job that worked on this draw")
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    drawn_at = models.DateTimeField(null=True, blank=True)
    labelling_started_at = models.DateTimeField(null=True, blank=True)
    labelling_started_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                             on_delete=models.SET_NULL, related_name="+")
    # Set by the arbitration step (issue 6): labels are final from then on and
    # the raters' labels on this draw's items are no longer hidden from each other.
    arbitration_started_at = models.DateTimeField(null=True, blank=True)
    arbitration_started_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                               on_delete=models.SET_NULL, related_name="+")
    sample_size = models.PositiveIntegerField(default=0)
    pilot_size = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["study", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["study", "version"], name="draw_unique_version_per_study"),
            # Two owners starting a draw at once: the database lets one in.
            models.UniqueConstraint(fields=["study"], condition=Q(status="pending"),
                                    name="draw_one_in_progress_per_study"),
            models.CheckConstraint(condition=Q(status__in=[s.value for s in DrawStatus]), name="draw_status_valid"),
            models.CheckConstraint(condition=Q(confidence__gt=0) & Q(confidence__lt=1), name="draw_confidence_range"),
            models.CheckConstraint(condition=Q(margin__gt=0) & Q(margin__lt=1), name="draw_margin_range"),
            models.CheckConstraint(condition=Q(proportion__gte=0) & Q(proportion__lte=1),
                                   name="draw_proportion_range"),
            models.CheckConstraint(condition=Q(pilot_share__gte=0) & Q(pilot_share__lte=1),
                                   name="draw_pilot_share_range"),
            models.CheckConstraint(condition=Q(rounding__in=["ceil", "floor", "nearest"]), name="draw_rounding"),
            models.CheckConstraint(condition=Q(raters_per_item__gte=1), name="draw_raters_per_item_positive"),
            models.CheckConstraint(condition=Q(seed__gte=0), name="draw_seed_non_negative"),
            models.CheckConstraint(condition=Q(algorithm__in=ALGORITHMS), name="draw_algorithm_known"),
            models.CheckConstraint(condition=~Q(status="labelling") | Q(labelling_started_at__isnull=False),
                                   name="draw_labelling_has_start"),
            models.CheckConstraint(condition=Q(pilot_size__lte=F("sample_size")), name="draw_pilot_within_sample"),
            models.CheckConstraint(condition=Q(arbitration_started_at__isnull=True) | Q(status="labelling"),
                                   name="draw_arbitration_after_labelling"),
        ]

    def __str__(self) -> str:
        return f"{self.study} · draw v{self.version}"

    @property
    def is_frozen(self) -> bool:
        return self.status == DrawStatus.LABELLING

    @property
    def reliability_size(self) -> int:
        return self.sample_size - self.pilot_size


class StratumMode(models.TextChoices):
    CALCULATED = "calculated", "Calculated n"
    CENSUS = "census", "Census (all posts)"
    OVERRIDE = "override", "n set by hand"


class SampleStratum(models.Model):
    """One row of the design table. The question set may later change or go;
    the name, the figures and the population snapshot stay."""

    draw = models.ForeignKey(SampleDraw, on_delete=models.CASCADE, related_name="strata")
    position = models.PositiveSmallIntegerField(help_text="overlapping posts count in the first stratum")
    question_set = models.ForeignKey("selection.QuestionSet", null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")
    name = models.CharField(max_length=100)
    mode = models.CharField(max_length=10, choices=StratumMode.choices, default=StratumMode.CALCULATED)
    override_n = models.PositiveIntegerField(null=True, blank=True)
    override_reason = models.TextField(blank=True)
    # Filled in by the draw:
    set_size = models.PositiveIntegerField(default=0, help_text="members of the set when drawn")
    overlap_removed = models.PositiveIntegerField(default=0, help_text="members counted in an earlier stratum")
    population = models.PositiveIntegerField(default=0, help_text="N: set_size − overlap_removed")
    n_exact = models.FloatField(null=True, blank=True, help_text="n₀ / (1 + (n₀ − 1)/N); none for a census")
    n = models.PositiveIntegerField(null=True, blank=True)
    drawn = models.PositiveIntegerField(default=0)
    pilot = models.PositiveIntegerField(default=0)
    population_digest = models.CharField(
        max_length=64, blank=True, help_text="SHA-256 of the set's members (sampling.draws.snapshot): algorithm 2, of "
                                             "the lines site<TAB>id<LF> in (site, id) order; 1, of the sorted ids")
    # The members themselves are in StratumPopulation: half a megabyte for a large set,
    # which every page showing an item with its stratum would otherwise read.

    class Meta:
        ordering = ["draw", "position"]
        constraints = [
            models.UniqueConstraint(fields=["draw", "position"], name="stratum_unique_position"),
            models.UniqueConstraint(fields=["draw", "name"], name="stratum_unique_name"),
            models.CheckConstraint(condition=Q(mode__in=[m.value for m in StratumMode]), name="stratum_mode_valid"),
            models.CheckConstraint(
                condition=~Q(mode="override") | (Q(override_n__gte=1) & ~Q(override_reason="")),
                name="stratum_override_has_n_and_reason",
            ),
            models.CheckConstraint(condition=Q(n__isnull=True) | Q(n__lte=F("population")),
                                   name="stratum_n_within_population"),
            models.CheckConstraint(condition=Q(drawn__lte=F("population")) & Q(pilot__lte=F("drawn")),
                                   name="stratum_counts_ordered"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def census(self) -> bool:
        return self.mode == StratumMode.CENSUS

    @property
    def reliability(self) -> int:
        return self.drawn - self.pilot


class StratumPopulation(models.Model):
    """The members of a stratum's set when it was drawn, compressed (sampling.draws.snapshot:
    (site, id) pairs for algorithm 2, database ids for algorithm 1):
    what the reproducibility check draws from again. Apart from its stratum so that no
    query that reads strata (every item page does, through select_related) carries them."""

    stratum = models.OneToOneField(SampleStratum, on_delete=models.CASCADE, primary_key=True,
                                   related_name="population_snapshot")
    ids = models.BinaryField(help_text="the set's members, compressed: (site, id) pairs or, algorithm 1, post ids")


class ItemPart(models.TextChoices):
    PILOT = "pilot", "Pilot (joint)"
    RELIABILITY = "reliability", "Reliability (independent)"


class SampleItem(models.Model):
    draw = models.ForeignKey(SampleDraw, on_delete=models.CASCADE, related_name="items")
    stratum = models.ForeignKey(SampleStratum, on_delete=models.CASCADE, related_name="items")
    # RESTRICT: a sampled post cannot vanish on its own, only with its study.
    post = models.ForeignKey("corpus.Post", on_delete=models.RESTRICT, related_name="sample_items")
    part = models.CharField(max_length=12, choices=ItemPart.choices)

    class Meta:
        ordering = ["draw", "stratum__position", "post_id"]
        constraints = [
            models.UniqueConstraint(fields=["draw", "post"], name="item_post_once_per_draw"),
            models.CheckConstraint(condition=Q(part__in=[p.value for p in ItemPart]), name="item_part_valid"),
        ]
        indexes = [models.Index(fields=["draw", "part", "stratum"])]


class Assignment(models.Model):
    """One reliability item for one rater. ``submitted_at`` is set when the
    rater submits their labels for it, by ``label_submit`` only, which keeps
    the rater's ``RaterTally`` (of the item's stratum) in the same transaction."""

    draw = models.ForeignKey(SampleDraw, on_delete=models.CASCADE, related_name="assignments")
    item = models.ForeignKey(SampleItem, on_delete=models.CASCADE, related_name="assignments")
    rater = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.RESTRICT, related_name="assignments")
    submitted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["item", "rater"], name="assignment_unique_rater_per_item")]
        indexes = [
            models.Index(fields=["draw", "rater", "submitted_at"]),
            # A rater's next item: their unlabelled assignments in item order, read from the
            # front of this small index however many they have already labelled. The id is a
            # key column so that the read is index-only: with heap fetches to pay, PostgreSQL
            # would rather walk the item_id index "until it meets" the rater's first open
            # item, which sits behind every item they have labelled (19 ms at 25,000 labels).
            models.Index(fields=["rater", "draw", "item", "id"], condition=Q(submitted_at__isnull=True),
                         name="assignment_todo_by_rater"),
            # The labels listing (``taxonomy.labelling.visibility.VisibleLabels``) reads a page in
            # item order from the front of these, one's own labels on a draw or every rater's,
            # instead of sorting every visible label for each page.
            models.Index(fields=["rater", "draw", "item"], condition=Q(submitted_at__isnull=False),
                         name="assignment_done_by_rater"),
            models.Index(fields=["draw", "item"], condition=Q(submitted_at__isnull=False),
                         name="assignment_done_by_draw"),
        ]
