"""A researcher imports a Stack Exchange dump through the pages, in Chromium.

Sign in, upload a Posts.xml on the study's Imports page, watch the progress
bar that htmx polls until the real Celery worker has finished, then find a
post whose body is hostile HTML with the htmx search box and check that none
of its script runs. A second test uploads a file broken in the middle and
sees the import fail with the line number, having changed nothing.
"""

from __future__ import annotations

import html
import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from annotator.corpus.models import Post
from annotator.jobs.models import Job, JobStatus
from tests.browser.fixtures import worker_paused
from tests.factories import PASSWORD, MembershipFactory, StudyFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SITE = "serverfault.com"
QUESTIONS = 10
ANSWERS_PER_QUESTION = 2  # 10 questions + 20 answers = 30 rows
HOSTILE_ID = 16  # so_id of the hostile question
HOSTILE_TITLE = "Hostile markup in a post body"
HOSTILE_BODY = (
    "<p>This question tries everything.</p>\n"
    "<script>document.title='pwned';window.__pwned=1</script>\n"
    '<p><img src="x" onerror="window.__pwned=2"></p>\n'
    '<p><a id="jslink" href="javascript:window.__pwned=3">click me</a></p>\n'
    '<pre><code>if a &lt; b:\n    print("&lt;ok&gt;")\n</code></pre>\n'
)
JOB_TIMEOUT_MS = 60_000


def _row(**attrs) -> str:
    # As in real dumps: one row a line, markup escaped inside the attributes,
    # newlines as &#xA;.
    def esc(value) -> str:
        return html.escape(str(value), quote=True).replace("\n", "&#xA;")

    return "  <row " + " ".join(f'{k}="{esc(v)}"' for k, v in attrs.items()) + " />"


def _dump_rows() -> list[str]:
    rows = []
    for i in range(QUESTIONS):
        qid = 3 * i + 1
        hostile = qid == HOSTILE_ID
        rows.append(_row(
            Id=qid, PostTypeId=1, AcceptedAnswerId=qid + 1, CreationDate=f"2021-03-{i + 1:02d}T10:00:00.000",
            Score=i, ViewCount=10 * i, Body=HOSTILE_BODY if hostile else f"<p>How do I configure service {i}?</p>",
            OwnerUserId=100 + i, Title=HOSTILE_TITLE if hostile else f"Configuring service number {i}",
            Tags="|security|html|" if hostile else "|linux|nginx|", AnswerCount=ANSWERS_PER_QUESTION, CommentCount=0,
        ))
        for j in range(1, ANSWERS_PER_QUESTION + 1):
            rows.append(_row(
                Id=qid + j, PostTypeId=2, ParentId=qid, CreationDate=f"2021-03-{i + 1:02d}T1{j}:00:00.000",
                Score=j, Body=f"<p>Answer {j} to question {qid}: restart it.</p>", OwnerUserId=200 + j,
            ))
    return rows


def _dump(rows: list[str]) -> bytes:
    return ("\ufeff<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<posts>\n" + "\n".join(rows) + "\n</posts>\n").encode()


def _owner_and_study():
    user = UserFactory()
    study = StudyFactory(name="Hardening study")
    MembershipFactory(study=study, user=user, is_owner=True)
    return user, study


def _sign_in(page: Page, user) -> None:
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/$"))
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Your studies")).to_be_visible()


def _open_imports(page: Page, study) -> None:
    page.get_by_role("link", name=study.name).click()
    expect(page.get_by_role("heading", name=study.name)).to_be_visible()
    page.locator(".study-nav").get_by_role("link", name="Imports").click()
    expect(page.get_by_role("heading", name="Imports", exact=True)).to_be_visible()


def _upload(page: Page, path: Path) -> None:
    page.locator("input[type=file][name=files]").set_input_files(path)
    page.get_by_role("button", name="Upload and import").click()
    page.wait_for_url(re.compile(r"/imports/\d+/$"))


def _assert_no_script_errors(page: Page, *, allowed_404: tuple[str, ...] = ()) -> None:
    """No uncaught exception, and no console error other than CSP reports
    (content the policy blocked is fine) and the expected 404s."""
    problems = page.problems
    assert not problems.page_errors, problems.page_errors
    unexpected = [
        e for e in problems.console_errors
        if not (e.startswith("Failed to load resource") and "404" in e and e.endswith(allowed_404))
    ]
    assert not unexpected, unexpected


