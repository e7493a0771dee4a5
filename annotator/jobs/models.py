from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class JobKind(models.TextChoices):
    IMPORT = "import", "Stack Exchange import"
    QUESTION_SET = "question_set", "Question set evaluation"
    SAMPLE_DRAW = "sample_draw", "Sample draw"
    AGREEMENT = "agreement", "Inter-rater agreement"
    EXPORT = "export", "Export"
    CLASSIFIER_TRAIN = "classifier_train", "Classifier training"
    CLASSIFIER_ESTIMATE = "classifier_estimate", "Classifier estimate"


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class Job(models.Model):
    """One background job: what was asked (params), how far it got (progress),
    and how it ended (result or error). Pages poll this row."""

    study = models.ForeignKey("studies.Study", on_delete=models.CASCADE, related_name="jobs")
    kind = models.CharField(max_length=20, choices=JobKind.choices)
    status = models.CharField(max_length=20, choices=JobStatus.choices, default=JobStatus.QUEUED)
    params = models.JSONField(default=dict, blank=True)
    seed = models.BigIntegerField(null=True, blank=True)
    phase = models.CharField(max_length=200, blank=True)
    rows_read = models.BigIntegerField(default=0)
    bytes_read = models.BigIntegerField(default=0)
    bytes_total = models.BigIntegerField(default=0)
    rows_total = models.BigIntegerField(default=0, help_text="for jobs measured in rows rather than bytes")
    result = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(
        null=True, blank=True, help_text="last sign of life of the worker running it (see JOB_STALE_AFTER_SECONDS)"
    )
    sent_at = models.DateTimeField(null=True, blank=True, help_text="last time it was handed to the job queue")
    send_attempts = models.PositiveSmallIntegerField(default=0, help_text="times it was handed to the job queue")
    cancel_requested_at = models.DateTimeField(null=True, blank=True)
    cancel_requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["study", "kind", "-created_at"]),
            # What the sweeper reads (annotator/jobs/services.py: job_sweep): the few unfinished jobs.
            models.Index(fields=["status"], condition=Q(status__in=["queued", "running"]), name="job_unfinished"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=[s.value for s in JobStatus]), name="job_status_valid"
            ),
            models.CheckConstraint(condition=Q(kind__in=[k.value for k in JobKind]), name="job_kind_valid"),
            models.CheckConstraint(
                condition=Q(rows_read__gte=0) & Q(bytes_read__gte=0) & Q(bytes_total__gte=0),
                name="job_progress_non_negative",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["succeeded", "failed"], finished_at__isnull=False)
                | ~Q(status__in=["succeeded", "failed"]),
                name="job_finished_has_time",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in (JobStatus.SUCCEEDED, JobStatus.FAILED)

    # A queued job not taken this long after creation probably has no worker behind it.
    QUEUED_STALE_AFTER = timedelta(seconds=30)

    @property
    def stale_warning(self) -> str:
        """A queued job nobody has taken yet. (A running job whose worker stopped
        does not need a warning: the sweeper fails it, see ``job_sweep``.)"""
        if self.status == JobStatus.QUEUED and timezone.now() - self.created_at > self.QUEUED_STALE_AFTER:
            return (
                "No worker has taken this job yet. Is the job worker running? "
                "(`make run` starts one; with docker compose it is the `worker` service.)"
            )
        return ""

    @property
    def cancel_requested(self) -> bool:
        return self.cancel_requested_at is not None

    @property
    def percent(self) -> int:
        if self.status == JobStatus.SUCCEEDED:
            return 100
        if self.bytes_total > 0:
            return min(99, int(100 * self.bytes_read / self.bytes_total))
        if self.rows_total > 0:
            return min(99, int(100 * self.rows_read / self.rows_total))
        return 0
