"""A study in its pilot: an owner, two raters, an arbitrator, a viewer, a stranger,
and a labelling draw with three pilot and four reliability items."""

from types import SimpleNamespace

import pytest

from sampling.draws.models import ItemPart
from tests.factories import MembershipFactory, StudyFactory, UserFactory, labelling_draw


@pytest.fixture
def pilot(db):
    study = StudyFactory(name="Deployment study", slug="deploy")
    w = SimpleNamespace(study=study)
    w.owner = MembershipFactory(study=study, is_owner=True, user=UserFactory(username="olga")).user
    w.ana = MembershipFactory(study=study, is_rater=True, user=UserFactory(username="ana")).user
    w.bo = MembershipFactory(study=study, is_rater=True, user=UserFactory(username="bo")).user
    w.arbitrator = MembershipFactory(study=study, is_arbitrator=True, user=UserFactory(username="arbi")).user
    w.viewer = MembershipFactory(study=study, user=UserFactory(username="vic")).user
    w.stranger = MembershipFactory(user=UserFactory(username="stranger"), is_owner=True).user  # owns another study
    w.draw = labelling_draw(study=study, raters=[w.ana, w.bo], pilot=3, reliability=4)
    items = list(w.draw.items.order_by("post__so_id"))
    w.items = [i for i in items if i.part == ItemPart.PILOT]
    w.reliability = [i for i in items if i.part == ItemPart.RELIABILITY]
    return w
