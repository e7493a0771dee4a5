"""The whole method in one browser test (issue 19), against a live server, the real Celery worker
and (under ``.ci/run``) PostgreSQL and Redis.

An owner imports a generated dump, builds three question sets and a baseline, reads their
statistics and draws a 95 % / ±5 % stratified sample with a 30 % pilot. Two raters code the pilot
and build a three-level taxonomy from their codes; the arbitrator approves it and confirms the
pilot's proposals. The raters label the reliability part independently with the keyboard only,
one of them marking a post Pending; the arbitrator resolves every disagreement with the keyboard
and makes a category from the Pending post; the owner computes agreement (checked against an
independent computation) and the study home reaches "results". A screenshot of each step goes to
``var/whole-method/`` (ignored by git).
"""

from __future__ import annotations

import html
import re
from collections import Counter
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from annotator.corpus.models import Post
from sampling.draws.draw import pilot_round
from sampling.draws.models import Assignment, SampleDraw, SampleItem
from sampling.draws.sample_size import sample_size
from taxonomy.review.arbitration.models import FinalLabel
from taxonomy.labelling.models import Label
from taxonomy.tree.models import Category, CategoryStatus
from tests.browser.test_import_flow import _assert_no_script_errors, _sign_in
from tests.factories import MembershipFactory, StudyFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

JOB_TIMEOUT_MS = 90_000
SHOTS = Path(__file__).resolve().parents[2] / "var" / "whole-method"
VIEWPORT = {"width": 1366, "height": 768}

# The generated corpus: per tag, how many questions and the words their titles use. The tag
# decides the post's true leaf; "training" questions stay outside every stratum (the baseline).
TOPICS = {
    "serving": (8, "Slow responses from the model server", "Serving"),
    "export": (6, "Saving the trained model to a file", "Export"),
    "mobile": (6, "Running the model on a phone", "On-device"),
    "training": (5, "Loss does not go down while training", None),
}
CODES = {  # the pilot's open code for each stratum's posts
    "serving": "slow responses from the model server",
    "export": "saving the trained model to a file",
    "mobile": "running the model on a phone",
}
PATHS = {
    "Serving": "Deployment › Server › Serving",
    "Export": "Deployment › Server › Export",
    "On-device": "Deployment › Mobile › On-device",
}


def _dump() -> bytes:
    def row(**attrs) -> str:
        return "  <row " + " ".join(
            f'{k}="{html.escape(str(v), quote=True)}"' for k, v in attrs.items()) + " />"

    rows, so_id = [], 0
    for tag, (count, title, _leaf) in TOPICS.items():
        for i in range(count):
            so_id += 2
            month = 1 + (so_id % 12)
            rows.append(row(Id=so_id, PostTypeId=1, CreationDate=f"202{so_id % 3}-{month:02d}-0{1 + i % 9}T10:00:00.000",
                            Score=i, ViewCount=10 * i, Title=f"{title} ({i})", Tags=f"<{tag}><python>",
                            Body=f"<p>{title}: case {i}.</p><pre><code>model.{tag}({i})</code></pre>",
                            OwnerUserId=100 + i, AnswerCount=1, CommentCount=0,
                            **({"AcceptedAnswerId": so_id + 1} if i % 2 == 0 else {})))
            rows.append(row(Id=so_id + 1, PostTypeId=2, ParentId=so_id, CreationDate=f"2022-{month:02d}-11T10:00:00.000",
                            Score=1, Body=f"<p>An answer about {tag}.</p>", OwnerUserId=300 + i))
    return ("\ufeff<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<posts>\n" + "\n".join(rows) + "\n</posts>\n").encode()


def _truth(post: Post) -> str:
    tag = next(t for t in TOPICS if f"<{t}>" in post.tags or f"|{t}|" in post.tags)
    return TOPICS[tag][2]


def _shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _sign_out(page: Page) -> None:
    page.get_by_role("button", name="Sign out").click()
    page.context.clear_cookies()


def _nav(page: Page, name: str) -> None:
    page.locator(".study-nav").get_by_role("link", name=name, exact=True).click()


