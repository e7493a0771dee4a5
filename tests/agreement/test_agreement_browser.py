"""In Chromium: an owner starts an agreement run on a labelled draw, the real
Celery worker computes it while the page polls, and the figures appear; a
member who only rates finds no such page while labelling goes on."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.test_import_flow import _assert_no_script_errors, _sign_in

from .conftest import ALICE, BOB, label_items

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

JOB_TIMEOUT_MS = 60_000


def test_owner_computes_agreement_and_reads_the_figures(page: Page, live_server, celery_worker_process, world):
    label_items(world, {world.alice: ALICE, world.bob: BOB})
    _sign_in(page, world.owner)
    page.goto("/studies/dl/agreement/")
    expect(page.get_by_role("heading", name="Inter-rater agreement")).to_be_visible()
    expect(page.get_by_text("No agreement has been computed yet.")).to_be_visible()
    page.get_by_label("One draw").check()
    page.get_by_label("Draw", exact=True).select_option(label="v1")
    page.get_by_label("Resamples").fill("500")
    page.get_by_label("Seed").fill("2020")
    page.screenshot(path="/tmp/agreement_form.png", full_page=True)
    page.get_by_role("button", name="Compute").click()
    expect(page).to_have_url(re.compile(r"/agreement/\d+/\?job=\d+$"))
    expect(page.locator("#run-status")).to_have_text("Done", timeout=JOB_TIMEOUT_MS)
    cohen = page.locator('tr[data-coefficient="cohen_kappa"]')
    expect(cohen.locator("td.value")).to_have_text("0.739")
    expect(cohen.locator("td.interval")).to_contain_text("–")
    expect(page.locator('tr[data-coefficient="percent_agreement"] td.value')).to_have_text("83.3 %")
    expect(page.locator("#run-seed")).to_have_text("2020")
    expect(page.locator(".taxonomy-version")).to_contain_text("unchanged since")
    expect(page.locator("table.per-category")).to_contain_text("Server › Export")
    expect(page.locator("table.confusion")).to_contain_text("Server › Quantization")
    page.screenshot(path="/tmp/agreement_run.png", full_page=True)
    _assert_no_script_errors(page)

    page.context.clear_cookies()
    _sign_in(page, world.alice)
    response = page.goto("/studies/dl/agreement/")
    assert response.status == 404
