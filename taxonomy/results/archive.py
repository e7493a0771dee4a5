"""The study archive: a whole study as one versioned JSON document, and its restore.

The archive is what ``python manage.py import_study FILE`` reads and what the
replication package carries. One JSON object in UTF-8, written and read as a
stream (row by row, never a whole table in memory), a row per line::

    {"format": "taxonomist-study-archive",
    "version": 1,
    "volatile": ["exported_at"],
    "exported_at": "2025-01-31T12:00:00.123456+00:00",
    "study": {"id":3,"slug":"dl",...},
    "users": [
    {"username":"ana"},
    ...],
    "memberships": [
    {"id":7,"study":3,"user":"ana","is_rater":true,...},
    ...],
    "posts": [...], ... one array per section of ``SECTIONS`` ...,
    "counts": {"memberships":3,"posts":120,...}
    }

A row holds every column of its table under the field's name: primary keys
and foreign keys as the ids of this study's rows (kept as they are, so that
everything that names an id, such as a change record or an agreement run,
stays true), users by username (never by id: a user's id is the
installation's), times in UTC ISO 8601, binary columns in base64. Rows come in
primary-key order and JSON objects stored in a column with sorted keys, so the
same study gives the same bytes on any installation and database; only the
keys listed in ``volatile`` differ between two exports. ``counts`` closes the
file: a restore checks that it read exactly that many rows of each section.

What is in a study is found by walking the models: every model with a chain
of foreign keys to ``Study`` is a section of ``SECTIONS`` or is named in
``NOT_ARCHIVED`` with the reason (``archive_coverage_problems``; a test fails
when a new model is in neither).

The restore (``study_archive_restore``) refuses an unknown format or version,
invalid or truncated JSON, a slug that exists ("refused", never renamed: the
archive's ids are kept, so a second copy could not keep them either) and any
id this installation already holds ("restore into a fresh installation"). It
writes every row with its original id in one transaction, so an error at any
point leaves nothing behind, then checks every foreign key and that every row
belongs to the restored study, and moves PostgreSQL's id sequences past the
restored ids. Users missing here are created by username, inactive and with
no usable password (an administrator activates them); existing users with
that username are the same people.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from itertools import chain, islice, repeat
from typing import IO, Any

import ijson
import orjson
from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.color import no_style
from django.db import (
    DEFAULT_DB_ALIAS,
    DatabaseError,
    connection,
    connections,
    models,
    transaction,
)
from django.db.models import Func
from django.utils import timezone

from annotator.corpus.models import Comment, Post, SiteUser
from annotator.jobs.models import Job
from annotator.studies.models import Membership, Study
from sampling.draws.models import (
    Assignment,
    SampleDraw,
    SampleItem,
    SampleStratum,
    StratumPopulation,
)
from sampling.draws.sight import sight_for
from sampling.question_sets.models import (
    ManualDecision,
    QuestionSet,
    QuestionSetMember,
    SetReference,
)
from taxonomy.coding.models import Code, CodeUse
from taxonomy.labelling.models import HotkeyBinding, Label, LabelCategory, RaterTally
from taxonomy.labelling.services import rater_tallies_make
from taxonomy.review.agreement.models import AgreementRun
from taxonomy.review.arbitration.models import (
    ArbitratorRoot,
    FinalLabel,
    FinalLabelCategory,
    PendingCategory,
    RelabelRequest,
)
from taxonomy.tree.models import CategoriesSeen, Category, CategoryChange

FORMAT = "taxonomist-study-archive"
VERSION = 1
VOLATILE = ("exported_at",)
HEADER = ("format", "version", "volatile", "exported_at")

BATCH = 1000  # rows per executemany on restore, and per progress report
CHUNK = 2000  # rows per fetch on export (a server-side cursor on PostgreSQL)
WRITE_BYTES = 1 << 18  # the archive reaches its file this many bytes at a time

Progress = Callable[[str, int], None]  # (section, rows handled so far in all sections)


@dataclass(frozen=True)
class Section:
    """One array of the archive: the rows of ``model`` that reach the study through ``study_path``."""

    name: str
    model: type[models.Model]
    study_path: str  # lookup from the model to its study's id, e.g. "assignment__draw__study"
    user_id_lists: tuple[str, ...] = ()  # JSON columns holding lists of user ids: written as usernames

    def queryset(self, study_id: int) -> models.QuerySet:
        return self.model._default_manager.filter(**{self.study_path: study_id}).order_by("pk")


# In restore order (the database checks foreign keys at the end of the transaction,
# so the order only keeps a reader's view simple: what is referred to comes first).
SECTIONS: tuple[Section, ...] = (
    Section("memberships", Membership, "study"),
    Section("posts", Post, "study"),
    Section("comments", Comment, "study"),
    Section("site_users", SiteUser, "study"),
    Section("question_sets", QuestionSet, "study"),
    Section("set_references", SetReference, "question_set__study"),
    Section("manual_decisions", ManualDecision, "question_set__study"),
    Section("question_set_members", QuestionSetMember, "question_set__study"),
    Section("draws", SampleDraw, "study", user_id_lists=("rater_ids",)),
    Section("strata", SampleStratum, "draw__study"),
    Section("stratum_populations", StratumPopulation, "stratum__draw__study"),
    Section("items", SampleItem, "draw__study"),
    Section("assignments", Assignment, "draw__study"),
    Section("categories", Category, "study"),
    Section("category_examples", Category.examples.through, "category__study"),
    Section("category_changes", CategoryChange, "study"),
    Section("codes", Code, "study"),
    Section("code_uses", CodeUse, "code__study"),
    Section("labels", Label, "assignment__draw__study"),
    Section("label_categories", LabelCategory, "label__assignment__draw__study"),
    Section("relabel_requests", RelabelRequest, "assignment__draw__study"),
    Section("final_labels", FinalLabel, "item__draw__study"),
    Section("final_label_categories", FinalLabelCategory, "final__item__draw__study"),
    Section("arbitrator_roots", ArbitratorRoot, "study"),
    Section("pending_categories", PendingCategory, "study"),
    Section("agreement_runs", AgreementRun, "study"),
)

# Models that reach a study but are not archived. Their rows are not restored, and a
# foreign key from an archived row to one of them is left out of the archive (null
# after a restore: every such key is nullable).
NOT_ARCHIVED: dict[type[models.Model], str] = {
    Job: "background jobs are this installation's bookkeeping (queue state, progress, worker errors, "
         "file paths); what a job made (a draw, an agreement run) is archived, and their 'job' field is "
         "left empty",
    HotkeyBinding: "a rater's keyboard shortcuts (keys 1-9) are a preference of this installation's user "
                   "interface, not part of the study's record; a restored study gives each rater the default "
                   "keys again",
    CategoriesSeen: "which announcements of new categories a member has dismissed is this installation's "
                    "reading state, not part of the study's record",
    RaterTally: "the raters' labelled / assigned figures are derived from the assignments: a restore makes "
                "them again for every draw whose labelling has started",
}



def archive_not_archived_register(model: type[models.Model], reason: str) -> None:
    """A later step of the method (which this module may not import) names a model of its own
    that reaches a study but is not archived, with the reason, from its AppConfig.ready."""
    if not reason.strip():
        raise ValueError("Say why the model is not archived.")
    NOT_ARCHIVED[model] = reason


# Sections that archives of earlier versions of this format hold and a restore now makes
# again instead of reading (their rows are counted and otherwise skipped).
DERIVED_SECTIONS = ("rater_tallies",)


# -- what is archived ------------------------------------------------------------------


def _user_model() -> type[models.Model]:
    return get_user_model()


@dataclass(frozen=True)
class Column:
    name: str  # the key in a row: the field's name
    attname: str  # the model attribute: "study_id" for the foreign key "study"
    field: models.Field
    kind: str  # "user", "key" (another row's id), "user_ids", "datetime", "date", "binary", "json", "text", "plain"


@cache
def section_columns(model: type[models.Model], user_id_lists: tuple[str, ...] = ()) -> tuple[Column, ...]:
    """The columns of ``model`` that the archive holds, in the model's field order."""
    user_model = _user_model()
    columns = []
    for field in model._meta.concrete_fields:
        if field.is_relation:
            if field.related_model in NOT_ARCHIVED:
                continue
            kind = "user" if field.related_model is user_model else "key"
        elif field.name in user_id_lists:
            kind = "user_ids"
        else:
            kind = {"DateTimeField": "datetime", "DateField": "date", "BinaryField": "binary", "JSONField": "json",
                    "DecimalField": "text", "UUIDField": "text"}.get(field.get_internal_type(), "plain")
        columns.append(Column(name=field.name, attname=field.attname, field=field, kind=kind))
    return tuple(columns)


