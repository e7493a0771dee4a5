"""The draw stage of the study home: the latest drawn sample, its pilot and reliability parts."""

from __future__ import annotations

from django.urls import reverse
from django.utils import timezone

from annotator.jobs.models import JobKind
from annotator.jobs.selectors import job_list
from sampling.question_sets.stage import question_sets_evaluated
from annotator.studies.stages import Action, Stage, StageContext, State, job_links

from .models import DrawStatus, SampleDraw


def study_draws(context: StageContext) -> list[SampleDraw]:
    """The study's draws, newest first (read once per page; a study has a handful)."""
    return context.memo("sampling:draws", lambda: list(
        SampleDraw.objects.filter(study=context.study).order_by("-version").only(
            "pk", "study_id", "version", "status", "error", "sample_size", "pilot_size", "drawn_at",
            "labelling_started_at", "arbitration_started_at")))


def current_draw(context: StageContext) -> SampleDraw | None:
    """The newest draw that was drawn (ready or in labelling), if any."""
    return next((d for d in study_draws(context) if d.status in (DrawStatus.READY, DrawStatus.LABELLING)), None)


def draw_stage(context: StageContext) -> Stage:
    study, slug = context.study, context.study.slug
    draws = study_draws(context)
    versions = {draw.pk: draw.version for draw in draws}
    jobs = list(job_list(study=study, kind=JobKind.SAMPLE_DRAW)[:3])
    stage = Stage(key="draw", title="Draw", url=reverse("sampling:draws", args=[slug]))
    stage.jobs = job_links(
        jobs, title=lambda job: (f"{'Redistribution' if job.params.get('step') == 'redistribute' else 'Draw'} "
                                 f"v{job.params.get('version', '?')}"),
        url=lambda job: (reverse("sampling:draw", args=[slug, versions[job.params["draw"]]])
                         if job.params.get("draw") in versions else stage.url))
    owner = context.membership.is_owner
    latest, drawn = (draws[0] if draws else None), current_draw(context)
    if drawn is not None:
        stage.numbers = [f"v{drawn.version}: {drawn.sample_size:,} posts",
                         f"{drawn.pilot_size:,} pilot, {drawn.reliability_size:,} reliability"]
        stage.url = reverse("sampling:draw", args=[slug, drawn.version])
    if latest is not None and latest.status == DrawStatus.PENDING:
        stage.state = State.IN_PROGRESS
        stage.numbers.insert(0, f"v{latest.version} being drawn")
    elif drawn is not None and drawn.status == DrawStatus.LABELLING:
        stage.state = State.DONE
        stage.numbers.append(f"labelling since {timezone.localtime(drawn.labelling_started_at):%Y-%m-%d}")
    elif drawn is not None:
        stage.state = State.IN_PROGRESS
        stage.blocker = "" if owner else "Drawn: waiting for an owner to start labelling."
        if owner:
            stage.actions.append(Action(f"Check v{drawn.version} and start labelling", stage.url))
    elif latest is not None:  # only failed draws
        stage.state, stage.blocker = State.BLOCKED, f"v{latest.version} failed: {latest.error or 'no reason given'}"
    elif not question_sets_evaluated(context):
        stage.state, stage.blocker = State.BLOCKED, "No evaluated question set to draw from."
    if latest is not None and latest.status == DrawStatus.FAILED and drawn is not None:
        stage.blocker = f"The last draw, v{latest.version}, failed: {latest.error or 'no reason given'}"
    if owner and question_sets_evaluated(context) and (drawn is None or drawn.status == DrawStatus.LABELLING):
        stage.actions.append(Action("New draw", reverse("sampling:draw_new", args=[slug]), primary=drawn is None))
    if draws:
        stage.actions.append(Action("All draws", reverse("sampling:draws", args=[slug]), primary=False))
    return stage
