"""Two raters code a pilot item together in Chromium: the second sees the first's
code and picks it from the autocomplete; then, on the codes page, two codes are
ticked and made into a new category."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from taxonomy.coding.models import Code, CodeUse
from taxonomy.tree.models import Category
from tests.browser.test_import_flow import _assert_no_script_errors, _sign_in
from tests.factories import MembershipFactory, StudyFactory, UserFactory, labelling_draw

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _sign_out(page: Page) -> None:
    page.get_by_role("button", name="Sign out").click()
    page.context.clear_cookies()


def test_two_raters_code_a_pilot_item_and_group_codes(page: Page, live_server):
    study = StudyFactory(name="Deployment study", slug="deploy")
    ana = MembershipFactory(study=study, is_rater=True, user=UserFactory(username="ana")).user
    bo = MembershipFactory(study=study, is_rater=True, user=UserFactory(username="bo")).user
    draw = labelling_draw(study=study, raters=[ana, bo], pilot=3, reliability=2)
    first, second = draw.items.filter(part="pilot").order_by("post__so_id")[:2]

    # Ana opens the pilot, goes to the next uncoded item and writes two codes (Enter adds, no reload).
    _sign_in(page, ana)
    page.goto(f"/studies/{study.slug}/pilot/")
    expect(page.locator("tr.next-uncoded")).to_have_attribute("data-item", str(first.pk))
    page.get_by_role("link", name="Next uncoded item →").click()
    expect(page).to_have_url(re.compile(rf"/pilot/{first.pk}/$"))
    expect(page.get_by_role("heading", name=first.post.title)).to_be_visible()
    page.wait_for_load_state()  # the shortcuts' script has run (the URL and heading come first)
    page.keyboard.press("c")
    box = page.locator("#code-text")
    expect(box).to_be_focused()
    box.fill("Wrong input shape at serving time")
    box.press("Enter")
    codes = page.locator("#item-codes .code-uses")
    expect(codes).to_contain_text("Wrong input shape at serving time")
    expect(page.locator("#code-text")).to_be_focused()  # ready for the next one
    page.locator("#code-text").fill("Model too large for mobile")
    page.locator("#code-text").press("Enter")
    expect(codes.locator("li")).to_have_count(2)
    # j goes to the next item.
    page.locator("#code-text").press("Escape")
    page.keyboard.press("j")
    expect(page).to_have_url(re.compile(rf"/pilot/{second.pk}/$"))
    _assert_no_script_errors(page)
    _sign_out(page)

    # Bo sees Ana's codes on the first item, then picks one from the suggestions on the second.
    _sign_in(page, bo)
    page.goto(f"/studies/{study.slug}/pilot/{first.pk}/")
    expect(page.locator("#item-codes")).to_contain_text("Wrong input shape at serving time")
    expect(page.locator("#item-codes")).to_contain_text("by ana")
    expect(page.locator(".remove-code")).to_have_count(0)  # not Bo's to remove
    page.goto(f"/studies/{study.slug}/pilot/{second.pk}/")
    page.locator("#code-text").press_sequentially("SHAPE", delay=30)
    suggestion = page.locator("#code-suggestions").get_by_role("option", name=re.compile("Wrong input shape"))
    expect(suggestion).to_contain_text("1 item")
    suggestion.click()
    expect(page.locator("#item-codes .code-uses")).to_contain_text("Wrong input shape at serving time")
    expect(page.locator("#item-codes .code-uses")).to_contain_text("by bo")
    assert Code.objects.count() == 2
    assert CodeUse.objects.filter(code__text="Wrong input shape at serving time").count() == 2

    # The codes page: tick both codes and create a category from them.
    page.get_by_role("link", name="All codes of the study →").click()
    expect(page.get_by_role("heading", name="Codes")).to_be_visible()
    page.get_by_label("Select “Wrong input shape at serving time”").check()
    page.get_by_label("Select “Model too large for mobile”").check()
    page.locator("#new-category-name").fill("Model export")
    page.get_by_role("button", name="Create category from these").click()
    expect(page.locator(".messages")).to_contain_text("Category “Model export” created with 2 codes.")
    for text in ("Wrong input shape at serving time", "Model too large for mobile"):
        expect(page.locator(f'tr[data-code="{text}"] .code-category')).to_contain_text("Model export")
    category = Category.objects.get(name="Model export")
    assert set(category.codes.values_list("text", flat=True)) == {
        "Wrong input shape at serving time", "Model too large for mobile"}
    # Filtering to the ungrouped codes now shows none.
    page.get_by_label("ungrouped only").check()
    expect(page.locator("#code-table")).to_contain_text("No codes match these filters.")
    expect(page).to_have_url(re.compile(r"ungrouped=on"))
    _assert_no_script_errors(page)
