"""The published reference, coded through the real chain: a dump imported with
``import_stackexchange``, three question sets evaluated, a census draw with a pilot
split, both raters labelling every reliability item, the pilot decided jointly,
disagreements arbitrated and Pending items turned into a new category; then
``manage.py export_taxonomy`` must give exactly the published figures.

The reference (a study of deploying deep-learning software): of 769 sampled
questions, 58 were False positives and 130 Unclear; the remaining 583 (227
Server/Cloud, 231 Mobile, 125 Browser) are covered by the taxonomy, 2 questions
carrying two categories; Data Processing holds 19.8 % of Server/Cloud, 16.9 % of
Mobile and 18.4 % of Browser; Environment 19.4 % of Server/Cloud and 19.2 % of Browser.
"""

from __future__ import annotations

import csv
import io
import json
from xml.sax.saxutils import quoteattr

from django.core.management import call_command

from annotator.jobs.runner import job_run
from sampling.question_sets.models import QuestionSet
from sampling.question_sets.services import QuestionSetRule, question_set_evaluate, question_set_save
from annotator.studies.models import Membership, Study
from sampling.draws.design import DrawDesign, StratumChoice
from sampling.draws.models import Assignment, ItemPart, SampleItem, StratumMode
from sampling.draws.services import sample_draw_labelling_start, sample_draw_start
from taxonomy.review.arbitration.models import FinalLabel
from taxonomy.review.arbitration.selectors import arbitration_queue, pending_queue
from taxonomy.review.arbitration.services import arbitration_decide, arbitration_start, pending_resolve, pilot_decision_set
from taxonomy.labelling.services import label_submit
from taxonomy.tree.models import Category
from taxonomy.tree.services import category_add
from tests.factories import UserFactory

# stratum: (tag, word in the body, posts)
STRATA = {"Server/Cloud": ("tensorflow-serving", "server", 297), "Mobile": ("tensorflow-lite", "android", 300),
          "Browser": ("tensorflow.js", "browser", 172)}


def plan() -> dict[str, list[tuple]]:
    """What each stratum's posts are, in post order: (kind, [(root, leaf), …]).

    Server/Cloud stratum: 45 Data Processing, 44 Environment, 137 other, one post in Server/Cloud
    and Mobile, 20 False positive, 50 Unclear (297). Mobile: 39 / 40 / 150, one post in Mobile and
    Browser, 20 / 50 (300). Browser: 23 / 24 / 72 other and 5 that go Pending and become the new
    leaf "Browser > Model caching" (77 other in all), 18 / 30 (172)."""
    def same(n, kind, *cats):
        return [(kind, list(cats))] * n

    return {
        "Server/Cloud": (same(45, "categories", ("Server/Cloud", "Data Processing"))
                         + same(44, "categories", ("Server/Cloud", "Environment"))
                         + same(137, "categories", ("Server/Cloud", "Other"))
                         + same(1, "categories", ("Server/Cloud", "Other"), ("Mobile", "Other"))
                         + same(20, "false_positive") + same(50, "unclear")),
        "Mobile": (same(39, "categories", ("Mobile", "Data Processing"))
                   + same(40, "categories", ("Mobile", "Environment"))
                   + same(150, "categories", ("Mobile", "Other"))
                   + same(1, "categories", ("Mobile", "Other"), ("Browser", "Other"))
                   + same(20, "false_positive") + same(50, "unclear")),
        "Browser": (same(23, "categories", ("Browser", "Data Processing"))
                    + same(24, "categories", ("Browser", "Environment"))
                    + same(72, "categories", ("Browser", "Other"))
                    + same(5, "pending")
                    + same(18, "false_positive") + same(30, "unclear")),
    }


def dump(path) -> None:
    rows, so_id = [], 1000
    for name, (tag, word, n) in STRATA.items():
        for i in range(n):
            so_id += 1
            rows.append(f'  <row Id="{so_id}" PostTypeId="1" CreationDate="2019-0{1 + i % 9}-0{1 + i % 9}T10:00:00.000" '
                        f'Score="1" ViewCount="5" Body={quoteattr(f"<p>Deploying my model on the {word}, case {i}</p>")}'
                        f' Title={quoteattr(f"{name} question {i}")} Tags={quoteattr(f"<tensorflow><{tag}>")} '
                        'AnswerCount="0" CommentCount="0" ContentLicense="CC BY-SA 4.0" />')
    path.write_text('\ufeff<?xml version="1.0" encoding="utf-8"?>\n<posts>\n' + "\n".join(rows) + "\n</posts>\n",
                    encoding="utf-8")


