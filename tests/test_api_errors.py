"""Errors are answered in one place (annotator/errors.py): the services' errors through the
one DRF exception handler, JSON for every error under /api/ (Django's own 404 and 500 too),
a database outage as a 503 (JSON on the API, a plain page elsewhere), and query strings that
are malformed, out of range or hold a NUL byte as 400s naming the parameter."""

from __future__ import annotations

import io
import json
import time
from wsgiref.util import setup_testing_defaults

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.handlers.wsgi import WSGIHandler
from django.db import OperationalError, connection, connections
from django.http import Http404
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient, APIRequestFactory

from annotator.errors import DATABASE_UNAVAILABLE, api_exception_handler, server_error
from taxonomy.labelling.models import Label
from taxonomy.tree.services import category_add
from tests.factories import MembershipFactory, PostFactory, StudyFactory, UserFactory, labelling_draw

JSON = "application/json"


def _handled(exc):
    request = APIRequestFactory().get("/api/studies/")
    return api_exception_handler(exc, {"request": request, "view": None})


# -- the one exception handler ---------------------------------------------------------------


def test_a_services_field_error_is_a_400_under_its_field_names():
    response = _handled(ValidationError({"name": ["Taken."], "slug": ["Bad slug."]}))

    assert response.status_code == 400
    assert response.data == {"name": ["Taken."], "slug": ["Bad slug."]}


def test_a_services_plain_error_is_a_400_listing_its_messages():
    response = _handled(ValidationError(["First problem.", "Second problem."]))

    assert response.status_code == 400
    assert response.data == {"detail": ["First problem.", "Second problem."]}


def test_permission_denied_is_a_403_and_http404_a_404_with_their_message():
    denied = _handled(PermissionDenied("Only the author."))
    missing = _handled(Http404("No such study."))

    assert denied.status_code == 403 and denied.data == {"detail": "Only the author."}
    assert missing.status_code == 404 and missing.data == {"detail": "No such study."}


def test_a_database_outage_is_a_503_saying_so():
    response = _handled(OperationalError("server closed the connection unexpectedly"))

    assert response.status_code == 503
    assert response.data == {"detail": DATABASE_UNAVAILABLE}


def test_any_other_exception_is_left_to_django():
    assert _handled(RuntimeError("a bug")) is None


@pytest.mark.django_db
def test_a_services_permission_denied_reaches_the_client_as_a_403():
    """coding's code_use_remove refuses a rater who is not the code's author: 403, and the code stays."""
    from taxonomy.coding.models import CodeUse
    from taxonomy.coding.services import code_use_add

    study = StudyFactory(slug="deploy")
    ana, bo = UserFactory(), UserFactory()
    for user in (ana, bo):
        MembershipFactory(study=study, user=user, is_rater=True)
    draw = labelling_draw(study=study, raters=[ana, bo], pilot=1, reliability=0)
    item = draw.items.get()
    use = code_use_add(item=item, author=ana, text="slow start")
    api = APIClient()
    api.force_authenticate(bo)

    response = api.delete(f"/api/studies/deploy/pilot/items/{item.pk}/codes/{use.code_id}/")

    assert response.status_code == 403
    assert response.json() == {"detail": "Only the code's author or an owner can remove it from this item."}
    assert CodeUse.objects.filter(pk=use.pk).exists()


# -- JSON under /api/ for Django's own errors, pages elsewhere --------------------------------


@pytest.mark.django_db
def test_an_unknown_api_path_is_a_json_404_and_an_unknown_page_is_html(client):
    client.force_login(UserFactory())

    api = client.get("/api/no-such-thing/")
    page = client.get("/no-such-page/")

    assert api.status_code == 404 and api["Content-Type"] == JSON
    assert api.json() == {"detail": "Not found."}
    assert page.status_code == 404 and page["Content-Type"].startswith("text/html")


