"""The authorisation matrix: every page and every API operation × every role.

What is asked: every URL pattern of the URL conf (pages; the admin aside, which has its own
staff check) and every operation of the OpenAPI schema (``/api/schema/?format=json``), each
with its path parameters filled from a seeded study (the blindness scenario of
``tests/blindness``, extended below), by each of six callers:

    owner       olga: owns the study, rates nothing
    rater       ana: rates on the draws, nothing more
    arbitrator  arne: arbitrates, nothing more
    viewer      vera: a member with no role
    outsider    otto: owns another study, is no member of this one
    anonymous   nobody signed in

What is expected comes from ``RULES``: who may read (GET) and who may write (POST, PUT, PATCH,
DELETE) each part of the application, matched on the route's path. An allowed caller gets a
success (200, 201, 202, 204, or a redirect that is not to the sign-in page); a refused member or
outsider gets 404 (a study they may not use does not exist for them); anonymous gets the
sign-in page (pages) or 401/403 (API). A route or operation that no rule matches fails the
test, so a new endpoint cannot be left out; a rule that matches nothing fails too.

Writes are sent with a valid body (``PAYLOADS``), so that "allowed" means the write happened,
and each is undone afterwards (a rolled-back savepoint): every case starts from the same study.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.shortcuts import resolve_url
from django.test import Client

from taxonomy.review.agreement.services import agreement_run_start
from annotator.jobs.runner import job_run
from annotator.studies.models import Membership
from sampling.draws.models import SampleItem
from taxonomy.review.arbitration.services import arbitration_start
from taxonomy.labelling.services import label_submit
from taxonomy.results.services import export_start
from taxonomy.tree.services import category_add, category_retire
from tests.blindness import crawl
from tests.classifier.rows import classifier_rows_make, final_labels_make
from tests.blindness.conftest import world  # noqa: F401  (the seeded study, extended here)
from tests.factories import (
    PASSWORD,
    JobFactory,
    MembershipFactory,
    StudyFactory,
    UserFactory,
    evaluated_set,
    labelling_draw,
)

pytestmark = pytest.mark.django_db

# -- who ----------------------------------------------------------------------------------------

ROLES = ("owner", "rater", "arbitrator", "viewer", "outsider", "anonymous")

OWNER = frozenset({"owner"})
RATER = frozenset({"rater"})
ARBITRATOR = frozenset({"arbitrator"})
EDITORS = frozenset({"owner", "arbitrator"})  # edit the tree, read the arbitration
CODERS = frozenset({"owner", "rater", "arbitrator"})  # code the pilot
MEMBERS = frozenset({"owner", "rater", "arbitrator", "viewer"})
SIGNED_IN = MEMBERS | {"outsider"}
PUBLIC = SIGNED_IN | {"anonymous"}
# A member who only rates reads agreement once no draw is in labelling (here one is).
AGREEMENT_READERS = frozenset({"owner", "arbitrator", "viewer"})


@dataclass(frozen=True)
class Rule:
    """Who may read a route (GET) and who may write to it (any other method). ``read=None``: the
    route answers no GET (405); ``write=None``: it takes no write. ``forbidden``: members who see
    what the route names but may not change it, and are told so (403) rather than 404."""

    read: frozenset | None
    write: frozenset | None = None
    forbidden: frozenset = frozenset()


# Path template (as the schema writes it: "{slug}") → rule, pages and API alike; the first match
# wins, so the exceptions of an app come before the app.
RULES: list[tuple[str, Rule]] = [
    # -- accounts and tools
    (r"^/accounts/login/$", Rule(read=PUBLIC, write=PUBLIC)),
    (r"^/accounts/logout/$", Rule(read=None, write=PUBLIC)),
    (r"^/api/auth/token/$", Rule(read=None, write=PUBLIC)),  # a password for a token
    (r"^(/api)?(/tools)?/sample-size/$", Rule(read=SIGNED_IN)),
    # -- studies: anyone signed in lists their own and makes one; the owner manages the members
    (r"^/$|^/api/studies/$|^/studies/new/$", Rule(read=SIGNED_IN, write=SIGNED_IN)),
    (r"^/studies/{slug}/members/{membership_id}/$", Rule(read=None, write=OWNER)),
    (r"^(/api)?/studies/{slug}/(members/.*)?$", Rule(read=MEMBERS, write=OWNER)),
    # -- corpus, question sets, draws: every member reads, the owner writes
    (r"^/studies/{slug}/(draws/new|sets/new|sets/{set_id}/edit)/$", Rule(read=OWNER, write=OWNER)),  # forms
    (r"^(/api)?/studies/{slug}/draws/{version}/arbitration/", Rule(read=None, write=OWNER)),
    (r"^(/api)?/studies/{slug}/(imports|posts|sets|draws)/", Rule(read=MEMBERS, write=OWNER)),
    (r"^/api/jobs/{job_id}/$", Rule(read=MEMBERS)),
    # a job is cancelled by an owner or the member who started it; other members are told no (403)
    (r"^(/api)?/jobs/{job_id}/cancel/$", Rule(read=None, write=OWNER, forbidden=MEMBERS - OWNER)),
    # -- the taxonomy: every member reads, owners and arbitrators edit
    (r"^/studies/{slug}/taxonomy/{category_id}/edit/$", Rule(read=EDITORS)),  # the edit panel
    # new categories announced while labelling: every member dismisses their own
    (r"^/studies/{slug}/taxonomy/announcements/dismiss/$", Rule(read=None, write=MEMBERS)),
    (r"^(/api)?/studies/{slug}/(taxonomy|categories)/", Rule(read=MEMBERS, write=EDITORS)),
    # -- the pilot's open coding: every member reads, everyone with a role codes; a code on an
    # item is taken off by its author (ana) or an owner, and another coder is told no (403)
    (r"^(/api)?/studies/{slug}/pilot/(items/)?{item_id}/codes/{code_id}/",
     Rule(read=None, write=CODERS, forbidden=ARBITRATOR)),
    (r"^(/api)?/studies/{slug}/(pilot|codes)/", Rule(read=MEMBERS, write=CODERS)),
    # -- labelling: a rater's own items; the queue page and the progress are every member's
    (r"^(/api)?/studies/{slug}/labelling/(progress/|labels/)?$", Rule(read=MEMBERS)),
    (r"^(/api)?/studies/{slug}/labelling/", Rule(read=RATER, write=RATER)),
    # -- arbitration: the pilot's decisions are read by every member, made by owners and
    # arbitrators; the rest is read by owners and arbitrators and decided by arbitrators
    (r"^(/api)?/studies/{slug}/arbitration/pilot/", Rule(read=MEMBERS, write=EDITORS)),
    (r"^/studies/{slug}/arbitration/roots/$", Rule(read=None, write=OWNER)),  # who arbitrates what
    (r"^(/api)?/studies/{slug}/(arbitration|final-labels)/", Rule(read=EDITORS, write=ARBITRATOR)),
    # -- results: every member reads them and exports; an export is its maker's (the owner's here)
    (r"^(/api)?/studies/{slug}/results/exports/{job_id}/", Rule(read=OWNER)),
    (r"^(/api)?/studies/{slug}/results/", Rule(read=MEMBERS, write=MEMBERS)),
    # -- agreement: a member who only rates reads it once no draw is in labelling (one is here)
    # a run's downloads (CSV, JSON) follow its page exactly: read only, by whom the page shows it to
    (r"^(/api)?/studies/{slug}/agreement/{run_id}/run\.(csv|json)$", Rule(read=AGREEMENT_READERS)),
    (r"^(/api)?/studies/{slug}/agreement/", Rule(read=AGREEMENT_READERS, write=OWNER)),
    # -- similar coded posts: an item's for owners and arbitrators (a rater's own item is refused
    # with 403 while the round runs, tests/classifier/test_similarity_blindness.py; another's is
    # 404); the Pending clusters as the Pending queue; the accuracy figures for every member;
    # "show after submit" is the owner's
    (r"^(/api)?/studies/{slug}/classifier/similar-posts/settings/$", Rule(read=OWNER, write=OWNER)),
    (r"^(/api)?/studies/{slug}/classifier/similar-posts/accuracy/$", Rule(read=MEMBERS)),
    (r"^(/api)?/studies/{slug}/classifier/(similar-posts/{item_id}|pending-clusters)/$", Rule(read=EDITORS)),
    # -- the classifier: read by members who see every label (not rater ana nor viewer vera while a
    # round they cannot see runs: 404), trained and estimated by owners and arbitrators; its page
    # tells the others why not
    (r"^/studies/{slug}/classifier/$", Rule(read=MEMBERS)),
    (r"^/studies/{slug}/classifier/(train|models/{model_id}/estimate)/$", Rule(read=None, write=EDITORS)),
    (r"^(/api)?/studies/{slug}/classifier/(models|estimates)/", Rule(read=EDITORS, write=EDITORS)),
]

# The pages that take a write (a form or an action, by POST). Any other page answers a POST as
# a GET (or 405), and is asked by POST with the read rule. A page that answers GET with 405
# must be here.
WRITE_PAGES = {
    "login", "logout", "studies:create", "studies:members", "studies:member",
    "corpus:imports", "selection:set_new", "selection:set_edit", "selection:set_evaluate", "selection:set_delete",
    "selection:decision_add", "selection:decision_remove",
    "sampling:draw_new", "sampling:draw_redistribute", "sampling:draw_labelling_start",
    "tree:add", "tree:rename", "tree:describe", "tree:move", "tree:merge", "tree:split", "tree:retire",
    "tree:restore", "tree:approve", "tree:reject", "tree:child", "tree:announcements_dismiss",
    "coding:item", "coding:code_use_remove", "coding:codes_group", "coding:code_rename", "coding:code_ungroup",
    "labelling:item", "labelling:propose", "labelling:hotkeys",
    "arbitration:start", "arbitration:item", "arbitration:pending", "arbitration:pilot_confirm",
    "arbitration:pilot_item", "arbitration:roots",
    "results:export_start", "agreement:runs", "jobs:cancel", "classifier:similarity_settings",
    "classifier:train", "classifier:estimate_start",
}


def rule_for(template: str) -> Rule | None:
    for pattern, rule in RULES:
        if re.search(pattern, template):
            return rule
    return None


# -- which object each path parameter names --------------------------------------------------------

# Parameter → the scenario's object it names, by route (first match wins); a parameter no entry
# names takes the first value ``crawl.param_values`` has for it.
CHOICES: list[tuple[str, dict[str, str]]] = [
    (r"/labelling/", {"item_id": "rated_item"}),
    (r"/pilot/", {"item_id": "pilot_item"}),
    (r"/arbitration/items/", {"item_id": "disputed_item"}),
    (r"/classifier/similar-posts/", {"item_id": "pilot_item"}),  # no rater holds it
    (r"/draws/{version}/(start-labelling|redistribute)/", {"version": "ready_draw"}),
    (r"/(approve|reject)/$", {"category_id": "proposal"}),
    (r"/restore/$", {"category_id": "retired"}),
    (r"/retire/$", {"category_id": "unused_leaf"}),
    (r"/results/exports/", {"job_id": "export_job"}),
    (r"/imports/", {"job_id": "import_job"}),
    (r"/classifier/", {"model_id": "trained_model", "estimate_id": "finished_estimate"}),
    (r"/jobs/{job_id}/cancel/", {"job_id": "queued_job"}),
    (r"/api/jobs/", {"job_id": "import_job"}),
    (r"", {"version": "labelling_draw", "category_id": "leaf", "set_id": "set", "code_id": "code",
           "membership_id": "viewer_membership", "post_id": "post", "run_id": "open_run"}),
]

# Query strings a route needs to name what it shows.
QUERIES: dict[str, str] = {
    "/api/sample-size/": "?population=1000",
    "/studies/{slug}/sets/compare/comparison.csv": "?first={set}&second={subset}",
    "/studies/{slug}/sets/compare/response-times.{fmt}": "?first={set}&second={subset}",
    "/api/studies/{slug}/sets/compare/": "?a={set}&b={subset}",
}


POSTS_XML = (b'<?xml version="1.0" encoding="utf-8"?>\n<posts>\n  <row Id="7001" PostTypeId="1" '
             b'CreationDate="2021-03-04T05:06:07.890" Score="3" Title="How do I serve a model?" '
             b'Body="&lt;p&gt;It times out.&lt;/p&gt;" Tags="&lt;tensorflow&gt;" />\n</posts>\n')


def _json(body):
    return lambda o: ("json", body(o))


# The body of each write that is not an empty form, by (method, route).
PAYLOADS: dict[tuple[str, str], object] = {
    # pages whose empty form is refused with 400 (the others answer it with their form again)
    ("POST", "/studies/{slug}/pilot/{item_id}/"): lambda o: ("form", {"text": "slow cold start"}),
    ("POST", "/studies/{slug}/arbitration/pilot/{item_id}/"): lambda o: (
        "form", {"kind": "categories", "categories": [o["leaf"]], "reason": "Scope."}),
    ("POST", "/studies/{slug}/arbitration/items/{item_id}/"): lambda o: (
        "form", {"kind": "categories", "categories": [o["leaf"]], "reason": "Scope."}),
    ("POST", "/studies/{slug}/arbitration/pending/"): lambda o: (
        "form", {"items": [o["pending_item"]], "category": o["leaf"], "reason": "Scope.", "action": "resolve"}),
    ("POST", "/studies/{slug}/draws/new/"): lambda o: ("form", {
        "confidence": "0.95", "margin": "0.05", "proportion": "0.5", "rounding": "ceil", "pilot_share": "0.3",
        "raters_per_item": "2", "expected_version": o["last_version"], "raters": o["design"]["raters"],
        f"s{o['subset']}_use": "on", f"s{o['subset']}_order": "1", f"s{o['subset']}_mode": "calculated",
        f"s{o['set']}_mode": "calculated"}),
    # the API
    ("POST", "/accounts/login/"): lambda o: ("form", {"username": "olga", "password": PASSWORD}),
    ("POST", "/api/auth/token/"): lambda o: ("form", {"username": "olga", "password": PASSWORD}),
    ("POST", "/api/studies/"): _json(lambda o: {"name": "Another study"}),
    ("PATCH", "/api/studies/{slug}/"): _json(lambda o: {"description": "Changed."}),
    ("POST", "/api/studies/{slug}/members/"): _json(lambda o: {"user": "otto", "roles": ["rater"]}),
    ("PATCH", "/api/studies/{slug}/members/{membership_id}/"): _json(lambda o: {"roles": ["rater"]}),
    ("POST", "/api/studies/{slug}/imports/"): lambda o: ("multipart", {
        "files": SimpleUploadedFile("Posts.xml", POSTS_XML, "text/xml")}),
    ("POST", "/api/studies/{slug}/sets/"): _json(lambda o: {"name": "Another set", "tags": ["tensorflow"]}),
    ("PUT", "/api/studies/{slug}/sets/{set_id}/"): _json(lambda o: {"name": "Deployment", "tags": ["python"]}),
    ("POST", "/api/studies/{slug}/sets/{set_id}/decisions/"): _json(
        lambda o: {"post": o["post"], "action": "exclude", "reason": "Not about deployment."}),
    ("POST", "/api/studies/{slug}/draws/"): _json(lambda o: {**o["design"], "expected_version": o["last_version"]}),
    ("POST", "/api/studies/{slug}/draws/preview/"): _json(lambda o: o["design"]),
    ("POST", "/api/studies/{slug}/draws/{version}/redistribute/"): _json(
        lambda o: {"pilot_share": 0.5, "raters_per_item": 2}),
    ("POST", "/api/studies/{slug}/draws/{version}/arbitration/"): _json(lambda o: {"allow_incomplete": True}),
    ("POST", "/api/studies/{slug}/categories/"): _json(lambda o: {"name": "Fresh", "parent": o["root"]}),
    ("PATCH", "/api/studies/{slug}/categories/{category_id}/"): _json(lambda o: {"definition": "Changed."}),
    ("POST", "/api/studies/{slug}/categories/{category_id}/merge/"): _json(lambda o: {"target": o["other_leaf"]}),
    ("POST", "/api/studies/{slug}/categories/{category_id}/move/"): _json(lambda o: {"parent": o["other_root"]}),
    ("POST", "/api/studies/{slug}/categories/{category_id}/reject/"): _json(lambda o: {"target": o["leaf"]}),
    ("POST", "/api/studies/{slug}/categories/{category_id}/split/"): _json(lambda o: {"name": "Split off"}),
    ("POST", "/api/studies/{slug}/pilot/items/{item_id}/codes/"): _json(lambda o: {"text": "slow cold start"}),
    ("PATCH", "/api/studies/{slug}/codes/{code_id}/"): _json(lambda o: {"text": "needs two GPUs"}),
    ("POST", "/api/studies/{slug}/codes/group/"): _json(lambda o: {"codes": [o["code"]], "category": o["leaf"]}),
    ("PUT", "/api/studies/{slug}/labelling/items/{item_id}/"): _json(
        lambda o: {"kind": "categories", "categories": [o["other_leaf"]], "note": ""}),
    ("PUT", "/api/studies/{slug}/labelling/keys/"): _json(lambda o: {"keys": [{"key": 9, "category": o["leaf"]}]}),
    ("POST", "/api/studies/{slug}/arbitration/items/{item_id}/"): _json(
        lambda o: {"kind": "categories", "categories": [o["leaf"]], "reason": "Scope it is."}),
    ("POST", "/api/studies/{slug}/arbitration/pending/resolve/"): _json(
        lambda o: {"items": [o["pending_item"]], "category": o["leaf"], "reason": "Scope it is."}),
    ("POST", "/api/studies/{slug}/arbitration/pilot/"): _json(lambda o: {"draw": o["labelling_draw"]}),
    ("POST", "/api/studies/{slug}/arbitration/pilot/{item_id}/"): _json(
        lambda o: {"kind": "categories", "categories": [o["leaf"]], "reason": "Scope."}),
    ("POST", "/api/studies/{slug}/results/exports/"): _json(lambda o: {"kind": "items_csv"}),
    ("PUT", "/api/studies/{slug}/classifier/similar-posts/settings/"): _json(lambda o: {"show_after_submit": True}),
    ("POST", "/studies/{slug}/classifier/train/"): lambda o: ("form", {"level": "leaf", "folds": "3"}),
    ("POST", "/studies/{slug}/classifier/models/{model_id}/estimate/"): lambda o: ("form", {"question_set": o["set"]}),
    ("POST", "/api/studies/{slug}/classifier/models/"): _json(lambda o: {"level": "leaf", "params": {"folds": 3}}),
    ("POST", "/api/studies/{slug}/classifier/models/{model_id}/estimates/"): _json(
        lambda o: {"question_set": o["set"]}),
    ("POST", "/api/studies/{slug}/agreement/"): _json(
        lambda o: {"scope": "draw", "draw": o["labelling_draw"], "resamples": 0, "seed": 1}),
}


# -- the scenario ----------------------------------------------------------------------------------


@dataclass
class Matrix:
    world: object
    users: dict  # role → user (None for anonymous)
    objects: dict  # name → id (as a string when it goes into a URL) or a body part
    sessions: dict = field(default_factory=dict)  # role → session key
    tokens: dict = field(default_factory=dict)  # role → API token


@pytest.fixture
def matrix(world) -> Matrix:  # noqa: F811  (the fixture imported above)
    """The blindness scenario (a draw in labelling, ana and bertold rating, a pilot, codes, a
    question set, an agreement run), plus: an arbitrator; an outsider who owns another study; a
    second draw in arbitration (one item the raters disagree on, one marked Pending); a third
    draw drawn but not started; a second evaluated set; a rater's private proposal; a retired
    category; an export the owner made."""
    w = world
    arne, otto = UserFactory(username="arne"), UserFactory(username="otto")
    MembershipFactory(study=w.study, user=arne, is_arbitrator=True)
    MembershipFactory(study=StudyFactory(slug="elsewhere", name="Elsewhere"), user=otto, is_owner=True)

    disputed = labelling_draw(study=w.study, raters=[w.ana, w.bert], pilot=0, reliability=2, first_so_id=910_000)
    items = list(SampleItem.objects.filter(draw=disputed).order_by("pk"))
    for item, (first, second) in zip(items, [(w.cats["scope"], w.cats["docker"]), (w.cats["scope"], None)],
                                     strict=True):
        label_submit(assignment=w.assignment(w.ana, item), rater=w.ana, kind="categories",
                     category_ids=[first.pk])
        label_submit(assignment=w.assignment(w.bert, item), rater=w.bert,
                     kind="categories" if second else "pending", category_ids=[second.pk] if second else [])
    arbitration_start(draw=disputed, user=w.owner)
    # final labels to train a classifier on (a draw in arbitration), a trained model and an estimate
    final_labels_make(study=w.study, categories=[w.cats["export"], w.cats["misc"]], per_category=6,
                      decided_by=w.owner)
    trained_model, finished_estimate = classifier_rows_make(study=w.study, user=w.owner)
    ready = labelling_draw(study=w.study, raters=[w.ana, w.bert], pilot=1, reliability=2, status="ready",
                           first_so_id=920_000)

    posts = [i.post for i in w.pilot + w.reliability]
    subset = evaluated_set(study=w.study, name="Subset", posts=posts[:3])
    proposal = category_add(study=w.study, name="Proposal", parent=w.cats["server"], proposed=True, actor=w.ana)
    retired = category_retire(category=category_add(study=w.study, name="Retired", parent=w.cats["other"],
                                                    actor=w.owner), actor=w.owner)
    open_run = agreement_run_start(study=w.study, scope="draw", draw=disputed, resamples=0, seed=1, user=w.owner)
    job_run(job_id=open_run.job_id)
    export = export_start(study=w.study, user=w.owner, kind="items_csv")
    job_run(job_id=export.pk)

    values = crawl.param_values(w.study)
    rated = w.shared(w.ana, w.bert)[0]  # labelled by ana (Scope)
    objects = {
        "labelling_draw": w.draw.version, "ready_draw": ready.version, "last_version": ready.version,
        "rated_item": rated.pk, "pilot_item": w.pilot[0].pk, "disputed_item": items[0].pk,
        "pending_item": items[1].pk,
        "leaf": w.cats["scope"].pk, "other_leaf": w.cats["export"].pk,
        "root": w.cats["server"].pk, "other_root": w.cats["other"].pk,
        "proposal": proposal.pk, "retired": retired.pk,
        "set": w.study.question_sets.get(name="Deployment").pk, "subset": subset.pk,
        "code": int(values["code_id"][0]), "post": rated.post_id,
        "viewer_membership": Membership.objects.get(study=w.study, user=w.vera).pk,
        "import_job": w.study.jobs.get(kind="import", status="succeeded").pk,
        "queued_job": JobFactory(study=w.study, created_by=w.owner, status="queued").pk,
        "export_job": export.pk,
        "design": {"strata": [{"question_set": subset.pk}], "raters": [w.ana.pk, w.bert.pk]},
        "unused_leaf": w.cats["lambda"].pk, "open_run": open_run.pk,
        "trained_model": trained_model.pk, "finished_estimate": finished_estimate.pk,
    }
    m = Matrix(world=w, users={"owner": w.owner, "rater": w.ana, "arbitrator": arne, "viewer": w.vera,
                               "outsider": otto, "anonymous": None}, objects=objects)
    for role, user in m.users.items():
        if user is not None:
            client = Client()
            client.force_login(user)
            m.sessions[role] = client.cookies[settings.SESSION_COOKIE_NAME].value
            m.tokens[role] = w.api(user).defaults["HTTP_AUTHORIZATION"]
    return m


# -- the cases ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    kind: str  # "page" or "api"
    method: str
    template: str
    allowed: frozenset | None  # None: the route answers this method with 405
    forbidden: frozenset = frozenset()
    # a POST to a page without a write, or a GET of a page that takes a write: asked only if the
    # owner's answer is not 405 (then 405 is what everyone gets)
    probe: bool = False
    login_required: bool = True  # anonymous is sent to sign in before anything else

    @property
    def key(self) -> str:
        return f"{self.kind} {self.method} {self.template}"


def _schema_operations() -> dict[str, list[str]]:
    return {path: sorted(m.upper() for m in ops if m in ("get", "post", "put", "patch", "delete"))
            for path, ops in crawl.openapi_schema()["paths"].items()}


def _page_routes() -> list[crawl.Route]:
    return [r for r in crawl.routes() if not r.is_api]


def cases() -> tuple[list[Case], list[str]]:
    """Every (method, route) to ask, and the routes and operations no rule covers."""
    out, missing = [], []
    for route in _page_routes():
        rule = rule_for(route.template)
        if rule is None or (route.name in WRITE_PAGES and rule.write is None):
            missing.append(f"page {route.name} {route.template}")
            continue
        login_required = "anonymous" not in (rule.write or rule.read)
        writes = route.name in WRITE_PAGES
        out.append(Case("page", "GET", route.template, rule.read, probe=writes and rule.read is not None,
                        login_required=login_required))
        out.append(Case("page", "POST", route.template, rule.write if writes else rule.read,
                        rule.forbidden if writes else frozenset(), probe=not writes, login_required=login_required))
    for path, methods in _schema_operations().items():
        rule = rule_for(path)
        for method in methods:
            allowed = None if rule is None else rule.read if method == "GET" else rule.write
            if allowed is None:
                missing.append(f"api {method} {path}")
                continue
            out.append(Case("api", method, path, allowed, rule.forbidden if method != "GET" else frozenset()))
    return out, missing


def url_of(case: Case, objects: dict, values: dict) -> str:
    chosen = {}
    for pattern, names in CHOICES:
        if re.search(pattern, case.template):
            for param, name in names.items():
                chosen.setdefault(param, [str(objects[name])])
    params = crawl.SCHEMA_PARAM.findall(case.template)
    filled = crawl._fill(case.template, params, {**values, **chosen})
    assert filled, f"{case.key}: no value for one of its parameters {params}"
    return filled[0] + QUERIES.get(case.template, "").format(**objects)


def expected(case: Case, role: str) -> str:
    if role == "anonymous" and role not in (case.allowed or ()) and case.login_required:
        return "sign-in" if case.kind == "page" else "unauthenticated"
    if case.allowed is None:
        return "405"
    if role in case.forbidden:
        return "forbidden"
    return "allowed" if role in case.allowed else "refused"


def outcome(case: Case, role: str, response) -> tuple[str, str]:
    """What a response means (allowed, refused: 404, forbidden: 403 to a member, sign-in: a page
    sending to the sign-in form, unauthenticated: 401/403 from the API to nobody, or the status),
    and a line of its body to show when it is not what was expected."""
    status = response.status_code
    body = b"" if getattr(response, "streaming", False) else response.content[:300]
    detail = f"{status} {body.decode('utf-8', 'replace')!r}"
    if status in (301, 302, 303):
        location = urlsplit(response.get("Location", ""))
        login = location.path == resolve_url(settings.LOGIN_URL) and "next=" in location.query
        return ("sign-in" if login else "allowed"), f"{status} → {response.get('Location')}"
    if status in (200, 201, 202, 204):
        return "allowed", detail
    if status == 404:
        return "refused", detail
    if status == 401 or (status == 403 and role == "anonymous" and case.kind == "api"):
        return "unauthenticated", detail
    if status == 403:
        return "forbidden", detail
    return str(status), detail


def send(m: Matrix, case: Case, role: str, url: str):
    if case.kind == "page":
        client = Client()
        if role in m.sessions:
            client.cookies[settings.SESSION_COOKIE_NAME] = m.sessions[role]
    else:
        client = Client(**({"HTTP_AUTHORIZATION": m.tokens[role]} if role in m.tokens else {}))
    if case.method == "GET":
        return client.get(url)
    body = PAYLOADS.get((case.method, case.template))
    kind, data = body(m.objects) if body else ("form", {})
    if kind == "json":
        return client.generic(case.method, url, json.dumps(data), content_type="application/json")
    if case.method == "POST":  # a form, urlencoded or multipart
        return client.post(url, data)
    return client.generic(case.method, url)


class _Undo(Exception):
    def __init__(self, result):
        self.result = result


def ask(m: Matrix, case: Case, role: str, url: str) -> tuple[str, str]:
    """The outcome for ``role``, with every row the request wrote undone (a rolled-back savepoint;
    a read too, as it may write a session or a cache) and the cache emptied: the next case starts
    from the same study."""
    try:
        with transaction.atomic():
            raise _Undo(outcome(case, role, send(m, case, role, url)))
    except _Undo as undo:
        result = undo.result
    cache.clear()
    return result


# -- the tests ---------------------------------------------------------------------------------------


def test_every_route_and_operation_has_a_rule_and_every_rule_a_route():
    found, missing = cases()
    assert not missing, ("routes or operations with no rule in RULES (say who may read and write them; a page "
                         "that takes a write goes in WRITE_PAGES too): " + ", ".join(missing))
    templates = [r.template for r in _page_routes()] + list(_schema_operations())
    unused = [pattern for pattern, _ in RULES if not any(re.search(pattern, t) for t in templates)]
    assert not unused, f"rules that match no route any more: {unused}"
    names = {r.name for r in _page_routes()}
    assert WRITE_PAGES <= names, f"WRITE_PAGES names no page: {sorted(WRITE_PAGES - names)}"
    # every method an API view serves is an operation of the schema (the matrix asks those)
    operations = _schema_operations()
    for route in crawl.routes():
        if route.is_api and route.view_class is not None:
            served = {m.upper() for m in ("get", "post", "put", "patch", "delete") if hasattr(route.view_class, m)}
            assert served <= set(operations.get(route.template, [])), \
                f"{route.template} serves {sorted(served)}, the schema lists {operations.get(route.template)}"
    assert {c.kind for c in found} == {"page", "api"}


@pytest.mark.parametrize("kind", ["page", "api"])
def test_every_role_gets_what_the_rules_say(matrix, kind):
    values = crawl.param_values(matrix.world.study)
    found, missing = cases()
    assert not missing
    wrong, asked = [], 0
    for case in (c for c in found if c.kind == kind):
        url = url_of(case, matrix.objects, values)
        if case.probe and ask(matrix, case, "owner", url)[0] == "405":
            case = replace(case, allowed=None)
        for role in ROLES:
            (got, detail), want = ask(matrix, case, role, url), expected(case, role)
            asked += 1
            if got != want:
                wrong.append(f"{case.method} {url} as {role}: {got}, expected {want} ({detail[:160]})")
    assert asked > 100
    assert not wrong, f"{len(wrong)} of {asked} answers differ from RULES:\n" + "\n".join(wrong)
