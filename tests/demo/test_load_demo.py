"""`make run` loads the demo study: corpus, question sets, a draw in labelling and a starter taxonomy."""

import pytest
from django.core.management import call_command

from sampling.question_sets.models import QuestionSet
from sampling.draws.models import DrawStatus, SampleDraw
from taxonomy.tree.models import Category
from taxonomy.tree.selectors import category_leaves


@pytest.mark.django_db
def test_load_demo_sets_up_the_method_and_is_idempotent(queued):
    call_command("load_demo")
    draw = SampleDraw.objects.get(study__slug="dl-deployment-demo")
    assert draw.status == DrawStatus.LABELLING
    assert draw.pilot_size > 0 and draw.sample_size > draw.pilot_size
    # every reliability item goes to both demo raters
    assert draw.assignments.count() == 2 * (draw.sample_size - draw.pilot_size)
    assert sorted(QuestionSet.objects.filter(study=draw.study).values_list("name", flat=True)) == ["B", "C", "D", "E"]
    assert QuestionSet.objects.get(study=draw.study, name="C").member_count > 0
    leaves = {c.name for c in category_leaves(study=draw.study)}
    assert {"Model quantization", "Unknown layer", "WebGL memory"} <= leaves
    counts = (SampleDraw.objects.count(), Category.objects.count(), QuestionSet.objects.count())

    call_command("load_demo")
    assert (SampleDraw.objects.count(), Category.objects.count(), QuestionSet.objects.count()) == counts
