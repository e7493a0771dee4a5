"""Arbitration pages: who sees them, the side-by-side item page, deciding, Pending → category."""

import pytest
from django.urls import reverse

from taxonomy.arbitration.models import FinalLabel
from taxonomy.arbitration.services import arbitration_start
from tests.factories import MembershipFactory, UserFactory

from .test_services import setting  # noqa: F401  (the fixture)


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
    assert response.status_code == 200 and "already decided by arb" in response.content.decode()
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