def _section_by_model() -> dict[type[models.Model], Section]:
    return {section.model: section for section in SECTIONS}


def _models_reaching_study(every: Iterable[type[models.Model]]) -> set[type[models.Model]]:
    """Every one of these models with a chain of foreign keys to Study."""
    every = list(every)
    reaching: set[type[models.Model]] = {Study}
    grew = True
    while grew:
        grew = False
        for model in every:
            if model in reaching:
                continue
            if any(f.is_relation and f.related_model in reaching for f in model._meta.concrete_fields):
                reaching.add(model)
                grew = True
    return reaching - {Study}


def _path_target(model: type[models.Model], path: str) -> type[models.Model] | None:
    for name in path.split("__"):
        try:
            field = model._meta.get_field(name)
        except Exception:  # noqa: BLE001 - any failure means the path is wrong
            return None
        if not field.is_relation or not field.concrete:
            return None
        model = field.related_model
    return model


def archive_coverage_problems(*, installed: Iterable[type[models.Model]] | None = None) -> list[str]:
    """What the archive would miss: a model that reaches a study and is neither a
    section nor in ``NOT_ARCHIVED``, a section whose path does not lead to Study,
    or an archived foreign key to a table the archive does not hold. Empty when
    complete. ``installed``: the models to walk (default: every installed model,
    through tables included)."""
    if installed is None:
        installed = apps.get_models(include_auto_created=True)
    problems = []
    by_model = _section_by_model()
    user_model = _user_model()
    for model in sorted(_models_reaching_study(installed), key=lambda m: m._meta.label):
        if model not in by_model and model not in NOT_ARCHIVED:
            problems.append(f"{model._meta.label} reaches Study but is neither a section of the archive "
                            "(SECTIONS) nor listed in NOT_ARCHIVED with the reason")
    for section in SECTIONS:
        if _path_target(section.model, section.study_path) is not Study:
            problems.append(f"section {section.name}: {section.study_path!r} does not lead to Study")
        for column in section_columns(section.model, section.user_id_lists):
            target = column.field.related_model
            if column.field.is_relation and target not in by_model and target not in (Study, user_model):
                problems.append(f"section {section.name}: {column.name} points at {target._meta.label}, "
                                "which the archive does not hold")
    names = [s.name for s in SECTIONS]
    if len(set(names)) != len(names) or set(names) & {*HEADER, "study", "users", "counts"}:
        problems.append("section names must be unique and differ from the header keys")
    return problems