def test_the_published_table_through_the_real_chain(db, tmp_path):
    dump(tmp_path / "deploy.stackexchange.com-Posts.xml")
    out = io.StringIO()
    call_command("import_stackexchange", "--study", "pub", str(tmp_path / "deploy.stackexchange.com-Posts.xml"),
                 "--json", stdout=out)
    assert json.loads(out.getvalue())["questions"] == 769
    study = Study.objects.get(slug="pub")
    owner, ana, bo = UserFactory(username="olga"), UserFactory(username="ana"), UserFactory(username="bo")
    Membership.objects.create(study=study, user=owner, is_owner=True, is_arbitrator=True)
    for rater in (ana, bo):
        Membership.objects.create(study=study, user=rater, is_rater=True)

    question_set_save(study=study, rule=QuestionSetRule(name="B", tags=["tensorflow"]), user=owner)
    for name, (tag, word, n) in STRATA.items():
        rule = QuestionSetRule(name=name, within=["B"], words=[word])
        question_set_evaluate(question_set=question_set_save(study=study, rule=rule, user=owner))
        assert QuestionSet.objects.get(study=study, name=name).members.count() == n
    strata = tuple(StratumChoice(question_set_id=QuestionSet.objects.get(study=study, name=name).pk,
                                 mode=StratumMode.CENSUS) for name in STRATA)
    draw = sample_draw_start(study=study, design=DrawDesign(strata=strata, seed=2020, pilot_share=0.1,
                                                            raters_per_item=2, rater_ids=(ana.pk, bo.pk)),
                             user=owner)
    job_run(job_id=draw.job_id)
    draw.refresh_from_db()
    assert draw.sample_size == 769, draw.error
    sample_draw_labelling_start(draw=draw, user=owner)

    leaves = {}
    for root_name in STRATA:
        root = category_add(study=study, name=root_name, actor=owner)
        for leaf in ("Data Processing", "Environment", "Other"):
            leaves[(root_name, leaf)] = category_add(study=study, name=leaf, parent=root, actor=owner).pk

    # Each stratum's posts in post order get the plan's answers, pilot and reliability alike.
    answer = {}
    for name, entries in plan().items():
        items = list(SampleItem.objects.filter(draw=draw, stratum__name=name).order_by("post__so_id"))
        assert len(items) == len(entries)
        answer.update({item.pk: entry for item, entry in zip(items, entries, strict=True)})

    disagreements = 0
    for item in SampleItem.objects.filter(draw=draw).select_related("draw").order_by("pk"):
        kind, categories = answer[item.pk]
        ids = [leaves[c] for c in categories]
        if item.part == ItemPart.PILOT:  # the team decides the pilot together (the Pending ones went to "Other")
            if kind == "pending":
                kind, ids = "categories", [leaves[("Browser", "Other")]]
                answer[item.pk] = (kind, [("Browser", "Other")])
            pilot_decision_set(item=item, actor=owner, kind=kind, category_ids=ids)
            continue
        for rater in (ana, bo):
            assignment = Assignment.objects.get(item=item, rater=rater)
            given_kind, given = kind, ids
            # every tenth covered item: bo first sees it as Unclear, the arbitrator settles it
            if rater == bo and kind == "categories" and item.pk % 10 == 0:
                given_kind, given = "unclear", []
                disagreements += 1
            label_submit(assignment=assignment, rater=rater, kind=given_kind, category_ids=given)

    start = arbitration_start(draw=draw, user=owner)
    assert start.to_arbitrate == disagreements > 0
    for item in list(arbitration_queue(study=study)):
        kind, categories = answer[item.pk]
        arbitration_decide(item=item, arbitrator=owner, kind=kind, category_ids=[leaves[c] for c in categories],
                           reason="the post names the step that fails")
    pending = list(pending_queue(study=study))
    assert pending and all(answer[i.pk][0] == "pending" for i in pending)
    browser = leaves[("Browser", "Other")]
    pending_resolve(items=pending, arbitrator=owner, reason="a category of its own",
                    new_name="Model caching", new_parent=Category.objects.get(pk=browser).parent,
                    new_definition="The browser keeps a stale copy of the model.")
    assert FinalLabel.objects.filter(item__draw=draw).count() == 769

    call_command("export_taxonomy", "--study", "pub", "--out", str(tmp_path / "taxonomy.csv"))
    rows = list(csv.DictReader(io.StringIO((tmp_path / "taxonomy.csv").read_text(encoding="utf-8"))))
    by_path = {row["path"]: row for row in rows}
    assert {root: by_path[root]["posts"] for root in STRATA} == {"Server/Cloud": "227", "Mobile": "231",
                                                                 "Browser": "125"}
    assert sum(int(by_path[root]["root_posts"]) for root in STRATA) == 583
    expected = {"Server/Cloud > Data Processing": "19.8", "Mobile > Data Processing": "16.9",
                "Browser > Data Processing": "18.4", "Server/Cloud > Environment": "19.4",
                "Browser > Environment": "19.2"}
    assert {path: by_path[path]["percent_of_root"] for path in expected} == expected
    assert by_path["Browser > Model caching"]["posts"] == str(len(pending))
    assert (by_path["False positive"]["posts"], by_path["Unclear"]["posts"], by_path["Pending"]["posts"]) == \
        ("58", "130", "0")
    assert {row["level"] for row in rows} == {"root", "leaf", "special"}

    api_view = io.StringIO()
    call_command("export_taxonomy", "--study", "pub", "--stratum", "Browser", stdout=api_view)
    browser_rows = {r["path"]: r for r in csv.DictReader(io.StringIO(api_view.getvalue()))}
    assert browser_rows["False positive"]["posts"] == "18" and browser_rows["Unclear"]["posts"] == "30"
