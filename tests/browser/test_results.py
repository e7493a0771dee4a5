"""A small study finished in Chromium: the owner starts arbitration, the arbitrator settles
the one disagreement, and the owner opens Results and downloads the taxonomy CSV, the
figure and the methods report, whose numbers are checked."""

from __future__ import annotations

import csv
import io

import pytest
from playwright.sync_api import Page, expect

from sampling.draws.models import Assignment
from taxonomy.labelling.services import label_submit
from taxonomy.tree.services import category_add
from tests.browser.test_import_flow import _assert_no_script_errors, _sign_in
from tests.factories import MembershipFactory, StudyFactory, UserFactory, labelling_draw

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _download(page: Page, link) -> bytes:
    with page.expect_download() as info:
        link.click()
    return open(info.value.path(), "rb").read()


def test_owner_finishes_a_study_and_downloads_its_results(page: Page, live_server):
    study = StudyFactory(slug="fin", name="Finished study")
    owner = UserFactory(username="owner")
    MembershipFactory(study=study, user=owner, is_owner=True, is_arbitrator=True)
    ana, bo = UserFactory(username="ana"), UserFactory(username="bo")
    for user in (ana, bo):
        MembershipFactory(study=study, user=user, is_rater=True)
    server = category_add(study=study, name="Server/Cloud", actor=owner)
    data = category_add(study=study, name="Data Processing", parent=server, actor=owner, definition="Input data")
    env = category_add(study=study, name="Environment", parent=server, actor=owner)
    draw = labelling_draw(study=study, raters=[ana, bo], pilot=0, reliability=5, per_item=2)
    answers = [([data], [data]), ([data], [data]), ([env], [env]), ([env], [data]), ("false_positive", "false_positive")]
    for item, (first, second) in zip(draw.items.order_by("pk"), answers, strict=True):
        for rater, given in ((ana, first), (bo, second)):
            kind, ids = (given, []) if isinstance(given, str) else ("categories", [c.pk for c in given])
            label_submit(assignment=Assignment.objects.get(item=item, rater=rater), rater=rater, kind=kind,
                         category_ids=ids)

    _sign_in(page, owner)
    page.goto("/studies/fin/arbitration/")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Start arbitration").click()
    expect(page.locator(".messages")).to_contain_text("4 agreed, 1 to arbitrate")
    # the disagreement: Environment after all
    page.locator("#arbitration-queue li a").first.click()
    page.get_by_label("Environment").check()
    page.get_by_label("Reason").fill("The post is about the runtime environment.")
    page.get_by_role("button", name="Save the final label").click()
    # the queue is empty: the page goes back to the arbitration home (wait, or the click below races it)
    expect(page.get_by_text("Nothing to arbitrate right now")).to_be_visible()

    page.locator(".study-nav").get_by_role("link", name="Results").click()
    expect(page.get_by_role("heading", name="Results", level=1)).to_be_visible()
    expect(page.locator("#false-positive")).to_have_text("1")
    expect(page.locator("#covered")).to_have_text("4")
    rows = page.locator("table.results-taxonomy tbody tr")
    expect(rows.filter(has_text="Data Processing").locator(".posts")).to_have_text("2")
    expect(rows.filter(has_text="Data Processing").locator(".percent")).to_have_text("50.0 %")
    expect(page.locator("img.taxonomy-figure")).to_be_visible()

    table = _download(page, page.get_by_role("link", name="Taxonomy CSV"))
    by_name = {row["name"]: row for row in csv.DictReader(io.StringIO(table.decode("utf-8")))}
    assert (by_name["Environment"]["posts"], by_name["Environment"]["percent_of_root"]) == ("2", "50.0")
    assert by_name["Server/Cloud"]["root_posts"] == "4" and by_name["False positive"]["posts"] == "1"
    svg = _download(page, page.locator("#figure-downloads").get_by_role("link", name="SVG")).decode("utf-8")
    assert "Data Processing" in svg and "50.0" in svg
    pdf = _download(page, page.locator("#figure-downloads").get_by_role("link", name="PDF"))
    assert pdf.startswith(b"%PDF")

    page.get_by_role("link", name="Methods report").click()
    expect(page.get_by_role("heading", name="Methods report")).to_be_visible()
    expect(page.locator("main")).to_contain_text("No question set is defined")  # what is missing is said
    report = _download(page, page.get_by_role("link", name="Markdown", exact=False).first).decode("utf-8")
    assert "\\begin{tabular}" in report and "False positive" in report and "Finished study" in report
    page.set_viewport_size({"width": 1366, "height": 768})
    page.goto("/studies/fin/results/")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    _assert_no_script_errors(page)
