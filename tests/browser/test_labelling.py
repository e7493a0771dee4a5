"""Two raters label the same three items in Chromium with the keyboard only:
type-ahead + Enter, the 1–9 shortcuts, f / u / p verdicts, Ctrl+Enter to submit;
the next item is swapped in by htmx and its URL pushed. One of them proposes a
category while labelling and uses it at once; the other never sees it, nor any
of the first rater's labels or notes."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from sampling.models import Assignment
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
    return [t.strip() for t in page.locator("#category-options li:has(input:checked)").all_inner_texts()]


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

    # item 2: shortcut 1 (her most used: Serving), then f (False positive) disables the
    # categories, f again goes back, u makes it Unclear
    expect(page.locator(".shortcuts li").first).to_contain_text("Serving")
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
    # back to the previous item with [ : bo's own Pending, not ana's Unclear
    page.keyboard.press("[")
    expect(page).to_have_url(re.compile(re.escape(urls[1]) + "$"))
    expect(page.locator("input[name=kind][value=pending]")).to_be_checked()
    expect(panel).to_be_focused()
    page.keyboard.press("]")
    expect(page).to_have_url(re.compile(re.escape(urls[2]) + "$"))
    expect(panel).to_be_focused()
    _search_and_pick(page, "export", "Deployment › Server › Export")
    page.keyboard.press("Control+Enter")
    expect(page.locator("#labelling-empty")).to_contain_text("All 3 items labelled")
    page.get_by_role("link", name="My labels").click()
    expect(page.locator("table.my-labels tbody tr")).to_have_count(3)
    assert "ANA:" not in page.content() and "Cold start" not in page.content() and "Serving" not in page.content()
    page.goto(urls[0])
    assert "ANA:" not in page.content() and "Serving</span>" not in page.content()
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
