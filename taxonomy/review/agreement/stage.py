"""The agreement stage of the study home: the runs the viewer may see (the blindness rule:
a run over a round the viewer rates in does not exist for them) and the latest headline figure."""

from __future__ import annotations

from django.urls import reverse

from annotator.studies.stages import Action, JobLink, Stage, StageContext, State, count_text
from sampling.draws.models import DrawStatus
from sampling.draws.stage import study_draws
from taxonomy.labelling.stage import stage_sight

from .figures import headline
from .models import RunStatus
from .selectors import agreement_run_coefficients, agreement_run_list

# A run's status as the job-status class the page styles (queued, running, succeeded, failed).
_JOB_STATUS = {RunStatus.QUEUED: "queued", RunStatus.RUNNING: "running", RunStatus.DONE: "succeeded",
               RunStatus.FAILED: "failed"}


def agreement_stage(context: StageContext) -> Stage:
    study, slug, membership = context.study, context.study.slug, context.membership
    stage = Stage(key="agreement", title="Agreement", url=reverse("agreement:runs", args=[slug]))
    in_labelling = [d for d in study_draws(context) if d.status == DrawStatus.LABELLING]
    only_rater = membership.is_rater and not membership.is_owner and not membership.is_arbitrator
    if not in_labelling:
        stage.state, stage.blocker = State.BLOCKED, "Agreement is computed over the reliability round's labels."
        return stage
    if only_rater:
        # agreement_access: a member who only rates reads no figure (nor the pages) while a draw is
        # in labelling, arbitrated or not; the state follows the round, which is theirs to know.
        stage.url = ""
        stage.state = State.IN_PROGRESS if any(d.arbitration_started_at is None for d in in_labelling) \
            else State.DONE
        stage.numbers.append("figures are read by owners, arbitrators and viewers")
        return stage
    runs = list(agreement_run_list(study=study, user=context.user, sight=stage_sight(context))
                .order_by("-created_at", "-pk")[:3])
    stage.jobs = [JobLink(title=f"Run #{run.pk} ({run.get_scope_display().lower()})", status=_JOB_STATUS[run.status],
                          status_display=run.get_status_display(), url=reverse("agreement:run", args=[slug, run.pk]),
                          when=run.created_at) for run in runs]
    stage.jobs_url = stage.url
    done = next((run for run in runs if run.status == RunStatus.DONE), None)
    if any(run.status in (RunStatus.QUEUED, RunStatus.RUNNING) for run in runs):
        stage.state = State.IN_PROGRESS
    elif done is not None:
        stage.state = State.DONE
    if done is not None:
        # the run page's headline (figures.headline), with its reading on the scale the page cites
        lead = headline(coefficients=agreement_run_coefficients(run=done), raters=done.raters)
        if lead is not None:
            c = lead.coefficient
            interval = f" [{c.low:.2f}, {c.high:.2f}]" if c.low is not None and c.high is not None else ""
            stage.numbers.append(f"{c.title}: {c.value:.2f}{interval}, {lead.band.name} ({lead.scale.title})")
        stage.numbers.append(f"run #{done.pk}: {count_text(done.items, 'item')}, "
                             f"{count_text(done.raters, 'rater')}")
    elif not stage_sight(context).sees_all:
        stage.numbers.append("runs over a round you rate in are shown after arbitration starts")
    elif not runs:
        stage.numbers.append("no run yet")
    if membership.is_owner and stage_sight(context).sees_all:
        stage.actions.append(Action("Compute agreement", stage.url, primary=stage.state != State.DONE))
    elif runs:
        stage.actions.append(Action("See the runs", stage.url, primary=False))
    return stage