@pytest.mark.django_db
def test_an_unhandled_error_under_api_is_a_json_500(monkeypatch):
    user = UserFactory()
    client = Client(raise_request_exception=False)
    client.force_login(user)

    def broken(**kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr("annotator.studies.selectors.study_list_for_user", broken)
    response = client.get("/api/studies/")

    assert response.status_code == 500 and response["Content-Type"] == JSON
    assert response.json() == {"detail": "Server error."}
    assert "a bug" not in response.content.decode()


# -- a database outage -----------------------------------------------------------------------


def _database_down(execute, sql, params, many, context):
    raise OperationalError("could not connect to server: Connection refused")


@pytest.mark.django_db
def test_with_the_database_down_the_api_answers_a_json_503():
    user = UserFactory()
    token = Token.objects.create(user=user)
    client = Client(raise_request_exception=False)

    with connection.execute_wrapper(_database_down):
        response = client.get("/api/studies/", headers={"Authorization": f"Token {token.key}"})

    assert response.status_code == 503 and response["Content-Type"] == JSON
    assert response.json() == {"detail": DATABASE_UNAVAILABLE}


@pytest.mark.django_db
def test_with_the_database_down_a_page_is_a_plain_503_page_not_a_traceback():
    user = UserFactory()
    client = Client(raise_request_exception=False)
    client.force_login(user)

    with connection.execute_wrapper(_database_down):
        response = client.get("/")  # the session and the user are read from the database

    assert response.status_code == 503 and response["Content-Type"].startswith("text/html")
    body = response.content.decode()
    assert "The database is unavailable" in body
    assert "Traceback" not in body and "OperationalError" not in body and "connection refused" not in body.lower()


def test_an_outage_that_reaches_django_s_500_handler_under_api_is_a_json_503(rf):
    """Every /api/ view is DRF's, but a middleware (the session's, say) is not: its outage ends here."""
    try:
        raise OperationalError("server closed the connection unexpectedly")
    except OperationalError:
        api = server_error(rf.get("/api/studies/"))
        page = server_error(rf.get("/studies/"))

    assert api.status_code == 503 and api["Content-Type"] == JSON
    assert json.loads(api.content) == {"detail": DATABASE_UNAVAILABLE}
    assert page.status_code == 503 and b"The database is unavailable" in page.content


# -- the connection drops during labelling ------------------------------------------------------


def _wsgi(method: str, path: str, *, token: str, body: dict | None = None) -> tuple[int, dict]:
    """One request through Django's real WSGI handler, as a server makes it: unlike the test
    client, it closes a broken database connection when the request ends."""
    data = json.dumps(body).encode() if body is not None else b""
    environ: dict = {}
    setup_testing_defaults(environ)
    environ.update({
        "REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": "",
        "HTTP_AUTHORIZATION": f"Token {token}", "HTTP_ACCEPT": JSON,
        "CONTENT_TYPE": JSON, "CONTENT_LENGTH": str(len(data)), "wsgi.input": io.BytesIO(data),
    })
    status = []
    result = WSGIHandler()(environ, lambda line, headers, exc_info=None: status.append(line))
    try:
        content = b"".join(result)
    finally:
        result.close()  # request_finished: Django closes a connection that broke
    return int(status[0].split()[0]), json.loads(content)


def _terminate_own_backend() -> None:
    """PostgreSQL ends this connection's server process, as a restart does."""
    pid = connection.connection.info.backend_pid
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [pid])
                if cursor.fetchone()[0] == 0:
                    break
                time.sleep(0.05)
    finally:
        other.close()


class _DropOnFirstWrite:
    """An execute wrapper: the first INSERT or UPDATE finds the connection gone (mid-transaction,
    after the assignment was locked). On PostgreSQL the server process is really ended;
    SQLite has no server, so there the error is raised as the driver would."""

    def __init__(self):
        self.dropped = False

    def __call__(self, execute, sql, params, many, context):
        if not self.dropped and sql.lstrip().upper().startswith(("INSERT", "UPDATE")):
            self.dropped = True
            if connection.vendor == "postgresql":
                _terminate_own_backend()
            else:
                raise OperationalError("disk I/O error")
        return execute(sql, params, many, context)


