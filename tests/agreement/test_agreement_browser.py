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


LONG_NAMES = [
    "Deploying quantized transformer models on edge devices with very little memory",
    "Serving many model versions behind one endpoint with canary releases and rollbacks",
    "Exporting a trained graph to a portable format that another runtime can load",
    "Latency spikes when the first request reaches a freshly started serving container",
    "Monitoring prediction drift after deployment and deciding when to retrain",
    "Packaging native dependencies of an inference service for several platforms",
]


def test_a_run_computed_during_labelling_fits_1366_by_768(page: Page, live_server, world):
    """Long names, per-category κ undefined for long reasons, three raters and items still
    unlabelled: the page does not scroll sideways; the matrix is a focusable region; another
    pair is swapped in by htmx without a console error."""
    from sampling.draws.models import Assignment
    from taxonomy.review.agreement.services import agreement_run_start
    from taxonomy.tree.services import category_add
    from tests.factories import (
        MembershipFactory,
        UserFactory,
        job_run_to_end,
        labelling_draw,
    )

    from .conftest import give_label

    carol = UserFactory(username="carol")
    MembershipFactory(study=world.study, user=carol, is_rater=True)
    root = category_add(study=world.study, name="Deployment questions that are long to name", actor=world.owner)
    for name in LONG_NAMES:
        world.categories[name] = category_add(study=world.study, name=name, parent=root, actor=world.owner)
    draw = labelling_draw(study=world.study, raters=[world.alice, world.bob, carol], pilot=0, reliability=24,
                          per_item=2, first_so_id=960_000)
    cycle = [*LONG_NAMES, "unclear", (LONG_NAMES[0], LONG_NAMES[1])]
    raters = [world.alice, world.bob, carol]
    for n, assignment in enumerate(Assignment.objects.filter(draw=draw).select_related("item").order_by("pk")):
        if n >= 40:  # labelling goes on: the last items have no label yet
            break
        answer = cycle[(n * (raters.index(assignment.rater) + 1)) % len(cycle)]
        if answer == "unclear":
            give_label(assignment, kind="unclear")
        else:
            names = answer if isinstance(answer, tuple) else (answer,)
            give_label(assignment, categories=[world.categories[name] for name in names])
    run = agreement_run_start(study=world.study, scope="draw", draw=draw, resamples=200, seed=7)
    job_run_to_end(run.job_id)
    run.refresh_from_db()
    assert any(row["reasons"] for row in run.result["per_category"])  # long "undefined κ" reasons to show

    page.set_viewport_size({"width": 1366, "height": 768})
    _sign_in(page, world.owner)
    page.goto(f"/studies/dl/agreement/{run.pk}/")
    expect(page.locator("#run-status")).to_have_text("Done")
    expect(page.locator("#headline-reading")).to_be_visible()
    expect(page.locator("ol.reasons li").first).to_be_visible()
    widths = page.evaluate("() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert widths[0] <= widths[1], widths
    region = page.get_by_role("region", name=re.compile(r"alice \(rows\) × bob \(columns\)"))
    region.focus()
    expect(region).to_be_focused()
    page.screenshot(path="var/agreement_run_1366.png", full_page=True)

    page.get_by_label("Raters").select_option(label="bob × carol")
    expect(page.locator("table.matrix")).to_have_attribute("data-pair", "bob × carol")
    expect(page).to_have_url(re.compile(r"\?pair=3$"))
    widths = page.evaluate("() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert widths[0] <= widths[1], widths
    page.screenshot(path="var/agreement_run_1366_pair.png")
    page.goto("/studies/dl/agreement/")  # the runs and the start form, too
    expect(page.locator(f'tr[data-run="{run.pk}"]')).to_be_visible()
    widths = page.evaluate("() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert widths[0] <= widths[1], widths
    _assert_no_script_errors(page)
    assert page.problems.csp_violations == []
