"""The arbitration stage of the study home: the pilot's joint decisions, then, once a round is
closed, the disagreements and Pending posts left to decide. Its counts exist only after
arbitration starts on a draw, when the raters' labels are no longer hidden from anyone; before,
how many labels are missing is the raters' progress, told only to those who may see it."""

from __future__ import annotations

from django.db.models import Count, Q
from django.urls import reverse

from annotator.studies.stages import Action, Stage, StageContext, State, count_text
from sampling.draws.models import DrawStatus, ItemPart, SampleItem
from sampling.draws.stage import study_draws
from taxonomy.coding.selectors import PILOT_DRAW_STATUSES
from taxonomy.labelling.stage import stage_progress, stage_sight

from .selectors import arbitration_queue, pending_categories_count, pending_queue


def arbitration_counts(context: StageContext) -> dict[str, int]:
    """Decided / total items of the pilot and of the closed rounds, and what is left in the queues
    (read once per page)."""
    def read():
        draws = study_draws(context)
        pilot_ids = [d.pk for d in draws if d.status in PILOT_DRAW_STATUSES]
        closed_ids = [d.pk for d in draws if d.status == DrawStatus.LABELLING and d.arbitration_started_at]
        counts = SampleItem.objects.filter(draw_id__in=pilot_ids + closed_ids).aggregate(
            pilot=Count("id", filter=Q(part=ItemPart.PILOT)),
            pilot_decided=Count("id", filter=Q(part=ItemPart.PILOT, final_label__isnull=False)),
            reliability=Count("id", filter=Q(part=ItemPart.RELIABILITY, draw_id__in=closed_ids)),
            decided=Count("id", filter=Q(part=ItemPart.RELIABILITY, draw_id__in=closed_ids,
                                         final_label__isnull=False)))
        if closed_ids:
            counts["disagreements"] = arbitration_queue(study=context.study).count()
            counts["pending"] = pending_queue(study=context.study).count()
        else:
            counts["disagreements"] = counts["pending"] = 0
        counts["closed"] = len(closed_ids)
        return counts

    return context.memo("arbitration:counts", read)


def arbitration_stage(context: StageContext) -> Stage:
    study, slug, membership = context.study, context.study.slug, context.membership
    decides = membership.is_owner or membership.is_arbitrator
    stage = Stage(key="arbitration", title="Arbitration and Pending",
                  url=reverse("arbitration:home", args=[slug]) if decides else "")
    counts = arbitration_counts(context)
    in_labelling = [d for d in study_draws(context) if d.status == DrawStatus.LABELLING]
    open_draws = [d for d in in_labelling if d.arbitration_started_at is None]
    if counts["pilot"]:
        stage.numbers.append(f"pilot: {counts['pilot_decided']:,} / {counts['pilot']:,} decided")
        if decides and counts["pilot_decided"] < counts["pilot"]:
            stage.actions.append(Action("Decide the pilot", reverse("arbitration:pilot", args=[slug]),
                                        primary=not counts["closed"]))
    if counts["closed"]:
        stage.numbers += [f"{counts['decided']:,} / {counts['reliability']:,} reliability posts decided",
                          f"{count_text(counts['disagreements'], 'disagreement')} left",
                          f"{counts['pending']:,} Pending left"]
        made = pending_categories_count(study=study)
        if made:
            stage.numbers.append(f"{count_text(made, 'category', 'categories')} made from Pending")
        left = counts["disagreements"] + counts["pending"]
        stage.state = State.IN_PROGRESS if left or open_draws else State.DONE
        if decides and counts["disagreements"]:
            stage.actions.insert(0, Action("Arbitrate", stage.url))
        if decides and counts["pending"]:
            stage.actions.append(Action("Pending", reverse("arbitration:pending", args=[slug]),
                                        primary=not counts["disagreements"]))
    elif not in_labelling:
        stage.state = State.BLOCKED if not counts["pilot"] else State.IN_PROGRESS
        stage.blocker = "The reliability round has not started." if not counts["pilot"] else ""
        if counts["pilot"] and not counts["pilot_decided"]:
            stage.state = State.NOT_STARTED
    else:
        sight = stage_sight(context)
        if all(sight.sees_draw(d.pk) for d in open_draws):
            progress = stage_progress(context)
            missing = progress.assigned - progress.labelled
            stage.state = State.BLOCKED if missing else State.NOT_STARTED
            stage.blocker = f"{count_text(missing, 'label')} still to come from the raters." if missing else ""
        else:
            stage.state = State.BLOCKED
            stage.blocker = "Starts when an owner closes the reliability round."
        if membership.is_owner:
            stage.actions.append(Action("Start arbitration", stage.url or reverse("arbitration:home", args=[slug]),
                                        primary=stage.state == State.NOT_STARTED))
    return stage
