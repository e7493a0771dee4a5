from django.conf import settings
from django.db import models
from django.db.models import Q


class ClassifierSettings(models.Model):
    """A study's choices about what raters may see of the classifier. Off by default: a rater
    coding a reliability item never sees a model's suggestion or similar coded posts before
    submitting, so that agreement figures are not biased; with ``show_after_submit`` on (for
    training), they appear once the rater's own labels are in."""

    study = models.OneToOneField("studies.Study", on_delete=models.CASCADE, related_name="classifier_settings")
    show_after_submit = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"classifier settings of {self.study_id}"


class TaxonomyLevel(models.TextChoices):
    ROOT = "root", "Root categories"
    INNER = "inner", "Inner categories"
    LEAF = "leaf", "Leaves"


class ClassifierModel(models.Model):
    """One trained classifier: what it was asked (level, seed, every parameter, keywords), what it
    learnt from (the taxonomy version, the training posts and their categories), how it did in
    cross-validation, and the fitted pipeline itself. Written by its training job."""

    study = models.ForeignKey("studies.Study", on_delete=models.CASCADE, related_name="classifier_models")
    job = models.ForeignKey("jobs.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    level = models.CharField(max_length=8, choices=TaxonomyLevel.choices)
    seed = models.BigIntegerField()
    params = models.JSONField(default=dict, help_text="every parameter of the features, the model and the folds")
    keywords = models.JSONField(default=dict, blank=True, help_text="category id → keyword list (weighted in)")
    taxonomy_version = models.PositiveBigIntegerField(help_text="the study's latest tree change id when trained")
    categories = models.JSONField(default=list, blank=True,
                                  help_text="the categories it predicts, in order: [{id, path, posts}]")
    too_few = models.JSONField(default=list, blank=True,
                               help_text="categories left out for too few posts: [{id, path, posts, needed}]")
    training_items = models.JSONField(default=list, blank=True,
                                      help_text="[[post id, [category id, ...]], ...] at the model's level")
    excluded = models.JSONField(default=dict, blank=True, help_text="final labels not trained on, by reason")
    cv_report = models.JSONField(default=dict, blank=True)
    pipeline = models.BinaryField(null=True, blank=True, help_text="the fitted scikit-learn pipeline (joblib)")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    trained_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(level__in=[v.value for v in TaxonomyLevel]),
                                   name="classifier_model_level_valid"),
        ]

    def __str__(self) -> str:
        return f"classifier model {self.pk} ({self.level})"

    @property
    def is_trained(self) -> bool:
        return self.trained_at is not None


class ClassifierEstimate(models.Model):
    """A model applied to the unsampled posts of a question set: the shares it estimates (each
    with its interval, next to the hand-coded sample's), written by its estimate job. Keeps the
    taxonomy version its model was trained on, whatever the tree becomes."""

    study = models.ForeignKey("studies.Study", on_delete=models.CASCADE, related_name="classifier_estimates")
    model = models.ForeignKey(ClassifierModel, on_delete=models.CASCADE, related_name="estimates")
    question_set = models.ForeignKey("selection.QuestionSet", null=True, on_delete=models.SET_NULL,
                                     related_name="+")
    question_set_name = models.CharField(max_length=100)
    job = models.ForeignKey("jobs.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    seed = models.BigIntegerField()
    taxonomy_version = models.PositiveBigIntegerField(help_text="the model's taxonomy version")
    set_size = models.PositiveIntegerField(default=0)
    sampled = models.PositiveIntegerField(default=0, help_text="members drawn in a sample: not predicted")
    predicted = models.PositiveIntegerField(default=0, help_text="unsampled members predicted")
    shares = models.JSONField(default=list, blank=True)
    method = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"estimate {self.pk} of model {self.model_id}"


class ClassifierPrediction(models.Model):
    """One unsampled post's prediction in one estimate: its categories and every category's score
    (in the order of the model's ``categories``)."""

    estimate = models.ForeignKey(ClassifierEstimate, on_delete=models.CASCADE, related_name="predictions")
    post = models.ForeignKey("corpus.Post", on_delete=models.CASCADE, related_name="+")
    category_ids = models.JSONField(default=list)
    scores = models.JSONField(default=list)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["estimate", "post"], name="classifier_prediction_once")]
