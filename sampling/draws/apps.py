from django.apps import AppConfig


class SamplingConfig(AppConfig):
    name = "sampling.draws"
    label = "sampling"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from annotator.studies.stages import DRAW, stage_register

        from .stage import draw_stage

        stage_register(DRAW, draw_stage)  # its step on the study home

        from annotator.jobs.models import JobKind
        from annotator.jobs.registry import job_handler_register

        def run(*, job):
            from .services import sample_draw_job_execute

            sample_draw_job_execute(job=job)

        def ended(*, job):
            from .services import sample_draw_job_ended

            sample_draw_job_ended(job=job)

        job_handler_register(JobKind.SAMPLE_DRAW, run, ended=ended)
