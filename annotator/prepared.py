"""Querysets compiled once, then run again with each call's values.

Django builds and compiles a queryset every time one is evaluated. On the rater's submission,
that costs 0.2–0.5 ms a query, where the query itself runs in a few hundredths of a millisecond
on its index: most of the request. ``Prepared`` builds a ``values()`` queryset once per
database, with a stand-in value for each argument, keeps the SQL Django compiled for it, and from
then on runs that SQL with the call's values in the stand-ins' places, its rows converted as
Django converts them. The queryset stays the query's one description (a renamed column or a new
condition changes it here too), and a stand-in Django did not pass through as it was (a lookup
that rewrites its value, such as ``icontains``) is refused when the query is prepared, not run
wrong. A list argument (``pk__in``) is prepared once per length; an int argument may bound a
slice (``queryset[offset:offset + limit]``).

``instance`` turns a row into a model instance whose other fields are deferred (read from the
database if something reads them), for the code that takes instances; ``columns`` names a
model's columns, to read whole instances (and one related, as ``select_related`` would).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.models import Model, QuerySet
from django.db.transaction import TransactionManagementError

from .row_locks import share_locked_sql

# Stand-ins: values no caller passes (an int within 32 bits, so that an IntegerField's lookup
# keeps it; a string with control characters).
_INT_BASE = 2_147_400_000
_MAX_CACHED_LENGTH = 100  # a page of ids; longer lists are compiled on each call (as the ORM would)


@dataclass(frozen=True)
class _Compiled:
    sql: tuple  # the SQL, cut where a slice's bounds go (str, _Slot, str, …): written in on each call
    params: tuple  # fixed values, and the stand-ins' places (_Slot: argument, index in its list or None)
    names: tuple[str, ...]
    locks: bool  # FOR UPDATE or FOR SHARE: in a transaction only
    compiler: Any  # Django's SQLCompiler: converts the rows as the queryset would (its results_iter)
    converters: dict  # found once
    width: int | None  # the selected columns, where the SQL selects more (to order by them)


_EMPTY = _Compiled(sql=("",), params=(), names=(), locks=False, compiler=None, converters={}, width=None)


class _Slot:
    __slots__ = ("index", "name")

    def __init__(self, name: str, index: int | None):
        self.name, self.index = name, index


class Prepared:
    """``build(**arguments)`` returns a ``values()`` queryset; ``arguments`` maps each argument's
    name to ``int``, ``str`` or ``list`` (of ints). ``share_lock``: the rows are locked ``FOR
    SHARE`` until the transaction ends, on PostgreSQL (``annotator.row_locks``); a queryset's
    ``select_for_update`` is compiled into the SQL as it is. Either needs a transaction."""

    def __init__(self, build: Callable[..., QuerySet], *, share_lock: bool = False, **arguments: type):
        for name, kind in arguments.items():
            if kind not in (int, str, list):
                raise TypeError(f"Argument {name!r}: int, str or list, not {kind!r}.")
        self._build, self._arguments, self._share_lock = build, arguments, share_lock
        self._compiled: dict[tuple, _Compiled] = {}

    def rows(self, *, using: str = "default", **values) -> list[dict]:
        if set(values) != set(self._arguments):
            raise TypeError(f"Prepared query takes {sorted(self._arguments)}, got {sorted(values)}.")
        connection = connections[using]
        lengths = tuple(len(values[name]) for name, kind in self._arguments.items() if kind is list)
        key = (using, connection.vendor, lengths)
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = self._compile(using, lengths)
            if all(n <= _MAX_CACHED_LENGTH for n in lengths):
                self._compiled[key] = compiled
        if compiled is _EMPTY:
            return []
        if compiled.locks and connection.vendor == "postgresql" and not connection.in_atomic_block:
            raise TransactionManagementError("A prepared query that locks rows runs in a transaction.")
        params = [p if not isinstance(p, _Slot) else values[p.name] if p.index is None else values[p.name][p.index]
                  for p in compiled.params]
        sql = "".join(part if isinstance(part, str) else str(int(values[part.name])) for part in compiled.sql)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            fetched = cursor.fetchall()
        if compiled.width is not None:
            fetched = [row[:compiled.width] for row in fetched]
        if compiled.converters:
            fetched = compiled.compiler.apply_converters(fetched, compiled.converters)
        names = compiled.names
        return [dict(zip(names, row, strict=True)) for row in fetched]

    def _compile(self, using: str, lengths: tuple[int, ...]) -> _Compiled:
        stand_ins: dict[Any, _Slot] = {}
        arguments: dict[str, Any] = {}
        list_lengths = iter(lengths)
        for name, kind in self._arguments.items():
            if kind is str:
                arguments[name] = f"\x1fprepared:{name}\x1f"
                stand_ins[arguments[name]] = _Slot(name, None)
            elif kind is int:
                arguments[name] = _INT_BASE + len(stand_ins)
                stand_ins[arguments[name]] = _Slot(name, None)
            else:
                arguments[name] = []
                for i in range(next(list_lengths)):
                    value = _INT_BASE + len(stand_ins)
                    arguments[name].append(value)
                    stand_ins[value] = _Slot(name, i)
        queryset = self._build(**arguments).using(using)
        query = queryset.query
        if query.default_cols:
            raise TypeError("A prepared query is a values() queryset.")
        compiler = query.get_compiler(using)
        try:
            sql, params = compiler.as_sql()
        except EmptyResultSet:  # e.g. pk__in=[]: the ORM reads nothing either
            return _EMPTY
        slots, seen = [], set()
        for param in params:
            slot = stand_ins.get(param) if isinstance(param, int | str) and not isinstance(param, bool) else None
            if slot is not None:
                seen.add(param)
            slots.append(slot if slot is not None else param)
        if self._share_lock:
            sql = share_locked_sql(sql, queryset.model, using=using)
        parts = _slice_bounds(sql, stand_ins, seen)
        missing = [slot.name for value, slot in stand_ins.items() if value not in seen]
        if missing:
            raise ValueError(f"Prepared query: Django did not pass {sorted(set(missing))} through as given "
                             "(a lookup that rewrites its value): use the ORM for it.")
        names = tuple(query.selected) if query.selected else (
            *query.extra_select, *query.values_select, *query.annotation_select)
        converters = compiler.get_converters([column[0] for column in compiler.select[:compiler.col_count]])
        return _Compiled(sql=parts, params=tuple(slots), names=names, compiler=compiler, converters=converters,
                         width=compiler.col_count if compiler.has_extra_select else None,
                         locks=self._share_lock or bool(query.select_for_update))


def _slice_bounds(sql: str, stand_ins: dict, seen: set) -> tuple:
    """A slice's bounds (``queryset[offset:offset + limit]``), which Django writes into the SQL
    (``LIMIT 50 OFFSET 100``) rather than pass as parameters: the SQL cut where a stand-in is,
    as fragments and the stand-ins' slots in turn, to write each call's numbers in. Kept as
    numbers in the SQL, not made parameters: PostgreSQL plans a prepared statement whose LIMIT
    is a parameter for a tenth of the table, judges that plan too dear, and plans every call."""
    parts, last = [], 0
    for match in _INT_LITERAL.finditer(sql):
        slot = stand_ins.get(int(match.group()))
        if slot is None:
            continue
        parts += [sql[last:match.start()], slot]
        seen.add(int(match.group()))
        last = match.end()
    return (*parts, sql[last:])


_INT_LITERAL = re.compile(rf"(?<![\w.]){str(_INT_BASE)[:4]}\d{{{len(str(_INT_BASE)) - 4}}}(?![\w.])")


def columns(model: type[Model], prefix: str = "") -> tuple[str, ...]:
    """Every column of ``model`` as ``values()`` names it (``prefix``: through a relation, e.g.
    ``"study__"``), for a prepared query that reads whole instances."""
    return tuple(f"{prefix}{f.attname}" for f in model._meta.concrete_fields)


def instance(model: type[Model], row: dict, *, prefix: str = "", using: str = "default") -> Model:
    """A ``model`` instance of ``row`` (keys: ``prefix`` and attribute names, e.g. ``draw_id``), as
    read from the database: the fields not in ``row`` are deferred."""
    fields = [f for f in model._meta.concrete_fields if f"{prefix}{f.attname}" in row]
    return model.from_db(using, {f.attname for f in fields}, [row[f"{prefix}{f.attname}"] for f in fields])
