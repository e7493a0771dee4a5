"""An owner builds question sets through the pages, in Chromium, with the real
Celery worker, and reads their statistics.

Thirty questions are made with the factories (no import). Through the form:
B (tag tensorflow), C and D within B (by words), and the baseline
B − (C ∪ D); each is evaluated by the worker while the page polls, and the
page refreshes itself to show the funnel. Then the baseline's funnel, the
statistics of C with both charts drawn, and the comparison of C with the
baseline with both χ² figures — without a script error or a CSP violation.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Page, expect

from sampling.question_sets.models import QuestionSet
from sampling.question_sets.reports import p_value_text, statistic_text
from sampling.question_sets.statistics import two_proportion_test
from tests.browser.test_import_flow import _assert_no_script_errors, _sign_in
from tests.factories import AnswerFactory, MembershipFactory, PostFactory, StudyFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

JOB_TIMEOUT_MS = 60_000
# (title words, how many, how many of them without an accepted answer); all tagged tensorflow.
IN_B = {
    "Deploying my model to a cloud server": (8, 6),  # → C
    "Model crashes on android phones": (6, 3),  # → D
    "Training loss does not decrease": (10, 2),  # → baseline
}
OUTSIDE_B = 6  # tagged pytorch, "cloud" in the title: the tag step drops them


def _questions(study) -> None:
    n = 0
    for title, (count, unanswered) in IN_B.items():
        for i in range(count):
            n += 1
            created = datetime(2019 + n % 5, 1 + n % 12, 1 + n % 28, 9, tzinfo=UTC)
            question = PostFactory(study=study, so_id=100 + n, title=f"{title} ({i})", tags="|tensorflow|",
                                   creation_date=created, owner_user_id=500 + n % 5)  # one asker a year
            if i >= unanswered:
                answer = AnswerFactory(question=question, so_id=900 + n, creation_date=created + timedelta(hours=n * n))
                question.accepted_answer_so_id = answer.so_id
                question.save(update_fields=["accepted_answer_so_id"])
    for i in range(OUTSIDE_B):
        PostFactory(study=study, so_id=300 + i, title=f"Cloud training with torch ({i})", tags="|pytorch|",
                    creation_date=datetime(2021, 5, 1 + i, tzinfo=UTC), owner_user_id=700)


def _define_set(page: Page, study, *, name: str, tags: str = "", words: str = "", within=(), minus=()) -> None:
    """Fill the set form, save, and wait for the worker's evaluation to end and the page to show the funnel."""
    page.goto(f"/studies/{study.slug}/sets/")
    page.get_by_role("link", name="New set").click()
    expect(page.get_by_role("heading", name="New question set")).to_be_visible()
    page.get_by_label("Name").fill(name)
    if tags:
        page.get_by_label("Tags", exact=True).fill(tags)
    if words:
        page.get_by_label("Words", exact=True).fill(words)
    if within:
        page.get_by_label("Within sets").select_option(list(within))
    if minus:
        page.get_by_label("Minus sets").select_option(list(minus))
    page.get_by_role("button", name="Save and evaluate").click()
    expect(page).to_have_url(re.compile(r"/sets/\d+/\?job=\d+$"))
    expect(page.get_by_role("heading", name=name, exact=True)).to_be_visible()
    # The progress section polls; when the job ends, the page refreshes itself (HX-Refresh) with the funnel.
    expect(page.locator("table.funnel")).to_be_visible(timeout=JOB_TIMEOUT_MS)
    expect(page.locator("section.job")).to_have_count(0)


def _funnel(page: Page) -> dict[str, list[str]]:
    rows = page.locator("table.funnel tbody tr")
    return {row.get_attribute("data-step"): [c.strip() for c in row.locator("td").all_inner_texts()]
            for row in rows.all()}


def _expect_chart_drawn(page: Page, selector: str) -> None:
    img = page.locator(selector)
    expect(img).to_be_visible()
    page.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=img.element_handle())
    assert img.evaluate("(img) => img.naturalWidth") > 300