def test_import_with_live_progress_then_hostile_post_is_inert(page, live_server, celery_worker_process, tmp_path):
    user, study = _owner_and_study()
    dump = tmp_path / f"{SITE}-Posts.xml"
    dump.write_bytes(_dump(_dump_rows()))

    # 1. Anonymous: redirected to the login page; sign in through the form.
    _sign_in(page, user)

    # 2. The study's Imports page; upload while the worker is frozen, so that
    #    the job is seen queued at 0 % and then moving through htmx polling.
    _open_imports(page, study)
    polls: list[int] = []  # statuses of htmx's polls of the import page

    def record_poll(response):
        if response.request.headers.get("hx-request") == "true" and "/imports/" in response.url:
            polls.append(response.status)

    page.on("response", record_poll)
    with worker_paused(celery_worker_process):
        _upload(page, dump)
        job_id = int(re.search(r"/imports/(\d+)/$", page.url).group(1))
        job_section = page.locator(f"section#job-{job_id}")
        expect(page.locator(".messages")).to_contain_text("Import queued")
        expect(page.get_by_role("heading", name=f"Import #{job_id}")).to_be_visible()
        expect(job_section).to_have_attribute("data-status", "queued")
        expect(job_section).to_have_attribute("hx-trigger", "every 1s")
        expect(job_section.locator("progress")).to_have_attribute("value", "0")
        page.evaluate("window.__samePage = true")  # gone if anything reloads the page
        # htmx polls every second; while queued, each poll swaps in a polling section again.
        deadline = time.monotonic() + 5
        while len(polls) < 2 and time.monotonic() < deadline:
            page.wait_for_timeout(200)
        assert len(polls) >= 2 and set(polls) == {200}, polls
        expect(job_section).to_have_attribute("data-status", "queued")

    # 3. The worker runs; the polled section ends with the summary.
    expect(job_section).to_have_attribute("data-status", "succeeded", timeout=JOB_TIMEOUT_MS)
    assert page.evaluate("window.__samePage") is True, "the page reloaded instead of being updated by htmx"
    expect(job_section.locator("progress")).to_have_attribute("value", "100")
    expect(job_section.locator(".percent")).to_have_text("100 %")
    expect(job_section.locator(".figures")).to_contain_text(f"{QUESTIONS * (1 + ANSWERS_PER_QUESTION)} rows read")
    expect(job_section.locator(".status")).to_have_text("Succeeded")
    summary = job_section.locator("table.summary")
    expect(summary.locator("tr:has(th:text-is('Questions')) td")).to_have_text(str(QUESTIONS))
    expect(summary.locator("tr:has(th:text-is('Answers')) td")).to_have_text(str(QUESTIONS * ANSWERS_PER_QUESTION))
    expect(summary.locator("tr:has(th:text-is('Comments')) td")).to_have_text("0")
    expect(summary.locator("tr:has(th:text-is('Rejected')) td")).to_have_text("0")
    expect(summary.locator("tr:has(th:text-is('Study now holds')) td")).to_have_text(
        f"{QUESTIONS} questions, {QUESTIONS * ANSWERS_PER_QUESTION} answers, 0 comments"
    )
    # The finished section has no hx-get, and the last poll answered 286: polling stopped.
    expect(job_section).not_to_have_attribute("hx-get", re.compile(".*"))
    assert polls[-1] == 286, polls
    polls_when_done = len(polls)
    page.wait_for_timeout(1500)
    assert len(polls) == polls_when_done, "htmx kept polling a finished job"
    page.screenshot(path="/tmp/import_finished.png", full_page=True)
    assert Post.objects.filter(study=study).count() == QUESTIONS * (1 + ANSWERS_PER_QUESTION)

    # 4. Posts: the search box (focused with "/", app.js) filters through htmx.
    page.locator(".study-nav").get_by_role("link", name="Posts").click()
    expect(page.get_by_role("heading", name="Posts")).to_be_visible()
    page.wait_for_load_state()  # app.js has run (the heading comes first)
    results = page.locator("#post-results table.posts tbody tr")
    expect(results).to_have_count(QUESTIONS)
    page.evaluate("window.__samePage = true")
    page.keyboard.press("/")
    search = page.get_by_role("searchbox", name="Search")
    expect(search).to_be_focused()
    page.keyboard.type("hostile markup", delay=20)
    expect(results).to_have_count(1)
    expect(results.first).to_contain_text(HOSTILE_TITLE)
    expect(page).to_have_url(re.compile(r"/posts/\?q=hostile(%20|\+)markup(&|$)"))  # hx-push-url
    assert page.evaluate("window.__samePage") is True, "the search reloaded the page instead of using htmx"

    hostile = Post.objects.get(study=study, so_id=HOSTILE_ID)
    results.first.get_by_role("link", name=HOSTILE_TITLE).click()
    expect(page).to_have_url(re.compile(rf"/posts/{hostile.pk}/$"))
    question = page.locator(f"article#post-{HOSTILE_ID}")
    body = question.locator(".body")
    expect(question.get_by_role("heading", name=HOSTILE_TITLE)).to_be_visible()
    expect(page).to_have_title(f"{HOSTILE_TITLE} · {study.name}")
    expect(body).to_contain_text("This question tries everything.")

    assert page.title() != "pwned"
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert body.locator("script").count() == 0
    assert "document.title" not in body.inner_text()  # the script's text is dropped too
    expect(body.locator("img")).to_have_count(0)  # an image is named, not loaded (corpus/sanitize.py)
    expect(body.locator(".post-image")).to_have_text("[image: x]")
    link = body.get_by_text("click me")
    expect(link).to_have_count(1)
    href = link.get_attribute("href")
    assert href is None or not href.strip().lower().startswith("javascript:"), href
    url_before = page.url
    link.click()
    page.wait_for_timeout(300)
    assert page.url == url_before
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert page.title() != "pwned"
    code = body.locator("pre code")
    expect(code).to_be_visible()
    expect(code).to_contain_text('if a < b:\n    print("<ok>")')
    expect(page.get_by_role("heading", name="2 answers")).to_be_visible()
    page.screenshot(path="/tmp/hostile_post.png", full_page=True)

    _assert_no_script_errors(page)


