from django.apps import AppConfig


class AgreementConfig(AppConfig):
    name = "taxonomy.review.agreement"
    label = "agreement"
    verbose_name = "Agreement"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from annotator.studies.stages import AGREEMENT, stage_register

        from .stage import agreement_stage

        stage_register(AGREEMENT, agreement_stage)  # its step on the study home

        from annotator.jobs.models import JobKind
        from annotator.jobs.registry import job_handler_register

        def run(*, job):
            from .services import agreement_run_job_execute

            agreement_run_job_execute(job=job)

        def ended(*, job):
            from .services import agreement_run_job_ended

            agreement_run_job_ended(job=job)

        job_handler_register(JobKind.AGREEMENT, run, ended=ended)
