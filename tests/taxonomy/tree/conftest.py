"""A study with every role, a draw in labelling, and a helper that labels assignments directly."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.utils import timezone

from sampling.draws.models import Assignment
from taxonomy.coding.models import Code
from taxonomy.labelling.models import Label, LabelCategory
from taxonomy.tree.services import category_add
from tests.factories import MembershipFactory, StudyFactory, UserFactory, labelling_draw


@dataclass
class Team:
    study: object
    owner: object
    arbitrator: object
    raters: list
    viewer: object
    stranger: object
    draw: object


@pytest.fixture
def team(db) -> Team:
    study = StudyFactory(slug="dl", name="Deployment")
    owner, arbitrator, viewer = UserFactory(username="owner"), UserFactory(username="arb"), UserFactory(
        username="viewer")
    raters = [UserFactory(username="ana"), UserFactory(username="bo")]
    MembershipFactory(study=study, user=owner, is_owner=True)
    MembershipFactory(study=study, user=arbitrator, is_arbitrator=True)
    MembershipFactory(study=study, user=viewer)
    for rater in raters:
        MembershipFactory(study=study, user=rater, is_rater=True)
    draw = labelling_draw(study=study, raters=raters, pilot=2, reliability=6, per_item=2)
    return Team(study=study, owner=owner, arbitrator=arbitrator, raters=raters, viewer=viewer,
                stranger=UserFactory(username="stranger"), draw=draw)


def label(assignment: Assignment, *categories) -> Label:
    """The rater's label on this assignment, naming ``categories`` (made directly, as labelling would)."""
    now = timezone.now()
    made = Label.objects.create(assignment=assignment, kind="categories", submitted_at=now, updated_at=now)
    LabelCategory.objects.bulk_create(LabelCategory(label=made, category=c) for c in categories)
    return made


def assignments(team: Team, rater=None) -> list[Assignment]:
    qs = Assignment.objects.filter(draw=team.draw).order_by("item_id", "rater_id")
    return list(qs.filter(rater=rater) if rater is not None else qs)


def code(team: Team, text: str, category) -> Code:
    return Code.objects.create(study=team.study, text=text, category=category, created_by=team.owner)


@pytest.fixture
def tree(team):
    """Server/Cloud › Model Export › {Model quantization, Model conversion}; Mobile; Browser."""
    def add(name, parent=None):
        return category_add(study=team.study, name=name, parent=parent, actor=team.owner)

    server = add("Server/Cloud")
    export = add("Model Export", server)
    return {
        "server": server, "export": export,
        "quant": add("Model quantization", export), "conv": add("Model conversion", export),
        "mobile": add("Mobile"), "browser": add("Browser"),
    }


# The browser test of this folder reuses the browser fixtures (Chromium, page with problem collection).
