"""Destructive actions ask first (issue 19, item 11): every form in the templates that posts and
whose button deletes, removes, retires, rejects, merges or cancels carries its question, as
``data-confirm`` on the form or on that button (static/js/app.js asks it with ``confirm()``) or,
for a form htmx sends, ``hx-confirm`` (htmx asks it before sending). No inline script does it
(the CSP forbids one). The browser test ``tests/taxonomy/tree/test_browser.py`` dismisses the
questions and sees nothing change."""

from __future__ import annotations

import re
from pathlib import Path

from django.conf import settings

TEMPLATES = Path(settings.BASE_DIR) / "templates"
DESTRUCTIVE = re.compile(r"^\s*(delete|remove|retire|reject|merge|cancel)\b", re.IGNORECASE)
FORM = re.compile(r"<form\b([^>]*)>(.*?)</form>", re.DOTALL | re.IGNORECASE)
BUTTON = re.compile(r"<button\b([^>]*)>(.*?)</button>", re.DOTALL | re.IGNORECASE)
TAG = re.compile(r"<[^>]*>|\{[%{#].*?[%}#]\}", re.DOTALL)


def _attribute(tag: str, name: str) -> str | None:
    found = re.search(rf'\s{name}="([^"]*)"', tag)
    return found.group(1) if found else None


def destructive_forms() -> list[tuple[str, str, str, str]]:
    """(template, button text, form tag attributes, button attributes) of every posting form
    with a destructive button."""
    out = []
    for path in sorted(TEMPLATES.rglob("*.html")):
        for form, body in FORM.findall(path.read_text()):
            if (_attribute(form, "method") or "").lower() != "post" and _attribute(form, "hx-post") is None:
                continue
            for button, text in BUTTON.findall(body):
                text = " ".join(TAG.sub(" ", text).split())
                if DESTRUCTIVE.match(text):
                    out.append((str(path.relative_to(TEMPLATES)), text, form, button))
    return out


def test_every_destructive_form_asks_first():
    forms = destructive_forms()
    found = {(template, text.lower()) for template, text, _, _ in forms}
    # the ones known today: the scan must keep finding them (else it checks nothing)
    assert {("taxonomy/tree/category_edit.html", "retire"), ("taxonomy/tree/category_edit.html", "merge"),
            ("taxonomy/tree/category_edit.html", "reject into this leaf"), ("studies/members.html", "remove"),
            ("selection/set_detail.html", "delete this set"), ("taxonomy/coding/item.html", "remove"),
            ("jobs/_progress.html", "cancel job")} <= found, found
    missing = []
    for template, text, form, button in forms:
        if _attribute(form, "hx-post") is not None:
            question = _attribute(form, "hx-confirm") or _attribute(button, "hx-confirm")
        else:
            question = _attribute(button, "data-confirm") or _attribute(form, "data-confirm")
        if not (question and question.strip().endswith((".", "?")) and "?" in question):
            missing.append(f"{template}: “{text}”")
    assert not missing, "destructive forms that do not ask first (data-confirm, or hx-confirm with htmx): " + \
        ", ".join(missing)


def test_no_inline_handler_asks():
    """The CSP blocks inline script: a question in onclick/onsubmit would never be asked."""
    inline = [str(p.relative_to(TEMPLATES)) for p in TEMPLATES.rglob("*.html")
              if re.search(r"\son(click|submit)=", p.read_text(), re.IGNORECASE)]
    assert not inline, inline
