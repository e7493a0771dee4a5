"""The classifier stage of the study home (step 11, optional): its models and estimates."""

from __future__ import annotations

from django.urls import reverse

from annotator.jobs.models import JobKind
from annotator.jobs.selectors import job_list
from annotator.studies.stages import (
    Action,
    Stage,
    StageContext,
    State,
    count_text,
    job_links,
)
from sampling.draws.sight import final_label_visible_q
from taxonomy.labelling.stage import stage_sight
from taxonomy.review.arbitration.models import FinalKind, FinalLabel

from .models import ClassifierEstimate, ClassifierModel
from .selectors import NOT_NOW


def classifier_stage(context: StageContext) -> Stage:
    study, slug = context.study, context.study.slug
    sight = stage_sight(context)
    stage = Stage(key="classifier", title="Classifier (optional)", url=reverse("classifier:home", args=[slug]),
                  optional=True)
    if not sight.sees_all:
        stage.state, stage.blocker = State.BLOCKED, NOT_NOW
        return stage
    if not FinalLabel.objects.filter(final_label_visible_q(sight), kind=FinalKind.CATEGORIES).exists():
        stage.state, stage.blocker = State.BLOCKED, "A model learns from final labels: they come from arbitration."
        return stage
    models = ClassifierModel.objects.filter(study=study, trained_at__isnull=False).count()
    estimates = ClassifierEstimate.objects.filter(study=study, finished_at__isnull=False).count()
    jobs = list(job_list(study=study, kind=JobKind.CLASSIFIER_TRAIN)[:2]) + list(
        job_list(study=study, kind=JobKind.CLASSIFIER_ESTIMATE)[:2])
    stage.jobs = job_links(jobs, title=lambda job: job.get_kind_display(),
                           url=lambda job: _job_url(slug, job))
    if models:
        stage.numbers.append(count_text(models, "trained model"))
    if estimates:
        stage.numbers.append(count_text(estimates, "estimate"))
    stage.state = State.DONE if estimates else State.IN_PROGRESS if models else State.NOT_STARTED
    stage.actions.append(Action("Classifier", stage.url, primary=False))
    return stage


def _job_url(slug: str, job) -> str:
    if job.kind == JobKind.CLASSIFIER_TRAIN and job.params.get("model"):
        return reverse("classifier:model", args=[slug, job.params["model"]])
    if job.params.get("estimate"):
        return reverse("classifier:estimate", args=[slug, job.params["estimate"]])
    return reverse("classifier:home", args=[slug])
