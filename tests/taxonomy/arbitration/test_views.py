"""Arbitration pages: who sees them, the side-by-side item page, deciding, Pending → category."""

import pytest
from django.urls import reverse

from sampling.draws.models import Assignment
from taxonomy.review.arbitration.models import FinalLabel
from taxonomy.review.arbitration.services import arbitration_start
from tests.factories import MembershipFactory, UserFactory, labelling_draw

from .test_services import label, setting  # noqa: F401  (the fixture)


@pytest.fixture
def started(setting):  # noqa: F811
    arbitration_start(draw=setting["draw"], user=setting["arbitrator"])
    return setting


def url(name, s, **kw):
    return reverse(f"arbitration:{name}", kwargs={"slug": s["study"].slug, **kw})


@pytest.mark.django_db
def test_raters_viewers_and_strangers_get_404(client, started):
    s = started
    viewer, stranger = UserFactory(), UserFactory()
    MembershipFactory(study=s["study"], user=viewer)
    for user in (s["r1"], viewer, stranger):
        client.force_login(user)
        assert client.get(url("home", s)).status_code == 404
        assert client.get(url("item", s, item_id=s["items"][1].pk)).status_code == 404
        assert client.get(url("pending", s)).status_code == 404


@pytest.mark.django_db
def test_the_item_page_shows_each_rater_side_by_side_and_escapes_notes(client, started):
    s = started
    client.force_login(s["arbitrator"])
    home = client.get(url("home", s)).content.decode()
    assert s["items"][1].post.title in home and s["items"][0].post.title not in home  # agreed: not queued
    page = client.get(url("item", s, item_id=s["items"][1].pk)).content.decode()
    assert "ann" in page and "bob" in page
    assert "Server › GPU memory" in page and "Mobile › App size" in page
    assert "memory &lt;b&gt;leak&lt;/b&gt;" in page and "memory <b>leak</b>" not in page
    assert 'id="decide-form"' in page


@pytest.mark.django_db
def test_deciding_saves_the_final_label_and_a_late_second_decision_is_told(client, started):
    s = started
    item = s["items"][1]
    client.force_login(s["arbitrator"])
    response = client.post(url("item", s, item_id=item.pk),
                           {"kind": "categories", "categories": [s["gpu"].pk], "reason": "about GPU memory"})
    assert response.status_code == 302
    final = FinalLabel.objects.get(item=item)
    assert (final.decided_by, final.method) == (s["arbitrator"], "arbitrated")
    other = UserFactory(username="late")
    MembershipFactory(study=s["study"], user=other, is_arbitrator=True)
    client.force_login(other)
    page = client.get(url("item", s, item_id=item.pk)).content.decode()
    assert 'id="final-label"' in page and "arbitrated by arb" in page
    response = client.post(url("item", s, item_id=item.pk), {"kind": "unclear", "reason": "late"})
    assert response.status_code == 409 and "already decided by arb" in response.content.decode()
    assert FinalLabel.objects.get(item=item).kind == "categories"


@pytest.mark.django_db
def test_owner_who_is_not_arbitrator_reads_but_cannot_decide(client, started):
    s = started
    owner = UserFactory()
    MembershipFactory(study=s["study"], user=owner, is_owner=True)
    client.force_login(owner)
    page = client.get(url("item", s, item_id=s["items"][1].pk)).content.decode()
    assert 'id="decide-form"' not in page
    assert client.post(url("item", s, item_id=s["items"][1].pk),
                       {"kind": "unclear", "reason": "x"}).status_code == 404


@pytest.mark.django_db
def test_pending_page_creates_a_category_from_a_pending_item(client, started):
    s = started
    client.force_login(s["arbitrator"])
    page = client.get(url("pending", s)).content.decode()
    assert s["items"][2].post.title in page and "Pending" in page
    response = client.post(url("pending", s), {"items": [s["items"][2].pk], "new_name": "Cold start",
                                               "new_parent": s["server"].pk, "new_definition": "slow first call",
                                               "reason": "none fits"})
    assert response.status_code == 302
    assert FinalLabel.objects.get(item=s["items"][2]).method == "from_pending"
    page = client.get(url("pending", s)).content.decode()
    assert 'id="from-pending">1<' in page and "No Pending items" in page


@pytest.mark.django_db
def test_owner_starts_arbitration_and_sets_roots(client, setting):  # noqa: F811
    s = setting
    owner = UserFactory()
    MembershipFactory(study=s["study"], user=owner, is_owner=True)
    client.force_login(owner)
    start = reverse("arbitration:start", kwargs={"slug": s["study"].slug, "version": s["draw"].version})
    client.post(start)
    s["draw"].refresh_from_db()
    assert s["draw"].arbitration_started_at is not None
    assert FinalLabel.objects.filter(method="agreed").count() == 2
    response = client.post(url("roots", s), {"user": s["arbitrator"].pk, "roots": [s["mobile"].pk]}, follow=True)
    assert "arb now arbitrates Mobile" in response.content.decode()


