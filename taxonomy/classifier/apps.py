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

        # The study archive (an earlier step) does not hold the classifier's rows: say why.
        from taxonomy.results.archive import archive_not_archived_register

        from .models import ClassifierEstimate, ClassifierModel, ClassifierPrediction, ClassifierSettings

        archive_not_archived_register(
            ClassifierSettings, "whether raters see similar posts after submitting is a setting of this "
                                "installation's pages, not part of the study's record")
        archive_not_archived_register(
            ClassifierModel, "a model is made again from the archived final labels with the seed and parameters "
                             "its page reports; its fitted pipeline is a pickle, which a restore must never load "
                             "from a file (loading one can run code)")
        archive_not_archived_register(
            ClassifierEstimate, "an estimate is made again from a model and the archived question set")
        archive_not_archived_register(ClassifierPrediction, "per-post predictions belong to an estimate")
