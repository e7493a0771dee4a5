"""An owner builds a small tree in Chromium with htmx: add roots, open a category's edit panel in
place, add a sub-category, see a name clash explained in the panel, move a root under another,
all without a page load; a rater sees the same tree read-only."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from taxonomy.tree.models import Category
from tests.browser.test_import_flow import _assert_no_script_errors, _sign_in
from tests.factories import MembershipFactory, StudyFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_owner_builds_the_tree_in_place(page: Page, live_server):
    owner, rater = UserFactory(username="owner"), UserFactory(username="ana")
    study = StudyFactory(name="Deployment study", slug="deploy")
    MembershipFactory(study=study, user=owner, is_owner=True)
    MembershipFactory(study=study, user=rater, is_rater=True)
    page.on("dialog", lambda dialog: dialog.accept())
    _sign_in(page, owner)
    page.goto("/studies/deploy/taxonomy/")
    expect(page.get_by_text("No categories yet")).to_be_visible()
    page.evaluate("window.stillTheSamePage = true")

    add = page.locator("form.add-category")
    for name in ("Server/Cloud", "Mobile"):
        add.get_by_label("Name").fill(name)
        add.get_by_role("button", name="Add").click()
        expect(page.locator(".notice")).to_have_text(f"Added “{name}”.")
        add = page.locator("form.add-category")
    server = Category.objects.get(name="Server/Cloud")
    node = page.locator(f"#cat-{server.pk}")
    node.locator(":scope > .node-head").get_by_role("link", name="Edit").click()
    panel = node.locator(":scope > .edit-slot .edit-panel")
    expect(panel).to_be_visible()

    child = panel.locator("form.edit-child")
    child.get_by_label("Name").fill("Model Export")
    child.get_by_role("button", name="Add under “Server/Cloud”").click()
    expect(page.locator(".notice")).to_have_text("Added “Model Export” under “Server/Cloud”.")
    expect(page.locator(f"#cat-{server.pk} li[data-category='Model Export']")).to_be_visible()

    node.locator(":scope > .node-head").get_by_role("link", name="Edit").click()
    rename = node.locator(":scope > .edit-slot form.edit-rename")
    rename.get_by_label("New name").fill("mobile")
    rename.get_by_role("button", name="Rename").click()
    expect(node.locator(":scope > .edit-slot .error")).to_contain_text("“mobile” already exists among the roots")

    mobile = Category.objects.get(name="Mobile")
    mobile_node = page.locator(f"#cat-{mobile.pk}")
    mobile_node.locator(":scope > .node-head").get_by_role("link", name="Edit").click()
    move = mobile_node.locator("form.edit-move")
    move.get_by_label("Under").select_option(label="Server/Cloud")
    move.get_by_role("button", name="Move").click()
    expect(page.locator(".notice")).to_have_text("Moved “Mobile” under “Server/Cloud”.")
    expect(page.locator(f"#cat-{server.pk} li[data-category='Mobile']")).to_be_visible()
    assert page.evaluate("window.stillTheSamePage") is True  # every step was an htmx swap
    assert Category.objects.get(pk=mobile.pk).parent_id == server.pk
    _assert_no_script_errors(page)

    page.context.clear_cookies()
    _sign_in(page, rater)
    page.goto("/studies/deploy/taxonomy/")
    expect(page.locator(f"#cat-{server.pk}")).to_contain_text("Model Export")
    expect(page.get_by_role("link", name="Edit")).to_have_count(0)
    expect(page.locator("form.add-category")).to_have_count(0)


def test_dismissing_a_confirmation_changes_nothing(page: Page, live_server):
    """Retire (an htmx form: hx-confirm) and removing a member (a plain form's button:
    data-confirm, static/js/app.js) ask first; dismissed, nothing is sent; accepted, it is done."""
    from annotator.studies.models import Membership
    from taxonomy.tree.services import category_add

    owner, rater = UserFactory(username="owner"), UserFactory(username="ana")
    study = StudyFactory(name="Deployment study", slug="deploy")
    MembershipFactory(study=study, user=owner, is_owner=True)
    MembershipFactory(study=study, user=rater, is_rater=True)
    leaf = category_add(study=study, name="Lambda", parent=None, actor=owner)
    questions, posts, accept = [], [], []
    page.on("dialog", lambda dialog: (questions.append(dialog.message),
                                      dialog.accept() if accept else dialog.dismiss()))
    page.on("request", lambda request: posts.append(request.url) if request.method == "POST" else None)
    _sign_in(page, owner)

    page.goto("/studies/deploy/taxonomy/")
    node = page.locator(f"#cat-{leaf.pk}")
    node.locator(":scope > .node-head").get_by_role("link", name="Edit").click()
    retire = node.locator("form.edit-retire")
    retire.get_by_role("button", name="Retire").click()
    page.wait_for_load_state("networkidle")
    assert questions == ["Retire “Lambda”? It is no longer offered for labelling; it can be restored."]
    assert not [url for url in posts if "/retire/" in url]
    expect(retire).to_be_visible()
    assert Category.objects.get(pk=leaf.pk).status == "active"

    page.goto("/studies/deploy/members/")
    row = page.locator("tr", has_text="ana")
    row.get_by_role("button", name="Remove").click()
    page.wait_for_load_state("networkidle")
    assert questions[-1].startswith("Remove ana from this study?")
    assert not [url for url in posts if "/members/" in url]
    expect(page).to_have_url(re.compile(r"/studies/deploy/members/$"))
    assert Membership.objects.filter(study=study, user=rater).exists()

    accept.append(True)
    row.get_by_role("button", name="Remove").click()
    expect(page.locator("tr", has_text="ana")).to_have_count(0)
    assert not Membership.objects.filter(study=study, user=rater).exists()
    _assert_no_script_errors(page)


def test_a_rater_is_told_of_a_new_category_and_dismisses_it(page: Page, live_server):
    from datetime import timedelta

    from taxonomy.tree.models import CategoryChange
    from taxonomy.tree.services import category_add
    from tests.factories import labelling_draw

    owner, ana, bo = UserFactory(username="owner"), UserFactory(username="ana"), UserFactory(username="bo")
    study = StudyFactory(name="Deployment study", slug="deploy")
    MembershipFactory(study=study, user=owner, is_owner=True)
    for rater in (ana, bo):
        MembershipFactory(study=study, user=rater, is_rater=True)
    draw = labelling_draw(study=study, raters=[ana, bo], pilot=0, reliability=2)
    server = category_add(study=study, name="Server", parent=None, actor=owner)
    category_add(study=study, name="Latency", parent=server, actor=owner)
    CategoryChange.objects.update(at=draw.labelling_started_at - timedelta(hours=1))
    category_add(study=study, name="Cold start", parent=server, actor=owner)
    page.set_viewport_size({"width": 1366, "height": 768})
    _sign_in(page, ana)

    page.goto("/studies/deploy/labelling/")
    box = page.locator("#categories-announced")
    expect(box).to_contain_text("New category: Server › Cold start (added by owner at")
    page.screenshot(path="var/labelling-new-category-1366x768.png")
    box.get_by_role("button", name="Dismiss").click()
    expect(page.locator("#categories-announced li")).to_have_count(0)
    page.reload()
    expect(page.locator("#categories-announced li")).to_have_count(0)
    assert not page.problems.csp_violations, page.problems.csp_violations
    _assert_no_script_errors(page)
