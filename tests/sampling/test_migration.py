"""Draws recorded before the algorithm version existed are version 1; new ones are version 2."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from sampling.draws.draw import ALGORITHM


@pytest.mark.django_db(transaction=True)
def test_draws_made_before_the_migration_get_algorithm_1_and_new_ones_algorithm_2():
    executor = MigrationExecutor(connection)
    executor.migrate([("sampling", "0006_rater_tally")])
    old = executor.loader.project_state([("sampling", "0006_rater_tally")]).apps
    study = old.get_model("studies", "Study").objects.create(slug="before", name="before")
    old.get_model("sampling", "SampleDraw").objects.create(study=study, version=1, seed=5, status="ready")

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    from sampling.draws.models import SampleDraw

    assert SampleDraw.objects.get(study_id=study.pk).algorithm == 1
    assert SampleDraw.objects.create(study_id=study.pk, version=2, seed=6).algorithm == ALGORITHM == 2
