"""The labelling stage of the study home: the independent reliability round.

Every number here is counted through the blindness rule (``.visibility``): whoever rates
on a draw whose round runs sees their own progress only, never how far the others are;
"rater2 behind" is shown to owners and arbitrators who rate on none of the open draws.
The stage's state, too, is told from what the viewer may see: for a blind rater the round
is "in progress" until arbitration starts, whoever has finished.
"""

from __future__ import annotations

from django.db.models import Count, Q
from django.urls import reverse

from annotator.studies.stages import Action, Stage, StageContext, State
from sampling.draws.models import DrawStatus
from sampling.draws.sight import Sight, assignments_visible, sight_for
from sampling.draws.stage import current_draw, study_draws
from taxonomy.tree.models import PRIVATE, Category

from .selectors import LabellingProgress, labelling_progress

# A rater this many percentage points behind the furthest one is named as behind.
BEHIND_BY = 10


def stage_sight(context: StageContext) -> Sight:
    """The viewer's sight of the study (read once per page, for every stage that counts labels)."""
    return context.memo("labelling:sight", lambda: sight_for(study=context.study, user=context.user))


def stage_progress(context: StageContext) -> LabellingProgress:
    """Labelled / assigned per rater over the open draws, as the viewer may see it (read once per page)."""
    return context.memo("labelling:progress", lambda: labelling_progress(
        study=context.study, user=context.user, sight=stage_sight(context)))


def raters_behind(progress: LabellingProgress) -> list[str]:
    raters = [r for r in progress.raters if r.assigned]
    if len(raters) < 2:
        return []
    best = max(100 * r.labelled / r.assigned for r in raters)
    return [r.username for r in sorted(raters, key=lambda r: (r.labelled / r.assigned, r.username))
            if r.labelled < r.assigned and 100 * r.labelled / r.assigned <= best - BEHIND_BY]


def labelling_stage(context: StageContext) -> Stage:
    study, slug, user = context.study, context.study.slug, context.user
    stage = Stage(key="labelling", title="Labelling", url=reverse("labelling:progress", args=[slug]))
    in_labelling = [d for d in study_draws(context) if d.status == DrawStatus.LABELLING]
    open_draws = [d for d in in_labelling if d.arbitration_started_at is None]
    membership = context.membership
    if not in_labelling:
        drawn = current_draw(context)
        if drawn is None:
            stage.state, stage.blocker = State.BLOCKED, "No drawn sample yet."
        elif membership.is_owner:
            stage.actions.append(Action(f"Start labelling on v{drawn.version}",
                                        reverse("sampling:draw", args=[slug, drawn.version])))
        else:
            stage.blocker = f"v{drawn.version} is drawn: an owner starts labelling once the pilot is done."
        return stage

    sight = stage_sight(context)
    progress = stage_progress(context) if open_draws else None
    sees_every_open_draw = all(sight.sees_draw(d.pk) for d in open_draws)
    stage.state = State.IN_PROGRESS if open_draws else State.DONE
    if progress is not None and sees_every_open_draw:
        stage.numbers.append(f"{progress.labelled:,} / {progress.assigned:,} labels in")
        behind = raters_behind(progress)
        if behind:
            stage.numbers.append(f"{', '.join(behind[:2])}{' and others' if len(behind) > 2 else ''} behind")
        if progress.assigned and progress.labelled == progress.assigned:
            stage.state = State.DONE
            stage.numbers.append("every label is in: arbitration can start")
    elif progress is not None:
        mine = next((r for r in progress.raters if r.rater_id == user.pk), None)
        if mine is not None:
            stage.numbers.append(f"you: {mine.labelled:,} / {mine.assigned:,} labelled")
        stage.numbers.append(f"{'the other' if mine is not None else 'the'} raters' progress is shown after "
                             "arbitration starts")
    closed = [d.pk for d in in_labelling if d.arbitration_started_at is not None]
    if closed:  # closed rounds are everyone's to see; counted through the rule all the same
        done = assignments_visible(study=study, user=user, sight=sight).filter(draw_id__in=closed).aggregate(
            assigned=Count("id"), labelled=Count("id", filter=Q(submitted_at__isnull=False)))
        versions = ", ".join(f"v{d.version}" for d in in_labelling if d.arbitration_started_at is not None)
        stage.numbers.append(f"{versions} closed: {done['labelled']:,} / {done['assigned']:,} labels in")
    if len(open_draws) > 1:
        stage.numbers.insert(0, "open: " + ", ".join(f"v{d.version}" for d in open_draws))

    if membership.is_rater and open_draws:
        mine = next((r for r in progress.raters if r.rater_id == user.pk), None) if progress else None
        if mine is not None and mine.labelled < mine.assigned:
            stage.actions.append(Action("Label the next post", reverse("labelling:queue", args=[slug])))
        elif mine is not None:
            stage.actions.append(Action("Review my labels", reverse("labelling:mine", args=[slug]), primary=False))
    if sight.sees_private_proposals:
        proposed = Category.objects.filter(PRIVATE, study=study).count()
        if proposed:
            stage.numbers.append(f"{proposed:,} proposed categor{'y' if proposed == 1 else 'ies'} to review")
            stage.actions.append(Action("Review proposals", reverse("tree:index", args=[slug])))
    stage.actions.append(Action("Progress", stage.url, primary=False))
    return stage