def test_malformed_dump_fails_with_its_line_and_imports_nothing(page, live_server, celery_worker_process, tmp_path):
    user, study = _owner_and_study()
    rows = _dump_rows()[:9]
    broken = 4  # the fifth row is cut in two lines, as by a bad copy
    cut = len(rows[broken]) // 2
    rows[broken:broken + 1] = [rows[broken][:cut], rows[broken][cut:]]
    bad_line = 3 + broken  # line 1: <?xml?>, line 2: <posts>
    dump = tmp_path / f"{SITE}-Posts.xml"
    dump.write_bytes(_dump(rows))

    _sign_in(page, user)
    _open_imports(page, study)
    _upload(page, dump)  # the header is fine: the form accepts it and the job fails later

    job_section = page.locator("section.job")
    expect(job_section).to_have_attribute("data-status", "failed", timeout=JOB_TIMEOUT_MS)
    expect(job_section.locator(".status")).to_have_text("Failed")
    error = job_section.locator(".job-error")
    expect(error).to_contain_text(f"{SITE}-Posts.xml, line {bad_line}: malformed row")
    expect(error).to_contain_text("Nothing was imported")
    assert int(job_section.locator("progress").get_attribute("value")) < 100
    expect(job_section.locator("table.summary")).to_have_count(0)

    page.locator(".study-nav").get_by_role("link", name="Posts").click()
    expect(page.locator("#post-results")).to_contain_text("No posts in this study yet.")
    assert not Post.objects.filter(study=study).exists()
    assert Job.objects.get(study=study).status == JobStatus.FAILED
    _assert_no_script_errors(page)


def test_a_file_that_is_not_a_dump_is_refused_in_the_form_with_upload_progress(page, live_server, tmp_path):
    """The form is sent by htmx: the upload progress bar appears, and the
    refusal comes back into the form on the same page; no job is created."""
    user, study = _owner_and_study()
    _sign_in(page, user)
    _open_imports(page, study)
    page.evaluate("""() => {
        window.__samePage = true;
        window.__shownUpload = [];
        // Runs right after app.js's own listener (registered first), before any swap.
        document.addEventListener("htmx:xhr:progress", () => {
            const text = document.querySelector("#import-panel .upload-percent");
            if (text) window.__shownUpload.push(text.textContent);
        });
    }""")
    not_a_dump = tmp_path / "export.json"
    not_a_dump.write_bytes(b'{"posts": []}\n' + b" " * 300_000)
    page.locator("input[type=file][name=files]").set_input_files(not_a_dump)
    page.get_by_role("button", name="Upload and import").click()

    panel = page.locator("#import-panel")
    expect(panel.locator(".error")).to_contain_text("not a Stack Exchange", timeout=15_000)
    assert page.evaluate("window.__samePage") is True, "the refusal should not reload the page"
    assert "100 %" in page.evaluate("window.__shownUpload"), "the upload progress bar should have been filled"
    assert Job.objects.filter(study=study).count() == 0
    _assert_no_script_errors(page)