# -- who may export ----------------------------------------------------------------------


def study_archive_check_allowed(*, study: Study, user) -> None:
    """The archive holds every rater's labels and every private proposal: only an owner
    who sees all of them (rates on no draw whose round still runs) may take it."""
    sight = sight_for(study=study, user=user)
    if not sight.member:
        raise PermissionDenied("Only the study's owners may export its archive.")
    if not Membership.objects.filter(study=study, user=user, is_owner=True).exists():
        raise PermissionDenied("Only the study's owners may export its archive: it holds every rater's labels.")
    if not sight.sees_all:
        raise PermissionDenied("The archive holds every rater's labels, and you rate on a draw whose reliability "
                               "round still runs: it can be exported once arbitration starts on that draw, or by "
                               "an owner who does not rate on it.")


def study_archive_sizes(*, study: Study) -> dict[str, int]:
    """Rows per section: what an export will write (a job's total) or what a restore wrote."""
    sizes = {"users": len(_user_ids(study))}
    sizes.update({section.name: section.queryset(study.pk).count() for section in SECTIONS})
    return sizes


# -- export ------------------------------------------------------------------------------


def _sorted_json(value: Any) -> orjson.Fragment:
    """A JSON column's value, its objects' keys sorted at every depth (jsonb and SQLite keep
    them in different orders)."""
    return orjson.Fragment(orjson.dumps(value, option=orjson.OPT_SORT_KEYS))


def _user_ids(study: Study) -> set[int]:
    ids = {study.created_by_id}
    for section in SECTIONS:
        queryset = section.queryset(study.pk).order_by()
        for column in section_columns(section.model, section.user_id_lists):
            if column.kind == "user":
                ids.update(queryset.values_list(column.attname, flat=True).distinct())
            elif column.kind == "user_ids":
                for listed in queryset.values_list(column.attname, flat=True).iterator(chunk_size=CHUNK):
                    ids.update(listed or ())
    ids.discard(None)
    return ids


