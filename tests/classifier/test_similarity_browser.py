"""The similar-posts panels in Chromium (issue 20, points 4-5): loaded by URL into the arbitration
item page, opened under a Pending item and as the Pending clusters, shown to a rater on the
labelling page only once submitted and with "show after submit" on; each without a console
error and without a serious axe finding."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from taxonomy.classifier import viewing
from taxonomy.labelling import services as labelling_services
from tests.browser.test_import_flow import _assert_no_script_errors, _sign_in
from tests.browser.test_labelling import _axe_serious
from tests.factories import MembershipFactory, UserFactory, coded_study, labelling_draw

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_panels_on_the_arbitration_pending_and_labelling_pages(page, live_server):  # noqa: F811
    owner = UserFactory(username="olga")
    study = MembershipFactory(user=owner, is_owner=True, is_arbitrator=True).study
    rita, rolf = UserFactory(username="rita"), UserFactory(username="rolf")
    for rater in (rita, rolf):
        MembershipFactory(study=study, user=rater, is_rater=True)
    _, _, _, waiting = coded_study(study=study, decided_by=owner, per_leaf=3, pending=6, raters=[rita, rolf],
                                   notes=["docker image too big", "gradle android apk"])
    running = labelling_draw(study=study, raters=[rita, rolf], pilot=0, reliability=1, per_item=2)
    item = running.items.select_related("post").get()
    item.post.title, item.post.body = "Docker container port", "<p>docker container image compose server</p>"
    item.post.save()

    _sign_in(page, owner)
    page.goto(f"/studies/{study.slug}/arbitration/items/{waiting[0].pk}/")
    panel = page.locator(".similar-posts")
    expect(panel.get_by_role("heading", name="Similar coded posts")).to_be_visible()
    expect(panel.locator(".similar-label").first).to_have_text("Server › Docker serving")
    assert not _axe_serious(page)

    page.goto(f"/studies/{study.slug}/arbitration/pending/")
    page.locator(".pending-item summary").first.click()
    expect(page.locator(".pending-item .similar-posts").first.locator("li").first).to_be_visible()
    page.locator("summary", has_text="Clusters").click()
    clusters = page.locator("#pending-clusters")
    expect(clusters.get_by_text("docker image too big")).to_be_visible()
    assert not _axe_serious(page)
    # the pages of their own: an item's similar posts, the clusters, the accuracy, the setting
    for url in (f"classifier/similar-posts/{waiting[0].pk}/", "classifier/pending-clusters/",
                "classifier/similar-posts/accuracy/", "classifier/similar-posts/settings/"):
        page.goto(f"/studies/{study.slug}/{url}")
        expect(page.locator("h1")).to_be_visible()
        assert not _axe_serious(page), url
        assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth"), url
    _assert_no_script_errors(page)

    # rita: nothing before submitting, nothing after with the setting off, the panel with it on
    page.context.clear_cookies()
    _sign_in(page, rita)
    page.goto(f"/studies/{study.slug}/labelling/items/{item.pk}/")
    expect(page.locator("#submit-label")).to_be_visible()
    assert page.locator(".similar-posts, .similar-loader").count() == 0
    labelling_services.label_submit_on_item(study=study, rater=rita, item_id=item.pk, kind="false_positive")
    page.reload()
    page.wait_for_function("() => !document.querySelector('.htmx-request')")
    assert page.locator(".similar-posts").count() == 0
    viewing.classifier_settings_update(study=study, actor=owner, show_after_submit=True)
    page.reload()
    expect(page.locator(".similar-posts .similar-label").first).to_have_text("Server › Docker serving")
    assert not _axe_serious(page)
    _assert_no_script_errors(page)