def test_owner_builds_sets_and_reads_their_statistics_and_comparison(page, live_server, celery_worker_process):
    user = UserFactory()
    study = StudyFactory(name="Deployment study")
    MembershipFactory(study=study, user=user, is_owner=True)
    _questions(study)
    _sign_in(page, user)

    _define_set(page, study, name="B", tags="tensorflow")
    assert _funnel(page)["tags"][-1] == "24"
    _define_set(page, study, name="C", within=["B"], words="cloud\nserver")
    _define_set(page, study, name="D", within=["B"], words="android")
    _define_set(page, study, name="baseline", within=["B"], minus=["C", "D"])

    # The baseline's funnel: B's 24 questions, minus C's 8 and D's 6.
    funnel = _funnel(page)
    assert funnel["start"][0] == "within B" and funnel["start"][-1] == "24"
    assert funnel["minus"][0] in ("minus C ∪ D", "minus D ∪ C")
    assert funnel["minus"][2] == "−14" and funnel["minus"][-1] == "10"
    expect(page.locator("table.members tbody tr")).to_have_count(10)

    # Its statistics come into the set page after it (htmx), charts included.
    section = page.locator("#set-statistics")
    expect(section.locator("#accepted-share")).to_contain_text("2 of 10 questions, 20.0 %")
    _expect_chart_drawn(page, "#set-statistics #chart-years")
    _expect_chart_drawn(page, "#set-statistics #chart-response-times")
    page.screenshot(path="/tmp/set_page_baseline.png", full_page=True)

    # C's statistics on their own page.
    page.goto(f"/studies/{study.slug}/sets/")
    page.get_by_role("link", name="C", exact=True).click()
    page.locator(".page-head").get_by_role("link", name="Statistics").click()
    expect(page.get_by_role("heading", name="Statistics of “C”")).to_be_visible()
    expect(page.locator("#accepted-share")).to_contain_text("6 of 8 questions, 75.0 %")
    expect(page.locator("table.years tfoot th")).to_have_text(["All", "8", "5"])  # 8 questions, 5 askers
    _expect_chart_drawn(page, "#chart-years")
    _expect_chart_drawn(page, "#chart-response-times")
    with page.expect_download() as download:
        page.locator("#response-times").get_by_role("link", name="Download PNG").click()
    assert download.value.suggested_filename == "c-response-times.png"
    page.locator("#set-statistics").screenshot(path="/tmp/set_statistics.png")

    # The comparison of C with the baseline, chosen on the set list.
    page.locator(".study-nav").get_by_role("link", name="Question sets").click()
    page.locator("#compare-form").screenshot(path="/tmp/set_list_compare_form.png")
    page.get_by_label("Compare", exact=True).select_option(label="C")
    page.get_by_label("with", exact=True).select_option(label="baseline")
    page.get_by_role("button", name="Compare").click()
    expect(page.get_by_role("heading", name="“C” vs “baseline”")).to_be_visible()
    test = two_proportion_test(x1=6, n1=8, x2=2, n2=10)
    share = page.locator("table.comparison-table tr.share")
    expect(share).to_contain_text("6 of 8, 75.0 %")
    expect(share).to_contain_text("2 of 10, 20.0 %")
    expect(page.locator("#chi2-test .chi2")).to_have_text(statistic_text(test.chi2))
    expect(page.locator("#chi2-test .p-value")).to_have_text(p_value_text(test.p_value))
    expect(page.locator("#chi2-test .chi2-corrected")).to_have_text(statistic_text(test.chi2_corrected))
    expect(page.locator("#chi2-test .p-value-corrected")).to_have_text(p_value_text(test.p_value_corrected))
    expect(page.locator("#chi2-test")).to_contain_text("uncorrected Pearson χ²; with Yates' correction")
    _expect_chart_drawn(page, "#chart-comparison")
    assert "nan" not in page.locator("main").inner_text().lower().split()
    page.screenshot(path="/tmp/set_comparison.png", full_page=True)

    assert QuestionSet.objects.get(study=study, name="baseline").member_count == 10
    assert not page.problems.csp_violations, page.problems.csp_violations
    _assert_no_script_errors(page)