def _define_set(page: Page, slug: str, *, name: str, tags: str = "", all_questions: bool = False,
                minus=()) -> None:
    page.goto(f"/studies/{slug}/sets/")
    page.get_by_role("link", name="New set").click()
    page.get_by_label("Name").fill(name)
    if tags:
        page.get_by_label("Tags", exact=True).fill(tags)
    if all_questions:
        page.get_by_label("All questions of the study").check()
    if minus:
        page.get_by_label("Minus sets").select_option(list(minus))
    page.get_by_role("button", name="Save and evaluate").click()
    expect(page).to_have_url(re.compile(r"/sets/\d+/\?job=\d+$"))
    # The progress section polls; when the job ends the page refreshes itself with the funnel.
    expect(page.locator("table.funnel, main p.error").first).to_be_visible(timeout=JOB_TIMEOUT_MS)
    assert page.locator("main p.error").count() == 0, page.locator("main p.error").inner_text()


def _code_pilot_item(page: Page, code: str) -> None:
    page.keyboard.press("c")
    box = page.locator("#code-text")
    expect(box).to_be_focused()
    box.fill(code)
    box.press("Enter")
    expect(page.locator("#item-codes .code-uses")).to_contain_text(code)
    box.press("Escape")


def _group(page: Page, code: str, name: str, under: str | None) -> None:
    """On the codes page: tick ``code`` and make it a new category ``name`` under ``under``."""
    page.get_by_label(f"Select “{code}”").check()
    page.locator("#new-category-name").fill(name)
    if under:
        page.locator("#new-category-parent").select_option(label=under)
    page.get_by_role("button", name="Create category from these").click()
    expect(page.locator(".messages")).to_contain_text(f"Category “{name}” created with 1 code")


def _keys_of(page: Page) -> dict[str, str]:
    """The rater's keys as the panel lists them: leaf name → key."""
    keys = {}
    for li in page.locator("#hotkeys li[data-category]").all():
        keys[li.locator(".key-name").inner_text().strip()] = li.get_attribute("data-key")
    return keys


def _label_all_with_keyboard(page: Page, *, slug: str, rater, answer) -> int:
    """Label every assigned item from the queue with the keyboard only: the item's key (or p
    for Pending), then Ctrl+Enter; htmx brings the next item. ``answer(post) -> leaf | "pending"``."""
    page.goto(f"/studies/{slug}/labelling/")
    panel = page.locator("#labelling-panel")
    expect(panel).to_be_visible()
    page.wait_for_load_state()
    keys = _keys_of(page)
    assert set(keys) == set(PATHS), keys  # every leaf has a key, shown by its full name
    done = 0
    total = Assignment.objects.filter(rater=rater).count()
    while done < total:
        item_id = int(panel.get_attribute("data-item"))
        post = SampleItem.objects.select_related("post").get(pk=item_id).post
        given = answer(post)
        expect(page.locator("#my-progress")).to_have_text(f"{done} / {total} labelled")
        if given == "pending":
            page.keyboard.press("p")
            expect(page.locator("input[name=kind][value=pending]")).to_be_checked()
        else:
            page.keyboard.press(keys[given])
            expect(page.locator("#category-options li:has(input:checked)")).to_contain_text(PATHS[given])
        page.keyboard.press("Control+Enter")
        done += 1
        if done < total:
            expect(panel).not_to_have_attribute("data-item", str(item_id))
            expect(panel).to_be_focused()
    expect(page.locator("#labelling-empty")).to_contain_text(f"All {total} items labelled")
    return done


