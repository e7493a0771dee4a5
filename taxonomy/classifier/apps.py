"""Step 11 of the method: a classifier trained on the final labels, its cross-validated
figures, estimates over the unsampled posts of a question set, and similar coded posts
for arbitration and Pending. The last app of the method: it may read every earlier one,
none reads it (pages of earlier steps load its panels by URL)."""
from django.apps import AppConfig


class ClassifierConfig(AppConfig):
    name = "taxonomy.classifier"
    label = "classifier"
    verbose_name = "Classifier and similar posts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from annotator.jobs.models import JobKind
        from annotator.jobs.registry import job_handler_register
        from annotator.studies.stages import CLASSIFIER, stage_register

        from .stage import classifier_stage

        stage_register(CLASSIFIER, classifier_stage)

        def train(*, job):
            from .services import classifier_train_execute

            classifier_train_execute(job=job)

        def estimate(*, job):
            from .services import classifier_estimate_execute

            classifier_estimate_execute(job=job)

        job_handler_register(JobKind.CLASSIFIER_TRAIN, train)
        def estimate_ended(*, job):
            from .services import classifier_estimate_ended

            classifier_estimate_ended(job=job)

        job_handler_register(JobKind.CLASSIFIER_ESTIMATE, estimate, ended=estimate_ended)
