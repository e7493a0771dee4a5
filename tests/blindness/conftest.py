"""The blind-coding scenario: one study in its reliability round.

Members: an owner who rates nothing (olga), two raters (ana, bertold), an owner
who also rates on the draw (rhea: owner + rater) and a viewer (vera).

Tree (made by the owner): Server › {Scope, Export, Cloud › {Docker, Lambda}},
Other › {Misc}. Cloud is an inner node, Server and Other are roots.

One draw in labelling (arbitration not started): two pilot items and six
reliability items, given two raters each in turn (labelling_draw), so that
every pair of raters shares two items:

    item 0: ana + bertold     item 3: ana + bertold
    item 1: rhea + ana        item 4: rhea + ana
    item 2: bertold + rhea    item 5: bertold + rhea

Before anything is observed: ana labelled item 0 (Scope) and item 1 (Export);
rhea labelled item 2 (Docker). A code is on a pilot item, grouped into Misc;
there is a question set, an import job, and an agreement run over the draw
made by the owner (computed on ana's and rhea's labels only).

``bertold`` is the co-rater whose work the observers must not see: a name
that appears nowhere else, so that a page naming him is easy to find.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import matplotlib
import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone
from rest_framework.authtoken.models import Token

from taxonomy.review.agreement.services import agreement_run_start
from annotator.jobs.runner import job_run
from taxonomy.classifier.models import ClassifierEstimate, ClassifierModel
from sampling.draws.models import Assignment, ItemPart, SampleItem
from taxonomy.coding.models import Code, CodeUse
from taxonomy.labelling.services import label_submit
from taxonomy.tree.services import category_add
from tests.factories import JobFactory, MembershipFactory, StudyFactory, UserFactory, evaluated_set, labelling_draw

SLUG = "blind"
AGREEMENT_SEED = 20240601


@dataclass
class Blind:
    study: object
    owner: object  # olga: owner, rates nothing
    ana: object  # rater
    bert: object  # rater: the co-rater whose work stays hidden
    rhea: object  # owner who also rates on the draw
    vera: object  # viewer
    draw: object
    cats: dict
    pilot: list
    reliability: list
    tokens: dict = field(default_factory=dict)

    def shared(self, first, second) -> list[SampleItem]:
        """The reliability items both users rate, in item order."""
        mine = set(Assignment.objects.filter(draw=self.draw, rater=first).values_list("item_id", flat=True))
        theirs = set(Assignment.objects.filter(draw=self.draw, rater=second).values_list("item_id", flat=True))
        return [i for i in self.reliability if i.pk in mine & theirs]

    def assignment(self, user, item) -> Assignment:
        return Assignment.objects.select_related("draw", "item").get(item=item, rater=user)

    # -- clients -----------------------------------------------------------------

    def html(self, user) -> Client:
        """A new browser signed in as ``user`` (a session of its own, so that no message
        stored in a cookie by one step shows up in another)."""
        client = Client()
        client.force_login(user)
        return client

    def api(self, user) -> Client:
        """An API client that authenticates with ``user``'s token (no session)."""
        if user.pk not in self.tokens:
            self.tokens[user.pk] = Token.objects.get_or_create(user=user)[0].key
        return Client(HTTP_AUTHORIZATION=f"Token {self.tokens[user.pk]}")


def api_post(client: Client, url: str, data: dict):
    return client.post(url, data=json.dumps(data), content_type="application/json")


def api_put(client: Client, url: str, data: dict):
    return client.put(url, data=json.dumps(data), content_type="application/json")


# -- what bertold (and the owner) do, through the real pages and API ------------------


def label_by_api(world: Blind, user, item, *categories, kind: str = "categories") -> None:
    response = api_put(world.api(user), f"/api/studies/{SLUG}/labelling/items/{item.pk}/",
                       {"kind": kind, "categories": [c.pk for c in categories], "note": ""})
    assert response.status_code == 200, response.content


def label_by_page(world: Blind, user, item, *categories, kind: str = "categories") -> None:
    response = world.html(user).post(f"/studies/{SLUG}/labelling/items/{item.pk}/",
                                     {"kind": kind, "categories": [c.pk for c in categories], "note": ""})
    assert response.status_code == 302, response.content.decode()[:2000]


def propose_by_api(world: Blind, user, name: str, parent) -> int:
    response = api_post(world.api(user), f"/api/studies/{SLUG}/categories/",
                        {"name": name, "parent": parent.pk, "proposed": True})
    assert response.status_code == 201, response.content
    return response.json()["id"]


