"""A model moving app (``annotator.migration_ops``): the app it leaves drops it from its state
only, and its content type passes to the app it joins, and back when the migration is reversed."""

import pytest
from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.db import migrations

from annotator.migration_ops import model_moved_out

pytestmark = pytest.mark.django_db


def _run(op, *, reverse=False):
    run_python = op.database_operations[0]
    (run_python.reverse_code if reverse else run_python.code)(apps, None)


def test_the_content_type_is_handed_over_and_back_with_its_permission():
    moved = ContentType.objects.create(app_label="oldapp", model="thing")
    from django.contrib.auth.models import Permission

    permission = Permission.objects.create(content_type=moved, codename="view_thing", name="Can view thing")
    op = model_moved_out(model="Thing", from_app="oldapp", to_app="newapp")
    assert [type(o) for o in op.state_operations] == [migrations.DeleteModel]
    assert op.state_operations[0].name == "Thing"
    _run(op)
    moved.refresh_from_db()
    assert (moved.app_label, moved.model) == ("newapp", "thing")
    assert Permission.objects.get(pk=permission.pk).content_type_id == moved.pk  # the same row, so its permissions
    _run(op, reverse=True)
    moved.refresh_from_db()
    assert moved.app_label == "oldapp"


def test_a_content_type_the_target_app_has_already_is_kept():
    """``migrate`` may have made the new app's content type first: neither row is changed (no
    clash on the unique app label and model)."""
    old = ContentType.objects.create(app_label="oldapp", model="thing")
    new = ContentType.objects.create(app_label="newapp", model="thing")
    _run(model_moved_out(model="Thing", from_app="oldapp", to_app="newapp"))
    old.refresh_from_db()
    new.refresh_from_db()
    assert (old.app_label, new.app_label) == ("oldapp", "newapp")


def test_the_two_moves_in_the_history_use_it():
    """labelling 0005 / sampling 0009 (raters' tallies) and arbitration 0004 / labelling 0006
    (re-label requests) end with the shared operation, for the right apps."""
    from importlib import import_module

    for module, model, source, target in (
            ("sampling.draws.migrations.0009_rater_tally_moved_out", "RaterTally", "sampling", "labelling"),
            ("taxonomy.labelling.migrations.0006_relabel_request_moved_out", "RelabelRequest", "labelling",
             "arbitration")):
        (op,) = import_module(module).Migration.operations
        assert op.state_operations[0].name == model
        ContentType.objects.filter(model=model.lower()).delete()
        probe = ContentType.objects.create(app_label=source, model=model.lower())
        _run(op)
        probe.refresh_from_db()
        assert probe.app_label == target