class IsoUtc(Func):
    """A time column as the text Python's ``value.astimezone(UTC).isoformat()`` gives
    (``2025-01-31T12:00:00.123456+00:00``, no fraction when the microseconds are zero),
    made by PostgreSQL: parsing 1.1 million times into datetimes and formatting them again
    took a third of a large archive's time (benchmarks/export_bench.py). PostgreSQL only
    (SQLite's times are formatted in Python); the items CSV uses it too."""

    template = ("replace(to_char(%(expressions)s AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"+00:00\"'), "
                "'.000000+', '+')")
    output_field = models.TextField()


def _selected(column: Column) -> str | Func:
    """What the export reads of ``column``: its attribute, or on PostgreSQL a time as its text."""
    if column.kind == "datetime" and connection.vendor == "postgresql":
        return IsoUtc(column.attname)
    return column.attname


def _exporters(columns: tuple[Column, ...], usernames: dict[int, str], *,
               server_times: bool = False) -> list[tuple[int, Callable]]:
    """The (index, function) of each column whose database value (not None) is not yet its
    JSON value; ``server_times``: times come as text already (``IsoUtc``)."""
    def user_ids(value):  # a user deleted since is no one's rater any more
        return [usernames[pk] for pk in value if pk in usernames]

    convert = {
        "user": usernames.__getitem__,
        "user_ids": user_ids,
        "datetime": None if server_times else (lambda value: value.astimezone(UTC).isoformat()),
        "date": lambda value: value.isoformat(),
        "binary": lambda value: base64.b64encode(bytes(value)).decode("ascii"),
        "json": _sorted_json,
        "text": str,  # Decimal, UUID
    }
    return [(i, convert[c.kind]) for i, c in enumerate(columns) if convert.get(c.kind)]


def _encoder(columns: tuple[Column, ...], exporters: list[tuple[int, Callable]]) -> Callable[[tuple], bytes]:
    """A database row (a tuple in column order) → its JSON object, keys in column order.
    orjson: a C encoder, 4 times faster here than ``json`` (measured with benchmarks/export_bench.py)."""
    names = [c.name for c in columns]
    dumps = orjson.dumps

    if not exporters:
        return lambda values: dumps(dict(zip(names, values)))

    def encode(values: tuple) -> bytes:
        values = list(values)
        for i, convert in exporters:
            value = values[i]
            if value is not None:
                values[i] = convert(value)
        return dumps(dict(zip(names, values)))

    return encode


def _study_row(study: Study, usernames: dict[int, str]) -> bytes:
    columns = section_columns(Study)
    return _encoder(columns, _exporters(columns, usernames))(tuple(getattr(study, c.attname) for c in columns))


def _batches(rows: Iterator[tuple]) -> Iterator[list[tuple]]:
    while batch := list(islice(rows, CHUNK)):
        yield batch


class _Sink(io.RawIOBase):
    """``out`` (a binary or text file object) as a raw stream, for an ``io.BufferedWriter``.

    The archive is written a row at a time into the writer's one buffer, which hands ``out``
    about ``WRITE_BYTES`` at a time. Joining each chunk of rows into one large bytes object
    instead, and freeing it, left the top of the heap free: glibc gave it back to the system
    and the next chunk faulted it in again (a million page faults, half of a 100,000-item
    archive's time; benchmarks/export_bench.py)."""

    def __init__(self, out: IO):
        self._write: Callable | None = out.write
        self._text = isinstance(out, io.TextIOBase)

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        if self._write is not None:
            # whole rows only (the writer never splits one), so a character is never cut in two
            self._write(str(data, "utf-8") if self._text else data)
        return len(data)

    def drop(self) -> None:
        """Write nothing more (after an error: not when the writer is collected, perhaps after
        ``out`` was closed)."""
        self._write = None


