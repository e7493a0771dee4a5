"""An owner designs a stratified draw over two question sets in Chromium,
watches the real Celery worker draw it, reads the design table and the
per-rater assignment, reassigns, and starts labelling (which freezes it).

Server/Cloud has 400 questions (n = 197 at 95 % / ±5 %); Browser has 40, five
of them also in Server/Cloud, taken as a census: 35 posts after the overlap
rule. 30 % of each stratum goes to the pilot: 59 and 11 (10.5, halves up).
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from sampling.draws.models import Assignment, DrawStatus, SampleDraw
from tests.browser.test_import_flow import _assert_no_script_errors, _sign_in
from tests.factories import MembershipFactory, StudyFactory, UserFactory, evaluated_set, questions_bulk

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

JOB_TIMEOUT_MS = 60_000


def _cells(row) -> list[str]:
    return [c.strip() for c in row.locator("td").all_inner_texts()]


def test_owner_designs_draws_splits_and_assigns(page: Page, live_server, celery_worker_process):
    owner = UserFactory(username="owner")
    study = StudyFactory(name="Deployment study", slug="deploy")
    MembershipFactory(study=study, user=owner, is_owner=True)
    for name in ("ana", "bo", "cy"):
        MembershipFactory(study=study, user=UserFactory(username=name), is_rater=True)
    server = questions_bulk(study=study, count=400, first_so_id=1)
    browser = questions_bulk(study=study, count=35, first_so_id=5000)
    evaluated_set(study=study, name="Server/Cloud", posts=server)
    evaluated_set(study=study, name="Browser", posts=browser + server[:5])
    _sign_in(page, owner)

    page.get_by_role("link", name="Deployment study").click()
    page.locator(".study-nav").get_by_role("link", name="Draws").click()
    expect(page.get_by_text("No draws yet")).to_be_visible()
    page.get_by_role("link", name="Design the first draw").click()
    expect(page.get_by_role("heading", name="New draw")).to_be_visible()

    # Compute the design: tick both sets; the preview table follows every change.
    preview = page.locator("#design-preview")
    expect(preview).to_contain_text("Tick at least one question set")
    page.locator('tr[data-set="Server/Cloud"] input[type=checkbox]').check()
    expect(preview.locator('tr[data-stratum="Server/Cloud"]')).to_be_visible()
    page.locator('tr[data-set="Browser"] input[type=checkbox]').check()
    page.locator('tr[data-set="Browser"] select').select_option("census")
    # Order decides where the five shared posts count: Server/Cloud first.
    page.locator('tr[data-set="Server/Cloud"] input[name$="_order"]').fill("1")
    page.locator('tr[data-set="Browser"] input[name$="_order"]').fill("2")
    expect(preview.locator('tr[data-stratum="Browser"]')).to_contain_text("−5")
    row = preview.locator('tr[data-stratum="Browser"]')
    expect(row).to_contain_text("yes")
    assert _cells(row) == ["Browser", "40", "−5", "35", "—", "35", "yes"]
    assert _cells(preview.locator('tr[data-stratum="Server/Cloud"]')) == [
        "Server/Cloud", "400", "", "400", "196.21", "197", "no"]
    expect(preview.locator(".design-summary")).to_contain_text("232 posts: about 70 for the joint pilot")
    # A bad margin is explained at once, and the table comes back when it is fixed.
    page.get_by_label("Margin of error").fill("5")
    expect(preview).to_contain_text("The margin of error must be between 0 and 1")
    page.get_by_label("Margin of error").fill("0.05")
    expect(preview.locator(".design-summary")).to_contain_text("232 posts")
    # A design the preview says cannot be drawn cannot be started: n by hand above the 35
    # posts Browser has after the overlap. The server refuses it too (tests/sampling).
    browser_row = page.locator('tr[data-set="Browser"]')
    browser_row.locator("select").select_option("override")
    browser_row.locator('input[name$="_n"]').fill("38")
    browser_row.locator('input[name$="_reason"]').fill("all of them")
    expect(preview.locator("[data-blocks-draw]")).to_contain_text("n = 38 is larger than N = 35")
    expect(page.get_by_role("button", name="Draw", exact=True)).to_be_disabled()
    browser_row.locator('input[name$="_n"]').fill("")
    browser_row.locator('input[name$="_reason"]').fill("")
    browser_row.locator("select").select_option("census")
    expect(preview.locator(".design-summary")).to_contain_text("232 posts")
    expect(page.get_by_role("button", name="Draw", exact=True)).to_be_enabled()
    page.get_by_label("Seed").fill("20200608")
    page.screenshot(path="/tmp/draw_form.png", full_page=True)

    # Draw: the worker runs the job while the page polls, then the page shows the design table.
    page.get_by_role("button", name="Draw", exact=True).click()
    expect(page).to_have_url(re.compile(r"/draws/1/\?job=\d+$"))
    expect(page.locator("#draw-status")).to_have_text("Drawn, labelling not started", timeout=JOB_TIMEOUT_MS)
    expect(page.locator("#draw-seed")).to_have_text("20200608")
    table = page.locator("table.design-table")
    assert _cells(table.locator('tr[data-stratum="Server/Cloud"]'))[2:] == [
        "400", "", "400", "196.21", "197", "no", "197", "59", "138"]
    assert _cells(table.locator('tr[data-stratum="Browser"]'))[2:] == [
        "40", "−5", "35", "—", "35", "yes", "35", "11", "24"]
    expect(page.locator(".overlap-rule")).to_contain_text("counted once, in the first stratum")
    expect(page.locator(".reproduces")).to_contain_text("✓")

    # Per-rater assignment: 162 reliability items × 2 raters over 3 raters = 108 each.
    workload = page.locator("table.rater-workload")
    for name in ("ana", "bo", "cy"):
        expect(workload.locator(f'tr[data-rater="{name}"] .assigned')).to_have_text("108")
    # The item list filters without a page load.
    page.locator("#draw-items").get_by_label("Part").select_option("pilot")
    expect(page).to_have_url(re.compile(r"part=pilot"))
    expect(page.locator("#draw-items")).to_contain_text("70 in all")
    page.screenshot(path="/tmp/draw_detail.png", full_page=True)

    # Split again: everything to all three raters.
    page.locator("details.redistribute summary").click()
    page.locator("details.redistribute").get_by_label("Raters per item").fill("3")
    page.get_by_role("button", name="Split and assign again").click()
    expect(page.locator("#draw-status")).to_have_text("Drawn, labelling not started", timeout=JOB_TIMEOUT_MS)
    expect(workload.locator('tr[data-rater="ana"] .assigned')).to_have_text("162")

    # Start labelling (confirmed in a dialog): the draw is frozen.
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Start labelling").click()
    expect(page.locator("#draw-status")).to_have_text("Labelling (frozen)")
    expect(page.locator(".frozen")).to_contain_text("this draw is frozen")
    expect(page.get_by_role("button", name="Split and assign again")).to_have_count(0)

    draw = SampleDraw.objects.get(study=study)
    assert draw.status == DrawStatus.LABELLING and draw.seed == 20200608
    assert Assignment.objects.filter(draw=draw).count() == 3 * 162
    assert not page.problems.csp_violations, page.problems.csp_violations
    _assert_no_script_errors(page)
