"""Everything one user can GET, fetched and normalised: the instrument of the
differential blindness tests.

What is fetched:
- every HTML page of the project: the URL patterns of ``get_resolver()`` (the
  admin aside, which no member of a study reaches), each path parameter filled
  with every value the scenario has (every draw version, category, item, job,
  code, set, run, membership, post); a view that answers 405 to a GET (POST
  only) is fetched with its first values only. A view that answers htmx with a
  fragment (its code reads ``request.htmx``) is fetched again with
  ``HX-Request: true``, and some with the query strings or ``HX-Target`` that
  select their fragments (``EXTRA_PAGES``). Charts are fetched as SVG only (the
  PNG is the same figure, and drawing it doubles the crawl's time);
- every GET operation of the OpenAPI schema (``/api/schema/?format=json``),
  filled the same way, with a few query variants (``EXTRA_API``); an API route
  with a GET handler that the schema does not list fails the enumeration test.

A path parameter with no source in ``param_values`` makes the route
*unfillable*; the enumeration test fails on any such route, so that a new page
is never silently left out.

Normalised (and nothing else): CSRF tokens, timestamps and dates, relative
times ("3 minutes ago"), and the duration in seconds a finished job records.
JSON is re-indented (one value per line) so that a difference reads as the
field that differs. (SVG element ids are random unless matplotlib is given a
salt: the scenario gives it one.)
"""

from __future__ import annotations

import difflib
import inspect
import itertools
import json
import re
import sys
from dataclasses import dataclass
from functools import cache

from django.apps import apps
from django.core.cache import cache as django_cache
from django.core.management.color import no_style
from django.db import connection, transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from taxonomy.review.agreement.models import AgreementRun
from annotator.corpus.models import Post
from annotator.jobs.models import Job
from sampling.question_sets.models import QuestionSet
from sampling.question_sets.views import CHART_CONTENT_TYPES, CHART_NAMES
from annotator.studies.models import Membership
from sampling.draws.models import SampleDraw, SampleItem
from taxonomy.classifier.models import ClassifierEstimate, ClassifierModel
from taxonomy.coding.models import Code
from taxonomy.tree.models import Category

EXCLUDED_NAMESPACES = {"admin"}
# Routes that are not pages of the application or are fetched otherwise.
NOT_CRAWLED = {
    "api/schema/",  # the schema itself: read once to enumerate the API
}
# Routes whose path parameters cannot be filled from the scenario. Keep it empty: a route
# added here is a page no blindness test looks at.
KNOWN_UNFILLABLE: set[str] = set()

PARAM = re.compile(r"<(?:(?P<converter>[^>:]+):)?(?P<name>\w+)>")
SCHEMA_PARAM = re.compile(r"{(\w+)}")


# -- the routes ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    pattern: str  # "studies/<slug:slug>/draws/<int:version>/"
    name: str  # "sampling:draw"
    callback: object
    default_args: dict

    @property
    def template(self) -> str:
        return "/" + PARAM.sub(lambda m: "{" + m["name"] + "}", self.pattern)

    @property
    def params(self) -> list[str]:
        return [m["name"] for m in PARAM.finditer(self.pattern)]

    @property
    def is_api(self) -> bool:
        return self.pattern.startswith("api/")

    @property
    def view_class(self):
        return getattr(self.callback, "view_class", None) or getattr(self.callback, "cls", None)

    @property
    def serves_fragments(self) -> bool:
        """A page (not a file: a chart, a CSV) whose view answers htmx requests with a fragment:
        its code, or a function of its module that it calls, reads ``request.htmx``."""
        name = getattr(self.callback, "__name__", "")
        return self.pattern.endswith("/") and name in _fragment_functions(self.callback.__module__)