def test_the_whole_method_in_the_browser(page: Page, live_server, celery_worker_process, tmp_path):
    page.set_viewport_size(VIEWPORT)
    study = StudyFactory(slug="wm", name="Deployment of ML models")
    owner, arb = UserFactory(username="owner"), UserFactory(username="arb")
    ana, bo = UserFactory(username="ana"), UserFactory(username="bo")
    MembershipFactory(study=study, user=owner, is_owner=True)
    MembershipFactory(study=study, user=arb, is_arbitrator=True)
    for rater in (ana, bo):
        MembershipFactory(study=study, user=rater, is_rater=True)
    slug = study.slug
    questions = sum(count for count, _t, _l in TOPICS.values())

    # -- 1. the owner imports a generated dump ---------------------------------------------------
    _sign_in(page, owner)
    page.get_by_role("link", name=study.name).click()
    _shot(page, "01-study-home-empty")
    _nav(page, "Imports")
    dump = tmp_path / "ai.stackexchange.com-Posts.xml"
    dump.write_bytes(_dump())
    page.locator("input[type=file][name=files]").set_input_files(dump)
    page.get_by_role("button", name="Upload and import").click()
    job = page.locator("section.job")
    expect(job).to_have_attribute("data-status", "succeeded", timeout=JOB_TIMEOUT_MS)
    expect(job.locator("table.summary tr:has(th:text-is('Questions')) td")).to_have_text(str(questions))
    _shot(page, "02-import")
    assert Post.objects.filter(study=study, post_type=1).count() == questions

    # -- 2. three question sets and a baseline, and their statistics -------------------------------
    for tag in ("serving", "export", "mobile"):
        _define_set(page, slug, name=tag.capitalize(), tags=tag)
        expect(page.locator('table.funnel tr[data-step="tags"] td').last).to_have_text(str(TOPICS[tag][0]))
    _define_set(page, slug, name="Baseline", all_questions=True, minus=["Serving", "Export", "Mobile"])
    expect(page.locator("table.funnel tbody tr").last.locator("td").last).to_have_text(str(TOPICS["training"][0]))
    _shot(page, "03-baseline-set")
    page.goto(f"/studies/{slug}/sets/")
    page.get_by_role("link", name="Serving", exact=True).click()
    page.locator(".page-head").get_by_role("link", name="Statistics").click()
    expect(page.locator("#accepted-share")).to_contain_text("4 of 8 questions, 50.0 %")
    _shot(page, "04-statistics")

    # -- 3. a 95 % / ±5 % stratified draw with a 30 % pilot -------------------------------------------
    _nav(page, "Draws")
    page.get_by_role("link", name="Design the first draw").click()
    for name in ("Serving", "Export", "Mobile"):
        page.locator(f'tr[data-set="{name}"] input[type=checkbox]').check()
        expect(page.locator(f'#design-preview tr[data-stratum="{name}"]')).to_be_visible()
    expect(page.get_by_label("Confidence")).to_have_value("0.95")
    expect(page.get_by_label("Margin of error")).to_have_value("0.05")
    expect(page.get_by_label("Pilot share")).to_have_value("0.3")
    page.get_by_label("Seed").fill("20261203")
    _shot(page, "05-draw-form")
    page.get_by_role("button", name="Draw", exact=True).click()
    expect(page.locator("#draw-status")).to_have_text("Drawn, labelling not started", timeout=JOB_TIMEOUT_MS)
    _shot(page, "06-draw")
    draw = SampleDraw.objects.get(study=study)
    expected_n = {tag: sample_size(population=TOPICS[tag][0], confidence=0.95, margin=0.05, proportion=0.5).n
                  for tag in ("serving", "export", "mobile")}
    assert draw.sample_size == sum(expected_n.values())
    assert draw.pilot_size == sum(pilot_round(0.3, n) for n in expected_n.values())
    reliability = draw.sample_size - draw.pilot_size
    pilot_items = list(draw.items.filter(part="pilot").select_related("post").order_by("pk"))

    # -- 4. two raters code the pilot and build a three-level taxonomy ---------------------------------
    _sign_out(page)
    for rater, share in ((ana, pilot_items), (bo, pilot_items[: len(pilot_items) // 2])):
        _sign_in(page, rater)
        for item in share:
            page.goto(f"/studies/{slug}/pilot/{item.pk}/")
            page.wait_for_load_state()
            tag = next(t for t in CODES if f"<{t}>" in item.post.tags or f"|{t}|" in item.post.tags)
            _code_pilot_item(page, CODES[tag])
        _shot(page, f"07-pilot-{rater.username}")
        if rater == ana:
            page.get_by_role("link", name="All codes of the study →").click()
            _group(page, CODES["serving"], "Deployment", None)
            _group(page, CODES["serving"], "Server", "Deployment")
            _group(page, CODES["serving"], "Serving", "Deployment › Server")
            _group(page, CODES["export"], "Export", "Deployment › Server")
            _group(page, CODES["mobile"], "Mobile", "Deployment")
            _group(page, CODES["mobile"], "On-device", "Deployment › Mobile")
            _shot(page, "08-codes-grouped")
        _sign_out(page)
    proposed = Category.objects.filter(study=study)
    assert {c.name: c.status for c in proposed} == {n: CategoryStatus.PROPOSED for n in (
        "Deployment", "Server", "Serving", "Export", "Mobile", "On-device")}

    # -- 5. the arbitrator approves the taxonomy and confirms the pilot's proposals ----------------------
    _sign_in(page, arb)
    page.goto(f"/studies/{slug}/taxonomy/")
    for name in ("Deployment", "Server", "Mobile", "Serving", "Export", "On-device"):
        node = f'li.node[data-category="{name}"]'
        page.locator(f"{node} > .node-head .edit-link").click()
        page.locator(f"{node} > .edit-slot").get_by_role("button", name="Approve").click()
        expect(page.locator(f"{node} > .node-head .status-proposed")).to_have_count(0)
    _shot(page, "09-taxonomy-approved")
    assert not Category.objects.filter(study=study, status=CategoryStatus.PROPOSED).exists()
    page.goto(f"/studies/{slug}/arbitration/pilot/")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name=f"Confirm the {len(pilot_items)} complete proposals").click()
    expect(page.locator(".messages")).to_contain_text(str(len(pilot_items)))
    _shot(page, "10-pilot-decided")
    assert FinalLabel.objects.filter(item__in=pilot_items).count() == len(pilot_items)
    _sign_out(page)

    # -- 6. the owner starts labelling --------------------------------------------------------------------
    _sign_in(page, owner)
    page.goto(f"/studies/{slug}/draws/{draw.version}/")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Start labelling").click()
    expect(page.locator("#draw-status")).to_have_text("Labelling (frozen)")
    _sign_out(page)

    # -- 7. the raters label the reliability part, keyboard only --------------------------------------
    # bo disagrees on the first two items of his queue that are not his own in Serving and marks a
    # third Pending; everything else is the post's true leaf.
    bo_items = list(Assignment.objects.filter(rater=bo).order_by("item__post__so_id")
                    .values_list("item_id", flat=True))
    disagree, pending_item = set(bo_items[:2]), bo_items[2]
    other = {"Serving": "Export", "Export": "Serving", "On-device": "Serving"}

    def bo_answer(post):
        item_id = SampleItem.objects.get(draw=draw, post=post).pk
        if item_id == pending_item:
            return "pending"
        return other[_truth(post)] if item_id in disagree else _truth(post)

    _sign_in(page, ana)
    assert _label_all_with_keyboard(page, slug=slug, rater=ana, answer=_truth) == reliability
    _shot(page, "11-labelling-ana-done")
    _sign_out(page)
    _sign_in(page, bo)
    page.goto(f"/studies/{slug}/labelling/")
    assert "ana" not in page.locator("#labelling-panel").inner_text()
    _shot(page, "12-labelling-bo")
    assert _label_all_with_keyboard(page, slug=slug, rater=bo, answer=bo_answer) == reliability
    _assert_no_script_errors(page)
    _sign_out(page)
    assert Label.objects.filter(assignment__draw=draw).count() == 2 * reliability

    # -- 8. the owner starts arbitration; the arbitrator decides with the keyboard -------------------------
    _sign_in(page, owner)
    page.goto(f"/studies/{slug}/arbitration/")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Start arbitration").click()
    expect(page.locator(".messages")).to_contain_text(
        f"{reliability - 3} agreed, 2 to arbitrate, 1 Pending")
    _sign_out(page)

    _sign_in(page, arb)
    page.goto(f"/studies/{slug}/arbitration/")
    expect(page.locator("#arbitration-queue li")).to_have_count(2)
    page.locator("#arbitration-queue li a").first.click()
    for left in (2, 1):
        expect(page.locator(".arb-raters")).to_contain_text("ana")
        expect(page.get_by_role("link", name=f"{left} left in your queue")).to_be_visible()
        page.wait_for_load_state()
        title = page.locator("main h1").first.inner_text()
        page.keyboard.press("Shift+1")  # take the first rater's (ana's) labels: the true leaf
        page.keyboard.press("r")
        expect(page.get_by_label(re.compile("^Reason"))).to_be_focused()
        page.keyboard.type(f" Her leaf fits “{title}”.")
        _shot(page, f"13-arbitration-{3 - left}")
        page.keyboard.press("Control+Enter")
        if left > 1:  # the next item comes in its place
            expect(page.locator("main h1").first).not_to_have_text(title)
    expect(page.get_by_text("Nothing to arbitrate right now.")).to_be_visible()

    # -- 9. and makes a category from the Pending post -------------------------------------------------
    page.get_by_role("link", name="Pending queue").click()
    form = page.locator("#pending-form")
    form.locator("input[type=checkbox]").first.check()
    page.get_by_label("…or a new category named").fill("Cold start")
    page.get_by_label("under").select_option(label="Deployment › Server")
    page.get_by_label("Definition").fill("The first requests after a deployment are slow.")
    page.get_by_label("Reason").fill("No category fitted; a new one from Pending.")
    page.get_by_role("button", name="Label the chosen items").click()
    expect(page.locator(".messages")).to_contain_text("1 Pending item labelled “Cold start”")
    _shot(page, "14-pending")
    _assert_no_script_errors(page)
    _sign_out(page)
    assert FinalLabel.objects.filter(item__draw=draw).count() == draw.sample_size

    # -- 10. the owner computes agreement and sees the study reach its results -------------------------
    _sign_in(page, owner)
    page.goto(f"/studies/{slug}/agreement/")
    page.get_by_label("One draw").check()
    page.get_by_label("Draw", exact=True).select_option(label=f"v{draw.version}")
    page.get_by_label("Seed").fill("7")
    page.get_by_role("button", name="Compute").click()
    expect(page.locator("#run-status")).to_have_text("Done", timeout=JOB_TIMEOUT_MS)
    agreed = sum(1 for item_id in bo_items if item_id not in disagree and item_id != pending_item)
    expect(page.locator('tr[data-coefficient="percent_agreement"] td.value')).to_have_text(
        f"{100 * agreed / reliability:.1f} %")
    expect(page.locator('tr[data-coefficient="cohen_kappa"] td.value')).to_have_text(
        f"{_cohen_kappa(draw, ana, bo):.3f}")
    _shot(page, "15-agreement")

    page.goto(f"/studies/{slug}/")
    results = page.locator("#stage-results")
    expect(results).to_have_class(re.compile(r"\bstage-done\b"))
    for key in ("corpus", "question-sets", "draw", "pilot", "labelling", "agreement", "arbitration"):
        expect(page.locator(f"#stage-{key}")).to_have_class(re.compile(r"\bstage-done\b"))
    _shot(page, "16-study-home-results")
    _assert_no_script_errors(page)
    assert not page.problems.csp_violations, page.problems.csp_violations


def _cohen_kappa(draw, first, second) -> float:
    """Cohen's κ of the two raters' labels, computed here from the stored labels (each a
    category or a kind), independently of the app's agreement engine."""
    def given(rater):
        out = {}
        for label in Label.objects.filter(assignment__draw=draw, assignment__rater=rater).prefetch_related(
                "categories"):
            cats = sorted(c.category_id for c in label.categories.all())
            out[label.assignment.item_id] = label.kind if not cats else str(cats)
        return out

    a, b = given(first), given(second)
    items = sorted(a)
    n = len(items)
    observed = sum(a[i] == b[i] for i in items) / n
    ca, cb = Counter(a[i] for i in items), Counter(b[i] for i in items)
    expected = sum(ca[k] * cb[k] for k in set(ca) | set(cb)) / (n * n)
    return (observed - expected) / (1 - expected)
