"""The study home in Chromium at 1366×768: the stages fit the window (no horizontal scroll),
the navigation is one line and marks the current page. Screenshots go to var/."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.test_accessibility import AXE_DIR, AXE_RUN, AXE_TAGS, BLOCKING_IMPACTS
from tests.browser.test_import_flow import _assert_no_script_errors, _sign_in
from tests.factories import (
    JobFactory,
    MembershipFactory,
    StudyFactory,
    UserFactory,
    evaluated_set,
    labelling_draw,
    questions_bulk,
)
from tests.studies.test_dashboard import label

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

VAR = Path(__file__).resolve().parents[2] / "var"


def _check_axe(page: Page) -> None:
    """No serious or critical WCAG 2.1 A/AA violation (axe-core, as tests/browser/test_accessibility.py)."""
    page.evaluate((AXE_DIR / "axe.min.js").read_text())  # through DevTools: the page's CSP does not apply
    blocking = [(v["id"], v["help"], [n["target"] for n in v["nodes"]]) for v in page.evaluate(AXE_RUN, [AXE_TAGS])
                if any((n["impact"] or v["impact"]) in BLOCKING_IMPACTS for n in v["nodes"])]
    assert not blocking, blocking


def _check_fits(page: Page) -> None:
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"the page scrolls sideways by {overflow}px"
    tops = page.locator(".study-nav a").evaluate_all("links => links.map(a => Math.round(a.getBoundingClientRect().top))")
    widths = page.evaluate("""() => [...document.querySelectorAll('.topbar > *, .study-nav a')]
        .map(e => `${e.className || e.textContent.trim()}:${Math.round(e.getBoundingClientRect().width)}`)""")
    assert len(set(tops)) == 1, f"the navigation wraps: link tops {tops}, widths {widths}"


def test_the_study_home_fits_1366_and_shows_the_stages(page: Page, live_server):
    page.set_viewport_size({"width": 1366, "height": 768})
    study = StudyFactory(slug="dl-deploy", name="Deployment challenges of deep learning")
    owner = UserFactory(username="olga.owner")
    MembershipFactory(study=study, user=owner, is_owner=True, is_arbitrator=True)
    raters = [UserFactory(username=name) for name in ("ana.rater", "bertold.rater")]
    for rater in raters:
        MembershipFactory(study=study, user=rater, is_rater=True)
    for _ in range(2):
        MembershipFactory(study=study)
    posts = questions_bulk(study=study, count=40)
    evaluated_set(study=study, name="B", posts=posts)
    JobFactory(study=study, params={"files": [{"name": "Posts.xml"}], "only_tags": []})
    draw = labelling_draw(study=study, raters=raters, pilot=6, reliability=20, per_item=2)
    label(draw, raters[0], 18)
    label(draw, raters[1], 4)

    _sign_in(page, owner)
    page.get_by_role("link", name=study.name).click()
    expect(page.get_by_role("heading", name=study.name, level=1)).to_be_visible()
    stages = page.locator(".stages > li")
    expect(stages).to_have_count(9)  # the eight steps and the optional classifier
    expect(page.locator("#stage-labelling")).to_contain_text("bertold.rater behind")
    expect(page.locator(".study-nav a[aria-current=page]")).to_have_text(study.name)
    _check_fits(page)
    _check_axe(page)
    VAR.mkdir(exist_ok=True)
    page.screenshot(path=str(VAR / "study-home-owner-1366x768.png"), full_page=True)

    page.locator(".study-nav").get_by_role("link", name="Draws").click()
    expect(page.locator(".study-nav a[aria-current=page]")).to_have_text("Draws")
    _check_fits(page)
    _assert_no_script_errors(page)

    # A rater: their own progress only.
    page.context.clear_cookies()
    _sign_in(page, raters[1])
    page.goto(f"/studies/{study.slug}/")
    expect(page.locator("#stage-labelling")).to_contain_text("you: 4 / 20 labelled")
    expect(page.locator("#stage-labelling")).not_to_contain_text("behind")
    _check_fits(page)
    _check_axe(page)
    page.screenshot(path=str(VAR / "study-home-rater-1366x768.png"), full_page=True)
    _assert_no_script_errors(page)