def _write_archive(*, study: Study, sink: IO, progress: Progress | None, exported_at: datetime,
                   counts: dict[str, int]) -> None:
    usernames = dict(_user_model()._default_manager.filter(pk__in=_user_ids(study))
                     .values_list("pk", "username"))
    server_times = connection.vendor == "postgresql"
    dumps = orjson.dumps
    write = sink.write
    write(b'{"format": %s,\n"version": %d,\n"volatile": %s,\n"exported_at": %s,\n"study": %s,\n"users": ['
          % (dumps(FORMAT), VERSION, dumps(list(VOLATILE)), dumps(exported_at.astimezone(UTC).isoformat()),
             _study_row(study, usernames)))
    for i, name in enumerate(sorted(usernames.values())):
        write((b"\n" if i == 0 else b",\n") + dumps({"username": name}))
    write(b"\n]")
    counts["users"] = len(usernames)
    done = 0
    for section in SECTIONS:
        columns = section_columns(section.model, section.user_id_lists)
        encode = _encoder(columns, _exporters(columns, usernames, server_times=server_times))
        write(b",\n%s: [" % dumps(section.name))
        rows = 0
        queryset = section.queryset(study.pk).values_list(*(_selected(c) for c in columns))
        for batch in _batches(queryset.iterator(chunk_size=CHUNK)):
            write(b"\n" if rows == 0 else b",\n")
            write(encode(batch[0]))
            # the rest of the chunk as ",\n", row, ",\n", row, … without a loop in Python
            sink.writelines(chain.from_iterable(zip(repeat(b",\n"), map(encode, islice(batch, 1, None)))))
            rows += len(batch)
            if progress:
                progress(section.name, done + rows)
        write(b"\n]" if rows else b"]")
        counts[section.name] = rows
        done += rows
        if progress:
            progress(section.name, done)
    write(b',\n"counts": %s\n}\n' % dumps({s.name: counts[s.name] for s in SECTIONS}))


def study_archive_write(*, study: Study, out: IO, progress: Progress | None = None,
                        exported_at: datetime | None = None) -> dict[str, int]:
    """Write the archive of ``study`` to ``out`` (a binary or text file object), in UTF-8,
    a chunk of rows at a time; returns the rows written per section.

    On PostgreSQL, outside any transaction, the archive is read in one REPEATABLE READ
    transaction: a snapshot, whatever is labelled meanwhile (a ``progress`` callback
    that writes to the database is then seen by others only at the end). On SQLite,
    whose transactions here take the write lock, it is read as it goes: export while
    nobody edits the study, or a label written meanwhile may name a category the file
    lacks (its restore is then refused, never half done)."""
    counts: dict[str, int] = {}
    raw = _Sink(out)
    sink = io.BufferedWriter(raw, buffer_size=WRITE_BYTES)
    try:
        with _snapshot():
            _write_archive(study=study, sink=sink, progress=progress, exported_at=exported_at or timezone.now(),
                           counts=counts)
        sink.flush()
    finally:
        raw.drop()
    return counts


@contextmanager
def _snapshot() -> Iterator[None]:
    """One REPEATABLE READ transaction on PostgreSQL when none is open; nothing otherwise."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        yield
        return
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            # The export reads every row, in primary-key order: plan for all of them (hash joins
            # and a sort), not for the first tenth as a cursor would (an index lookup per row);
            # 15 % less of the database's time (benchmarks/export_bench.py).
            cursor.execute("SET LOCAL cursor_tuple_fraction = 1")
        yield


# -- restore -----------------------------------------------------------------------------


class ArchiveRefused(ValidationError):
    """The archive cannot be restored; the message says why. Nothing was written."""


class _BytesReader:
    """A binary view of a binary or text file object (ijson reads bytes), whose first
    bytes can be looked at before the parser reads them."""

    def __init__(self, fileobj: IO):
        self.fileobj = fileobj
        self.text = isinstance(fileobj, io.TextIOBase)
        self.head = self._read(64)

    def _read(self, size: int) -> bytes:
        data = self.fileobj.read(size)
        return data.encode("utf-8") if self.text else data

    def read(self, size: int = -1) -> bytes:
        if size == 0:  # ijson asks whether the file gives bytes
            return b""
        if self.head:
            data, self.head = self.head, b""
            return data
        return self._read(size)


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _values(events: Iterator[tuple[str, str, Any]], first: tuple[str, str, Any]) -> Any:
    """One JSON value, built from its first event and those that follow."""
    builder = ijson.ObjectBuilder()
    depth = 0
    event = first
    while True:
        _, kind, value = event
        builder.event(kind, value)
        if kind in ("start_map", "start_array"):
            depth += 1
        elif kind in ("end_map", "end_array"):
            depth -= 1
        if depth == 0:
            return builder.value
        event = next(events)


_SCALARS = frozenset({"string", "number", "boolean", "null"})


def _array_items(events: Iterator[tuple[str, str, Any]], key: str) -> Iterator[Any]:
    """The items of the array that is the value of top-level ``key`` (its start already read).
    A row's flat fields are set directly (four times faster than building every value
    through ``ObjectBuilder``); a JSON column's object or list is built."""
    for event in events:
        kind = event[1]
        if kind == "end_array" and event[0] == key:
            return
        if kind != "start_map":
            yield _values(events, event)
            continue
        row = {}
        for _, kind, name in events:
            if kind == "end_map":
                break
            value_event = next(events)
            row[name] = value_event[2] if value_event[1] in _SCALARS else _values(events, value_event)
        yield row


