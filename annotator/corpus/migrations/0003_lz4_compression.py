"""PostgreSQL compresses long post bodies, titles and comments with lz4 instead of pglz.

A body over ~2 KB is compressed as its row is written; with pglz that was a third of
PostgreSQL's time in a large import (import_bench: 2.6 s of server CPU for 196,000
rows, 1.9 s with lz4), and lz4 also decompresses faster when a post is read. Only new
values are compressed the new way; existing ones stay readable as they are.

Nothing to do on SQLite, or on a PostgreSQL built without lz4 (the import is then only
slower). An AlterField that changes one of these columns' type must set it again.
"""

from django.db import migrations

COLUMNS = [("corpus_post", "body"), ("corpus_post", "title"), ("corpus_comment", "text")]


def _lz4_available(cursor) -> bool:
    cursor.execute(
        "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'"
    )
    row = cursor.fetchone()
    return bool(row and row[0])


def set_compression(apps, schema_editor, method="lz4"):
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        if method == "lz4" and not _lz4_available(cursor):
            return
        for table, column in COLUMNS:
            cursor.execute(f"ALTER TABLE {table} ALTER COLUMN {column} SET COMPRESSION {method}")


def reset_compression(apps, schema_editor):
    set_compression(apps, schema_editor, method="default")


class Migration(migrations.Migration):
    dependencies = [("corpus", "0002_study_index_in_unique")]

    operations = [migrations.RunPython(set_compression, reset_compression)]