@cache
def _fragment_functions(module_name: str) -> frozenset[str]:
    """The functions of a module that read ``htmx``, or call (by name) one that does."""
    module = sys.modules.get(module_name)
    if module is None:
        return frozenset()
    sources = {}
    for name, value in vars(module).items():
        if inspect.isfunction(value) and value.__module__ == module_name:
            try:
                sources[name] = inspect.getsource(value)
            except (OSError, TypeError):
                continue
    found = {name for name, source in sources.items() if "htmx" in source}
    while True:
        more = {name for name, source in sources.items() if name not in found
                and any(re.search(rf"\b{re.escape(callee)}\(", source) for callee in found)}
        if not more:
            return frozenset(found)
        found |= more


def routes() -> list[Route]:
    out = []

    def walk(patterns, prefix="", namespace=None):
        for p in patterns:
            if isinstance(p, URLResolver):
                ns = p.namespace or namespace
                if ns in EXCLUDED_NAMESPACES:
                    continue
                walk(p.url_patterns, prefix + str(p.pattern), ns)
            elif isinstance(p, URLPattern):
                name = f"{namespace}:{p.name}" if namespace and p.name else (p.name or "")
                out.append(Route(prefix + str(p.pattern), name, p.callback, dict(p.default_args)))

    walk(get_resolver().url_patterns)
    return [r for r in out if r.pattern not in NOT_CRAWLED]


# -- the values of the path parameters --------------------------------------------------------


def param_values(study) -> dict[str, list[str]]:
    """Every value each path parameter can take in ``study`` as it is now (all of them, whoever
    may see them: the point is to ask)."""
    def ids(queryset) -> list[str]:
        return [str(pk) for pk in queryset.order_by("pk").values_list("pk", flat=True)]

    return {
        "slug": [study.slug],
        "membership_id": ids(Membership.objects.filter(study=study)),
        "version": [str(v) for v in SampleDraw.objects.filter(study=study).order_by("version")
                    .values_list("version", flat=True)],
        "job_id": ids(Job.objects.filter(study=study)),
        "post_id": ids(Post.objects.filter(study=study)),
        "set_id": ids(QuestionSet.objects.filter(study=study)),
        "chart": sorted(CHART_NAMES),
        # A chart is drawn from the question set alone, once as SVG and once as PNG: the SVG
        # (its text) stands for both, as drawing each chart twice per crawl is a third of its time.
        "fmt": ["svg"] if "svg" in CHART_CONTENT_TYPES else sorted(CHART_CONTENT_TYPES),
        "category_id": ids(Category.objects.filter(study=study)),
        "item_id": ids(SampleItem.objects.filter(draw__study=study)),
        "code_id": ids(Code.objects.filter(study=study)),
        "run_id": ids(AgreementRun.objects.filter(study=study)),
        "model_id": ids(ClassifierModel.objects.filter(study=study)),
        "estimate_id": ids(ClassifierEstimate.objects.filter(study=study)),
    }


def _fill(template: str, params: list[str], values: dict[str, list[str]]) -> list[str] | None:
    """Every URL of ``template`` over the product of its parameters' values; None when a
    parameter has no source."""
    if any(p not in values for p in params):
        return None
    unique = list(dict.fromkeys(params))
    urls = []
    for combination in itertools.product(*(values[p] for p in unique)):
        filled = dict(zip(unique, combination, strict=True))
        urls.append(SCHEMA_PARAM.sub(lambda m: filled[m[1]], template))
    return urls


# -- the requests -----------------------------------------------------------------------------


HX = {"HTTP_HX_REQUEST": "true"}


@dataclass(frozen=True)
class Request:
    kind: str  # "html" or "api"
    url: str
    headers: tuple = ()

    @property
    def key(self) -> str:
        extra = " ".join(f"{k[5:].replace('_', '-')}={v}" for k, v in self.headers)
        return f"{self.kind} GET {self.url}{' [' + extra + ']' if extra else ''}"


def _hx(**more) -> tuple:
    return tuple(sorted({**HX, **more}.items()))


