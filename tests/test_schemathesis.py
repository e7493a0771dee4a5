"""Every API operation of the OpenAPI schema, fuzzed by schemathesis with an owner's token on
a study that has something in every section (tests/taxonomy/results/archive_study.py): no
input makes a server error, and every response — status code, content type and body — is
what the schema says.

Bounded and deterministic: a few examples per operation, the same ones every run. Each
request runs in a savepoint rolled back after it, so every example meets the same study.
The path's ids are the study's own (a random id only finds a 404)."""

from __future__ import annotations

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, transaction
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token

from annotator.studies.models import Membership
from sampling.draws.models import Assignment
from taxonomy.coding.models import CodeUse
from tests.taxonomy.results.archive_study import SLUG, rich_study_build

MAX_EXAMPLES = 6


@pytest.fixture(scope="module")
def seeded(django_db_setup, django_db_blocker):
    """The study, made once for the module in a transaction rolled back at its end; each
    operation's test runs in a savepoint inside it (pytest-django's ``db``)."""
    with django_db_blocker.unblock(), transaction.atomic():
        yield _seed()
        transaction.set_rollback(True)


def _seed() -> dict:
    rich = rich_study_build()
    # The owner arbitrates too, so that the arbitrator's operations run further than a 404.
    Membership.objects.filter(study=rich.study, user=rich.owner).update(is_arbitrator=True)
    pilot_use = CodeUse.objects.filter(item__draw=rich.draw).order_by("pk").first()
    reliability = Assignment.objects.filter(draw=rich.draw).order_by("item_id").first().item
    study = rich.study
    ids = {
        "slug": SLUG,
        "membership_id": Membership.objects.get(study=study, user=rich.ana).pk,
        "post_id": study.posts.order_by("pk").first().pk,
        "set_id": study.question_sets.get(name="C server").pk,
        "version": rich.draw.version,
        "category_id": study.categories.get(name="Model quantization").pk,
        "code_id": pilot_use.code_id,
        "run_id": study.agreement_runs.get().pk,
        "job_id": rich.draw.job_id,
    }
    return {"token": Token.objects.create(user=rich.owner).key, "ids": ids,
            "pilot_item": pilot_use.item_id, "item": reliability.pk}


@pytest.fixture
def django_handler_keeps_the_test_transaction():
    """Schemathesis calls Django's real WSGI handler, which closes the database connection
    around each request (the test's transaction would go with it): as Django's test client
    does, the handler does not touch connections while the test runs."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", WSGIHandler())
schema.config.generation.update(max_examples=MAX_EXAMPLES, deterministic=True)
# Every check but positive_data_acceptance: a valid request may still be refused for the study's
# state (a frozen draw, a set in use), which no schema can say.
schema.config.checks.update(excluded_check_names=["positive_data_acceptance"])


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_every_operation_answers_as_documented_and_never_with_a_server_error(
        case, seeded, db, django_handler_keeps_the_test_transaction):
    ids = dict(seeded["ids"], item_id=seeded["pilot_item"] if "/pilot/" in case.path else seeded["item"])
    if case.path_parameters:
        case.path_parameters = {name: ids.get(name, value) for name, value in case.path_parameters.items()}
    with transaction.atomic():
        case.call_and_validate(headers={"Authorization": f"Token {seeded['token']}"})
        transaction.set_rollback(True)
