from django.apps import AppConfig


class CorpusConfig(AppConfig):
    name = "annotator.corpus"
    label = "corpus"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from annotator.studies.stages import CORPUS, stage_register

        from .stage import corpus_stage

        stage_register(CORPUS, corpus_stage)  # its step on the study home

        from annotator.jobs.models import JobKind
        from annotator.jobs.registry import job_handler_register

        def run(*, job):
            from .services import import_job_execute

            import_job_execute(job=job)

        def ended(*, job):
            from .services import import_job_ended

            import_job_ended(job=job)

        job_handler_register(JobKind.IMPORT, run, ended=ended)