@pytest.mark.django_db(transaction=True)
def test_the_connection_drops_during_labelling_json_503_then_the_next_request_works_and_nothing_is_lost():
    study = StudyFactory(slug="dl")
    ana, bo = UserFactory(username="ana"), UserFactory(username="bo")
    for user in (ana, bo):
        MembershipFactory(study=study, user=user, is_rater=True)
    owner = MembershipFactory(study=study, is_owner=True).user
    root = category_add(study=study, name="Deployment", actor=owner)
    serving = category_add(study=study, name="Serving", actor=owner, parent=root)
    export = category_add(study=study, name="Export", actor=owner, parent=root)
    draw = labelling_draw(study=study, raters=[ana, bo], pilot=0, reliability=2, per_item=2)
    first, second = sorted(draw.items.values_list("pk", flat=True))
    token = Token.objects.create(user=ana).key
    url = "/api/studies/dl/labelling/items/{}/"

    status, saved = _wsgi("PUT", url.format(first), token=token,
                          body={"kind": "categories", "categories": [serving.pk], "note": "kept"})
    assert status == 200, saved

    dropper = _DropOnFirstWrite()
    with connection.execute_wrapper(dropper):
        status, body = _wsgi("PUT", url.format(second), token=token,
                             body={"kind": "categories", "categories": [export.pk], "note": "lost?"})
    assert dropper.dropped
    assert status == 503 and body == {"detail": DATABASE_UNAVAILABLE}

    status, retried = _wsgi("PUT", url.format(second), token=token,
                            body={"kind": "categories", "categories": [export.pk], "note": "again"})
    assert status == 200, retried
    assert retried["label"]["note"] == "again"

    labels = {label.assignment.item_id: label for label in Label.objects.filter(assignment__rater=ana)
              .select_related("assignment").prefetch_related("categories")}
    assert sorted(labels) == [first, second]  # one label each: the dropped attempt left nothing
    assert labels[first].note == "kept" and [c.category_id for c in labels[first].categories.all()] == [serving.pk]
    assert labels[second].note == "again" and labels[second].revision == 1
    status, progress = _wsgi("GET", "/api/studies/dl/labelling/next/", token=token)
    assert status == 200 and progress["progress"] == {"labelled": 2, "assigned": 2}


# -- no query string makes a 5xx ---------------------------------------------------------------


@pytest.fixture
def owner_api(db):
    study = StudyFactory(slug="deploy")
    owner = MembershipFactory(study=study, is_owner=True).user
    PostFactory(study=study, title="Serving a model", tags="|tensorflow|serving|")
    api = APIClient()
    api.force_authenticate(owner)
    return api


@pytest.mark.parametrize(("query", "parameter"), [
    ({"year": "10000"}, "year"), ({"year": "-1"}, "year"), ({"year": "0"}, "year"), ({"year": "²"}, "year"),
    ({"year": "1" * 5000}, "year"), ({"q": "a\x00b"}, "q"), ({"tag": "\x00"}, "tag"), ({"type": "3"}, "type"),
    ({"type": "x"}, "type"), ({"year": ""}, "year"),
])
def test_a_bad_post_filter_is_a_400_naming_it(owner_api, query, parameter):
    response = owner_api.get("/api/studies/deploy/posts/", query)

    assert response.status_code == 400
    assert list(response.json()) == [parameter]


def test_good_post_filters_still_filter(owner_api):
    assert owner_api.get("/api/studies/deploy/posts/", {"q": "serving", "tag": "serving"}).json()[
        "count"] == 1
    assert owner_api.get("/api/studies/deploy/posts/", {"year": "1999"}).json()["count"] == 0
    assert owner_api.get("/api/studies/deploy/posts/", {"type": "2"}).json()["count"] == 0


@pytest.mark.parametrize(("path", "query", "parameter"), [
    ("codes/", {"q": "\x00"}, "q"),
    ("codes/", {"ungrouped": "perhaps"}, "ungrouped"),
    ("pilot/items/", {"draw": "²"}, "draw"),
    ("categories/", {"retired": "\x00"}, "retired"),
    ("categories/search/", {"q": "\x00"}, "q"),
    ("taxonomy/changes/", {"category": "x"}, "category"),
    ("results/", {"draw": "²"}, "draw"),
    ("results/", {"stratum": "\x00"}, "stratum"),
    ("arbitration/pilot/", {"draw": "0"}, "draw"),
    ("arbitration/pilot/", {"undecided": "\x00"}, "undecided"),
    ("sets/compare/", {"a": "1", "b": "\x00"}, "b"),
])
def test_every_list_api_refuses_a_malformed_parameter_with_a_400_naming_it(owner_api, path, query, parameter):
    response = owner_api.get(f"/api/studies/deploy/{path}", query)

    assert response.status_code == 400, response.content
    assert parameter in response.json()


