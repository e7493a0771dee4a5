"""A study in its reliability round: an owner, two raters (ana, bo) who both rate
every reliability item, and a small tree (Deployment › Server › {Serving, Export},
Deployment › Mobile › Quantization)."""

from dataclasses import dataclass

import pytest

from sampling.draws.models import Assignment
from taxonomy.tree.services import category_add
from tests.factories import MembershipFactory, StudyFactory, UserFactory, labelling_draw


@dataclass
class Round:
    study: object
    owner: object
    ana: object
    bo: object
    draw: object
    cats: dict

    def assignment(self, user, index: int = 0) -> Assignment:
        return (Assignment.objects.filter(draw=self.draw, rater=user).select_related("draw", "item")
                .order_by("item_id")[index])


@pytest.fixture
def rnd(db):
    study = StudyFactory(slug="dl", name="Deployment study")
    owner = UserFactory(username="owner")
    MembershipFactory(study=study, user=owner, is_owner=True)
    ana, bo = UserFactory(username="ana"), UserFactory(username="bo")
    for user in (ana, bo):
        MembershipFactory(study=study, user=user, is_rater=True)
    root = category_add(study=study, name="Deployment", actor=owner)
    server = category_add(study=study, name="Server", actor=owner, parent=root)
    mobile = category_add(study=study, name="Mobile", actor=owner, parent=root)
    cats = {
        "root": root, "server": server, "mobile": mobile,
        "serving": category_add(study=study, name="Serving", actor=owner, parent=server),
        "export": category_add(study=study, name="Export", actor=owner, parent=server),
        "quant": category_add(study=study, name="Quantization", actor=owner, parent=mobile),
    }
    draw = labelling_draw(study=study, raters=[ana, bo], pilot=2, reliability=3, per_item=2)
    return Round(study=study, owner=owner, ana=ana, bo=bo, draw=draw, cats=cats)
