"""New categories announced while labelling (issue 19, item 11): what an owner or arbitrator
adds or approves once labelling has started is told to the other members the next time they
open labelling, until they dismiss it; never a category that is not public."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.template import Context, Template
from django.test import RequestFactory
from django.urls import reverse

from taxonomy.tree.models import CategoriesSeen, CategoryChange
from taxonomy.tree.selectors import categories_announced
from taxonomy.tree.services import (
    categories_announced_dismiss,
    category_add,
    category_approve,
    category_retire,
)

pytestmark = pytest.mark.django_db


def told(team, user) -> list[str]:
    return [f"{a.path} ({'approved' if a.approved else 'added'} by {a.actor})"
            for a in categories_announced(study=team.study, user=user).items]


@pytest.fixture
def tree(team):
    """A root and a leaf made before labelling started: nobody is told about them."""
    server = category_add(study=team.study, name="Server", parent=None, actor=team.owner)
    category_add(study=team.study, name="Latency", parent=server, actor=team.owner)
    CategoryChange.objects.filter(study=team.study).update(at=team.draw.labelling_started_at - timedelta(hours=1))
    return server


def test_added_and_approved_categories_are_told_to_the_others_until_dismissed(team, tree):
    ana, bo = team.raters
    assert told(team, ana) == [] and told(team, bo) == []
    category_add(study=team.study, name="Cold start", parent=tree, actor=team.owner)
    gpu = category_add(study=team.study, name="GPU", parent=tree, proposed=True, actor=ana)
    # a private proposal is told to nobody, not even to those who may see it
    for user in (ana, bo, team.owner, team.arbitrator, team.viewer):
        assert told(team, user) == ([] if user == team.owner else ["Server › Cold start (added by owner)"])
    category_approve(category=gpu, actor=team.arbitrator)
    assert told(team, bo) == ["Server › GPU (approved by arb)", "Server › Cold start (added by owner)"]
    assert told(team, ana) == told(team, bo)  # her proposal, approved by someone else
    assert told(team, team.arbitrator) == ["Server › Cold start (added by owner)"]  # not their own

    announced = categories_announced(study=team.study, user=bo)
    categories_announced_dismiss(study=team.study, user=bo, up_to=announced.up_to)
    assert told(team, bo) == [] and len(told(team, ana)) == 2
    category_add(study=team.study, name="Edge", parent=None, actor=team.owner)
    assert told(team, bo) == ["Edge (added by owner)"]
    categories_announced_dismiss(study=team.study, user=bo, up_to=announced.up_to)  # an older tab
    assert told(team, bo) == ["Edge (added by owner)"]
    assert CategoriesSeen.objects.get(study=team.study, user=bo).change_id == announced.up_to


def test_only_live_public_categories_are_told_under_public_names(team, tree):
    ana, bo = team.raters
    retired = category_add(study=team.study, name="Short-lived", parent=tree, actor=team.owner)
    category_retire(category=retired, actor=team.owner)
    private = category_add(study=team.study, name="Secret idea", parent=tree, proposed=True, actor=ana)
    # an owner who rates nowhere sees the proposal and may add under it: active, but under a private name
    below = category_add(study=team.study, name="Below it", parent=private, actor=team.owner)
    assert below.status == "active" and told(team, team.arbitrator) == []
    for user in (ana, bo, team.viewer, team.arbitrator):
        assert told(team, user) == []


def test_nothing_is_told_without_labelling_or_to_outsiders(team, tree):
    category_add(study=team.study, name="Cold start", parent=tree, actor=team.owner)
    assert categories_announced(study=team.study, user=team.stranger).items == []
    team.draw.status = "ready"
    team.draw.save(update_fields=["status"])
    assert told(team, team.raters[0]) == []


def test_the_box_and_its_dismiss_button(client, team, tree):
    ana, bo = team.raters
    category_add(study=team.study, name="Cold <start>", parent=tree, actor=team.owner)
    request = RequestFactory().get("/studies/dl/labelling/")
    request.user = bo
    box = Template("{% load tree_tags %}{% announced_categories study %}").render(
        Context({"request": request, "study": team.study}))
    assert "New category: <strong>Server › Cold &lt;start&gt;</strong>" in box and "added by owner at" in box
    assert 'name="next" value="/studies/dl/labelling/"' in box
    up_to = categories_announced(study=team.study, user=bo).up_to
    assert f'name="up_to" value="{up_to}"' in box

    url = reverse("tree:announcements_dismiss", args=["dl"])
    client.force_login(bo)
    response = client.post(url, {"up_to": up_to, "next": "/studies/dl/labelling/"})
    assert response.status_code == 302 and response["Location"] == "/studies/dl/labelling/"
    assert told(team, bo) == []
    assert client.get(url).status_code == 405

    client.force_login(team.viewer)  # any member; htmx: the box again, empty now
    response = client.post(url, {"up_to": str(10**30), "next": "https://elsewhere.example/"},
                           HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and "New category" not in response.content.decode()
    assert 'id="categories-announced"' in response.content.decode()
    assert told(team, team.viewer) == []
    assert client.post(url, {"next": "https://elsewhere.example/"})["Location"] == "/studies/dl/taxonomy/"

    client.force_login(team.stranger)
    assert client.post(url, {"up_to": up_to}).status_code == 404


def test_the_labelling_page_shows_the_box(client, team, tree):
    ana, bo = team.raters
    category_add(study=team.study, name="Cold start", parent=tree, actor=team.owner)
    client.force_login(bo)
    page = client.get(reverse("labelling:queue", args=["dl"]), follow=True).content.decode()
    assert "New category: <strong>Server › Cold start</strong>" in page
    client.post(reverse("tree:announcements_dismiss", args=["dl"]))
    page = client.get(reverse("labelling:queue", args=["dl"]), follow=True).content.decode()
    assert "New category: " not in page and 'id="categories-announced"' in page
