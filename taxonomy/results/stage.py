"""The results stage of the study home: the final labels (everyone's once arbitration starts;
counted through the blindness rule all the same), the categories they use, the viewer's exports."""

from __future__ import annotations

from django.db.models import Count
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
from taxonomy.review.arbitration.models import FinalLabel, FinalLabelCategory
from taxonomy.review.arbitration.stage import arbitration_counts

from .services import EXPORTS


def results_stage(context: StageContext) -> Stage:
    study, slug = context.study, context.study.slug
    sight = stage_sight(context)
    stage = Stage(key="results", title="Results", url=reverse("results:home", args=[slug]))
    finals = FinalLabel.objects.filter(final_label_visible_q(sight)).aggregate(n=Count("id"))["n"]
    categories = (FinalLabelCategory.objects.filter(final_label_visible_q(sight, prefix="final__"))
                  .aggregate(n=Count("category_id", distinct=True))["n"])
    exports = list(job_list(study=study, kind=JobKind.EXPORT).filter(created_by=context.user)[:3])

    def export_title(job) -> str:
        export = EXPORTS.get(job.params.get("export"))
        return f"Export: {export.title if export else job.params.get('export', '?')}"

    stage.jobs = job_links(exports, title=export_title, url=lambda job: reverse("results:export", args=[slug, job.pk]))
    counts = arbitration_counts(context)
    if finals:
        stage.numbers = [count_text(finals, "final label"),
                         f"{count_text(categories, 'category', 'categories')} used"]
    undecided = (counts["pilot"] - counts["pilot_decided"]) + (counts["reliability"] - counts["decided"])
    if not finals:
        stage.state = State.BLOCKED if not counts["closed"] else State.NOT_STARTED
        stage.blocker = "Final labels come from the pilot decisions and arbitration." if not counts["closed"] else ""
    elif counts["closed"] and not counts["disagreements"] and not counts["pending"]:
        stage.state = State.DONE
    else:
        stage.state = State.IN_PROGRESS
        if undecided > 0:
            stage.numbers.append(f"{undecided:,} sampled posts without a final label")
    stage.actions.append(Action("See the results", stage.url, primary=stage.state == State.DONE))
    if finals:
        stage.actions.append(Action("Methods report", reverse("results:report", args=[slug]), primary=False))
    return stage
