"""An owner cancels a queued import from its page in a real browser: the button on
the polled panel asks first, the page comes back saying so, and the polling stops."""

import pytest
from playwright.sync_api import expect

from annotator.jobs.models import Job, JobStatus
from tests.factories import PASSWORD, JobFactory, MembershipFactory, StudyFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_owner_cancels_a_queued_import_from_its_page(page):  # noqa: F811
    owner = UserFactory(username="owner")
    study = StudyFactory(slug="dl")
    MembershipFactory(study=study, user=owner, is_owner=True)
    job = JobFactory(study=study, created_by=owner)  # queued: no worker takes it here

    page.goto("/accounts/login/")
    page.get_by_label("Username").fill("owner")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.goto(f"/studies/dl/imports/{job.pk}/")
    panel = page.locator(f"section#job-{job.pk}")
    expect(panel).to_have_attribute("data-status", "queued")

    page.once("dialog", lambda dialog: dialog.dismiss())  # "Cancel this job?" — no
    panel.get_by_role("button", name="Cancel job").click()
    expect(panel).to_have_attribute("data-status", "queued")
    assert Job.objects.get(pk=job.pk).status == JobStatus.QUEUED

    page.once("dialog", lambda dialog: dialog.accept())
    panel.get_by_role("button", name="Cancel job").click()
    expect(page.locator(".messages")).to_contain_text("Job cancelled.")
    expect(panel).to_have_attribute("data-status", "failed")
    expect(panel.locator(".job-error")).to_have_text("Cancelled by owner.")
    expect(panel).not_to_have_attribute("hx-trigger", "every 1s")
    expect(panel.get_by_role("button", name="Cancel job")).to_have_count(0)
    assert page.url.endswith(f"/studies/dl/imports/{job.pk}/")
    assert not page.problems.console_errors and not page.problems.csp_violations
