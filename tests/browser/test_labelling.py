"""Two raters label the same three items in Chromium with the keyboard only:
type-ahead + Enter, the keys 1–9, f / u / p verdicts, j / k next / previous, Ctrl+Enter to submit;
the next item is swapped in by htmx and its URL pushed. One of them proposes a
category while labelling and uses it at once; the other never sees it, nor any
of the first rater's labels or notes."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import Page, expect

from sampling.draws.models import Assignment
from taxonomy.labelling.models import Label
from taxonomy.tree.models import CategoryStatus
from taxonomy.tree.services import category_add
from tests.browser.test_import_flow import _assert_no_script_errors, _sign_in
from tests.factories import MembershipFactory, StudyFactory, UserFactory, labelling_draw

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ANA_NOTE = "ANA: tf-serving returns 404 <b>on reload</b>"


def _item_urls(draw, rater) -> list[str]:
    ids = Assignment.objects.filter(draw=draw, rater=rater).order_by("item_id").values_list("item_id", flat=True)
    return [f"/studies/dl/labelling/items/{i}/" for i in ids]


def _search_and_pick(page: Page, text: str, expected_path: str) -> None:
    page.keyboard.press("/")
    expect(page.locator("#category-search")).to_be_focused()
    page.keyboard.type(text)
    expect(page.locator("#category-options li.active")).to_contain_text(expected_path)
    page.keyboard.press("Enter")
    page.keyboard.press("Escape")
    expect(page.locator("#category-search")).not_to_be_focused()


def _checked(page: Page) -> list[str]:
    """The ticked categories' paths (without the rater's key shown beside one)."""
    return page.locator("#category-options li:has(input:checked)").evaluate_all(
        "(items) => items.map((li) => { const copy = li.cloneNode(true); copy.querySelectorAll('kbd')"
        ".forEach((k) => k.remove()); return copy.textContent.replace(/\\s+/g, ' ').trim(); })")


def _sign_out(page: Page) -> None:
    page.get_by_role("button", name="Sign out").click()


def test_two_raters_label_blind_with_the_keyboard(page: Page, live_server):
    study = StudyFactory(slug="dl", name="Deployment study")
    owner = UserFactory(username="owner")
    MembershipFactory(study=study, user=owner, is_owner=True)
    ana, bo = UserFactory(username="ana"), UserFactory(username="bo")
    for user in (ana, bo):
        MembershipFactory(study=study, user=user, is_rater=True)
    root = category_add(study=study, name="Deployment", actor=owner)
    server = category_add(study=study, name="Server", actor=owner, parent=root)
    mobile = category_add(study=study, name="Mobile", actor=owner, parent=root)
    for name, parent in (("Serving", server), ("Export", server), ("Quantization", mobile)):
        category_add(study=study, name=name, actor=owner, parent=parent)
    draw = labelling_draw(study=study, raters=[ana, bo], pilot=1, reliability=3, per_item=2)
    urls = _item_urls(draw, ana)
    assert urls == _item_urls(draw, bo)  # the same three items for both

    # -- ana -----------------------------------------------------------------------------
    _sign_in(page, ana)
    page.goto("/studies/dl/labelling/")
    panel = page.locator("#labelling-panel")
    expect(panel).to_have_attribute("data-item", urls[0].split("/")[-2])
    expect(page.locator("#my-progress")).to_have_text("0 / 3 labelled")

    # item 1: type-ahead, Enter, a note, Ctrl+Enter from the note
    _search_and_pick(page, "serv", "Deployment › Server › Serving")
    assert _checked(page) == ["Deployment › Server › Serving"]
    page.locator("#id_note").focus()
    page.keyboard.type(ANA_NOTE)
    page.keyboard.press("Control+Enter")
    expect(page).to_have_url(re.compile(re.escape(urls[1]) + "$"))
    expect(page.locator("#my-progress")).to_have_text("1 / 3 labelled")
    expect(panel).to_be_focused()  # the keys act on the new item at once

    # item 2: key 1 (the first leaf in tree order: Serving), then f (False positive) disables
    # the categories, f again goes back, u makes it Unclear
    expect(page.locator("#hotkeys li").first).to_contain_text("Serving")
    page.keyboard.press("1")
    assert _checked(page) == ["Deployment › Server › Serving"]
    page.keyboard.press("f")
    expect(page.locator("input[name=kind][value=false_positive]")).to_be_checked()
    expect(page.locator("#category-options input").first).to_be_disabled()
    page.keyboard.press("f")
    expect(page.locator("input[name=kind][value=categories]")).to_be_checked()
    page.keyboard.press("1")  # untick Serving
    page.keyboard.press("u")
    expect(page.locator("input[name=kind][value=unclear]")).to_be_checked()
    page.keyboard.press("Control+Enter")
    expect(page).to_have_url(re.compile(re.escape(urls[2]) + "$"))
    expect(panel).to_be_focused()

    # item 3: propose a category (n), which comes back chosen; submit it
    page.keyboard.press("n")
    expect(page.locator("#id_name")).to_be_focused()
    page.keyboard.type("Cold start")
    page.keyboard.press("Tab")
    expect(page.locator("#id_parent")).to_be_focused()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    expect(page.locator("#id_parent option:checked")).to_have_text("Deployment › Server")
    page.keyboard.press("Tab")
    page.keyboard.type("the first request after a deploy is slow")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    expect(page.locator(".proposed-note")).to_contain_text("You proposed “Cold start”")
    expect(panel).to_be_focused()
    assert _checked(page) == ["Deployment › Server › Cold start proposed by you"]
    page.keyboard.press("Control+Enter")
    expect(page.locator("#labelling-empty")).to_contain_text("All 3 items labelled")
    expect(page).to_have_url(re.compile(r"/studies/dl/labelling/$"))
    _assert_no_script_errors(page)
    assert not page.problems.csp_violations, page.problems.csp_violations
    _sign_out(page)

    # -- bo: the same items, none of ana's work in sight ----------------------------------
    _sign_in(page, bo)
    page.goto("/studies/dl/labelling/")
    expect(page.locator("#my-progress")).to_have_text("0 / 3 labelled")
    assert "Cold start" not in page.content() and "ANA:" not in page.content()
    page.keyboard.press("/")
    page.keyboard.type("cold")
    expect(page.locator(".categories .no-match")).to_be_visible()
    page.keyboard.press("Escape")
    _search_and_pick(page, "quant", "Deployment › Mobile › Quantization")
    page.keyboard.press("Control+Enter")
    expect(page).to_have_url(re.compile(re.escape(urls[1]) + "$"))
    expect(panel).to_be_focused()
    assert "ANA:" not in page.content() and "Cold start" not in page.content()
    page.keyboard.press("p")
    page.keyboard.press("Control+Enter")
    expect(page).to_have_url(re.compile(re.escape(urls[2]) + "$"))
    expect(panel).to_be_focused()
    # back to the previous item with k: bo's own Pending, not ana's Unclear
    page.keyboard.press("k")
    expect(page).to_have_url(re.compile(re.escape(urls[1]) + "$"))
    expect(page.locator("input[name=kind][value=pending]")).to_be_checked()
    expect(panel).to_be_focused()
    page.keyboard.press("j")
    expect(page).to_have_url(re.compile(re.escape(urls[2]) + "$"))
    expect(panel).to_be_focused()
    _search_and_pick(page, "export", "Deployment › Server › Export")
    page.keyboard.press("Control+Enter")
    expect(page.locator("#labelling-empty")).to_contain_text("All 3 items labelled")
    page.get_by_role("link", name="My labels").click()
    expect(page.locator("table.my-labels tbody tr")).to_have_count(3)
    assert "ANA:" not in page.content() and "Cold start" not in page.content() and "Serving" not in page.content()
    page.goto(urls[0])
    assert "ANA:" not in page.content()
    assert _checked(page) == ["Deployment › Mobile › Quantization"]  # bo's own label, not ana's Serving
    _assert_no_script_errors(page)

    labels = {(lab.assignment.rater.username, lab.assignment.item_id): lab for lab in
              Label.objects.select_related("assignment__rater").prefetch_related("categories__category")}
    assert len(labels) == 6
    first, second, third = (int(u.split("/")[-2]) for u in urls)
    assert [c.category.name for c in labels["ana", first].categories.all()] == ["Serving"]
    assert labels["ana", first].note == ANA_NOTE
    assert labels["ana", second].kind == "unclear" and not labels["ana", second].categories.exists()
    cold = labels["ana", third].categories.get().category
    assert cold.name == "Cold start" and cold.status == CategoryStatus.PROPOSED and cold.parent == server
    assert labels["bo", second].kind == "pending"
    assert [c.category.name for c in labels["bo", third].categories.all()] == ["Export"]


VIEWPORT = {"width": 1366, "height": 768}
LEAF_NAMES = ["Signature mismatch between client and server", "Cold start", "Out of memory on the GPU during the first request"]
# Every control of the panel, as the rater reaches it (the list: Submit, note,
# Previous / Next, the key legend, the special labels, the search, the keys, the proposal).
CONTROLS = ["#labelling-side .side-head", "#category-search", "#hotkeys", "#hotkeys li:last-child", "#category-options",
            "#category-notes",
            ".kinds", "input[name=kind][value=false_positive]", "input[name=kind][value=unclear]",
            "input[name=kind][value=pending]", "#id_note", "#submit-label", ".item-nav", "#propose > summary",
            ".labelling-side .keys", "#keys-help"]


def deep_taxonomy(*, study, owner, definition=None, **notes) -> list:
    """Three roots × three inner categories × three leaves, all with long names (27 leaves in
    tree order); ``definition(case)`` and ``notes`` (inclusion, exclusion) given to each leaf."""
    leaves = []
    for r, root_name in enumerate(["Deployment and serving infrastructure", "Model conversion and export",
                                   "Performance and resource usage"]):
        root = category_add(study=study, name=root_name, actor=owner)
        for m in range(3):
            inner = category_add(study=study, name=f"{root_name.split()[0]} area {m + 1} with a long name",
                                 actor=owner, parent=root)
            for leaf in range(3):
                extra = {"definition": definition(f"{r}.{m}.{leaf}")} if definition else {}
                leaves.append(category_add(study=study, name=f"{LEAF_NAMES[leaf]} {r}.{m}", actor=owner,
                                           parent=inner, **extra, **notes))
    return leaves


def _in_view_now(page: Page, selector: str) -> None:
    """Wholly inside the window, and neither clipped nor covered: the points just inside its
    corners are its own (or its children's). Measured once the layout has settled: the panel's
    height is fitted to the window after a resize, a scroll or a swap (workbench.js)."""
    box = page.locator(selector).first.bounding_box()
    window = page.viewport_size
    assert box is not None, f"{selector} is not shown"
    assert box["x"] >= 0 and box["y"] >= 0, (selector, box)
    assert box["x"] + box["width"] <= window["width"] + 0.5, (selector, box)
    assert box["y"] + box["height"] <= window["height"] + 0.5, (selector, box)
    covered = page.locator(selector).first.evaluate("""(el) => {
        const r = el.getBoundingClientRect(), inset = 2;
        const points = [[r.left + inset, r.top + inset], [r.right - inset, r.top + inset],
                        [r.left + inset, r.bottom - inset], [r.right - inset, r.bottom - inset]];
        return points.filter(([x, y]) => {
            const hit = document.elementFromPoint(x, y);
            return !(hit && (el.contains(hit) || hit.contains(el)));
        }).map(([x, y]) => { const hit = document.elementFromPoint(x, y); return hit ? hit.outerHTML.slice(0, 80) : null; });
    }""")
    assert not covered, (selector, covered)


def _in_view(page: Page, selector: str, *, within: float = 3.0) -> None:
    """``_in_view_now`` once the layout has settled: the panel is fitted to the window after a
    resize, a scroll or a swap (workbench.js, on htmx's settle), so a check made in the same
    instant may meet the panel between two layouts. Retried for up to ``within`` seconds; the
    last failure is raised."""
    deadline = time.monotonic() + within
    while True:
        page.evaluate("() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))")
        try:
            return _in_view_now(page, selector)
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            page.wait_for_timeout(100)


def _axe_serious(page: Page) -> list[str]:
    """axe-core's serious and critical WCAG 2.1 A/AA findings in the page as it is now."""
    from tests.browser.test_accessibility import AXE_DIR, AXE_RUN, AXE_TAGS, BLOCKING_IMPACTS

    page.evaluate((AXE_DIR / "axe.min.js").read_text())  # through DevTools: the page's CSP does not apply
    return [f"{v['id']}: {n['target']} {n['html']}" for v in page.evaluate(AXE_RUN, [AXE_TAGS])
            for n in v["nodes"] if (n["impact"] or v["impact"]) in BLOCKING_IMPACTS]


def _no_sideways_scroll(page: Page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")


def test_every_control_in_view_at_1366_by_768_keys_that_stay_and_no_console_error(page: Page, live_server):
    """A realistic taxonomy (three levels, long leaf names, definitions) and a long post: at
    1366×768 the panel shows every control without scrolling the page, before and after the post
    is scrolled and with the proposal form open; the keys show full names; the highlighted
    category's definition shows; "?" lists the keys; Ctrl+Enter proposes from the proposal form;
    and a submission logs no console error even when the note was resized (which puts a style
    attribute on it that htmx would copy)."""
    from tests.factories import AnswerFactory

    study = StudyFactory(slug="dl", name="Deployment study")
    owner, ana, bo = UserFactory(username="owner"), UserFactory(username="ana"), UserFactory(username="bo")
    MembershipFactory(study=study, user=owner, is_owner=True)
    for user in (ana, bo):
        MembershipFactory(study=study, user=user, is_rater=True)
    leaves = deep_taxonomy(
        study=study, owner=owner,
        definition=lambda case: f"The request's signature does not match the model's (case {case}).",
        inclusion="Wrong input names, dtypes or shapes at the serving boundary.",
        exclusion="Errors inside the model graph: see Conversion.")
    draw = labelling_draw(study=study, raters=[ana, bo], pilot=0, reliability=3, per_item=2)
    first_item = draw.items.order_by("pk").first()
    post = first_item.post
    post.body = "".join(f"<p>Paragraph {i}: the model serves fine locally but fails behind the gateway.</p>"
                        for i in range(40))
    post.save(update_fields=["body"])
    leaves[0].examples.add(post)
    for i in range(3):
        AnswerFactory(question=post, body="<p>Check the signature name.</p>" * 5, so_id=950_000 + i)
    urls = _item_urls(draw, ana)

    page.set_viewport_size(VIEWPORT)
    _sign_in(page, ana)
    page.goto("/studies/dl/labelling/")
    panel = page.locator("#labelling-panel")
    expect(panel).to_have_attribute("data-item", urls[0].split("/")[-2])
    page.screenshot(path="var/labelling-1366x768.png")
    for selector in CONTROLS:
        _in_view(page, selector)
    _no_sideways_scroll(page)
    # the keys: the first nine leaves in tree order, with their whole names (wrapped, not cut)
    hotkeys = page.locator("#hotkeys li")
    expect(hotkeys).to_have_count(9)
    expect(hotkeys.nth(0)).to_have_text("1 Signature mismatch between client and server 0.0")
    expect(hotkeys.nth(8)).to_have_text("9 Out of memory on the GPU during the first request 0.2")
    assert page.evaluate("[...document.querySelectorAll('#hotkeys li')].every(li => li.scrollWidth <= li.clientWidth)")
    assert not _axe_serious(page)
    # larger screens too
    page.set_viewport_size({"width": 1920, "height": 1080})
    page.screenshot(path="var/labelling-1920x1080.png")
    for selector in CONTROLS:
        _in_view(page, selector)
    _no_sideways_scroll(page)
    page.set_viewport_size(VIEWPORT)

    # the post scrolls with the window; the panel stays whole in view
    page.evaluate("window.scrollTo(0, 1500)")
    assert page.evaluate("window.scrollY") > 1000
    page.screenshot(path="var/labelling-scrolled-1366x768.png")
    for selector in CONTROLS:
        _in_view(page, selector)

    # key 1 ticks the first leaf and shows its definition, inclusion, exclusion and example
    page.keyboard.press("1")
    assert _checked(page) == [("Deployment and serving infrastructure › Deployment area 1 with a long name › "
                               "Signature mismatch between client and server 0.0")]
    notes = page.locator("#category-notes")
    expect(notes.locator(".notes-definition")).to_contain_text("does not match the model's (case 0.0.0)")
    expect(notes.locator(".notes-inclusion")).to_contain_text("Wrong input names")
    expect(notes.locator(".notes-exclusion")).to_contain_text("Errors inside the model graph")
    expect(notes.locator(".notes-examples a")).to_have_text(post.title)
    # searching highlights another one, whose notes replace them
    page.keyboard.press("/")
    page.keyboard.type("cold 2.1")
    expect(notes.locator(".notes-definition")).to_contain_text("(case 2.1.1)")
    page.keyboard.press("Escape")
    assert not _axe_serious(page)

    # "?" lists the page's keys; Escape closes the list
    page.keyboard.press("?")
    overlay = page.locator("#keymap-overlay")
    expect(overlay).to_be_visible()
    expect(overlay).to_contain_text("next item")
    expect(overlay).to_contain_text("propose a new category")
    _in_view(page, "#keymap-overlay")
    page.screenshot(path="var/labelling-keys-1366x768.png")
    page.keyboard.press("Escape")
    expect(overlay).to_be_hidden()

    # the proposal form opens whole, in view; Ctrl+Enter in it proposes
    page.keyboard.press("n")
    expect(page.locator("#id_name")).to_be_focused()
    # (the list and the definition make room for it while it is open)
    page.screenshot(path="var/labelling-propose-1366x768.png")
    proposing = [c for c in CONTROLS if c not in ("#category-options", "#category-notes")]
    for selector in [*proposing, "#propose-form", "#propose-form button[type=submit]", "#id_definition"]:
        _in_view(page, selector)
    assert not _axe_serious(page)
    page.keyboard.type("Gateway timeout")
    page.locator("#id_parent").select_option(label="Deployment and serving infrastructure › Deployment area 1 "
                                                   "with a long name")
    page.locator("#id_definition").focus()
    page.keyboard.type("the gateway gives up before the model answers")
    page.keyboard.press("Control+Enter")
    expect(page.locator(".proposed-note")).to_contain_text("You proposed “Gateway timeout”")
    expect(panel).to_be_focused()
    page.screenshot(path="var/labelling-proposed-1366x768.png")
    for selector in CONTROLS:
        _in_view(page, selector)

    # the rater resized the note (the browser writes a style attribute on it): the submission
    # swaps the panel, and htmx must not copy that attribute (the CSP would refuse it)
    page.evaluate("document.getElementById('id_note').style.height = '80px'")
    page.locator("#id_note").focus()
    page.keyboard.type("gateway, not the model")
    page.keyboard.press("Control+Enter")
    expect(page).to_have_url(re.compile(re.escape(urls[1]) + "$"))
    expect(panel).to_be_focused()
    # the keys stayed where they were: labelling does not re-rank them
    expect(page.locator("#hotkeys li").nth(0)).to_contain_text("Signature mismatch between client and server 0.0")
    page.keyboard.press("2")
    page.keyboard.press("Control+Enter")
    expect(page).to_have_url(re.compile(re.escape(urls[2]) + "$"))
    page.keyboard.press("k")
    expect(page).to_have_url(re.compile(re.escape(urls[1]) + "$"))
    # Ctrl+Enter pressed the instant the next item came went through htmx too: a plain POST
    # (htmx had not yet made the new panel live) came back as a whole page saying "Label saved."
    expect(page.locator(".messages")).to_have_count(0)
    for selector in [*CONTROLS, ".item-nav a[rel=prev]", ".item-nav a[rel=next]"]:
        _in_view(page, selector)
    page.keyboard.press("j")
    expect(page).to_have_url(re.compile(re.escape(urls[2]) + "$"))
    page.keyboard.press("p")
    page.keyboard.press("Control+Enter")
    expect(page.locator("#labelling-empty")).to_contain_text("All 3 items labelled")
    _assert_no_script_errors(page)
    assert not page.problems.csp_violations, page.problems.csp_violations

    # the rater gives key 1 another category on "My keys", and is taken back to labelling
    page.goto(urls[0])
    page.get_by_role("link", name="Change your keys").click()
    expect(page.get_by_role("heading", name="My keys 1–9")).to_be_visible()
    page.screenshot(path="var/labelling-keys-page-1366x768.png", full_page=True)
    page.locator("#id_key_1").select_option(label="Cold start 2.2 (Performance and resource usage › Performance area "
                                                  "3 with a long name)")
    page.get_by_role("button", name="Save my keys").click()
    expect(page).to_have_url(re.compile(re.escape(urls[0]) + "$"))
    expect(page.locator("#hotkeys li").nth(0)).to_have_text("1 Cold start 2.2")
    _no_sideways_scroll(page)
    _assert_no_script_errors(page)
    assert not page.problems.csp_violations, page.problems.csp_violations
    labels = Label.objects.filter(assignment__rater=ana).order_by("assignment__item_id")
    assert [lab.kind for lab in labels] == ["categories", "categories", "pending"]
    assert labels[0].note == "gateway, not the model"
    assert sorted(c.category.name for c in labels[0].categories.all()) == [
        "Gateway timeout", "Signature mismatch between client and server 0.0"]
