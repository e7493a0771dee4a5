from django.db import models


class ClassifierSettings(models.Model):
    """A study's choices about what raters may see of the classifier. Off by default: a rater
    coding a reliability item never sees a model's suggestion or similar coded posts before
    submitting, so that agreement figures are not biased; with ``show_after_submit`` on (for
    training), they appear once the rater's own labels are in."""

    study = models.OneToOneField("studies.Study", on_delete=models.CASCADE, related_name="classifier_settings")
    show_after_submit = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"classifier settings of {self.study_id}"
