"""Stage imported rows in temporary tables, then apply them in one transaction.

While a dump is read, rows go to session-private temporary tables (PostgreSQL:
``COPY``; SQLite: batched inserts into its separate temp database). Nothing a
user can see changes until :meth:`ImportStage.apply` upserts everything into
``corpus_post``/``corpus_comment`` in a single transaction. A file that turns
out to be malformed half-way therefore changes nothing, while the job row's
progress, written between batches, stays visible to the pages polling it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from django.db import connection, transaction

from .dump_parser import CommentRecord, PostRecord
from .models import Comment, Post

POST_FIELDS = [
    "so_id",
    "post_type",
    "parent_so_id",
    "accepted_answer_so_id",
    "title",
    "body",
    "tags",
    "creation_date",
    "last_activity_date",
    "closed_date",
    "score",
    "view_count",
    "answer_count",
    "comment_count",
    "favorite_count",
    "owner_user_id",
    "owner_display_name",
    "content_license",
]
COMMENT_FIELDS = [
    "so_id",
    "post_so_id",
    "score",
    "text",
    "creation_date",
    "user_id",
    "user_display_name",
    "content_license",
]
POST_DATE_INDEXES = [POST_FIELDS.index(n) for n in ("creation_date", "last_activity_date", "closed_date")]
COMMENT_DATE_INDEXES = [COMMENT_FIELDS.index("creation_date")]
KEY = ["study_id", "site", "so_id"]


def _column_types(model, fields: Sequence[str]) -> list[tuple[str, str]]:
    return [(f, model._meta.get_field(f).db_type(connection)) for f in fields]


class ImportStage:
    def __init__(self, *, study_id: int):
        self.study_id = study_id
        self.vendor = connection.vendor
        self.now = datetime.now(UTC)
        self.tables = {
            Post: ("import_stage_post", ["study_id", "site", *POST_FIELDS, "updated_at"], POST_DATE_INDEXES),
            Comment: (
                "import_stage_comment",
                ["study_id", "site", *COMMENT_FIELDS, "updated_at"],
                COMMENT_DATE_INDEXES,
            ),
        }

    # -- lifecycle ---------------------------------------------------------------
    def __enter__(self) -> ImportStage:
        with connection.cursor() as cursor:
            for model, (table, columns, _dates) in self.tables.items():
                cols = ", ".join(
                    f"{name} {db_type}" for name, db_type in _column_types(model, columns)
                )
                cursor.execute(f"DROP TABLE IF EXISTS {table}")
                cursor.execute(f"CREATE TEMPORARY TABLE {table} ({cols})")
        return self

    def __exit__(self, *exc_info) -> None:
        if connection.in_atomic_block and connection.needs_rollback:
            return
        with connection.cursor() as cursor:
            for table, _columns, _dates in self.tables.values():
                cursor.execute(f"DROP TABLE IF EXISTS {table}")

    # -- writing -----------------------------------------------------------------
    def _rows(self, site: str, records: Sequence, date_indexes: list[int]) -> list[tuple]:
        head = (self.study_id, site)
        if self.vendor == "postgresql":
            # Naive datetimes are UTC (the session time zone Django sets), as in the dump.
            tail = (self.now,)
            return [head + record + tail for record in records]
        tail = (str(self.now.replace(tzinfo=None)),)
        rows = []
        for record in records:
            values = list(record)
            for i in date_indexes:  # SQLite stores naive UTC text, as Django does
                if values[i] is not None:
                    values[i] = str(values[i])
            rows.append(head + tuple(values) + tail)
        return rows

    def write_posts(self, site: str, records: Sequence[PostRecord]) -> None:
        self._write(Post, site, records)

    def write_comments(self, site: str, records: Sequence[CommentRecord]) -> None:
        self._write(Comment, site, records)

    def _write(self, model, site: str, records: Sequence) -> None:
        if not records:
            return
        table, columns, dates = self.tables[model]
        rows = self._rows(site, records, dates)
        if self.vendor == "postgresql":
            with connection.cursor() as cursor:
                with cursor.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
        else:
            placeholders = ", ".join(["%s"] * len(columns))
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})", rows)

    # -- applying ----------------------------------------------------------------
    def apply(self) -> None:
        """Upsert the staged rows; the caller wraps this in ``transaction.atomic``."""
        with connection.cursor() as cursor:
            for model, (table, columns, _dates) in self.tables.items():
                target = model._meta.db_table
                cols = ", ".join(columns)
                updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in KEY)
                cursor.execute(
                    f"INSERT INTO {target} ({cols}) SELECT {cols} FROM {table} WHERE true "
                    f"ON CONFLICT ({', '.join(KEY)}) DO UPDATE SET {updates}"
                )
