"""Who sees similar coded posts (issue 20, point 5, and the blindness rule): a rater never
before submitting; after it only with "show after submit" on; final labels of a draw whose
round runs never to those who rate on it."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse
from django.utils import timezone

from sampling.draws.models import Assignment
from taxonomy.classifier import viewing
from taxonomy.classifier.models import ClassifierSettings
from taxonomy.labelling import services as labelling_services
from taxonomy.review.arbitration.models import FinalLabel, FinalLabelCategory
from tests.factories import MembershipFactory, UserFactory, coded_study, labelling_draw

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(db):
    """A coded draw (arbitration started) and a draw whose round runs, its posts about the
    coded topics; rita and rolf rate the running one, olga owns (and rates nothing), vera views."""
    owner = UserFactory(username="olga")
    study = MembershipFactory(user=owner, is_owner=True, is_arbitrator=True).study
    rita, rolf, vera = UserFactory(username="rita"), UserFactory(username="rolf"), UserFactory(username="vera")
    for rater in (rita, rolf):
        MembershipFactory(study=study, user=rater, is_rater=True)
    MembershipFactory(study=study, user=vera)
    _, leaves, coded, _ = coded_study(study=study, decided_by=owner, per_leaf=3)
    running = labelling_draw(study=study, raters=[rita, rolf], pilot=1, reliability=2, per_item=2)
    for item in running.items.select_related("post"):
        item.post.title, item.post.body = "Docker container port", "<p>docker container image compose server</p>"
        item.post.save()
    items = list(running.items.filter(part="reliability").order_by("pk"))
    return {"study": study, "owner": owner, "rita": rita, "rolf": rolf, "vera": vera, "leaves": leaves,
            "running": running, "items": items, "coded": coded}


def _get(client, user, url, **headers):
    client.force_login(user)
    return client.get(url, **headers)


def _similar(w, item):
    return reverse("classifier:similar", args=[w["study"].slug, item.pk])


def _api(w, item):
    return reverse("api-similar-posts", args=[w["study"].slug, item.pk])


def _submit(w, rater, item):
    labelling_services.label_submit_on_item(study=w["study"], rater=rater, item_id=item.pk, kind="false_positive")


def _show_after_submit(w, on: bool):
    viewing.classifier_settings_update(study=w["study"], actor=w["owner"], show_after_submit=on)


@pytest.mark.parametrize("on", [False, True])
def test_before_submitting_a_rater_is_refused_with_why(world, client, on):
    w, item = world, world["items"][0]
    _show_after_submit(w, on)
    page = _get(client, w["rita"], _similar(w, item))
    assert page.status_code == 403
    assert "never shown before you submit" in page.content.decode()
    api = client.get(_api(w, item))
    assert api.status_code == 403 and "before you submit" in api.json()["detail"]
    assert client.get(_similar(w, item), HTTP_HX_REQUEST="true").status_code == 204
    labelling = client.get(reverse("labelling:item", args=[w["study"].slug, item.pk])).content.decode()
    assert _similar(w, item) not in labelling and 'class="similar-posts"' not in labelling


def test_after_submitting_with_the_setting_off_nothing_is_shown(world, client):
    w, item = world, world["items"][0]
    _submit(w, w["rita"], item)
    page = _get(client, w["rita"], _similar(w, item))
    assert page.status_code == 403 and "show after submit" in page.content.decode()
    assert client.get(_api(w, item)).status_code == 403
    # the labelling page asks, and gets nothing to show
    assert client.get(_similar(w, item), HTTP_HX_REQUEST="true").status_code == 204
    labelling = client.get(reverse("labelling:item", args=[w["study"].slug, item.pk])).content.decode()
    assert f'hx-get="{_similar(w, item)}"' in labelling and 'class="similar-posts"' not in labelling


def test_after_submitting_with_the_setting_on_the_similar_posts_are_shown(world, client):
    w, item = world, world["items"][0]
    _show_after_submit(w, True)
    _submit(w, w["rita"], item)
    labelling = _get(client, w["rita"], reverse("labelling:item", args=[w["study"].slug, item.pk])).content.decode()
    assert f'hx-get="{_similar(w, item)}"' in labelling
    panel = client.get(_similar(w, item), HTTP_HX_REQUEST="true")
    assert panel.status_code == 200 and "Server › Docker serving" in panel.content.decode()
    api = client.get(_api(w, item)).json()
    assert api["results"] and api["results"][0]["categories"] == ["Server › Docker serving"]
    # rolf, on the same item, has not submitted: still refused
    assert _get(client, w["rolf"], _similar(w, item)).status_code == 403


def test_an_owner_who_rates_is_refused_as_a_rater(world, client):
    w = world
    Assignment.objects.filter(item=w["items"][1], rater=w["rolf"]).update(rater=w["owner"])
    assert _get(client, w["owner"], _similar(w, w["items"][1])).status_code == 403
    assert _get(client, w["owner"], _similar(w, w["items"][0])).status_code == 200  # not theirs


def test_another_raters_item_and_a_viewer_get_404(world, client):
    w = world
    stranger = w["coded"][0]  # an item rita holds no assignment on
    assert _get(client, w["rita"], _similar(w, stranger)).status_code == 404
    assert _get(client, w["vera"], _similar(w, w["items"][0])).status_code == 404
    assert client.get(_api(w, w["items"][0])).status_code == 404


def test_final_labels_of_a_running_round_are_never_shown_to_its_raters(world, client):
    """A final label on an item of the running draw (there should be none before arbitration, but
    the rule must hold whatever the data): its raters never see it, an owner who rates nothing does."""
    w = world
    _show_after_submit(w, True)
    _submit(w, w["rita"], w["items"][0])
    twin = w["items"][1]  # its post is worded as items[0]'s
    final = FinalLabel.objects.create(item=twin, kind="categories", method="arbitrated", decided_by=w["owner"],
                                      decided_at=timezone.now(), reason="r")
    FinalLabelCategory.objects.create(final=final, category=w["leaves"]["Android build"])
    seen_by_rita = _get(client, w["rita"], _api(w, w["items"][0]))
    assert seen_by_rita.status_code == 200
    assert twin.pk not in {r["item"] for r in seen_by_rita.json()["results"]}
    assert "Android build" not in json.dumps(seen_by_rita.json())
    seen_by_owner = _get(client, w["owner"], _api(w, w["items"][0])).json()
    assert seen_by_owner["results"][0]["item"] == twin.pk
    # the nearest-neighbour figures count only what each may see
    rita_n = _get(client, w["rita"], reverse("api-neighbour-accuracy", args=[w["study"].slug])).json()[0]["n"]
    owner_n = _get(client, w["owner"], reverse("api-neighbour-accuracy", args=[w["study"].slug])).json()[0]["n"]
    assert (rita_n, owner_n) == (18, 19)


def test_only_an_owner_turns_show_after_submit_on(world, client):
    w = world
    url = reverse("classifier:similarity_settings", args=[w["study"].slug])
    assert _get(client, w["rita"], url).status_code == 404
    assert client.post(url, {"show_after_submit": "on"}).status_code == 404
    assert not ClassifierSettings.objects.filter(study=w["study"], show_after_submit=True).exists()
    page = _get(client, w["owner"], url)
    assert page.status_code == 200 and 'name="show_after_submit"' in page.content.decode()
    assert 'checked' not in page.content.decode().split('name="show_after_submit"')[1].split(">")[0]
    client.post(url, {"show_after_submit": "on"})
    assert ClassifierSettings.objects.get(study=w["study"]).show_after_submit
    client.post(url, {})
    assert not ClassifierSettings.objects.get(study=w["study"]).show_after_submit
    api = reverse("api-similarity-settings", args=[w["study"].slug])
    assert client.get(api).json() == {"show_after_submit": False}
    changed = client.put(api, data=json.dumps({"show_after_submit": True}), content_type="application/json")
    assert changed.status_code == 200 and changed.json() == {"show_after_submit": True}
    assert client.put(api, data=json.dumps({"show_after_submit": "yes"}),
                      content_type="application/json").status_code == 400
    client.force_login(w["rita"])
    assert client.get(api).status_code == 404
    assert client.put(api, data=json.dumps({"show_after_submit": False}),
                      content_type="application/json").status_code == 404
    assert ClassifierSettings.objects.get(study=w["study"]).show_after_submit


def test_a_rater_asked_to_label_again_sees_nothing_until_the_new_label_is_in(world, client):
    """After arbitration starts, a rater's items are open to them, except while an arbitrator asks
    them to label one again: then they are labelling it."""
    from taxonomy.review.arbitration.models import RelabelRequest

    w, item = world, world["items"][0]
    for rater in (w["rita"], w["rolf"]):
        _submit(w, rater, item)
    w["running"].arbitration_started_at = timezone.now()
    w["running"].save(update_fields=["arbitration_started_at"])
    assert _get(client, w["rita"], _similar(w, item)).status_code == 200
    request = RelabelRequest.objects.create(assignment=Assignment.objects.get(item=item, rater=w["rita"]),
                                            requested_by=w["owner"], message="look again")
    page = client.get(_similar(w, item))
    assert page.status_code == 403 and "label this item again" in page.content.decode()
    assert _get(client, w["rolf"], _similar(w, item)).status_code == 200  # not asked
    request.done_at = timezone.now()
    request.save(update_fields=["done_at"])
    assert _get(client, w["rita"], _similar(w, item)).status_code == 200