class _Restore:
    def __init__(self, progress: Progress | None):
        self.progress = progress
        self.header: dict[str, Any] = {}
        self.study: Study | None = None
        self.user_ids: dict[str, int] | None = None
        self.read: dict[str, int] = {}
        self.done = 0  # rows of the sections read to the end
        self.study_users: dict[Column, Any] = {}
        self.by_name = {section.name: section for section in SECTIONS}

    def refuse(self, message: str) -> ArchiveRefused:
        return ArchiveRefused(message)

    # -- the document

    def run(self, events: Iterator[tuple[str, str, Any]]) -> Study:
        first = next(events, None)
        if first is None or first[1] != "start_map":
            raise self.refuse("Not a Taxonomist study archive: the file does not hold a JSON object.")
        counts = None
        for prefix, kind, key in events:
            if kind == "end_map" and prefix == "":
                break
            start = next(events)
            if key in HEADER:
                self.header[key] = _values(events, start)
                self._check_header(partial=True)
                continue
            self._check_header(partial=False)
            if key in self.read or (key == "study" and self.study) or (key == "users" and self.user_ids is not None):
                raise self.refuse(f"The archive holds “{key}” twice.")
            if key == "study":
                self._study(_values(events, start))
            elif key == "counts":
                counts = _values(events, start)
            elif key == "users":
                self._need_study(key)
                self._users(self._array(events, start, key))
            elif key in DERIVED_SECTIONS:
                self._need_study(key)
                self._skip(key, self._array(events, start, key))
            elif key in self.by_name:
                self._need_study(key)
                if self.user_ids is None:
                    raise self.refuse(f"The archive's section “{key}” comes before its users.")
                self._section(self.by_name[key], self._array(events, start, key))
            else:
                raise self.refuse(f"The archive holds an unknown section “{key}”: it was not written by this "
                                  f"version of Taxonomist (format version {VERSION}).")
        if self.study is None:
            raise self.refuse("The archive holds no study.")
        if self.user_ids is None:
            raise self.refuse("The archive holds no list of users.")
        self._check_counts(counts)
        return self.study

    def _array(self, events, start, key: str) -> Iterator[Any]:
        if start[1] != "start_array":
            raise self.refuse(f"The archive's “{key}” is not a list.")
        return _array_items(events, key)

    def _check_header(self, *, partial: bool) -> None:
        fmt, version = self.header.get("format"), self.header.get("version")
        if "format" in self.header and fmt != FORMAT:
            raise self.refuse(f"Not a Taxonomist study archive: its format is {fmt!r}, not {FORMAT!r}.")
        if "version" in self.header and version != VERSION:
            raise self.refuse(f"The archive's format version is {version!r}; this installation reads version "
                              f"{VERSION} only. Restore it with the Taxonomist version that wrote it.")
        if not partial and ("format" not in self.header or "version" not in self.header):
            raise self.refuse("Not a Taxonomist study archive: it does not begin with its format and version.")

    def _need_study(self, key: str) -> None:
        if self.study is None:
            raise self.refuse(f"The archive's section “{key}” comes before its study.")

    def _skip(self, key: str, rows: Iterator[Any]) -> None:
        """A derived section of an earlier archive: its rows counted (for the counts at the end)."""
        n = 0
        for row in rows:
            if not isinstance(row, dict):
                raise self.refuse(f"The archive's section “{key}”: a row is not a JSON object.")
            n += 1
        self.read[key] = n

    def _check_counts(self, counts: Any) -> None:
        if not isinstance(counts, dict):
            raise self.refuse("The archive has no row counts at its end: it is incomplete.")
        for name, expected in counts.items():
            if name not in self.by_name and name not in DERIVED_SECTIONS:
                raise self.refuse(f"The archive counts rows of an unknown section “{name}”.")
            if self.read.get(name, 0) != expected:
                raise self.refuse(f"The archive's section “{name}” holds {self.read.get(name, 0):,} rows, but its "
                                  f"counts say {expected:,}: the file is incomplete or was edited.")
        missing = [name for name, n in self.read.items() if n and name not in counts]
        if missing:
            raise self.refuse(f"The archive's counts do not mention {', '.join(missing)}: the file was edited.")

    # -- rows

    def _values_of(self, columns: tuple[Column, ...], row: Any, where: str) -> list[Any]:
        """The row's Python values in column order (a column it lacks: the field's default)."""
        if not isinstance(row, dict):
            raise self.refuse(f"{where}: a row is not a JSON object.")
        if len(row) > len(columns) or not row.keys() <= {c.name for c in columns}:
            unknown = sorted(set(row) - {c.name for c in columns})
            raise self.refuse(f"{where}: unknown field {', '.join(unknown)} (this version of Taxonomist does not "
                              "have it).")
        values = []
        for column in columns:
            if column.name not in row:
                values.append(column.field.get_default())
                continue
            try:
                values.append(self._import_value(column, row[column.name]))
            except ValidationError as exc:
                raise self.refuse(f"{where}, field {column.name}: {' '.join(exc.messages)}") from None
        return values

    def _import_value(self, column: Column, value: Any) -> Any:
        if value is None:
            return None
        if column.kind == "user":
            return self._user_id(value)
        if column.kind == "user_ids":
            if not isinstance(value, list):
                raise ValidationError("a list of usernames is expected")
            return [self._user_id(name) for name in value]
        if column.kind == "key":
            return column.field.target_field.to_python(value)
        if column.kind == "binary" and not isinstance(value, str):
            raise ValidationError("base64 text is expected")
        if column.kind in ("datetime", "date") and not isinstance(value, str):
            raise ValidationError("an ISO 8601 time is expected")
        try:
            return column.field.to_python(value)
        except (ValueError, TypeError) as exc:  # e.g. bad base64
            raise ValidationError(str(exc)) from None

    def _user_id(self, name: Any) -> int:
        if self.user_ids is None or name not in self.user_ids:
            raise ValidationError(f"the user {name!r} is not among the archive's users")
        return self.user_ids[name]

    def _insert(self, model: type[models.Model], columns: tuple[Column, ...], rows: list[list[Any]],
                where: str) -> None:
        """Insert rows as they are. Plain SQL, not ``bulk_create``: that would stamp
        auto_now fields with the present time, and compiling its INSERT cost three
        quarters of a restore's time (measured: 200,000 rows, 100 s profiled)."""
        pk_index = next(i for i, c in enumerate(columns) if c.field.primary_key)
        ids = [row[pk_index] for row in rows]
        if None in ids:
            raise self.refuse(f"{where}: a row has no id.")
        taken = list(model._default_manager.filter(pk__in=ids).order_by("pk").values_list("pk", flat=True)[:3])
        if taken:
            raise self.refuse(
                f"This installation already holds {model._meta.verbose_name_plural} with the archive's ids "
                f"({', '.join(map(str, taken))}): an archive keeps its ids, so restore it into a fresh installation."
            )
        db = connections[DEFAULT_DB_ALIAS]  # the wrapper itself: the proxy costs a lookup per value
        quote = db.ops.quote_name
        sql = (f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(quote(c.field.column) for c in columns)}) "
               f"VALUES ({', '.join(['%s'] * len(columns))})")
        fields = [c.field for c in columns]
        # executemany: psycopg pipelines it; statements of many rows each measured slower
        # here (client-side binding of tens of thousands of parameters).
        with db.cursor() as cursor:
            cursor.executemany(sql, [[field.get_db_prep_save(value, db)
                                      for field, value in zip(fields, row, strict=True)] for row in rows])

    def _study(self, row: Any) -> None:
        if not isinstance(row, dict):
            raise self.refuse("The archive's study is not a JSON object.")
        slug = row.get("slug")
        if not isinstance(slug, str) or not slug:
            raise self.refuse("The archive's study has no slug.")
        if Study.objects.filter(slug=slug).exists():
            raise self.refuse(f"A study with the slug “{slug}” already exists here: the restore is refused (an "
                              "archive is never renamed or merged). Restore it into a fresh installation.")
        # The study's users (its creator) come after it: set once they are known.
        user_columns = {c.name: c for c in section_columns(Study) if c.kind == "user"}
        self.study_users = {user_columns[name]: row[name] for name in user_columns if row.get(name) is not None}
        columns = tuple(c for c in section_columns(Study) if c.kind != "user")
        values = self._values_of(columns, {k: v for k, v in row.items() if k not in user_columns},
                                 "The archive's study")
        self._insert(Study, columns, [values], "The archive's study")
        self.study = Study.objects.get(pk=values[[c.name for c in columns].index("id")])

    def _users(self, rows: Iterator[Any]) -> None:
        user_model = _user_model()
        field = user_model.USERNAME_FIELD
        self.user_ids = {}
        for row in rows:
            name = row.get("username") if isinstance(row, dict) else None
            if not isinstance(name, str) or not name:
                raise self.refuse("The archive's users: each is {\"username\": \"…\"}.")
            user = user_model._default_manager.filter(**{field: name}).first()
            if user is None:
                user = user_model(**{field: name}, is_active=False)
                user.set_unusable_password()
                user.save()
            self.user_ids[name] = user.pk
        try:
            values = {c.attname: self._user_id(name) for c, name in self.study_users.items()}
        except ValidationError as exc:
            raise self.refuse(f"The archive's study: {' '.join(exc.messages)}") from None
        if values:
            Study.objects.filter(pk=self.study.pk).update(**values)
            self.study.refresh_from_db()

    def _section(self, section: Section, rows: Iterator[Any]) -> None:
        columns = section_columns(section.model, section.user_id_lists)
        where = f"The archive's section “{section.name}”"
        batch: list[list[Any]] = []
        n = 0
        for row in rows:
            batch.append(self._values_of(columns, row, where))
            n += 1
            if len(batch) >= BATCH:
                self._insert(section.model, columns, batch, where)
                batch = []
                self._progress(section.name, n)
        if batch:
            self._insert(section.model, columns, batch, where)
        self.read[section.name] = n
        self.done += n
        self._progress(section.name, 0)

    def _progress(self, name: str, n: int) -> None:
        if self.progress:
            self.progress(name, self.done + n)

    # -- after the rows

    def rebuild_derived(self) -> None:
        """The raters' tallies of every restored draw whose labelling has started, from its
        assignments (as the labelling start made them and label_submit kept them)."""
        for draw in SampleDraw.objects.filter(study=self.study, labelling_started_at__isnull=False).order_by("pk"):
            rater_tallies_make(draw=draw)

    def check_belongs(self) -> None:
        """Every restored row reaches the restored study, and so does every row it points
        at: an archive cannot reach into another study of this installation."""
        study_id = self.study.pk
        by_model = _section_by_model()
        for section in SECTIONS:
            mine = section.queryset(study_id)
            if mine.count() != self.read.get(section.name, 0):
                raise self.refuse(f"The archive's section “{section.name}” holds rows of another study.")
            for column in section_columns(section.model, section.user_id_lists):
                if column.kind != "key":
                    continue
                target = column.field.related_model
                inside = ({f"{column.attname}": study_id} if target is Study
                          else {f"{column.name}__{by_model[target].study_path}": study_id})
                stray = mine.filter(**{f"{column.attname}__isnull": False}).exclude(**inside).values_list(
                    "pk", flat=True).first()
                if stray is not None:
                    raise self.refuse(f"The archive's section “{section.name}”, row {stray}: its {column.name} "
                                      "is not a row of this study.")

    def reset_sequences(self) -> None:
        statements = connection.ops.sequence_reset_sql(no_style(), [Study, *(s.model for s in SECTIONS)])
        if statements:
            with connection.cursor() as cursor:
                for sql in statements:
                    cursor.execute(sql)


