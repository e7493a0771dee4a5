"""Two raters disagree on one item and one of them marks another Pending; the owner
starts arbitration in Chromium, and the arbitrator resolves both: the disagreement
with a final label and a reason, the Pending one by creating a category from it."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from sampling.draws.models import Assignment
from taxonomy.review.arbitration.models import FinalLabel, PendingCategory
from taxonomy.labelling.services import label_submit
from taxonomy.tree.services import category_add
from tests.browser.test_import_flow import _assert_no_script_errors, _sign_in
from tests.factories import MembershipFactory, StudyFactory, UserFactory, labelling_draw

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def arbitration_team(study):
    """The owner "owner", the arbitrator "arb" and the raters "ana" and "bo" of ``study``."""
    owner, arb = UserFactory(username="owner"), UserFactory(username="arb")
    MembershipFactory(study=study, user=owner, is_owner=True)
    MembershipFactory(study=study, user=arb, is_arbitrator=True)
    ana, bo = UserFactory(username="ana"), UserFactory(username="bo")
    for user in (ana, bo):
        MembershipFactory(study=study, user=user, is_rater=True)
    return owner, arb, ana, bo


def test_arbitrator_resolves_a_disagreement_and_a_pending_item(page: Page, live_server):
    study = StudyFactory(slug="dl", name="Deployment study")
    owner, arb, ana, bo = arbitration_team(study)
    root = category_add(study=study, name="Deployment", actor=owner)
    server = category_add(study=study, name="Server", actor=owner, parent=root)
    serving = category_add(study=study, name="Serving", actor=owner, parent=server)
    export = category_add(study=study, name="Export", actor=owner, parent=server)
    draw = labelling_draw(study=study, raters=[ana, bo], pilot=1, reliability=3, per_item=2)
    disputed, pending, agreed = draw.items.filter(part="reliability").order_by("pk")

    def submit(item, rater, kind, categories=(), note=""):
        label_submit(assignment=Assignment.objects.get(item=item, rater=rater), rater=rater, kind=kind,
                     category_ids=[c.pk for c in categories], note=note)

    submit(disputed, ana, "categories", [serving], note="it is the <i>serving</i> layer")
    submit(disputed, bo, "categories", [export])
    submit(pending, ana, "unclear")
    submit(pending, bo, "pending", note="cold start after deploy: no category yet")
    submit(agreed, ana, "categories", [export])
    submit(agreed, bo, "categories", [export])

    # -- the owner starts arbitration ------------------------------------------------------
    _sign_in(page, owner)
    page.goto("/studies/dl/arbitration/")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Start arbitration").click()
    expect(page.locator(".messages")).to_contain_text("1 agreed, 1 to arbitrate, 1 Pending")
    page.get_by_role("button", name="Sign out").click()

    # -- the arbitrator decides the disagreement ----------------------------------------------
    _sign_in(page, arb)
    page.goto("/studies/dl/arbitration/")
    queue = page.locator("#arbitration-queue li")
    expect(queue).to_have_count(1)
    queue.get_by_role("link").click()
    side = page.locator(".arb-raters")
    expect(side).to_contain_text("ana")
    expect(side).to_contain_text("Deployment › Server › Serving")
    expect(side).to_contain_text("bo")
    expect(side).to_contain_text("Deployment › Server › Export")
    expect(side).to_contain_text("it is the <i>serving</i> layer")  # shown as text, not markup
    page.get_by_label("Deployment › Server › Serving").check()
    page.get_by_label("Reason").fill("The question is about the serving API, not the export.")
    page.get_by_role("button", name="Save the final label").click()
    expect(page).to_have_url(re.compile(r"/studies/dl/arbitration/$"))
    expect(page.locator(".messages")).to_contain_text("Decided")
    expect(page.get_by_text("Nothing to arbitrate right now.")).to_be_visible()

    # -- and creates a category from the Pending item -------------------------------------------
    page.get_by_role("link", name="Pending queue").click()
    form = page.locator("#pending-form")
    expect(form).to_contain_text("cold start after deploy: no category yet")
    form.locator(f"#pending-{pending.pk}").check()
    page.get_by_label("…or a new category named").fill("Cold start")
    page.get_by_label("under").select_option(label="Deployment › Server")
    page.get_by_label("Definition").fill("The first requests after a deployment are slow.")
    page.get_by_label("Reason").fill("No category fitted; a new one from Pending.")
    page.get_by_role("button", name="Label the chosen items").click()
    expect(page.locator(".messages")).to_contain_text("1 Pending item labelled “Cold start”")
    expect(page.locator("#from-pending")).to_have_text("1")
    expect(page.get_by_text("No Pending items.")).to_be_visible()
    _assert_no_script_errors(page)

    finals = {f.item_id: f for f in FinalLabel.objects.prefetch_related("categories__category")}
    assert finals[agreed.pk].method == "agreed"
    assert (finals[disputed.pk].method, finals[disputed.pk].decided_by_id) == ("arbitrated", arb.pk)
    assert [c.category.name for c in finals[disputed.pk].categories.all()] == ["Serving"]
    assert finals[pending.pk].method == "from_pending"
    cold = PendingCategory.objects.get().category
    assert (cold.name, cold.parent_id) == ("Cold start", server.pk)


ARB_CONTROLS = ["#arb-side .item-nav", "#queue-left", ".arb-raters", ".arb-take a.take >> nth=0",
                ".arb-take a.take >> nth=1", "#decide-form .kinds", "#category-search", "#category-options",
                "#id_reason", "#decide-form button[type=submit]"]


def test_long_paths_and_notes_leave_every_arbitration_control_in_view(page: Page, live_server):
    """Deep leaves with long names and notes that wrap (the raters' cards then scroll in their
    box): at 1366×768 every control of the decision panel is in the window and neither clipped
    nor covered (tests/taxonomy/arbitration/test_browser.py checks the keyboard path on a
    shallower tree), before and after the post is scrolled, at 1920×1080 too, with no sideways
    scroll and no serious axe finding."""
    from taxonomy.review.arbitration.services import arbitration_start
    from tests.browser.test_labelling import VIEWPORT, _axe_serious, _in_view, _no_sideways_scroll, deep_taxonomy

    study = StudyFactory(slug="dl", name="Deployment study")
    owner, arb, ana, bo = arbitration_team(study)
    leaves = deep_taxonomy(study=study, owner=owner)
    draw = labelling_draw(study=study, raters=[ana, bo], pilot=0, reliability=2, per_item=2)
    for item in draw.items.order_by("pk"):
        post = item.post
        post.body = "".join(f"<p>Paragraph {i}: the model serves fine locally but fails behind the gateway.</p>"
                            for i in range(40))
        post.save(update_fields=["body"])
        for rater, chosen in ((ana, leaves[:2]), (bo, leaves[-1:])):
            label_submit(assignment=Assignment.objects.get(item=item, rater=rater), rater=rater, kind="categories",
                         category_ids=[c.pk for c in chosen], note="A note long enough to wrap onto a second line "
                         "of the rater's card, as real notes do when a rater explains a choice.")
    arbitration_start(draw=draw, user=owner)

    page.set_viewport_size(VIEWPORT)
    _sign_in(page, arb)
    page.goto("/studies/dl/arbitration/")
    page.locator("#arbitration-queue li a").first.click()
    expect(page.locator("#decide-form")).to_be_visible()
    page.screenshot(path="var/arbitration-1366x768.png")
    for selector in ARB_CONTROLS:
        _in_view(page, selector)
    _no_sideways_scroll(page)
    page.mouse.wheel(0, 2000)  # the post scrolls; the panel stays
    for selector in ARB_CONTROLS:
        _in_view(page, selector)
    assert not _axe_serious(page)
    page.set_viewport_size({"width": 1920, "height": 1080})
    for selector in ARB_CONTROLS:
        _in_view(page, selector)
    _no_sideways_scroll(page)
    _assert_no_script_errors(page)
