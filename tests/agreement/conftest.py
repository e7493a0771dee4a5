"""Agreement test data: a study with members of every role, a small taxonomy
and a draw in labelling; labels are written directly (no labelling service)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.utils import timezone

from sampling.draws.models import Assignment, SampleDraw, SampleItem
from taxonomy.labelling.models import Label, LabelCategory
from taxonomy.tree.services import category_add
from tests.factories import MembershipFactory, StudyFactory, UserFactory, assignment_mark_submitted, labelling_draw

# Cohen's κ by hand: agreement on 5 of 6 items; marginals alice E3 Q2 FP1, bob E2 Q3 FP1,
# so p_e = (3·2 + 2·3 + 1·1)/36 = 13/36 and κ = (5/6 − 13/36)/(1 − 13/36) = 17/23.
ALICE = ["Export", "Export", "Quantization", "Quantization", "false_positive", "Export"]
BOB = ["Export", "Quantization", "Quantization", "Quantization", "false_positive", "Export"]


@dataclass
class World:
    study: object
    owner: object
    alice: object
    bob: object
    arbitrator: object
    viewer: object
    categories: dict
    draw: SampleDraw

    def items(self, draw=None) -> list[SampleItem]:
        return list(SampleItem.objects.filter(draw=draw or self.draw, part="reliability").order_by("pk"))

    def assignment(self, item, rater) -> Assignment:
        return Assignment.objects.get(item=item, rater=rater)


def give_label(assignment: Assignment, kind: str = "categories", categories=()) -> Label:
    """A submitted label, as the labelling service would leave it."""
    now = timezone.now()
    label = Label.objects.create(assignment=assignment, kind=kind, submitted_at=now, updated_at=now)
    LabelCategory.objects.bulk_create(LabelCategory(label=label, category=c) for c in categories)
    assignment_mark_submitted(assignment, now)
    return label


def label_items(world: World, answers: dict, draw=None) -> None:
    """``answers``: rater → list of answers, one per reliability item in order; an answer is a
    category name, a tuple of names (multi-label), a special kind, or None (not labelled)."""
    items = world.items(draw)
    for rater, row in answers.items():
        for item, answer in zip(items, row):
            if answer is None:
                continue
            if answer in ("false_positive", "unclear", "pending"):
                give_label(world.assignment(item, rater), kind=answer)
            else:
                names = answer if isinstance(answer, tuple) else (answer,)
                give_label(world.assignment(item, rater), categories=[world.categories[n] for n in names])


@pytest.fixture
def world() -> World:
    study = StudyFactory(slug="dl")
    owner = UserFactory(username="owner")
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    arbitrator, viewer = UserFactory(username="arbitrator"), UserFactory(username="viewer")
    MembershipFactory(study=study, user=owner, is_owner=True)
    MembershipFactory(study=study, user=alice, is_rater=True)
    MembershipFactory(study=study, user=bob, is_rater=True)
    MembershipFactory(study=study, user=arbitrator, is_arbitrator=True)
    MembershipFactory(study=study, user=viewer)
    server = category_add(study=study, name="Server", actor=owner)
    categories = {
        "Export": category_add(study=study, name="Export", parent=server, actor=owner),
        "Quantization": category_add(study=study, name="Quantization", parent=server, actor=owner),
        "Serving": category_add(study=study, name="Serving", parent=server, actor=owner),
    }
    # six reliability items, each given to alice and bob
    draw = labelling_draw(study=study, raters=[alice, bob], pilot=2, reliability=6, per_item=2)
    return World(study=study, owner=owner, alice=alice, bob=bob, arbitrator=arbitrator, viewer=viewer,
                 categories=categories, draw=draw)
