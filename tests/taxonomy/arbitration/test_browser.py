"""Arbitration at the speed of labelling, in Chromium at 1366×768: every control of the item page
is in the window with no sideways scroll; an arbitrator decides two items with the keyboard only
(Shift+1 takes a rater's label, / searches, r the reason, Ctrl+Enter saves and the next item of the
queue follows), a missing reason is refused next to the field, j / k move in the queue, ? lists the
keys, and the Pending page fits too. Screenshots go to var/."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from playwright.sync_api import Page, expect

from annotator.corpus.models import Post
from sampling.draws.models import Assignment
from taxonomy.review.arbitration.models import FinalLabel
from taxonomy.review.arbitration.services import arbitration_start
from taxonomy.labelling.services import label_submit
from taxonomy.tree.services import category_add
from tests.browser.test_arbitration import arbitration_team
from tests.browser.test_import_flow import _assert_no_script_errors, _sign_in
from tests.factories import AnswerFactory, StudyFactory, labelling_draw

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WINDOW = {"width": 1366, "height": 768}
SCREENSHOTS = Path(settings.BASE_DIR) / "var"


def _screenshot(page: Page, name: str) -> None:
    # caret="initial": Playwright hides the caret by giving every input a style attribute, which
    # htmx then copies onto the swapped-in elements of the same id: a CSP error of the test's own.
    page.screenshot(path=str(SCREENSHOTS / name), caret="initial")

LONG_BODY = ("<p>After deploying the model behind our API, the first request takes 40 s and the GPU "
             "memory keeps growing until the container is killed.</p>" * 8
             + "<pre><code>" + "x = serve(model, batch_size=64, device='cuda:0')  # " * 6 + "</code></pre>"
             + "<p>What should we change?</p>" * 6)

# Every control an arbitrator uses, which must be inside the window without scrolling.
CONTROLS = [
    "#arb-side .item-nav a[rel=next]", "#queue-left", ".arb-take a.take >> nth=0", ".arb-take a.take >> nth=1",
    "#decide-form input[name=kind][value=categories]", "#decide-form input[name=kind][value=unclear]",
    "#category-search", "#category-options", "#id_reason", "#save-final", "[data-keys-help]",
]


def _in_window(page: Page, selector: str) -> None:
    box = page.locator(selector).bounding_box()
    assert box is not None, f"{selector} is not shown"
    assert box["x"] >= 0 and box["y"] >= 0, (selector, box)
    assert box["x"] + box["width"] <= WINDOW["width"] and box["y"] + box["height"] <= WINDOW["height"], (selector, box)


def _in_panel(page: Page, controls) -> None:
    """Every control in the window, and inside the side panel's box (a panel that shrank below its
    content lets the rest hang out of it, over the page)."""
    panel = page.locator("#arb-side").bounding_box()
    for selector in controls:
        _in_window(page, selector)
        box = page.locator(selector).bounding_box()
        assert panel["y"] <= box["y"] and box["y"] + box["height"] <= panel["y"] + panel["height"] + 0.5, \
            (selector, box, "outside the panel", panel)


def _wait_for_the_top(page: Page) -> None:
    """htmx scrolls to the top when the swap settles, a moment after the URL changed (polled:
    wait_for_function evaluates a string, which the CSP forbids)."""
    for _ in range(100):
        if page.evaluate("window.scrollY") == 0:
            return
        page.wait_for_timeout(50)


def _fits(page: Page, controls) -> None:
    assert page.evaluate("window.scrollY") == 0
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), "sideways scroll"
    _in_panel(page, controls)


def test_arbitrator_decides_two_items_keyboard_only_with_everything_in_view(page: Page, live_server):
    study = StudyFactory(slug="dl", name="Deployment study")
    owner, arb, ana, bo = arbitration_team(study)
    leaves = {}
    for root_name, inner in (("Server/Cloud", ("Serving", "Export", "GPU memory", "Autoscaling", "Cold start")),
                             ("Mobile", ("App size", "On-device inference", "Battery", "Quantization")),
                             ("Browser", ("WebGL", "WASM", "Model loading")),
                             ("Edge", ("Microcontrollers", "Accelerators", "Firmware updates"))):
        root = category_add(study=study, name=root_name, actor=owner)
        middle = category_add(study=study, name="Runtime", actor=owner, parent=root)
        for name in inner:
            leaves[name] = category_add(study=study, name=name, actor=owner, parent=middle)
    draw = labelling_draw(study=study, raters=[ana, bo], pilot=0, reliability=4, per_item=2)
    first, second, third, pending = draw.items.filter(part="reliability").order_by("pk")
    Post.objects.filter(pk=first.post_id).update(body=LONG_BODY, title="Cold start of a served model on GPU")
    for n in range(2):
        AnswerFactory(question=first.post, body="<p>Warm the model up before traffic.</p>" * 3)

    def submit(item, rater, kind, categories=(), note=""):
        label_submit(assignment=Assignment.objects.get(item=item, rater=rater), rater=rater, kind=kind,
                     category_ids=[leaves[c].pk for c in categories], note=note)

    submit(first, ana, "categories", ["Serving", "GPU memory"], note="the memory grows while <b>serving</b>; "
                                                                    "the first request is slow too")
    submit(first, bo, "categories", ["Cold start"], note="it is about the first request after a deploy")
    submit(second, ana, "categories", ["Export"])
    submit(second, bo, "false_positive", note="not about deployment")
    submit(third, ana, "unclear")
    submit(third, bo, "categories", ["WASM"])
    submit(pending, ana, "pending", note="no category fits yet")
    submit(pending, bo, "categories", ["Battery"])
    arbitration_start(draw=draw, user=owner)

    page.set_viewport_size(WINDOW)
    _sign_in(page, arb)
    page.goto("/studies/dl/arbitration/")
    page.keyboard.press("j")  # the first item of the queue
    expect(page).to_have_url(re.compile(rf"/arbitration/items/{first.pk}/$"))
    expect(page.locator(".arb-rater")).to_have_count(2)
    _screenshot(page, "arbitration-item-1366x768.png")
    _fits(page, CONTROLS)
    expect(page.locator(".arb-rater").first).to_contain_text("the memory grows while <b>serving</b>")

    # -- scrolled down the post, the panel stays whole: once the window is resized (the panel's height
    # measured again) and after a swap while scrolled (j) ------------------------------------------
    page.evaluate("window.scrollTo(0, document.documentElement.scrollHeight)")
    assert page.evaluate("window.scrollY") > 200, "the post is too short to scroll"
    page.set_viewport_size({"width": WINDOW["width"], "height": WINDOW["height"] - 1})
    page.set_viewport_size(WINDOW)
    assert page.evaluate("window.scrollY") > 200
    _in_panel(page, CONTROLS)
    _screenshot(page, "arbitration-item-scrolled-1366x768.png")

    # -- j / k: the queue, without a page load ---------------------------------------------------
    page.evaluate("window.stillTheSamePage = true")
    page.keyboard.press("j")  # still scrolled down: the next item comes at the top, whole
    expect(page).to_have_url(re.compile(rf"/arbitration/items/{second.pk}/$"))
    _wait_for_the_top(page)
    _fits(page, CONTROLS)
    expect(page.locator(".arb-rater").nth(1)).to_contain_text("False positive")
    expect(page.locator(".workbench-post h1")).to_have_text(second.post.title)  # the post comes with its panel
    page.keyboard.press("k")
    expect(page).to_have_url(re.compile(rf"/arbitration/items/{first.pk}/$"))
    expect(page.locator("#arbitration-panel")).to_have_attribute("data-item", str(first.pk))

    # -- ? lists the keys, the take key named with the raters ------------------------------------------
    page.keyboard.press("?")
    overlay = page.locator("#keymap-overlay")
    expect(overlay).to_be_visible()
    expect(overlay).to_contain_text("Shift+1 ana, Shift+2 bo")
    _screenshot(page, "arbitration-keys-1366x768.png")
    page.keyboard.press("Escape")
    expect(overlay).to_be_hidden()

    # -- item 1: take bo's label (Shift+2), keep the default reason, Ctrl+Enter ---------------------------
    page.keyboard.press("Shift+Digit2")
    expect(page.locator("#id_reason")).to_have_value("Took bo’s label.")
    expect(page.locator(f"#category-options input[value='{leaves['Cold start'].pk}']")).to_be_checked()
    page.keyboard.press("Shift+Digit1")  # changed one's mind: ana's, and the default reason follows
    expect(page.locator("#id_reason")).to_have_value("Took ana’s label.")
    expect(page.locator(f"#category-options input[value='{leaves['Cold start'].pk}']")).not_to_be_checked()
    expect(page.locator("#arb-chosen")).to_contain_text("Server/Cloud › Runtime › GPU memory")
    page.keyboard.press("Control+Enter")
    expect(page).to_have_url(re.compile(rf"/arbitration/items/{second.pk}/$"))
    expect(page.locator("#arb-decided")).to_contain_text("Decided: “Cold start of a served model on GPU”")
    title = re.escape(second.post.title or "(no title)")
    expect(page).to_have_title(re.compile(rf"^Arbitrate · {title} · Deployment study$"))
    final = FinalLabel.objects.prefetch_related("categories__category").get(item=first)
    assert (final.kind, final.method, final.decided_by_id, final.reason) == ("categories", "arbitrated", arb.pk,
                                                                                "Took ana’s label.")
    assert sorted(c.category.name for c in final.categories.all()) == ["GPU memory", "Serving"]

    # -- item 2: search a leaf, no reason: refused next to the field, the form kept -----------------------------
    _fits(page, CONTROLS)
    page.keyboard.press("/")
    expect(page.locator("#category-search")).to_be_focused()
    page.keyboard.type("mobile app")
    page.keyboard.press("Enter")
    page.keyboard.press("Escape")
    expect(page.locator(f"#category-options input[value='{leaves['App size'].pk}']")).to_be_checked()
    page.keyboard.press("Control+Enter")
    error = page.locator("#reason-error")
    expect(error).to_have_text("Say why: the reason is part of the published record.")
    expect(page.locator("#id_reason")).to_be_focused()
    expect(page.locator(f"#category-options input[value='{leaves['App size'].pk}']")).to_be_checked()
    _screenshot(page, "arbitration-reason-refused-1366x768.png")
    _in_window(page, "#reason-error")
    _fits(page, CONTROLS)
    assert not FinalLabel.objects.filter(item=second).exists()
    page.keyboard.type("It is about the size of the exported app, not a false positive.")
    page.keyboard.press("Control+Enter")
    expect(page).to_have_url(re.compile(rf"/arbitration/items/{third.pk}/$"))
    final = FinalLabel.objects.prefetch_related("categories__category").get(item=second)
    assert [c.category.name for c in final.categories.all()] == ["App size"]
    assert final.reason == "It is about the size of the exported app, not a false positive."
    assert page.evaluate("window.stillTheSamePage") is True  # every step an htmx swap
    _fits(page, [c for c in CONTROLS if "rel=next" not in c])  # the last item of the queue

    # -- back / forward in history show the items again (the whole page) ------------------------------
    page.go_back()
    expect(page).to_have_url(re.compile(rf"/arbitration/items/{second.pk}/$"))
    expect(page.locator("#final-label")).to_contain_text("App size")
    _screenshot(page, "arbitration-decided-1366x768.png")
    _assert_no_script_errors(page)
    assert not page.problems.csp_violations, page.problems.csp_violations

    # -- the Pending page fits too ----------------------------------------------------------------------
    page.goto("/studies/dl/arbitration/pending/")
    expect(page.locator(".pending-item")).to_have_count(1)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), "sideways scroll"
    page.keyboard.press("/")
    page.keyboard.type("battery")
    page.keyboard.press("Enter")
    expect(page.locator(f"#category-options input[value='{leaves['Battery'].pk}']")).to_be_checked()
    for selector in ("#category-search", "#id_reason", "button[value=resolve]", "button[value=relabel]"):
        _in_window(page, selector)
    _screenshot(page, "arbitration-pending-1366x768.png")
    _assert_no_script_errors(page)
    assert not page.problems.csp_violations, page.problems.csp_violations