# -- request bodies: a value of the wrong JSON type is refused, not converted ----------------------


@pytest.mark.parametrize(("body", "field", "message"), [
    ({"name": 0}, "name", "Not a valid string."),
    ({"name": 1.5}, "name", "Not a valid string."),
    ({"name": "Fine", "slug": 7}, "slug", "Not a valid string."),
    ({"name": "Fine", "description": True}, "description", "Not a valid string."),
])
def test_a_number_or_boolean_for_a_string_is_refused_and_nothing_is_saved(owner_api, body, field, message):
    from annotator.studies.models import Study

    before = Study.objects.count()
    response = owner_api.post("/api/studies/", body, format="json")

    assert response.status_code == 400
    assert response.json() == {field: [message]}
    assert Study.objects.count() == before


def test_a_string_for_a_number_or_a_boolean_is_refused_too(owner_api):
    draw = owner_api.post("/api/studies/deploy/draws/preview/", {"strata": [{"question_set": "1"}]}, format="json")
    resamples = owner_api.post("/api/studies/deploy/agreement/", {"scope": "draw", "resamples": "5"}, format="json")
    flag = owner_api.post("/api/studies/deploy/sets/", {"name": "S", "whole_words": "yes"}, format="json")
    listed = owner_api.post("/api/studies/deploy/codes/group/", {"codes": ["1"], "category": 1}, format="json")

    assert draw.status_code == 400
    assert draw.json() == {"strata": {"0": {"question_set": ["A valid integer is required."]}}}
    assert resamples.status_code == 400 and resamples.json() == {"resamples": ["A valid integer is required."]}
    assert flag.status_code == 400 and flag.json() == {"whole_words": ["Must be a valid boolean."]}
    assert listed.status_code == 400 and listed.json() == {"codes": {"0": ["A valid integer is required."]}}


def test_a_whole_number_beyond_64_bits_is_a_400_not_a_driver_error(owner_api):
    response = owner_api.post("/api/studies/deploy/draws/preview/", {"strata": [{"question_set": 2**70}]},
                              format="json")

    assert response.status_code == 400
    assert "question_set" in response.json()["strata"]["0"]


def test_form_data_is_still_read_as_text():
    """Forms (the browsable API, tests) carry text only: the strict check leaves them to DRF."""
    from annotator.studies.apis import StudyListCreateApi
    from django.http import QueryDict

    form = StudyListCreateApi.InputSerializer(data=QueryDict("name=From+a+form&slug=form"))
    assert form.is_valid(), form.errors


# -- the schema documents the errors, the pages and the nulls ---------------------------------------


@pytest.fixture(scope="module")
def openapi():
    from drf_spectacular.generators import SchemaGenerator

    return SchemaGenerator().get_schema(request=None, public=True)


def _operations(openapi):
    for path, operations in openapi["paths"].items():
        for method, operation in operations.items():
            yield path, method, operation


def test_every_operation_documents_the_errors_it_may_answer(openapi):
    for path, method, operation in _operations(openapi):
        codes = set(operation["responses"])
        where = f"{method.upper()} {path}: {sorted(codes)}"
        assert "503" in codes, where
        if "{" in path:
            assert "404" in codes, where
        if method != "get":
            assert {"400", "403"} <= codes, where
        if {} not in operation.get("security", [{}]):
            assert "401" in codes, where
        for code in codes - {"200", "201", "202", "204"}:
            content = operation["responses"][code].get("content", {})
            assert content, f"{where}: {code} has no body documented"


def test_every_paginated_list_is_documented_as_a_page(openapi):
    from annotator.api_utils import PaginatedApi

    paginated = []
    for path, method, operation in _operations(openapi):
        ok = operation["responses"].get("200", {}).get("content", {}).get("application/json", {})
        ref = ok.get("schema", {}).get("$ref", "")
        if ref.split("/")[-1].startswith("Paginated"):
            page = openapi["components"]["schemas"][ref.split("/")[-1]]
            assert {"count", "results"} <= set(page["required"]) and page["properties"]["next"]["nullable"]
            paginated.append(f"{method} {path}")
    views = {cls for cls in _subclasses(PaginatedApi)}
    assert len(paginated) == len(views) >= 18, (paginated, views)


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