@pytest.mark.django_db
def test_pending_page_asks_the_raters_to_relabel_and_they_see_why(client, started):
    s = started
    client.force_login(s["arbitrator"])
    response = client.post(url("pending", s), {"items": [s["items"][2].pk], "action": "relabel",
                                               "category": s["export"].pk, "reason": "is it <b>Export</b>?"},
                           follow=True)
    assert "are asked to label it again against “Export” (2 requests)" in response.content.decode()
    assert not FinalLabel.objects.filter(item=s["items"][2]).exists()
    client.force_login(s["r1"])
    page = client.get(reverse("labelling:queue", kwargs={"slug": s["study"].slug})).content.decode()
    assert "arb asks you to label this item again, now that “Export” exists." in page
    assert "is it &lt;b&gt;Export&lt;/b&gt;?" in page


# -- the item page at the speed of labelling (issue 19) ---------------------------------------------

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def queue3(started):
    """The setting, plus a second draw whose three items the raters disagree on: four items to
    arbitrate in the queue's order (version 1's first, then version 2's by id)."""
    s = started
    draw = labelling_draw(study=s["study"], raters=[s["r1"], s["r2"]], pilot=0, reliability=3, per_item=2,
                          first_so_id=950_000)
    extra = list(draw.items.order_by("pk"))
    for item in extra:
        label(Assignment.objects.get(item=item, rater=s["r1"]), categories=[s["gpu"]])
        label(Assignment.objects.get(item=item, rater=s["r2"]), kind="unclear")
    arbitration_start(draw=draw, user=s["arbitrator"])
    return {**s, "queue": [s["items"][1], *extra]}


@pytest.mark.django_db
def test_an_empty_reason_is_refused_next_to_the_field_with_400_and_the_form_kept(client, started):
    s = started
    item = s["items"][1]
    client.force_login(s["arbitrator"])
    response = client.post(url("item", s, item_id=item.pk),
                           {"kind": "categories", "categories": [s["apk"].pk], "reason": "   "})
    assert response.status_code == 400
    page = response.content.decode()
    assert ('<p class="error" role="alert" id="reason-error">Say why: the reason is part of the published record.</p>'
            in page)
    assert 'aria-invalid="true" aria-describedby="reason-error"' in page  # the field says it is refused
    assert f'value="{s["apk"].pk}" checked' in page and f'value="{s["gpu"].pk}" checked' not in page  # kept
    assert " required" not in page.split('id="decide-form"')[1].split("</form>")[0]  # no browser tooltip first
    assert not FinalLabel.objects.filter(item=item).exists()


@pytest.mark.django_db
def test_htmx_gets_the_refused_panel_alone_with_its_message(client, started):
    s = started
    client.force_login(s["arbitrator"])
    response = client.post(url("item", s, item_id=s["items"][1].pk), {"kind": "unclear", "reason": ""}, **HTMX)
    page = response.content.decode()
    # 200: htmx swaps it (Chromium would log a 400 as a console error); the message is the service's.
    assert response.status_code == 200 and "<html" not in page and '<div id="arbitration-panel"' in page
    assert page.lstrip().startswith("<title>Arbitrate · ")  # htmx takes the page's title from it
    assert "Say why: the reason is part of the published record." in page
    assert 'name="kind" value="unclear" checked' in page


@pytest.mark.django_db
def test_take_a_raters_label_fills_the_choice_and_a_reason_naming_them(client, started):
    s = started
    item = s["items"][1]
    client.force_login(s["arbitrator"])
    page = client.get(url("item", s, item_id=item.pk)).content.decode()
    # Each rater's card carries what the key Shift+n takes, and a link that does the same without script.
    assert f'data-take="1" data-kind="categories" data-categories="{s["gpu"].pk}" data-reason="Took ann’s label."' in page
    assert f'data-take="2" data-kind="categories" data-categories="{s["apk"].pk}" data-reason="Took bob’s label."' in page
    assert "Shift+1" in page and "Shift+2" in page
    page = client.get(url("item", s, item_id=item.pk) + "?take=2").content.decode()
    assert f'value="{s["apk"].pk}" checked' in page and f'value="{s["gpu"].pk}" checked' not in page
    assert "Took bob’s label.</textarea>" in page
    response = client.post(url("item", s, item_id=item.pk),
                           {"kind": "categories", "categories": [s["apk"].pk], "reason": "Took bob’s label."})
    assert response.status_code == 302
    final = FinalLabel.objects.get(item=item)
    assert ([c.category_id for c in final.categories.all()], final.reason) == ([s["apk"].pk], "Took bob’s label.")


