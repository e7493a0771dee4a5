"""The pilot stage of the study home: the joint open coding of the pilot items and the taxonomy
the team builds from its codes (the pilot is collaborative: every member sees every code)."""

from __future__ import annotations

from django.db.models import Count, Q
from django.urls import reverse

from annotator.studies.stages import Action, Stage, StageContext, State, count_text
from sampling.draws.models import DrawStatus, ItemPart
from sampling.draws.stage import current_draw, study_draws
from taxonomy.tree.models import PUBLIC, Category

from .models import Code, CodeUse
from .selectors import WRITER_ROLES


def pilot_stage(context: StageContext) -> Stage:
    study, slug = context.study, context.study.slug
    stage = Stage(key="pilot", title="Pilot and taxonomy", url=reverse("coding:pilot", args=[slug]))
    draw = current_draw(context)
    codes = Code.objects.filter(study=study).aggregate(total=Count("id"), grouped=Count("id", filter=Q(
        category__isnull=False)))
    categories = Category.objects.filter(PUBLIC, study=study).count()
    if draw is None:
        stage.state = State.BLOCKED
        stage.blocker = "No drawn sample yet: the pilot codes its pilot part." if not study_draws(context) else \
            "No successful draw yet: the pilot codes its pilot part."
    else:
        coded = (CodeUse.objects.filter(item__draw=draw, item__part=ItemPart.PILOT)
                 .values("item_id").distinct().count())
        stage.numbers = [f"{coded:,} / {draw.pilot_size:,} pilot posts coded (v{draw.version})"]
        if not coded and not codes["total"]:
            stage.state = State.NOT_STARTED
        elif coded >= draw.pilot_size and draw.status == DrawStatus.LABELLING:
            stage.state = State.DONE
        else:
            stage.state = State.IN_PROGRESS
        if any(context.access.can(role) for role in WRITER_ROLES) and coded < draw.pilot_size:
            stage.actions.append(Action("Code the pilot", stage.url))
    if codes["total"]:
        stage.numbers.append(f"{count_text(codes['total'], 'code')}, {codes['grouped']:,} grouped")
        stage.actions.append(Action("Group the codes", reverse("coding:codes", args=[slug]),
                                    primary=not stage.actions and codes["grouped"] < codes["total"]))
    stage.numbers.append(count_text(categories, "category", "categories"))
    stage.actions.append(Action("Taxonomy", reverse("tree:index", args=[slug]), primary=False))
    return stage
