"""A small study coded through the services, shared by the results tests."""

import pytest

from sampling.draws.models import Assignment
from taxonomy.labelling.services import label_submit
from taxonomy.tree.services import category_add
from tests.factories import MembershipFactory, StudyFactory, UserFactory, labelling_draw


@pytest.fixture
def coded(db):
    """Server › {Export, Serving}, Mobile › Quantization; six reliability items, two raters each:
    four agreed (Export; Export; Export + Quantization; False positive), one Unclear, one undecided."""
    study = StudyFactory(slug="res", name="Results study")
    owner = UserFactory(username="olga")
    MembershipFactory(study=study, user=owner, is_owner=True)
    ana, bo = UserFactory(username="ana"), UserFactory(username="bo")
    viewer = UserFactory(username="vic")
    for user in (ana, bo):
        MembershipFactory(study=study, user=user, is_rater=True)
    MembershipFactory(study=study, user=viewer)
    server = category_add(study=study, name="Server", actor=owner, definition="Deploying to servers")
    export = category_add(study=study, name="Export, \"ONNX\"", parent=server, actor=owner,
                          definition="=HYPERLINK(\"x\")")
    serving = category_add(study=study, name="Serving", parent=server, actor=owner)
    mobile = category_add(study=study, name="Mobile", actor=owner)
    quant = category_add(study=study, name="Quantization", parent=mobile, actor=owner)
    draw = labelling_draw(study=study, raters=[ana, bo], pilot=0, reliability=6, per_item=2)
    answers = [("categories", [export.pk]), ("categories", [export.pk]), ("categories", [export.pk, quant.pk]),
               ("false_positive", []), ("unclear", []), None]
    for index, answer in enumerate(answers):
        if answer is None:
            continue
        for rater in (ana, bo):
            assignment = Assignment.objects.filter(draw=draw, rater=rater).order_by("item_id")[index]
            label_submit(assignment=assignment, rater=rater, kind=answer[0], category_ids=answer[1])
    return locals()
