"""Operations the apps' migrations share.

A model that changes app keeps its table (``Meta.db_table``): the app it joins creates it in
state only (``SeparateDatabaseAndState``), and the app it leaves ends with ``model_moved_out``.
"""

from __future__ import annotations

from django.db import migrations


def content_type_hand(*, model: str, source: str, target: str):
    """A ``RunPython`` function: the content type of ``model`` (and so any permission on it) passes
    from app ``source`` to ``target``, unless ``target`` has one already (a database where
    ``migrate`` made it before this ran keeps it; the old row is then left to the stale-type clean-up)."""
    name = model.lower()

    def hand(apps, schema_editor):
        content_type = apps.get_model("contenttypes", "ContentType")
        if not content_type.objects.filter(app_label=target, model=name).exists():
            content_type.objects.filter(app_label=source, model=name).update(app_label=target)

    return hand


def model_moved_out(*, model: str, from_app: str, to_app: str) -> migrations.SeparateDatabaseAndState:
    """The last step of moving ``model`` from ``from_app`` to ``to_app``: it leaves ``from_app``'s
    state, its table and rows stay, and its content type is handed over (handed back when the
    migration is reversed). The migration depends on ``to_app``'s that takes the model in."""
    return migrations.SeparateDatabaseAndState(
        state_operations=[migrations.DeleteModel(name=model)],
        database_operations=[migrations.RunPython(content_type_hand(model=model, source=from_app, target=to_app),
                                                  content_type_hand(model=model, source=to_app, target=from_app))],
    )
