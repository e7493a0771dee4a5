"""One keymap (static/js/keymap.js) on the pilot and labelling pages: a key means one thing
everywhere (n and p are no longer next / previous in the pilot: there they do nothing), "?"
lists the page's own keys, and j / k or Alt+→ / Alt+← step through the items on both."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from sampling.draws.models import Assignment
from taxonomy.tree.services import category_add
from tests.browser.test_import_flow import _assert_no_script_errors, _sign_in
from tests.factories import MembershipFactory, StudyFactory, UserFactory, labelling_draw

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _keys_listed(page: Page) -> str:
    page.keyboard.press("?")
    overlay = page.locator("#keymap-overlay")
    expect(overlay).to_be_visible()
    text = overlay.inner_text()
    page.keyboard.press("Escape")
    expect(overlay).to_be_hidden()
    return text


def test_the_same_keys_on_the_pilot_and_labelling_pages(page: Page, live_server):
    study = StudyFactory(name="Deployment study", slug="deploy")
    owner = MembershipFactory(study=study, is_owner=True, user=UserFactory(username="owner")).user
    ana = MembershipFactory(study=study, is_rater=True, user=UserFactory(username="ana")).user
    bo = MembershipFactory(study=study, is_rater=True, user=UserFactory(username="bo")).user
    root = category_add(study=study, name="Deployment", actor=owner)
    category_add(study=study, name="Serving", actor=owner, parent=root)
    draw = labelling_draw(study=study, raters=[ana, bo], pilot=3, reliability=3)
    pilot = list(draw.items.filter(part="pilot").order_by("pk").values_list("pk", flat=True))
    rated = list(Assignment.objects.filter(draw=draw, rater=ana).order_by("item_id")
                 .values_list("item_id", flat=True))
    _sign_in(page, ana)

    # the pilot: j / k and Alt+arrows step; n and p do nothing; ? lists the pilot's keys only
    page.goto(f"/studies/deploy/pilot/{pilot[1]}/")
    page.wait_for_load_state()
    listed = _keys_listed(page)
    assert "next item" in listed and "previous item" in listed and "type a code" in listed
    assert "propose" not in listed and "Pending" not in listed and "take that rater" not in listed
    for key in ("n", "p"):
        page.keyboard.press(key)
        expect(page).to_have_url(re.compile(rf"/pilot/{pilot[1]}/$"))
    # (in an order where the browser's own Back / Forward would land elsewhere)
    page.keyboard.press("Alt+ArrowRight")
    expect(page).to_have_url(re.compile(rf"/pilot/{pilot[2]}/$"))
    page.wait_for_load_state()
    page.keyboard.press("k")
    expect(page).to_have_url(re.compile(rf"/pilot/{pilot[1]}/$"))
    page.wait_for_load_state()
    page.keyboard.press("Alt+ArrowLeft")
    expect(page).to_have_url(re.compile(rf"/pilot/{pilot[0]}/$"))
    page.wait_for_load_state()
    page.keyboard.press("j")
    expect(page).to_have_url(re.compile(rf"/pilot/{pilot[1]}/$"))
    _assert_no_script_errors(page)

    # labelling: the same j / k and Alt+arrows; n proposes, p is Pending there
    page.goto(f"/studies/deploy/labelling/items/{rated[1]}/")
    listed = _keys_listed(page)
    assert "next item" in listed and "propose a new category" in listed and "Pending" in listed
    assert "type a code" not in listed and "take that rater" not in listed
    page.keyboard.press("Alt+ArrowLeft")
    expect(page).to_have_url(re.compile(rf"/labelling/items/{rated[0]}/$"))
    page.keyboard.press("Alt+ArrowRight")
    expect(page).to_have_url(re.compile(rf"/labelling/items/{rated[1]}/$"))
    page.keyboard.press("j")
    expect(page).to_have_url(re.compile(rf"/labelling/items/{rated[2]}/$"))
    page.keyboard.press("k")
    expect(page).to_have_url(re.compile(rf"/labelling/items/{rated[1]}/$"))
    page.keyboard.press("p")
    expect(page.locator("input[name=kind][value=pending]")).to_be_checked()
    page.keyboard.press("n")
    expect(page.locator("#id_name")).to_be_focused()
    _assert_no_script_errors(page)
    assert not page.problems.csp_violations, page.problems.csp_violations
