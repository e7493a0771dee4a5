"""The crawl of the differential test leaves nothing out: every page and every
API endpoint is fetched, with every path parameter filled. A page added
without a way to fill its parameters fails here, rather than being skipped."""

from __future__ import annotations

import pytest

from . import crawl

pytestmark = pytest.mark.django_db


def test_the_scenario_fills_every_path_parameter_of_every_page_and_endpoint(world):
    values = crawl.param_values(world.study)
    assert not [name for name, found in values.items() if not found], "a parameter with no value in the scenario"
    plan = crawl.plan(values, probe=world.html(world.owner))
    new = sorted(set(plan.unfillable) - crawl.KNOWN_UNFILLABLE)
    assert not new, ("routes whose path parameters the blindness crawl cannot fill (add a source to "
                     f"crawl.param_values, and the objects to the scenario): {new}")
    planned = {r.url.split("?")[0] for r in plan.requests}
    for route in crawl.routes():
        if route.is_api:
            continue
        first = crawl._fill(route.template, route.params, values)[0]
        assert first in planned, f"the page {route.pattern} is not crawled"


def test_every_api_route_that_answers_a_get_is_in_the_schema_and_crawled(world):
    schema = set(crawl.schema_get_paths())
    missing = [route.template for route in crawl.routes()
               if route.is_api and route.view_class is not None and hasattr(route.view_class, "get")
               and route.template not in schema]
    assert not missing, f"API routes with a GET that the OpenAPI schema does not list (so the crawl skips): {missing}"
    values = crawl.param_values(world.study)
    planned = {r.url for r in crawl.plan(values, probe=world.html(world.owner)).requests if r.kind == "api"}
    for path in schema:
        assert crawl._fill(path, crawl.SCHEMA_PARAM.findall(path), values)[0] in planned


def test_the_extra_variants_name_real_pages_and_endpoints(world):
    values = crawl.param_values(world.study)
    names = {route.name for route in crawl.routes()}
    assert set(crawl.EXTRA_PAGES(values)) <= names
    assert set(crawl.EXTRA_API(values)) <= set(crawl.schema_get_paths())
    # the views known to answer htmx with a fragment are fetched with HX-Request too
    fragments = {route.name for route in crawl.routes() if route.serves_fragments}
    assert {"tree:index", "tree:edit", "labelling:queue", "labelling:item", "sampling:draw",
            "coding:item", "coding:codes", "agreement:run"} <= fragments, fragments
