"""A stored agreement figure: what was compared (a draw, one stratum of it, or
every draw of the study in labelling), with which parameters, on which
taxonomy version and under which category names, and everything the engine
reported.

The result is a snapshot: renaming, merging or retiring a category later, or
more labels coming in, never changes a run that has finished. A new figure is
a new run.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q


class AgreementScope(models.TextChoices):
    DRAW = "draw", "One draw"
    STRATUM = "stratum", "One stratum of a draw"
    STUDY = "study", "The whole study (every draw in labelling)"


class RunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Computing"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class AgreementRun(models.Model):
    study = models.ForeignKey("studies.Study", on_delete=models.CASCADE, related_name="agreement_runs")
    scope = models.CharField(max_length=10, choices=AgreementScope.choices)
    draw = models.ForeignKey("sampling.SampleDraw", null=True, blank=True, on_delete=models.CASCADE,
                             related_name="agreement_runs")
    stratum = models.ForeignKey("sampling.SampleStratum", null=True, blank=True, on_delete=models.CASCADE,
                                related_name="agreement_runs")
    status = models.CharField(max_length=10, choices=RunStatus.choices, default=RunStatus.QUEUED)
    job = models.ForeignKey("jobs.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    parameters = models.JSONField(default=dict, blank=True, help_text="resamples, seed, confidence")
    # Filled in when computed:
    draws = models.JSONField(default=list, blank=True,
                             help_text="the draws whose labels were read: [{id, version}], in version order")
    taxonomy_version = models.PositiveBigIntegerField(null=True, blank=True,
                                                      help_text="the study's latest tree change id when computed")
    label_names = models.JSONField(default=dict, blank=True,
                                   help_text="label key → name (category path) when computed")
    items = models.PositiveIntegerField(default=0, help_text="reliability items with at least one label")
    items_in_scope = models.PositiveIntegerField(default=0, help_text="reliability items in the scope")
    items_unlabelled = models.PositiveIntegerField(default=0, help_text="items with no label yet: ignored")
    raters = models.PositiveIntegerField(default=0)
    labels = models.PositiveIntegerField(default=0, help_text="distinct labels (categories and verdicts) used")
    message = models.TextField(blank=True, help_text="why there is no coefficient, when there is none")
    result = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["study", "-created_at"])]
        constraints = [
            models.CheckConstraint(condition=Q(scope__in=[s.value for s in AgreementScope]),
                                   name="agreement_scope_valid"),
            models.CheckConstraint(condition=Q(status__in=[s.value for s in RunStatus]),
                                   name="agreement_status_valid"),
            # The scope says exactly which of draw / stratum are set.
            models.CheckConstraint(
                condition=(Q(scope="draw", draw__isnull=False, stratum__isnull=True)
                           | Q(scope="stratum", draw__isnull=False, stratum__isnull=False)
                           | Q(scope="study", draw__isnull=True, stratum__isnull=True)),
                name="agreement_scope_consistent",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["done", "failed"], finished_at__isnull=False)
                | ~Q(status__in=["done", "failed"]),
                name="agreement_finished_has_time",
            ),
            models.CheckConstraint(
                condition=~Q(status="done") | Q(taxonomy_version__isnull=False),
                name="agreement_done_has_taxonomy_version",
            ),
            models.CheckConstraint(condition=Q(items_unlabelled__lte=models.F("items_in_scope")),
                                   name="agreement_unlabelled_within_scope"),
        ]

    def __str__(self) -> str:
        return f"Agreement run #{self.pk} ({self.scope}, {self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in (RunStatus.DONE, RunStatus.FAILED)

    @property
    def resamples(self) -> int:
        return int(self.parameters.get("resamples", 0))

    @property
    def seed(self) -> int | None:
        return self.parameters.get("seed")

    @property
    def confidence(self) -> float:
        return float(self.parameters.get("confidence", 0.95))
