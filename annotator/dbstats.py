"""Planner statistics after bulk writes.

After an import or a large member write, PostgreSQL's planner still believes
the tables are as small as before until autovacuum samples them, and may pick
a sequential scan inside a correlated subquery: seconds become minutes
(response times over 5,000 questions took 9.5 s before ANALYZE, 0.18 s after).

SQLite has no statistics at all until ANALYZE: it then guesses every table the same size,
and read a study's final labels by probing each of its items for one (150,000 probes for a
page of 50 final labels in the peer benchmark) rather than reading the final labels.
"""

from django.db import connection


def table_statistics_refresh(*models) -> None:
    if connection.vendor not in ("postgresql", "sqlite"):
        return
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            # Each index sampled (about a thousand rows a level), not read whole: the planner
            # needs each table's size and each index's selectivity, not exact counts.
            cursor.execute("PRAGMA analysis_limit=1000")
        for model in models:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")
