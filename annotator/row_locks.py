"""Row locks the ORM cannot express.

Django's ``select_for_update`` takes ``FOR UPDATE`` (or ``FOR NO KEY UPDATE``), which two
readers of the same row cannot both hold: a check that only needs the row to stay as read
(a category chosen for a label, say) would queue every other such check behind it until
commit. ``FOR SHARE`` lets the readers run together and still makes a writer's
``FOR UPDATE`` wait for them (and them for it).
"""

from __future__ import annotations

from django.db import connections


def share_locked_sql(sql: str, model, *, using: str = "default") -> str:
    """A ``SELECT`` of ``model``'s table (compiled by Django) that locks its rows ``FOR SHARE`` on
    PostgreSQL until the transaction ends; the same ``SELECT`` on a database without row locks
    (SQLite serialises writers). Order the rows (by id): rows are locked as they are read, and
    two lockers that read in the same order never deadlock. ``annotator.prepared.Prepared``'s
    ``share_lock`` uses it, and refuses to run outside a transaction."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return sql
    return f"{sql} FOR SHARE OF {connection.ops.quote_name(model._meta.db_table)}"