# Fragments selected by a query string or a target, per page (URL name → variants). The
# enumeration test checks that every name here is a route, so that a renamed page fails.
def EXTRA_PAGES(values) -> dict[str, list[tuple[str, tuple]]]:  # noqa: N802  (a table)
    jobs = values["job_id"]
    return {
        "sampling:draw": [("?fragment=items", _hx()), ("?check=reproduce", _hx())]
                         + [(f"?job={j}", _hx()) for j in jobs],
        "agreement:run": [(f"?job={j}", _hx()) for j in jobs],
        "selection:set": [(f"?job={j}", _hx()) for j in jobs],
        "coding:item": [("?text=gpu", _hx(HTTP_HX_TARGET="code-suggestions"))],
        "coding:codes": [("", _hx(HTTP_HX_TARGET="code-table")), ("?ungrouped=on", ())],
        "corpus:posts": [("?q=Question", _hx())],
    }


def EXTRA_API(values) -> dict[str, list[str]]:  # noqa: N802  (a table)
    return {
        "/api/studies/{slug}/categories/": ["?retired=true"],
        "/api/studies/{slug}/categories/search/": ["?leaves_only=false", "?q=Lambda", "?q=proposal"],
        "/api/studies/{slug}/taxonomy/changes/": [f"?category={c}" for c in values["category_id"]],
        "/api/studies/{slug}/draws/{version}/items/": ["?part=reliability"],
    }


@cache
def openapi_schema() -> dict:
    """The OpenAPI schema as the project serves it (read once per test run; it writes nothing,
    so reading it inside a world does not shift the ids of the next)."""
    response = Client().get("/api/schema/?format=json")
    assert response.status_code == 200, response.content[:500]
    return response.json()


def schema_get_paths() -> list[str]:
    return sorted(path for path, operations in openapi_schema()["paths"].items() if "get" in operations)


_REFUSES_GET: dict[str, bool] = {}


def _refuses_get(route: Route, url: str, probe: Client) -> bool:
    """The view answers 405 to a GET (its decorator decides, whatever the data): asked once per run."""
    if route.pattern not in _REFUSES_GET:
        _REFUSES_GET[route.pattern] = probe.get(url).status_code == 405
    return _REFUSES_GET[route.pattern]


@dataclass
class Plan:
    requests: list[Request]
    unfillable: list[str]


def plan(values: dict[str, list[str]], probe: Client) -> Plan:
    """The requests of one crawl. ``probe``, a signed-in browser, tells which pages answer
    405 to a GET (fetched once, with their first values: there is nothing to read)."""
    requests: list[Request] = []
    unfillable: list[str] = []
    extra_pages = EXTRA_PAGES(values)
    for route in routes():
        if route.is_api:
            continue
        urls = _fill(route.template, route.params, values)
        if urls is None:
            unfillable.append(route.pattern)
            continue
        if not urls:
            unfillable.append(route.pattern)  # a parameter without a single value in the scenario
            continue
        if _refuses_get(route, urls[0], probe):
            requests.append(Request("html", urls[0]))
            continue
        for url in urls:
            requests.append(Request("html", url))
            if route.serves_fragments:
                requests.append(Request("html", url, _hx()))
            for query, headers in extra_pages.get(route.name, []):
                requests.append(Request("html", url + query, headers))
    extra_api = EXTRA_API(values)
    for path in schema_get_paths():
        params = SCHEMA_PARAM.findall(path)
        urls = _fill(path, params, values)
        if not urls:
            unfillable.append(path)
            continue
        for url in urls:
            requests.append(Request("api", url))
            for query in extra_api.get(path, []):
                requests.append(Request("api", url + query))
    return Plan(requests=requests, unfillable=unfillable)


# -- fetching and normalising --------------------------------------------------------------------


