"""The methods report: its numbers for a constructed study in the page, the JSON and the
Markdown; the LaTeX tables well-formed and escaped; the same data, the same bytes; blind
coding (no agreement figure of a running round for one who rates in it); empty studies."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from django.urls import reverse
from django.utils import timezone

from sampling.draws.models import Assignment, SampleItem, SampleStratum
from sampling.draws.sample_size import sample_size
from sampling.draws.sight import sight_whole
from sampling.question_sets.models import QuestionSet
from sampling.question_sets.services import question_set_evaluate
from taxonomy.results.report import (
    latex_escape,
    methods_report,
    methods_report_markdown,
)
from taxonomy.review.agreement.services import (
    agreement_run_compute,
    agreement_run_start,
)
from taxonomy.review.arbitration.models import FinalLabel, FinalLabelCategory
from taxonomy.review.arbitration.services import (
    arbitration_decide,
    arbitration_start,
    pending_resolve,
)
from taxonomy.tree.services import category_add
from tests.agreement.conftest import give_label
from tests.factories import (
    AnswerFactory,
    CommentFactory,
    MembershipFactory,
    StudyFactory,
    UserFactory,
    labelling_draw,
    questions_bulk,
)

STRATUM = "Server & Cloud_#1 50%"  # every LaTeX special a name is likely to carry
STRATUM_TEX = r"Server \& Cloud\_\#1 50\%"
ROOT = "Mobile {iOS} ~ ^ $ \\ `x`"
ROOT_TEX = (r"Mobile \{iOS\} \textasciitilde{} \textasciicircum{} \$ \textbackslash{} "
            r"\textasciigrave{}x\textasciigrave{}")
OVERRIDE_REASON = "hand-picked: 5 of 40"


def pilot_decision(item, *, by, kind="categories", categories=()):
    final = FinalLabel.objects.create(item=item, kind=kind, method="pilot", decided_by=by, decided_at=timezone.now())
    FinalLabelCategory.objects.bulk_create(FinalLabelCategory(final=final, category=c) for c in categories)


@dataclass
class World:
    study: object
    owner: object
    alice: object
    bob: object
    arbitrator: object
    viewer: object
    draw: object
    run: object
    question_set: object


@pytest.fixture
def world() -> World:
    study = StudyFactory(slug="dl", name="Deep learning")
    owner, alice, bob = UserFactory(username="owner"), UserFactory(username="alice"), UserFactory(username="bob")
    arbitrator, viewer = UserFactory(username="arb"), UserFactory(username="viewer")
    MembershipFactory(study=study, user=owner, is_owner=True)
    MembershipFactory(study=study, user=alice, is_rater=True)
    MembershipFactory(study=study, user=bob, is_rater=True)
    MembershipFactory(study=study, user=arbitrator, is_arbitrator=True)
    MembershipFactory(study=study, user=viewer)

    # Corpus: 20 keras questions (3 with an owner, 2 distinct), 9 tensorflow questions drawn below,
    # 2 answers, 3 comments.
    keras = questions_bulk(study=study, count=20, first_so_id=1, tags="|keras|")
    for post, owner_id in zip(keras[:3], (7, 7, 8), strict=True):
        post.owner_user_id = owner_id
        post.save(update_fields=["owner_user_id"])
    for question in keras[:2]:
        AnswerFactory(question=question, study=study)
    for _ in range(3):
        CommentFactory(study=study)

    # A three-item pilot and six reliability items, each rated by alice and bob.
    draw = labelling_draw(study=study, raters=[alice, bob], pilot=3, reliability=6, per_item=2)
    question_set = QuestionSet.objects.create(study=study, name="TF questions", tags=["tensorflow"])
    question_set_evaluate(question_set=question_set)
    size = sample_size(population=1325)
    SampleStratum.objects.filter(draw=draw).update(
        name=STRATUM, mode="calculated", question_set=question_set, set_size=1400, overlap_removed=75,
        population=1325, n_exact=size.exact, n=size.n, population_digest="ab" * 32)
    SampleStratum.objects.create(draw=draw, position=1, name="Browser", mode="override", override_n=5,
                                 override_reason=OVERRIDE_REASON, set_size=40, population=40, n=5,
                                 population_digest="cd" * 32)
    draw.seed = 4242
    draw.save(update_fields=["seed"])

    server = category_add(study=study, name="Server", actor=owner)
    mobile = category_add(study=study, name=ROOT, actor=owner)
    export = category_add(study=study, name="Export", parent=server, actor=owner)
    quantization = category_add(study=study, name="Quantization", parent=server, actor=owner)
    app_size = category_add(study=study, name="App size", parent=mobile, actor=owner)

    pilot = list(SampleItem.objects.filter(draw=draw, part="pilot").order_by("pk"))
    pilot_decision(pilot[0], by=owner, categories=[export])
    pilot_decision(pilot[1], by=owner, categories=[app_size])
    pilot_decision(pilot[2], by=owner, kind="unclear")

    items = list(SampleItem.objects.filter(draw=draw, part="reliability").order_by("pk"))
    answers = {  # alice's, bob's
        0: ({"categories": [export]}, {"categories": [export]}),  # agreed
        1: ({"kind": "false_positive"}, {"kind": "false_positive"}),  # agreed
        2: ({"categories": [export]}, {"categories": [quantization]}),  # arbitrated: both
        3: ({"kind": "pending"}, {"categories": [app_size]}),  # from Pending: a new leaf
        4: ({"kind": "unclear"}, {"kind": "unclear"}),  # agreed
        5: ({"kind": "pending"}, {"kind": "pending"}),  # left in the Pending queue
    }
    for index, (of_alice, of_bob) in answers.items():
        give_label(Assignment.objects.get(item=items[index], rater=alice), **of_alice)
        give_label(Assignment.objects.get(item=items[index], rater=bob), **of_bob)
    run = agreement_run_start(study=study, scope="draw", draw=draw, resamples=50, seed=3)
    run = agreement_run_compute(run=run)
    arbitration_start(draw=draw, user=arbitrator)
    arbitration_decide(item=items[2], arbitrator=arbitrator, kind="categories",
                       category_ids=[export.pk, quantization.pk], reason="both")
    pending_resolve(items=[items[3]], arbitrator=arbitrator, reason="a new kind of problem", new_name="Model size",
                    new_definition="The model is too large for the device.",
                    new_parent=mobile)
    return World(study=study, owner=owner, alice=alice, bob=bob, arbitrator=arbitrator, viewer=viewer, draw=draw,
                 run=run, question_set=question_set)


def latex_blocks(markdown: str) -> list[str]:
    return re.findall(r"```latex\n(.*?)\n```", markdown, flags=re.DOTALL)


def unescaped(text: str, char: str) -> int:
    """Occurrences of ``char`` not preceded by a backslash (``\\\\`` is not in a cell: rows end with it)."""
    return len(re.findall(r"(?<!\\)" + re.escape(char), text))


def column_count(spec: str) -> int:
    return len(re.findall(r"[lcr]|p\{[^}]*\}", spec))


def assert_well_formed(block: str) -> None:
    lines = block.split("\n")
    spec = re.fullmatch(r"\\begin\{tabular\}\{([^}]*)\}", lines[0])
    assert spec, lines[0]
    assert lines[-1] == r"\end{tabular}"
    assert lines[1] == r"\toprule" and lines[-2] == r"\bottomrule"
    assert lines.count(r"\midrule") == 1
    columns = column_count(spec.group(1))
    for row in lines[2:-2]:
        if row == r"\midrule":
            continue
        assert row.endswith(r" \\"), row
        cells = row[:-3]
        assert unescaped(cells, "&") == columns - 1, row
        for char in "%#_~^":
            assert unescaped(cells.replace(r"\textasciitilde{}", "").replace(r"\textasciicircum{}", ""), char) == 0, row
        # Braces balance (escaped ones aside) and never close before they open.
        depth = 0
        for char in re.sub(r"\\[{}]", "", cells):
            depth += {"{": 1, "}": -1}.get(char, 0)
            assert depth >= 0, row
        assert depth == 0, row
        # Dollars (math) come in pairs once the escaped ones are left out.
        assert unescaped(cells, "$") % 2 == 0, row


# -- the numbers ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_report_holds_every_number_of_the_constructed_study(world):
    report = methods_report(study=world.study, user=world.owner)
    assert (report.corpus.questions, report.corpus.answers, report.corpus.comments, report.corpus.askers) == (
        29, 2, 3, 2)
    (funnel,) = report.question_sets
    assert [(s.step, s.before, s.after) for s in funnel.steps] == [("start", 29, 29), ("tags", 29, 9)]
    assert funnel.members == 9 and funnel.url == f"/studies/dl/sets/{world.question_set.pk}/"

    (draw,) = report.draws
    assert (draw.version, draw.seed, draw.algorithm, draw.confidence, draw.margin, draw.proportion, draw.rounding) == (
        1, 4242, world.draw.algorithm, 0.95, 0.05, 0.5, "ceil")
    assert (draw.sample_size, draw.pilot_size, draw.pilot_share, draw.raters, draw.raters_per_item) == (
        9, 3, 0.3, 2, 2)
    calculated, override = draw.strata
    assert (calculated.population, round(calculated.n_exact, 2), calculated.n, calculated.census) == (
        1325, 297.98, 298, False)
    assert calculated.set_url == f"/studies/dl/sets/{world.question_set.pk}/"
    assert (override.mode, override.n, override.override_reason) == ("override", 5, OVERRIDE_REASON)
    assert draw.url == "/studies/dl/draws/1/"

    figures = {a.subject: a for a in report.agreement}
    assert set(figures) == {"draw v1"}
    figure = figures["draw v1"]
    assert figure.shown and figure.run_id == world.run.pk and figure.run_url == f"/studies/dl/agreement/{world.run.pk}/"
    assert (figure.raters, figure.items, figure.resamples, figure.seed) == (2, 6, 50, 3)
    assert figure.taxonomy_version == world.run.taxonomy_version
    # The tree changed since the run (arbitration added a leaf from Pending): the report says so.
    assert figure.taxonomy_changed_to is not None and figure.taxonomy_changed_to > figure.taxonomy_version
    headline = [c for c in figure.coefficients if c.headline]
    assert [c.name for c in headline] == ["cohen_kappa"]
    kappa = world.run.result["estimates"]["cohen_kappa"]
    assert headline[0].value == pytest.approx(kappa["value"]) and headline[0].low == kappa["interval"]["low"]

    o = report.outcome
    assert (o.items, o.pilot_items, o.reliability_items, o.decided, o.undecided, o.pending) == (9, 3, 6, 8, 1, 1)
    assert (o.false_positive, o.unclear, o.covered, o.multi_category) == (1, 2, 5, 1)
    assert {m.method: m.items for m in o.methods} == {"agreed": 3, "arbitrated": 1, "from_pending": 1, "pilot": 3}
    assert [(s.stratum, s.items, s.unclear) for s in o.strata] == [(STRATUM, 9, 2), ("Browser", 0, 0)]

    t = report.taxonomy
    assert (t.roots, t.inner, t.leaves) == (2, 0, 4)
    assert [(r.name, r.posts) for r in t.root_counts] == [("Server", 3), (ROOT, 2)]
    assert [p.path for p in t.from_pending] == [f"{ROOT} > Model size"]
    assert report.hidden == ()
    assert report.missing == (("1 item is not decided yet (1 of them in the Pending queue): the outcome counts "
                              "leave them out until they get a final label."),)


@pytest.mark.django_db
def test_the_page_the_json_and_the_markdown_show_the_same_numbers(client, world):
    client.force_login(world.viewer)
    page = client.get(reverse("results:report", args=["dl"]))
    assert page.status_code == 200
    html = page.content.decode()
    for fragment in ('<dd id="corpus-questions">29</dd>', '<dd id="corpus-askers">2', '<dd id="outcome-false-positive">1</dd>',
                     '<dd id="outcome-unclear">2</dd>', '<dd id="outcome-pending">1</dd>', '<dd id="taxonomy-leaves">4</dd>',
                     '<dd id="taxonomy-from-pending">1 ', '<td class="num population">1325</td>',
                     '<td class="num n-exact">297.98</td>', '<td class="num n">298</td>', "4242", OVERRIDE_REASON,
                     "ab" * 32, f'href="/studies/dl/agreement/{world.run.pk}/"', 'href="/studies/dl/draws/1/"',
                     f'href="/studies/dl/sets/{world.question_set.pk}/"', 'href="/studies/dl/taxonomy/history/"',
                     'href="/studies/dl/arbitration/"', "1 item is not decided yet"):
        assert fragment in html, fragment
    kappa = world.run.result["estimates"]["cohen_kappa"]["value"]
    assert f"{kappa:.3f}" in html
    assert '<tr data-method="arbitrated"><th scope="row">Arbitrated</th><td class="num">1</td>' in html
    assert '<tr data-method="pilot"><th scope="row">Pilot (joint decision)</th><td class="num">3</td>' in html

    data = client.get("/api/studies/dl/results/report/").json()
    assert data["corpus"] == {"questions": 29, "answers": 2, "comments": 3, "askers": 2,
                              "questions_without_owner": 26, "url": "/studies/dl/posts/"}
    assert data["draws"][0]["strata"][0]["population"] == 1325 and data["draws"][0]["strata"][0]["n"] == 298
    assert data["draws"][0]["seed"] == 4242
    assert data["agreement"][0]["run_url"] == f"/studies/dl/agreement/{world.run.pk}/"
    assert data["outcome"]["false_positive"] == 1 and data["outcome"]["undecided"] == 1
    assert {m["method"]: m["items"] for m in data["outcome"]["methods"]}["from_pending"] == 1
    assert data["taxonomy"]["leaves"] == 4 and len(data["taxonomy"]["from_pending"]) == 1

    download = client.get(reverse("results:report_md", args=["dl"]))
    assert download["Content-Type"] == "text/markdown; charset=utf-8"
    assert 'filename="dl-methods.md"' in download["Content-Disposition"]
    markdown = download.content.decode()
    for line in ("- Questions: 29", "- Distinct askers: 2 (26 questions without an owner)", "- False positive: 1",
                 "- Unclear: 2", "- Decided: 8; not decided yet: 1 (of them in the Pending queue: 1)",
                 "- Arbitrated: 1", "- Agreed: 3", "- From Pending: 1", "- Pilot (joint decision): 3",
                 "- Roots: 2, inner categories: 0, leaves: 4", "- Categories added from Pending: 1",
                 "- Seed 4242, drawing algorithm version", "pilot 3 (pilot share 30 %)",
                 f"[agreement run #{world.run.pk}](http://testserver/studies/dl/agreement/{world.run.pk}/)",
                 "[draw v1](http://testserver/studies/dl/draws/1/)",
                 r"Server \& Cloud\_\#1 50\% & 1400 & 75 & 1325 & 297.98 & 298 & no & no & 9 & 3 & 6 \\",
                 r"Browser & 40 & 0 & 40 & n/a & 5 & no & yes & 0 & 0 & 0 \\",
                 rf"{STRATUM_TEX} & 9 & 1 & 2 & 5 & 1 & 1 & 1 \\", rf"{ROOT_TEX} & 2 \\",
                 rf"\textbf{{Cohen's $\kappa$}} & 6 & {kappa:.3f}", r"Arbitrated & 1 \\"):
        assert line in markdown, line
    api_markdown = client.get("/api/studies/dl/results/report.md")
    assert api_markdown["Content-Type"] == "text/markdown; charset=utf-8"
    assert api_markdown.content == download.content


@pytest.mark.django_db
def test_the_latex_tables_are_well_formed_and_escaped(world):
    markdown = methods_report_markdown(methods_report(study=world.study, user=world.owner))
    blocks = latex_blocks(markdown)
    # corpus, funnel, design, agreement, outcome per stratum, how decided, taxonomy size, roots
    assert len(blocks) == 8
    for block in blocks:
        assert_well_formed(block)
    tables = "\n".join(blocks)
    assert STRATUM_TEX in tables and ROOT_TEX in tables
    assert STRATUM not in tables and ROOT not in tables
    assert latex_escape("a\nb  c") == "a b c"  # a cell stays on its row


@pytest.mark.django_db
def test_two_renders_are_byte_identical(client, world):
    first = methods_report_markdown(methods_report(study=world.study, user=world.owner), base_url="https://x.org/")
    second = methods_report_markdown(methods_report(study=world.study, user=world.owner), base_url="https://x.org/")
    assert first == second
    client.force_login(world.owner)
    url = reverse("results:report_md", args=["dl"])
    assert client.get(url).content == client.get(url).content
    # The only times are on the line that says they are volatile.
    stamped = [line for line in first.splitlines() if re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d", line)]
    assert len(stamped) == 1 and stamped[0].startswith("Volatile (times")
    assert "https://x.org/studies/dl/draws/1/" in first


# -- blindness ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_rater_in_a_running_round_sees_no_agreement_figure_of_it(client, world):
    carol = UserFactory(username="carol")
    MembershipFactory(study=world.study, user=carol, is_rater=True)
    running = labelling_draw(study=world.study, raters=[world.alice, carol], pilot=0, reliability=3, per_item=2,
                             first_so_id=950_000)
    for item in SampleItem.objects.filter(draw=running):
        for rater in (world.alice, carol):
            give_label(Assignment.objects.get(item=item, rater=rater), kind="false_positive")
    sealed_run = agreement_run_compute(run=agreement_run_start(study=world.study, scope="draw", draw=running,
                                                               resamples=10, seed=1))
    sealed_url = f"/studies/dl/agreement/{sealed_run.pk}/"

    owner_view = methods_report(study=world.study, user=world.owner)
    assert {a.subject: a.run_id for a in owner_view.agreement} == {"draw v1": world.run.pk, "draw v2": sealed_run.pk}

    for rater in (world.alice, carol):
        report = methods_report(study=world.study, user=rater)
        figures = {a.subject: a for a in report.agreement}
        assert not figures["draw v2"].shown and figures["draw v2"].coefficients == ()
        assert figures["draw v2"].run_id is None and "sealed from you" in figures["draw v2"].message
        assert report.hidden and "Draw v2" in report.hidden[0]
        markdown = methods_report_markdown(report)
        assert sealed_url not in markdown and f"#{sealed_run.pk}" not in markdown
        client.force_login(rater)
        html = client.get(reverse("results:report", args=["dl"])).content.decode()
        assert sealed_url not in html and "Hidden by blind coding" in html
        data = client.get("/api/studies/dl/results/report/").json()
        assert [a["run_id"] for a in data["agreement"] if a["subject"] == "draw v2"] == [None]
        assert sealed_url not in str(data)
    # carol rates only in the running round; draw v1's figure is a closed round's: every member's
    assert {a.subject: a.shown for a in methods_report(study=world.study, user=carol).agreement} == {
        "draw v1": True, "draw v2": False}


@pytest.mark.django_db
def test_the_study_own_tools_see_what_an_owner_who_rates_nowhere_sees(world):
    """``sight_whole`` (the replication package from the shell) gives the owner's report; no user, no member: nothing."""
    whole = methods_report(study=world.study, sight=sight_whole(study=world.study))
    assert whole == methods_report(study=world.study, user=world.owner)
    nobody = methods_report(study=world.study, user=None)
    assert nobody.outcome.decided == 0 and not any(a.shown for a in nobody.agreement)