def study_archive_restore(*, fileobj: IO, progress: Progress | None = None) -> Study:
    """Restore the archive read from ``fileobj`` (binary, or text) into this installation,
    with every row's original id, in one transaction; returns the new study. Raises
    ``ArchiveRefused`` (a ``ValidationError``) with the reason, having written nothing."""
    reader = _BytesReader(fileobj)
    if not reader.head.strip():
        raise ArchiveRefused("The file is empty: it is not a study archive.")
    restore = _Restore(progress)
    table_names = [m._meta.db_table for m in (Study, *(s.model for s in SECTIONS))]
    try:
        with transaction.atomic():
            restore.run(iter(ijson.parse(reader, use_float=True)))
            restore.rebuild_derived()
            connection.check_constraints(table_names=table_names)
            restore.check_belongs()
            restore.reset_sequences()
    except ijson.JSONError as exc:
        raise ArchiveRefused(f"The archive is not valid JSON (truncated or corrupted): {_first_line(exc)}.") from None
    except UnicodeDecodeError:
        raise ArchiveRefused("The archive is not UTF-8 text: it is corrupted or not an archive.") from None
    except DatabaseError as exc:
        raise ArchiveRefused(f"A row of the archive breaks a rule of the database, so nothing was restored: "
                             f"{_first_line(exc)}") from None
    return restore.study