VOLATILE = [
    (re.compile(r'(name="csrfmiddlewaretoken" value=")[^"]*'), r"\1<csrf>"),
    (re.compile(r'("X-CSRFToken"\s*:\s*")[^"]*'), r"\1<csrf>"),
    (re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?"), "<time>"),
    (re.compile(r"\b\d{4}-\d{2}-\d{2}\b"), "<date>"),
    (re.compile(r"\b\d+(?:\s|\xa0|&nbsp;)+(?:second|minute|hour|day|week|month|year)s?"
                r"(?:,(?:\s|\xa0|&nbsp;)+\d+(?:\s|\xa0|&nbsp;)+(?:second|minute|hour|day|week|month|year)s?)*"
                r"(?:\s|\xa0|&nbsp;)+ago\b"), "<ago>"),
    # the time a finished job took (jobs record it in their result)
    (re.compile(r'("seconds"\s*:\s*)-?\d+(?:\.\d+)?(?:[eE]-?\d+)?'), r"\1<seconds>"),
]
TEXT_TYPES = ("text/", "application/json", "image/svg+xml", "application/javascript")


def normalise(text: str) -> str:
    for pattern, replacement in VOLATILE:
        text = pattern.sub(replacement, text)
    return text


def body_of(response) -> bytes:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)
    return response.content


def normalised_body(response) -> str | bytes:
    """The body of a response with its volatile parts (tokens, times) replaced; JSON one value
    per line, so that a difference reads as the field that differs."""
    body = body_of(response)
    content_type = response.get("Content-Type", "")
    if not content_type.startswith(TEXT_TYPES):
        return body
    text = body.decode("utf-8", "replace")
    if content_type.startswith("application/json"):
        text = json.dumps(json.loads(text), indent=1, ensure_ascii=False)
    return normalise(text)


def fetch(client: Client, request: Request) -> tuple[int, str | bytes]:
    response = client.get(request.url, **dict(request.headers))
    return response.status_code, normalised_body(response)


def answer(response) -> tuple[int, str | None, str | bytes]:
    """What the caller of a write is told: the status, where it is sent, the body."""
    return response.status_code, response.get("Location"), normalised_body(response)


Snapshot = dict  # request key → (status, normalised body)


def snapshot(plan_: Plan, *, html: Client, api: Client) -> Snapshot:
    return {r.key: fetch(html if r.kind == "html" else api, r) for r in plan_.requests}


def differences(before: Snapshot, after: Snapshot, *, limit: int = 12, lines: int = 14) -> str:
    """'' when equal; otherwise what differs, readable (a unified diff per response)."""
    keys = sorted(set(before) | set(after))
    changed = [k for k in keys if before.get(k) != after.get(k)]
    if not changed:
        return ""
    out = [f"{len(changed)} of {len(keys)} responses differ:"]
    for key in changed[:limit]:
        (s1, b1), (s2, b2) = before.get(key, (None, "")), after.get(key, (None, ""))
        out.append(f"--- {key}: status {s1} → {s2}")
        if isinstance(b1, str) and isinstance(b2, str):
            diff = [line for line in difflib.unified_diff(b1.splitlines(), b2.splitlines(), lineterm="", n=0)
                    if not line.startswith(("---", "+++"))]
            out.extend("    " + line[:220] for line in diff[:lines])
            if len(diff) > lines:
                out.append(f"    … {len(diff) - lines} more diff lines")
        else:
            out.append(f"    (binary bodies of {len(b1)} and {len(b2)} bytes)")
    if len(changed) > limit:
        out.append(f"… and {len(changed) - limit} more: " + ", ".join(changed[limit:limit + 40]))
    return "\n".join(out)


# -- worlds: the same steps twice, with the ids lining up ------------------------------------------


class _Rollback(Exception):
    pass


def sequences_reset() -> None:
    """Every table's id sequence back to its largest id (PostgreSQL does not roll sequences
    back with a transaction; SQLite does, and needs nothing)."""
    statements = connection.ops.sequence_reset_sql(no_style(), apps.get_models(include_auto_created=True))
    if statements:
        with connection.cursor() as cursor:
            for sql in statements:
                cursor.execute(sql)


def in_world(steps):
    """Run ``steps()`` and return what it returns, then undo every row it wrote (a rolled-back
    savepoint), with the id sequences and the cache put back: the next world starts from
    exactly the same state and its new rows get the same ids."""
    sequences_reset()
    django_cache.clear()
    result = None
    try:
        with transaction.atomic():
            result = steps()
            raise _Rollback
    except _Rollback:
        pass
    sequences_reset()
    django_cache.clear()
    return result
