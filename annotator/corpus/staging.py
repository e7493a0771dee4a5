"""Write imported rows so that nothing is visible until the import has read every file.

While a dump is read, rows go to session-private temporary tables (PostgreSQL:
``COPY``; SQLite: batched inserts into its separate temp database), and
:meth:`ImportStage.apply` upserts them into ``corpus_post``/``corpus_comment``/``corpus_siteuser``
in one transaction at the end. A file that turns out to be malformed half-way
therefore changes nothing, while the job row's progress, written between
batches, stays visible to the pages polling it.

On PostgreSQL the import writes through a connection of its own, in one
transaction from the first row to the last, so that its job's progress (written
on Django's connection) stays visible meanwhile. When a site's posts (or
comments) are new to the study, which is the case of every first import, its
rows are copied straight into the study's table inside that transaction: the
second pass of the upsert (a third of an import's time) is not needed, and a
failure still rolls everything back. Imports into one study take turns through
an advisory lock: the first holds it from its start and may copy straight in;
one that finds it taken stages its rows and waits for it only to apply them.

Batches arrive ready to write (see ``read_process``): row tuples, which PostgreSQL
takes through psycopg's binary ``COPY`` (``Copy.write_row``) and SQLite through batched
inserts, or, from the child processes that read a large import, binary ``COPY`` data
made with psycopg (``Copy.write``). Every row carries the same ``updated_at``:
:attr:`ImportStage.now`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from django.db import connection, connections, transaction

from .models import Comment, Post, SiteUser

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
USER_FIELDS = ["so_id", "display_name"]
KEY = ["study_id", "site", "so_id"]
MODELS = {"posts": Post, "comments": Comment, "users": SiteUser}


def _column_types(model, fields: Sequence[str]) -> list[tuple[str, str]]:
    return [(f, model._meta.get_field(f).db_type(connection)) for f in fields]


def _binary_types(model, fields: Sequence[str]) -> list[str]:
    """psycopg type names for a binary COPY of ``fields``. The dump's dates are naive UTC
    and sent as ``timestamp``: its binary form is the same count of microseconds that a
    ``timestamp with time zone`` column reads as UTC."""
    names = []
    for _field, db_type in _column_types(model, fields):
        name = db_type.split("(")[0]
        names.append("timestamp" if name.startswith("timestamp") else name)
    return names


# pg_advisory_xact_lock(IMPORT_LOCK, study id): imports into one study take turns.
IMPORT_LOCK = 0x7461786F  # "taxo"


class ImportStage:
    def __init__(self, *, study_id: int):
        self.study_id = study_id
        self.vendor = connection.vendor
        self.now = datetime.now(UTC)
        self.tables = {
            Post: ("import_stage_post", ["study_id", "site", *POST_FIELDS, "updated_at"]),
            Comment: ("import_stage_comment", ["study_id", "site", *COMMENT_FIELDS, "updated_at"]),
            SiteUser: ("import_stage_user", ["study_id", "site", *USER_FIELDS, "updated_at"]),
        }
        self.binary_types = {model: _binary_types(model, columns) for model, (_t, columns) in self.tables.items()}
        # PostgreSQL: the import's own connection and whether it holds the study's import
        # lock; (model, site) -> whether its rows go straight into the study's table.
        self.db = connection
        self.own_connection = False
        self.exclusive = False
        self.direct: dict[tuple[type, str], bool] = {}
        self.staged_rows = {Post: 0, Comment: 0, SiteUser: 0}

    # -- lifecycle ---------------------------------------------------------------
    def __enter__(self) -> ImportStage:
        # Inside a caller's transaction (tests) the import stays on Django's connection and
        # only stages: a second connection would not see that transaction's study.
        if self.vendor == "postgresql" and not connection.in_atomic_block:
            self.db = connections.create_connection(connection.alias)
            self.own_connection = True
            self.db.set_autocommit(False)
            with self.db.cursor() as cursor:
                # Foreign keys are checked statement by statement, not all at commit: the
                # queue of deferred checks of a 60-million-row import would not fit in memory.
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                cursor.execute("SELECT pg_try_advisory_xact_lock(%s, %s)", [IMPORT_LOCK, self.study_id])
                self.exclusive = bool(cursor.fetchone()[0])
        with self.db.cursor() as cursor:
            for model, (table, columns) in self.tables.items():
                cols = ", ".join(
                    f"{name} {db_type}" for name, db_type in _column_types(model, columns)
                )
                for name in (table, f"{table}_batch"):  # one at a time: SQLite drops no list
                    cursor.execute(f"DROP TABLE IF EXISTS {name}")
                cursor.execute(f"CREATE TEMPORARY TABLE {table} ({cols})")
        return self

    def __exit__(self, *exc_info) -> None:
        if self.own_connection:
            try:
                if self.db.connection is not None and not self.db.get_autocommit():
                    self.db.rollback()  # anything not applied (an error) goes; temp tables with it
            finally:
                self.db.close()
            return
        if connection.in_atomic_block and connection.needs_rollback:
            return
        with connection.cursor() as cursor:
            for table, _columns in self.tables.values():
                for name in (table, f"{table}_batch"):
                    cursor.execute(f"DROP TABLE IF EXISTS {name}")

    # -- writing -----------------------------------------------------------------
    @property
    def output(self) -> str:
        """The form batches' rows must take (see read_process.ReadPlan): dates as datetime
        for PostgreSQL's COPY, as text for SQLite."""
        return "copy" if self.vendor == "postgresql" else "rows"

    def copy_types(self) -> dict[str, list[str]]:
        """psycopg type names of each kind's columns, for binary COPY data made elsewhere
        (none where batches are row tuples)."""
        if self.output != "copy":
            return {}
        return {kind: self.binary_types[model] for kind, model in MODELS.items()}

    def conninfo(self) -> str:
        """Where the child processes that make binary COPY data connect (psycopg formats
        values for a connection); empty where batches are row tuples."""
        if self.output != "copy":
            return ""
        self.db.ensure_connection()
        from psycopg.conninfo import make_conninfo

        info = self.db.connection.info
        return make_conninfo(info.dsn, password=info.password) if info.password else info.dsn

    def is_direct(self, model, site: str) -> bool:
        """Whether ``site``'s rows of ``model`` go straight into the study's table: only
        under the study's import lock, and only when the study has none of them yet."""
        key = (model, site)
        if key not in self.direct:
            direct = False
            if self.exclusive:
                with self.db.cursor() as cursor:
                    cursor.execute(f"SELECT NOT EXISTS (SELECT 1 FROM {model._meta.db_table} "
                                   "WHERE study_id = %s AND site = %s)", [self.study_id, site])
                    direct = bool(cursor.fetchone()[0])
            self.direct[key] = direct
        return self.direct[key]

    def write(self, kind: str, site: str, rows: int, payload, skip: Sequence[int] = ()) -> None:
        """Write one batch of ``rows`` rows of ``kind`` ("posts", "comments" or "users") read from
        ``site``: a list of row tuples, or (PostgreSQL) binary COPY data, whose rows at the
        positions ``skip`` (duplicates of earlier rows, not counted in ``rows``) are left out."""
        if not rows:
            return
        model = MODELS[kind]
        table, columns = self.tables[model]
        if self.vendor == "postgresql":
            target = table
            if self.is_direct(model, site):
                target = model._meta.db_table
            else:
                self.staged_rows[model] += rows
            if skip:
                self._write_without(table, target, columns, payload, skip)
                return
            with self.db.cursor() as cursor, cursor.copy(
                f"COPY {target} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)"
            ) as copy:
                if isinstance(payload, list):
                    copy.set_types(self.binary_types[model])
                    for row in payload:
                        copy.write_row(row)
                else:
                    copy.write(payload)
        else:
            self.staged_rows[model] += rows
            placeholders = ", ".join(["%s"] * len(columns))
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})", payload)

    def _write_without(self, table: str, target: str, columns: list[str], payload: bytes,
                       skip: Sequence[int]) -> None:
        """Binary COPY data into ``target`` but its rows at the positions ``skip``: through a
        temporary table that numbers the rows in the order COPY reads them."""
        batch = f"{table}_batch"
        cols = ", ".join(columns)
        with self.db.cursor() as cursor:
            cursor.execute(f"CREATE TEMPORARY TABLE IF NOT EXISTS {batch} "
                           f"(LIKE {table}, position bigint GENERATED ALWAYS AS IDENTITY (START 0 MINVALUE 0))")
            cursor.execute(f"TRUNCATE {batch} RESTART IDENTITY")
            with cursor.copy(f"COPY {batch} ({cols}) FROM STDIN (FORMAT BINARY)") as copy:
                copy.write(payload)
            cursor.execute(f"INSERT INTO {target} ({cols}) SELECT {cols} FROM {batch} "
                           "WHERE position <> ALL(%s) ORDER BY position", [list(skip)])

    # -- applying ----------------------------------------------------------------
    def apply(self, *, on_wait=None) -> None:
        """Make everything read visible at once: upsert the staged rows and commit. Waits
        for another import into the same study to finish first (``on_wait`` is called
        before waiting)."""
        if not self.own_connection:
            with transaction.atomic():
                # Two imports into one study apply one after the other (no deadlock
                # between their upserts); the second sees the first's rows.
                from annotator.studies.models import Study

                Study.objects.select_for_update().only("pk").get(pk=self.study_id)
                self._upsert()
            return
        with self.db.cursor() as cursor:
            if not self.exclusive:
                if on_wait is not None:
                    on_wait()
                cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [IMPORT_LOCK, self.study_id])
        self._upsert()
        self.db.commit()

    def _upsert(self) -> None:
        with self.db.cursor() as cursor:
            for model, (table, columns) in self.tables.items():
                if not self.staged_rows[model]:
                    continue
                target = model._meta.db_table
                cols = ", ".join(columns)
                updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in KEY)
                # A row the dump has not changed is left as it is (its updated_at too): no new
                # row version, no index entries, no WAL. Re-reading the same dump writes nothing.
                compared = [c for c in columns if c not in KEY and c != "updated_at"]
                distinct = "IS DISTINCT FROM" if self.vendor == "postgresql" else "IS NOT"
                changed = (f"({', '.join(f'{target}.{c}' for c in compared)}) {distinct} "
                           f"({', '.join(f'excluded.{c}' for c in compared)})")
                cursor.execute(
                    f"INSERT INTO {target} ({cols}) SELECT {cols} FROM {table} WHERE true "
                    f"ON CONFLICT ({', '.join(KEY)}) DO UPDATE SET {updates} WHERE {changed}"
                )
