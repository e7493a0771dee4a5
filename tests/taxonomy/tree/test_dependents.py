"""Every table that points at a category says how it follows tree changes (taxonomy.tree.dependents)."""

import pytest
from django.apps.registry import Apps
from django.db import models

from taxonomy.tree import dependents
from taxonomy.tree.models import Category

pytestmark = pytest.mark.django_db


# -- the registry covers every relation --------------------------------------------------------


def test_every_relation_to_a_category_says_how_it_follows_tree_changes():
    walked = dependents.relations_to_category()
    # the walk finds foreign keys, one-to-ones and many-to-manys (not a vacuous list) …
    assert {"labelling.LabelCategory.category", "arbitration.FinalLabelCategory.category",
            "arbitration.PendingCategory.category", "tree.Category.examples", "coding.Code.category",
            "labelling.RelabelRequest.category", "arbitration.ArbitratorRoot.root"} <= set(walked)
    # … and every one of them is registered; nothing registered is stale
    assert dependents.unhandled() == []
    assert sorted(d.key for d in dependents.registered()) == walked


def test_a_new_relation_to_a_category_is_caught():
    """What the test above does when an app adds a table pointing at a category and forgets it."""
    isolated = Apps()

    class Note(models.Model):
        category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="+")
        seen_in = models.ManyToManyField(Category, related_name="+")

        class Meta:
            app_label = "scratch"
            apps = isolated

    assert dependents.unhandled([Note]) == ["scratch.Note.category", "scratch.Note.seen_in"]
    from taxonomy.tree.dependents import check_every_relation_registered

    assert check_every_relation_registered() == []  # the installed models: all registered
