"""Browser fixtures: Debian's Chromium driven by Playwright's sync API. A plugin of the whole
suite (``pytest_plugins`` in the root ``conftest.py``): a browser test anywhere asks for
``page`` or ``browser`` without importing them.

Playwright's sync API keeps an asyncio event loop "running" in the main
thread for as long as it is started, and Django then refuses ORM calls from
that thread (SynchronousOnlyOperation) — factories in the test, and the
database flush of ``transaction=True`` at teardown. There is no real
concurrency here (Playwright switches greenlets, it does not run our code on
the loop), so ``DJANGO_ALLOW_ASYNC_UNSAFE`` is set for exactly as long as
Playwright runs: this module-scoped fixture, then restored, so that the tests
of other packages keep Django's check.
"""

from __future__ import annotations

import os
import signal
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser(chromium_path):
    from playwright.sync_api import sync_playwright

    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
            try:
                yield browser
            finally:
                browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@dataclass
class PageProblems:
    """What the browser complained about while the test ran."""

    console_errors: list[str] = field(default_factory=list)  # "message @ url"
    page_errors: list[str] = field(default_factory=list)  # uncaught exceptions
    csp_violations: list[str] = field(default_factory=list)  # console reports of content the CSP blocked


@pytest.fixture
def page(browser, live_server):
    """A fresh context and page (no cookies), with console errors, uncaught
    page errors and CSP violations collected on ``page.problems``."""
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1200, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    problems = PageProblems()

    def on_console(message):
        if message.type != "error":
            return
        url = (message.location or {}).get("url", "")
        if "Content Security Policy" in message.text:  # Chromium reports blocked content this way
            problems.csp_violations.append(f"{message.text} @ {url}")
        else:
            problems.console_errors.append(f"{message.text} @ {url}")

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.page_errors.append(f"{error.name}: {error.message}\n{error.stack}"))
    page.problems = problems
    yield page
    context.close()


@contextmanager
def worker_paused(worker):
    """Freeze the Celery worker process (SIGSTOP) so that a queued job stays
    queued while the page is looked at; always resumed (SIGCONT)."""
    os.kill(worker.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(worker.pid, signal.SIGCONT)
