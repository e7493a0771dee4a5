"""Row locks the ORM cannot express.

Django's ``select_for_update`` takes ``FOR UPDATE`` (or ``FOR NO KEY UPDATE``), which two
readers of the same row cannot both hold: a check that only needs the row to stay as read
(a category chosen for a label, say) would queue every other such check behind it until
commit. ``FOR SHARE`` lets the readers run together and still makes a writer's
``FOR UPDATE`` wait for them (and them for it).
"""

from __future__ import annotations

from django.db import connection, connections
from django.db.models import QuerySet
from django.db.transaction import TransactionManagementError


def values_share_locked(queryset: QuerySet) -> list[dict]:
    """The rows of a ``.values(...)`` queryset, each keyed by its column names (``id``, not
    ``pk``), locked ``FOR SHARE`` until the transaction ends, in the queryset's order (give it
    one: rows are locked as they are read, and two lockers that read in the same order never
    deadlock). On a database without row locks (SQLite serialises writers), read unlocked."""
    if connection.vendor != "postgresql":
        return [dict(row) for row in queryset]
    if not connection.in_atomic_block:
        raise TransactionManagementError("values_share_locked() holds its locks until commit: call it in a transaction.")
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(share_locked_sql(sql, queryset.model), params)
        names = [column.name for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def share_locked_sql(sql: str, model, *, using: str = "default") -> str:
    """A ``SELECT`` of ``model``'s table (compiled by Django) that locks its rows ``FOR SHARE`` on
    PostgreSQL; the same ``SELECT`` on a database without row locks."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return sql
    return f"{sql} FOR SHARE OF {connection.ops.quote_name(model._meta.db_table)}"
