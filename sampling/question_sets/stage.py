"""The question-sets stage of the study home: the sets, how many are evaluated, their evaluations."""

from __future__ import annotations

from django.urls import reverse

from annotator.corpus.stage import corpus_totals
from annotator.jobs.models import JobKind
from annotator.jobs.selectors import job_list
from annotator.studies.stages import Action, Stage, StageContext, State, count_text, job_links

from .models import QuestionSet


def question_sets_evaluated(context: StageContext) -> int:
    """How many of the study's question sets have been evaluated (read once per page)."""
    return context.memo("selection:evaluated", lambda: _set_rows(context)["evaluated"])


def _set_rows(context: StageContext) -> dict:
    def read():
        rows = list(QuestionSet.objects.filter(study=context.study).values_list("pk", "evaluated_at"))
        return {"ids": {pk for pk, _ in rows}, "total": len(rows),
                "evaluated": sum(1 for _, evaluated in rows if evaluated is not None)}

    return context.memo("selection:sets", read)


def question_sets_stage(context: StageContext) -> Stage:
    study, slug = context.study, context.study.slug
    sets = _set_rows(context)
    jobs = list(job_list(study=study, kind=JobKind.QUESTION_SET)[:3])
    stage = Stage(key="question-sets", title="Question sets", url=reverse("selection:sets", args=[slug]))

    def job_url(job) -> str:
        set_id = job.params.get("question_set")
        if set_id in sets["ids"]:
            return reverse("selection:set", args=[slug, set_id]) + f"?job={job.pk}"
        return stage.url  # the set was deleted since

    stage.jobs = job_links(jobs, title=lambda job: f"Evaluation of {job.params.get('name') or 'a set'}",
                           url=job_url)
    if sets["total"]:
        stage.numbers = [count_text(sets["total"], "set"), f"{sets['evaluated']:,} evaluated"]
    owner = context.membership.is_owner
    if any(not job.is_finished for job in jobs):
        stage.state = State.IN_PROGRESS
    elif not corpus_totals(context)["questions"]:
        stage.state, stage.blocker = State.BLOCKED, "No questions yet: import a dump first."
    elif sets["evaluated"] and sets["evaluated"] == sets["total"]:
        stage.state = State.DONE
    elif sets["total"]:
        stage.state = State.IN_PROGRESS
        if not sets["evaluated"]:
            stage.blocker = "No set is evaluated yet: a draw samples evaluated sets."
    if owner and stage.state != State.BLOCKED:
        stage.actions.append(Action("New question set", reverse("selection:set_new", args=[slug]),
                                    primary=stage.state == State.NOT_STARTED))
    if sets["total"]:
        stage.actions.append(Action("See the sets", stage.url, primary=owner and stage.state == State.IN_PROGRESS))
    return stage