@pytest.mark.django_db
def test_non_members_get_404(client, world):
    client.force_login(UserFactory())
    assert client.get(reverse("results:report", args=["dl"])).status_code == 404
    assert client.get(reverse("results:report_md", args=["dl"])).status_code == 404
    assert client.get("/api/studies/dl/results/report/").status_code == 404


# -- missing data -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_empty_study_gives_a_valid_report_that_says_what_is_missing(client):
    study = StudyFactory(slug="empty")
    owner = UserFactory()
    MembershipFactory(study=study, user=owner, is_owner=True)
    report = methods_report(study=study, user=owner)
    assert report.missing == (
        "The corpus is empty: import a Stack Exchange dump.",
        "No question set is defined: there is no funnel to report.",
        "Nothing is drawn yet: there is no sampling design to report.",
        "The taxonomy has no categories yet.")
    markdown = methods_report_markdown(report)
    assert "## What is missing" in markdown and "Nothing is drawn yet." in markdown
    for block in latex_blocks(markdown):
        assert_well_formed(block)
    client.force_login(owner)
    page = client.get(reverse("results:report", args=["empty"]))
    assert page.status_code == 200 and "The corpus is empty" in page.content.decode()
    assert client.get("/api/studies/empty/results/report/").json()["outcome"]["items"] == 0


@pytest.mark.django_db
def test_a_draw_not_in_labelling_and_no_final_labels_are_named(client):
    study = StudyFactory(slug="fresh")
    owner, rater = UserFactory(), UserFactory()
    MembershipFactory(study=study, user=owner, is_owner=True)
    MembershipFactory(study=study, user=rater, is_rater=True)
    labelling_draw(study=study, raters=[rater], pilot=1, reliability=2, per_item=1, status="ready")
    report = methods_report(study=study, user=owner)
    assert [d.counted for d in report.draws] == [False]
    assert "No draw is in labelling yet: there are no final labels to count." in report.missing
    assert report.agreement == ()
    labelling_draw(study=study, raters=[rater], pilot=1, reliability=2, per_item=1, first_so_id=950_000)
    report = methods_report(study=study, user=owner)
    assert any(m.startswith("No item has a final label yet") for m in report.missing)
    assert [(a.subject, a.shown) for a in report.agreement] == [("draw v2", False)]
    assert report.agreement[0].message.startswith("No agreement run over draw v2 has finished yet")
    markdown = methods_report_markdown(report)
    assert "No agreement run over draw v2 has finished yet" in markdown
    for block in latex_blocks(markdown):
        assert_well_formed(block)
