"""In Chromium: a user locked out after too many failed sign-ins is told why on the
sign-in page, and an upload declared over the limit is refused inside the import form
(413 before the body is read; static/js/app.js shows the reason)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from annotator.jobs.models import Job
from tests.factories import PASSWORD, MembershipFactory, StudyFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _sign_in(page: Page, username: str, password: str) -> None:
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def _unexpected_console_errors(page: Page, allowed_status: int) -> list[str]:
    return [
        e for e in page.problems.console_errors
        if not (e.startswith("Failed to load resource") and f"status of {allowed_status}" in e)
    ]


def test_a_locked_out_user_is_told_why_and_the_right_password_waits(page, live_server, settings):
    settings.AXES_FAILURE_LIMIT = 3
    UserFactory(username="ana")
    page.goto("/accounts/login/")
    for _ in range(2):
        _sign_in(page, "ana", "wrong")
        expect(page.locator(".error")).to_contain_text("Please enter a correct username and password")
    _sign_in(page, "ana", "wrong")
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Too many failed sign-ins for this account or from this address")
    expect(alert).to_contain_text("Try again in 15 minutes")
    expect(page.get_by_label("Username")).to_have_value("ana")

    _sign_in(page, "ana", PASSWORD)
    expect(page.get_by_role("alert")).to_contain_text("Too many failed sign-ins")
    expect(page).to_have_url(re.compile(r"/accounts/login/$"))
    assert not page.problems.page_errors
    assert not _unexpected_console_errors(page, 429)


def test_an_upload_declared_over_the_limit_is_refused_in_the_form(page, live_server, settings, tmp_path):
    settings.TAXONOMIST_MAX_UPLOAD_BYTES = 1_000  # the form's allowance (64 KB) comes on top
    user = UserFactory()
    study = StudyFactory(name="Limits", slug="limits")
    MembershipFactory(study=study, user=user, is_owner=True)
    page.goto("/accounts/login/")
    _sign_in(page, user.username, PASSWORD)
    expect(page.get_by_role("heading", name="Your studies")).to_be_visible()
    page.goto(f"/studies/{study.slug}/imports/")
    page.evaluate("window.__samePage = true")

    dump = tmp_path / "serverfault.com-Posts.xml"
    dump.write_bytes(b'<?xml version="1.0" encoding="utf-8"?>\n<posts>\n' + b" " * 200_000 + b"</posts>\n")
    page.locator("input[type=file][name=files]").set_input_files(dump)
    page.get_by_role("button", name="Upload and import").click()

    refusal = page.locator("#import-form .upload-refused")
    expect(refusal).to_contain_text("over the 0 MB limit (TAXONOMIST_MAX_UPLOAD_BYTES)")
    expect(refusal).to_contain_text("manage.py import_stackexchange")
    expect(page.locator("#import-form .upload-progress")).to_be_hidden()
    expect(page.get_by_role("button", name="Upload and import")).to_be_enabled()
    assert page.evaluate("window.__samePage") is True, "the refusal should not reload the page"
    assert not Job.objects.filter(study=study).exists()
    assert not page.problems.page_errors
    assert not _unexpected_console_errors(page, 413)