@pytest.mark.django_db
def test_a_pending_label_is_not_takeable(client, started):
    s = started
    client.force_login(s["arbitrator"])
    page = client.get(url("item", s, item_id=s["items"][2].pk) + "?take=1").content.decode()
    assert 'data-take="1"' not in page and 'data-take="2" data-kind="categories"' in page  # ann said Pending
    assert "Took ann" not in page


@pytest.mark.django_db
def test_the_next_item_of_the_queue_follows_a_decision(client, queue3):
    s, queue = queue3, queue3["queue"]
    client.force_login(s["arbitrator"])
    page = client.get(url("item", s, item_id=queue[1].pk)).content.decode()
    assert f'rel="prev" href="{url("item", s, item_id=queue[0].pk)}"' in page
    assert f'rel="next" href="{url("item", s, item_id=queue[2].pk)}"' in page
    assert "4 left in your queue" in page
    # Without script: a redirect to the next item.
    response = client.post(url("item", s, item_id=queue[1].pk), {"kind": "unclear", "reason": "both unsure"})
    assert response.status_code == 302 and response.url == url("item", s, item_id=queue[2].pk)
    # With htmx: the next item's panel, its URL pushed; the decided one is no longer a neighbour.
    response = client.post(url("item", s, item_id=queue[2].pk), {"kind": "unclear", "reason": "idem"}, **HTMX)
    assert response.status_code == 200 and response["HX-Push-Url"] == url("item", s, item_id=queue[3].pk)
    page = response.content.decode()
    assert f'data-item="{queue[3].pk}"' in page and "Decided: “" in page and "2 left in your queue" in page
    assert f'<h1 class="post-title">{queue[3].post.title}</h1>' in page  # the next item's post with its panel
    assert f'rel="prev" href="{url("item", s, item_id=queue[0].pk)}"' in page and 'rel="next"' not in page
    # The last one: no item after it, so the first one skipped comes next.
    response = client.post(url("item", s, item_id=queue[3].pk), {"kind": "unclear", "reason": "idem"}, **HTMX)
    assert response["HX-Push-Url"] == url("item", s, item_id=queue[0].pk)
    # When the queue is empty, htmx is sent to the arbitration page, where the message waits.
    response = client.post(url("item", s, item_id=queue[0].pk), {"kind": "unclear", "reason": "idem"}, **HTMX)
    assert response["HX-Redirect"] == url("home", s)
    assert "Nothing is left in your queue." in client.get(url("home", s)).content.decode()


@pytest.mark.django_db
def test_a_history_restore_gets_the_whole_page(client, started):
    s = started
    client.force_login(s["arbitrator"])
    page = client.get(url("item", s, item_id=s["items"][1].pk), HTTP_HX_REQUEST="true",
                      HTTP_HX_HISTORY_RESTORE_REQUEST="true").content.decode()
    assert "<html" in page and 'id="arbitration-panel"' in page


@pytest.mark.django_db
def test_pending_refuses_an_empty_reason_next_to_the_field_with_400(client, started):
    s = started
    client.force_login(s["arbitrator"])
    response = client.post(url("pending", s), {"items": [s["items"][2].pk], "action": "resolve",
                                               "category": s["export"].pk, "reason": ""})
    assert response.status_code == 400
    page = response.content.decode()
    assert 'id="reason-error">Say why: the reason is part of the published record.</p>' in page
    assert f'value="{s["export"].pk}" checked' in page and f'value="{s["items"][2].pk}" id="pending-{s["items"][2].pk}" checked' in page
    assert not FinalLabel.objects.filter(item=s["items"][2]).exists()


@pytest.mark.django_db
def test_pending_page_says_when_it_shows_only_the_first_items(client, setting, monkeypatch):  # noqa: F811
    """More Pending items than the page holds: the first ones in the queue's order, and the page
    says how many there are in all; with room for all of them, no such line."""
    from taxonomy.review.arbitration import selectors

    s = setting
    from taxonomy.labelling.models import Label, LabelCategory

    # a second Pending item: bob's label on the disagreed item becomes Pending
    LabelCategory.objects.filter(label__assignment__item=s["items"][1], label__assignment__rater=s["r2"]).delete()
    Label.objects.filter(assignment__item=s["items"][1], assignment__rater=s["r2"]).update(kind="pending")
    arbitration_start(draw=s["draw"], user=s["arbitrator"])
    client.force_login(s["arbitrator"])
    monkeypatch.setattr(selectors, "PENDING_PAGE_MAX", 1)
    page = client.get(url("pending", s)).content.decode()
    assert f'id="pending-{s["items"][1].pk}"' in page and f'id="pending-{s["items"][2].pk}"' not in page
    assert "The first 1 of 2 Pending items are shown" in page
    monkeypatch.setattr(selectors, "PENDING_PAGE_MAX", 2)
    page = client.get(url("pending", s)).content.decode()
    assert f'id="pending-{s["items"][2].pk}"' in page and 'id="pending-shown"' not in page