def propose_by_page(world: Blind, user, item, name: str, parent):
    """The propose form of the labelling page (on ``item``, one of ``user``'s)."""
    return world.html(user).post(f"/studies/{SLUG}/labelling/items/{item.pk}/propose/",
                                 {"name": name, "parent": parent.pk, "definition": "", "kind": "categories",
                                  "note": ""})


def merge_by_api(world: Blind, source, target) -> None:
    response = api_post(world.api(world.owner), f"/api/studies/{SLUG}/categories/{source.pk}/merge/",
                        {"target": target.pk})
    assert response.status_code == 200, response.content


def agreement_run_by_api(world: Blind) -> int:
    """The owner starts an agreement run over the draw through the API; it is computed here."""
    response = api_post(world.api(world.owner), f"/api/studies/{SLUG}/agreement/",
                        {"scope": "draw", "draw": world.draw.version, "resamples": 0, "seed": AGREEMENT_SEED})
    assert response.status_code == 202, response.content
    job_run(job_id=response.json()["job"])
    return response.json()["id"]


# -- the scenario -------------------------------------------------------------------------


@pytest.fixture
def world(db, queued, monkeypatch) -> Blind:
    cache.clear()
    # SVG charts name their elements with random ids unless given a salt.
    monkeypatch.setitem(matplotlib.rcParams, "svg.hashsalt", "blindness")
    study = StudyFactory(slug=SLUG, name="Blind study")
    owner, ana, bert, rhea, vera = (UserFactory(username=n) for n in ("olga", "ana", "bertold", "rhea", "vera"))
    MembershipFactory(study=study, user=owner, is_owner=True)
    MembershipFactory(study=study, user=ana, is_rater=True)
    MembershipFactory(study=study, user=bert, is_rater=True)
    MembershipFactory(study=study, user=rhea, is_owner=True, is_rater=True)
    MembershipFactory(study=study, user=vera)

    def add(name, parent=None):
        return category_add(study=study, name=name, parent=parent, actor=owner)

    server = add("Server")
    cloud = add("Cloud", server)
    other = add("Other")
    cats = {"server": server, "scope": add("Scope", server), "export": add("Export", server), "cloud": cloud,
            "docker": add("Docker", cloud), "lambda": add("Lambda", cloud), "other": other,
            "misc": add("Misc", other)}
    draw = labelling_draw(study=study, raters=[ana, bert, rhea], pilot=2, reliability=6, per_item=2)
    items = list(SampleItem.objects.filter(draw=draw).select_related("post").order_by("pk"))
    w = Blind(study=study, owner=owner, ana=ana, bert=bert, rhea=rhea, vera=vera, draw=draw, cats=cats,
              pilot=[i for i in items if i.part == ItemPart.PILOT],
              reliability=[i for i in items if i.part == ItemPart.RELIABILITY])
    assert len(w.shared(ana, bert)) == len(w.shared(rhea, ana)) == len(w.shared(bert, rhea)) == 2

    label_submit(assignment=w.assignment(ana, w.shared(ana, bert)[0]), rater=ana, kind="categories",
                 category_ids=[cats["scope"].pk])
    label_submit(assignment=w.assignment(ana, w.shared(ana, rhea)[0]), rater=ana, kind="categories",
                 category_ids=[cats["export"].pk])
    label_submit(assignment=w.assignment(rhea, w.shared(bert, rhea)[0]), rater=rhea, kind="categories",
                 category_ids=[cats["docker"].pk])

    code = Code.objects.create(study=study, text="needs a GPU", category=cats["misc"], created_by=ana)
    CodeUse.objects.create(code=code, item=w.pilot[0], author=ana)
    evaluated_set(study=study, name="Deployment", posts=[i.post for i in items])
    # finished: a queued job shows "no worker has taken it" once it is 30 s old, whatever anyone labels
    JobFactory(study=study, created_by=owner, status="succeeded", started_at=timezone.now(),
               finished_at=timezone.now(), result={"questions": 8, "answers": 0, "comments": 0})
    run = agreement_run_start(study=study, scope="draw", draw=draw, resamples=0, seed=AGREEMENT_SEED, user=owner)
    job_run(job_id=run.job_id)
    # a classifier model and an estimate (rows only: nothing is final while the round runs)
    model = ClassifierModel.objects.create(study=study, level="leaf", seed=1, params={}, taxonomy_version=0)
    ClassifierEstimate.objects.create(study=study, model=model, question_set_name="Deployment", seed=1,
                                      taxonomy_version=0)
    for user in (owner, ana, bert, rhea, vera):
        w.api(user)  # tokens made now, outside any world that is rolled back
    return w
