from django.apps import AppConfig


class SelectionConfig(AppConfig):
    name = "sampling.question_sets"
    label = "selection"
    verbose_name = "Question sets"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from annotator.studies.stages import QUESTION_SETS, stage_register

        from .stage import question_sets_stage

        stage_register(QUESTION_SETS, question_sets_stage)  # its step on the study home

        from annotator.jobs.models import JobKind
        from annotator.jobs.registry import job_handler_register

        def run(*, job):
            from .services import question_set_job_execute

            question_set_job_execute(job=job)

        job_handler_register(JobKind.QUESTION_SET, run)