@pytest.mark.parametrize(("component", "field"), [
    ("JobOutput", "started_at"), ("JobOutput", "finished_at"), ("JobOutput", "created_by"),
    ("AgreementRunOutput", "draw"), ("AgreementRunOutput", "stratum"), ("DrawOutput", "job"),
])
def test_fields_that_can_be_null_are_documented_as_nullable(openapi, component, field):
    assert openapi["components"]["schemas"][component]["properties"][field].get("nullable") is True


# -- pages: no query string makes a 5xx either ---------------------------------------------------


def _page_routes(resolver=None, prefix=""):
    from django.urls import URLResolver, get_resolver

    for pattern in (resolver or get_resolver()).url_patterns:
        if isinstance(pattern, URLResolver):
            yield from _page_routes(pattern, prefix + str(pattern.pattern))
        else:
            yield prefix + str(pattern.pattern)


def _query_names_read_by_views() -> set[str]:
    """Every name a view or selector reads from a query string, found in the source, so that a
    new parameter is tried as soon as it is read."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    names = set()
    for source in [*root.glob("annotator/**/*.py"), *root.glob("sampling/**/*.py"), *root.glob("taxonomy/**/*.py")]:
        text = source.read_text()
        names |= set(re.findall(r'request\.(?:GET|query_params)(?:\.get\(|\[)"(\w+)"', text))
    return names | {"page", "q", "tag", "year", "type", "draw", "stratum", "part", "show"}


@pytest.mark.django_db
def test_no_query_string_makes_a_page_fail_with_a_server_error():
    """Every page of a study with something in every section, with every parameter a view reads
    set to a NUL byte, a digit that is not ASCII (isdigit() takes '²', int() refuses it) or a
    number no database column holds; as a plain request and as htmx's."""
    import re

    from sampling.draws.models import Assignment
    from taxonomy.coding.models import CodeUse
    from tests.taxonomy.results.archive_study import SLUG, rich_study_build

    rich = rich_study_build()
    study = rich.study
    ids = {
        "version": rich.draw.version, "set_id": study.question_sets.get(name="C server").pk,
        "item_id": Assignment.objects.filter(draw=rich.draw).order_by("pk").first().item_id,
        "category_id": study.categories.get(name="Model quantization").pk, "run_id": study.agreement_runs.get().pk,
        "job_id": rich.draw.job_id, "post_id": study.posts.order_by("pk").first().pk,
        "code_id": CodeUse.objects.order_by("pk").first().code_id, "fmt": "svg", "chart": "years",
    }
    names = _query_names_read_by_views()
    client = Client(raise_request_exception=False)
    client.force_login(rich.owner)
    failures, pages = [], 0
    for route in _page_routes():
        if route.startswith(("api/", "admin/")) or "<slug:slug>" not in route:
            continue
        path = "/" + route.replace("<slug:slug>", SLUG)
        path = re.sub(r"<\w+:(\w+)>", lambda m: str(ids.get(m.group(1), m.group(0))), path)
        if "<" in path:
            continue
        pages += 1
        for value in ("\x00", "²", "9" * 30):
            for headers in ({}, {"HX-Request": "true"}):
                response = client.get(path, {name: value for name in names}, headers=headers)
                if response.status_code >= 500:
                    failures.append((path, repr(value), headers, response.status_code))
    assert pages >= 40
    assert failures == []


def test_an_empty_page_number_is_an_invalid_page_not_page_one(client, db):
    """The schema says ``page`` is an integer: ``page=`` is refused as ``page=x`` is."""
    from django.urls import reverse

    from tests.factories import MembershipFactory, StudyFactory, UserFactory

    study = StudyFactory()
    owner = UserFactory()
    MembershipFactory(study=study, user=owner, is_owner=True)
    client.force_login(owner)
    url = reverse("api-posts", args=[study.slug])
    assert client.get(url).status_code == 200
    for bad in ("", "x", "0"):
        response = client.get(url, {"page": bad})
        assert response.status_code == 404 and "Invalid page" in response.json()["detail"], bad
