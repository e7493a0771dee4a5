"""The corpus stage of the study home: the posts imported and the imports that brought them."""

from __future__ import annotations

from django.urls import reverse

from annotator.jobs.models import JobKind
from annotator.jobs.selectors import job_list
from annotator.studies.stages import Action, Stage, StageContext, State, count_text, job_links

from .services import study_totals


def corpus_totals(context: StageContext) -> dict[str, int]:
    """Questions, answers and comments of the study (read once per page)."""
    return context.memo("corpus:totals", lambda: study_totals(study=context.study))


def corpus_stage(context: StageContext) -> Stage:
    study, slug = context.study, context.study.slug
    totals = corpus_totals(context)
    imports = list(job_list(study=study, kind=JobKind.IMPORT)[:3])
    stage = Stage(key="corpus", title="Corpus", url=reverse("corpus:posts", args=[slug]))
    stage.numbers = [count_text(totals["questions"], "question"), count_text(totals["answers"], "answer"),
                     count_text(totals["comments"], "comment")]
    stage.jobs_url = reverse("corpus:imports", args=[slug])
    stage.jobs = job_links(imports, title=lambda job: f"Import #{job.pk}",
                           url=lambda job: reverse("corpus:import", args=[slug, job.pk]))
    if any(not job.is_finished for job in imports):
        stage.state = State.IN_PROGRESS
    elif totals["questions"]:
        stage.state = State.DONE
    elif imports and imports[0].status == "failed":
        stage.state, stage.blocker = State.BLOCKED, f"The last import failed: {imports[0].error or 'no reason given'}"
    if context.membership.is_owner:
        stage.actions.append(Action("Import a Stack Exchange dump" if not totals["questions"] else "Import more",
                                    reverse("corpus:imports", args=[slug]), primary=not totals["questions"]))
    elif not totals["questions"]:
        stage.blocker = stage.blocker or "Waiting for an owner to import a dump."
    if totals["questions"]:
        stage.actions.append(Action("Browse the posts", stage.url, primary=False))
    return stage
