from django.apps import AppConfig


class ResultsConfig(AppConfig):
    name = "taxonomy.results"
    label = "results"
    verbose_name = "Results and exports"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from annotator.studies.stages import RESULTS, stage_register

        from .stage import results_stage

        stage_register(RESULTS, results_stage)  # its step on the study home

        # The tree page shows the posts each category holds by final label: the tree cannot
        # import this later step, so the count is handed to it here.
        from taxonomy.tree.selectors import category_counts_register

        from .selectors import results_final_posts

        category_counts_register("final_posts", results_final_posts)

        from annotator.jobs.models import JobKind
        from annotator.jobs.registry import job_handler_register

        def run(*, job):
            from .services import export_job_execute

            export_job_execute(job=job)

        def ended(*, job):
            from .services import export_job_ended

            export_job_ended(job=job)

        job_handler_register(JobKind.EXPORT, run, ended=ended)
