"""A study with something in every section of the archive, made through the real
services (tests/taxonomy/results/test_archive*.py): posts, answers and comments
with awkward text, question sets with rules, a reference and a manual decision, a
drawn census in labelling with its population snapshot, codes grouped into
categories in the pilot, a tree with definitions, examples, a rename, a move, a
merge and a rater's private proposal, every reliability item labelled
(agreements, a disagreement, Pending, False positive), an agreement run,
arbitration started with a decision, pilot decisions, a category made from Pending, a re-label
request, an arbitrator restricted to a root, and a second draw not yet frozen."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.utils import timezone

from taxonomy.review.agreement.services import agreement_run_start
from annotator.corpus.models import PostType, SiteUser
from sampling.question_sets.services import QuestionSetRule, manual_decision_set, question_set_evaluate, question_set_save
from annotator.studies.models import Membership, Study
from annotator.studies.services import study_create
from sampling.draws.design import DrawDesign, StratumChoice
from sampling.draws.models import Assignment, SampleDraw
from sampling.draws.services import sample_draw_labelling_start, sample_draw_start
from taxonomy.review.arbitration.services import (
    arbitration_decide,
    arbitration_start,
    arbitrator_roots_set,
    pending_relabel,
    pilot_decision_set,
    pending_resolve,
)
from taxonomy.coding.services import code_use_add, codes_group_new_category
from taxonomy.labelling.services import label_category_propose, label_submit
from taxonomy.tree.services import category_add, category_describe, category_merge, category_move, category_rename
from tests.factories import CommentFactory, PostFactory, UserFactory, job_run_to_end

SLUG = "deploy-dl"

# Titles a CSV or a JSON writer must get right.
AWKWARD = ['Commas, "quotes" and\nnewlines', "=SUM(A1:A3) looks like a formula", "Ünïcödé — 日本語 ✓",
           "back\\slash and tab\there"]


@dataclass
class Rich:
    study: Study
    owner: object
    ana: object
    bo: object
    arb: object
    draw: SampleDraw


def _post(study, so_id: int, title: str, words: str, tags: str):
    return PostFactory(study=study, so_id=so_id, title=title, tags=tags,
                       body=f"<p>{words}</p><pre><code>model.save('x')</code></pre>", view_count=so_id * 3,
                       owner_display_name="Zoë", creation_date=timezone.now().replace(microsecond=123456))


def rich_study_build() -> Rich:
    owner, ana, bo = UserFactory(username="owner"), UserFactory(username="ana"), UserFactory(username="bo")
    arb, viewer = UserFactory(username="arb"), UserFactory(username="viewer")
    study = study_create(name="Deploying DL, “a study”", slug=SLUG, description="Line one\nline two", owner=owner)
    for user, flags in ((ana, {"is_rater": True}), (bo, {"is_rater": True}), (arb, {"is_arbitrator": True}),
                        (viewer, {})):
        Membership.objects.create(study=study, user=user, **flags)

    # Corpus: 12 server questions, 8 mobile ones, 4 others; answers and comments.
    posts = []
    for i in range(24):
        kind = "server cloud serving" if i < 12 else ("android mobile" if i < 20 else "training loss")
        title = AWKWARD[i % len(AWKWARD)] + f" #{i}" if i % 5 == 0 else f"Question {i} about {kind.split()[0]}"
        posts.append(_post(study, 100 + i, title, f"How do I deploy on {kind}?", "|tensorflow|deployment|"))
    PostFactory(study=study, so_id=900, post_type=PostType.ANSWER, parent_so_id=100, title="", tags="",
                body="<p>Use <b>TF Serving</b></p>", score=-2)
    CommentFactory(study=study, so_id=5000, post_so_id=100, text="Did you try “this”?\nIt works.", score=None)
    # Users.xml: display names, Community's id -1 among them.
    SiteUser.objects.bulk_create([
        SiteUser(study=study, site="stackoverflow.com", so_id=so_id, display_name=name, updated_at=timezone.now())
        for so_id, name in ((-1, "Community"), (7, "Ann & Bo <ML>"), (8, "Émile Zoë"))])

    # Question sets: B by tag; C, D within B by words; baseline = B − (C ∪ D); a manual decision.
    b = question_set_save(study=study, rule=QuestionSetRule(name="B", tags=["tensorflow"]), user=owner)
    c = question_set_save(study=study, rule=QuestionSetRule(name="C server", within=["B"], words=["server", "cloud"]),
                          user=owner)
    d = question_set_save(study=study, rule=QuestionSetRule(name="D mobile", within=["B"],
                                                            words=["android", "mobile"]), user=owner)
    base = question_set_save(study=study, rule=QuestionSetRule(name="Baseline", within=["B"],
                                                               minus=["C server", "D mobile"],
                                                               date_from=date(2001, 2, 3)), user=owner)
    manual_decision_set(question_set=c, post=posts[23], action="include", reason="about serving, in other words",
                        user=owner)
    for question_set in (b, c, d, base):
        question_set_evaluate(question_set=question_set)

    # A census of C and D, 30 % pilot, two raters per item; labelling starts.
    draw = sample_draw_start(study=study, user=owner, design=DrawDesign(
        strata=(StratumChoice(c.pk, mode="census"), StratumChoice(d.pk, mode="census")), seed=42,
        pilot_share=0.3, raters_per_item=2))
    job_run_to_end(draw.job_id)
    draw = sample_draw_labelling_start(draw=SampleDraw.objects.get(pk=draw.pk), user=owner)
    pilot = list(draw.items.filter(part="pilot").order_by("pk"))
    reliability = list(draw.items.filter(part="reliability").order_by("pk"))

    # The pilot: codes, grouped into categories (one by an owner, one proposed jointly by a rater).
    server = category_add(study=study, name="Server/Cloud", actor=owner, definition="Serving on servers.")
    mobile = category_add(study=study, name="Mobile", actor=owner)
    uses = [code_use_add(item=pilot[0], author=ana, text="model export fails"),
            code_use_add(item=pilot[1], author=bo, text="Model export fails"),
            code_use_add(item=pilot[1], author=ana, text="apk too large")]
    export = codes_group_new_category(codes=[uses[0].code], name="Model Export", parent=server, actor=owner)
    quant = category_add(study=study, name="Model quantization", actor=owner, parent=export)
    latency = category_add(study=study, name="Latency", actor=owner, parent=server)
    slow = category_add(study=study, name="Slow inference", actor=owner, parent=server)
    conv = category_add(study=study, name="Conversion", actor=owner, parent=mobile)
    tmp = category_add(study=study, name="Misplaced", actor=owner, parent=mobile)
    codes_group_new_category(codes=[uses[2].code], name="App size", parent=mobile, actor=ana)  # joint proposal
    category_describe(category=quant, actor=owner, definition="int8, float16, …", inclusion="post-training",
                      exclusion="pruning → Model size", examples=[posts[0], posts[3]])
    category_rename(category=conv, name="Model conversion", actor=owner)
    category_move(category=tmp, actor=owner, parent=server)
    label_category_propose(study=study, rater=bo, name="Private idea", parent_id=mobile.pk)

    # Every reliability item labelled by its two raters.
    plan = {0: ("categories", [quant.pk], [quant.pk]), 1: ("categories", [latency.pk], [slow.pk]),
            2: ("pending", [], [conv.pk]), 3: ("false_positive", [], []), 4: ("pending", [], []),
            5: ("categories", [quant.pk], [conv.pk])}
    for index, item in enumerate(reliability):
        kind, first, second = plan.get(index, ("categories", [conv.pk], [conv.pk]))
        for turn, assignment in enumerate(Assignment.objects.filter(item=item).order_by("rater__username")):
            categories = first if turn == 0 else second
            this_kind = "categories" if categories else kind
            if kind == "pending" and turn == 0:
                this_kind, categories = "pending", []
            label_submit(assignment=assignment, rater=assignment.rater, kind=this_kind, category_ids=categories,
                         note="see the “stack trace”" if index == 1 else "")
    run = agreement_run_start(study=study, scope="draw", draw=draw, resamples=20, seed=3, user=owner)
    job_run_to_end(run.job_id)
    category_merge(source=slow, target=latency, actor=owner)  # labels follow: the history says how many

    # Arbitration: a decision, a category from Pending, a re-label request, a restricted arbitrator.
    arbitration_start(draw=draw, user=arb)
    arbitration_decide(item=reliability[5], arbitrator=arb, kind="categories", category_ids=[conv.pk],
                       reason="the conversion step fails")
    pending_resolve(items=[reliability[2]], arbitrator=arb, reason="a new kind of problem", new_name="GPU drivers",
                    new_parent=server, new_definition="Drivers of the serving GPU.")
    arbitrator_roots_set(study=study, user=arb, roots=[server])
    pilot_decision_set(item=pilot[0], actor=owner, kind="categories", category_ids=[quant.pk], reason="as coded")
    pilot_decision_set(item=pilot[2], actor=arb, kind="unclear")
    pending_relabel(items=[reliability[4]], arbitrator=arb, message="look again", category=quant)

    # A second draw, drawn but not frozen.
    second = sample_draw_start(study=study, user=owner, design=DrawDesign(
        strata=(StratumChoice(base.pk, mode="census"),), seed=7, pilot_share=0.5, raters_per_item=1))
    job_run_to_end(second.job_id)
    return Rich(study=study, owner=owner, ana=ana, bo=bo, arb=arb, draw=draw)


def study_wipe(study: Study) -> None:
    """Delete a study and everything in it (the app has no such service: categories are
    never deleted, and PROTECT keeps them), section by section from the last."""
    from annotator.jobs.models import Job
    from taxonomy.results.archive import SECTIONS
    from taxonomy.tree.models import Category

    Category.objects.filter(study=study).update(parent=None, merged_into=None)
    for section in reversed(SECTIONS):
        section.queryset(study.pk).delete()
    Job.objects.filter(study=study).delete()
    study.delete()
