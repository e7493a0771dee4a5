"""The items CSV: one row per sampled post, with the raters' labels and the final label.

Scope: the same items as the taxonomy CSV (``selectors.results_scope``): every
draw in labelling, or one draw (a ``SampleDraw`` or its version), optionally one
stratum (by name). Rows in draw version, stratum, site and post id order.

Columns (``ITEM_COLUMNS``, then the raters, then ``FINAL_COLUMNS``):

- ``draw`` (version), ``stratum``, ``part`` (pilot / reliability), ``site``,
  ``post_id`` (the id on the site), ``link``, ``title``;
- per rater, ``rater_1``, ``rater_1_labels``, ``rater_1_note``, ``rater_2``, …:
  the raters whose labels the reader may see, by user name, as many groups as
  the item with the most such raters in the file has (an item with fewer
  leaves the rest empty; a file with none has no rater columns). A rater's
  labels are shown **only once arbitration has started on the item's draw**,
  whoever asks, and then only as the blindness rule allows
  (``taxonomy.labelling.visibility.label_list_visible``). Pilot items are
  coded jointly and have no raters' labels;
- ``final_kind`` (categories / false_positive / unclear; empty while the item
  is not decided), ``final_labels``, ``method`` (agreed / arbitrated /
  from_pending / pilot), ``decided_by`` (user name; empty for ``agreed``),
  ``decided_at`` (ISO 8601, UTC) and ``reason``.

Labels: a category is written as its path from the root (``Root > Inner >
Leaf``, names from ``taxonomy.tree.paths``), several categories sorted and
joined with `` | ``; a special label as its name (False positive, Unclear,
Pending). A category the reader may not see (another rater's proposal awaiting
approval) is written as ``(a category you cannot see)``.

Memory stays flat and the number of queries fixed, whatever the number of
items: the items, the raters' labels and the final labels are three queries in
the items' order, each read through a database cursor a chunk at a time and
merged item by item.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import Count, F, Max, QuerySet, Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from annotator.csv_output import csv_write
from annotator.studies.models import Study
from sampling.draws.models import SampleDraw
from sampling.draws.sight import Sight, final_label_visible_q, sight_for
from taxonomy.labelling.models import LabelKind
from taxonomy.labelling.visibility import label_list_visible
from taxonomy.review.arbitration.models import FinalLabel
from taxonomy.tree.models import Category
from taxonomy.tree.paths import TreeShape, tree_shape
from taxonomy.tree.selectors import category_visible_q

from .archive import IsoUtc
from .selectors import results_scope
from .taxonomy_csv import PATH_SEPARATOR

ITEM_COLUMNS = ("draw", "stratum", "part", "site", "post_id", "link", "title")
RATER_FIELDS = ("", "_labels", "_note")  # rater_<n>, rater_<n>_labels, rater_<n>_note
FINAL_COLUMNS = ("final_kind", "final_labels", "method", "decided_by", "decided_at", "reason")
LABEL_SEPARATOR = " | "
HIDDEN_CATEGORY = "(a category you cannot see)"
CHUNK = 2000
SPECIAL_NAMES = {kind.value: kind.label for kind in LabelKind if kind != LabelKind.CATEGORIES}
DECIDED_AT = FinalLabel._meta.get_field("decided_at")


def items_csv_columns(raters: int) -> list[str]:
    return [*ITEM_COLUMNS, *(f"rater_{n}{field}" for n in range(1, raters + 1) for field in RATER_FIELDS),
            *FINAL_COLUMNS]


@dataclass(frozen=True)
class ItemsTable:
    header: list[str]
    rows: Iterator[list]
    total: int  # rows the table will have


class _Labels:
    """Label texts, each worked out once: paths from the tree's shape, several sorted and joined."""

    def __init__(self, shape: TreeShape):
        self._shape = shape
        self._texts: dict[tuple, str] = {}

    def text(self, kind: str, category_ids: list[int]) -> str:
        key = (kind, *category_ids)
        text = self._texts.get(key)
        if text is None:
            shape = self._shape
            text = SPECIAL_NAMES.get(kind) or LABEL_SEPARATOR.join(sorted(
                PATH_SEPARATOR.join(shape.names(pk)) if pk in shape else HIDDEN_CATEGORY for pk in category_ids))
            self._texts[key] = text
        return text


ITEM_ORDER = ("draw__version", "stratum__position", "post__site", "post__so_id")  # one item per key
# What the label and final label streams read (alias → field), in the order ``_Follower`` takes them:
# the item, the row itself, its fields, one category per row.
LABEL_FIELDS = {"item_ref": "assignment__item_id", "row_ref": "pk", "rater_name": "assignment__rater__username",
                "label_kind": "kind", "label_note": "note", "category_ref": "categories__category_id"}
FINAL_FIELDS = {"item_ref": "item_id", "row_ref": "pk", "final_kind": "kind", "final_method": "method",
                "decider_name": "decided_by__username", "decided": "decided_at", "final_reason": "reason",
                "category_ref": "categories__category_id"}


def _ranked(items: QuerySet) -> QuerySet:
    """The items with ``rank``: their place in the file (1, 2, …)."""
    return items.order_by().annotate(rank=Window(RowNumber(), order_by=[F(key).asc() for key in ITEM_ORDER]))


def _in_item_order(rows: QuerySet, *, columns: list[str], items: QuerySet) -> Iterator[tuple]:
    """``rows`` (a ``values()`` queryset with the ``columns``, among them ``item_ref``, the item's
    id, and ``row_ref``, the row's own) as (rank, *columns), in the items' order (rows of one item
    in ``row_ref`` order), read through a database cursor a chunk at a time.

    The rows are joined in SQL to the ranked items and sorted by that integer. Measured on the
    benchmark machine (benchmarks/export_bench.py, 300,000 labels, PostgreSQL): sorting the
    labels by the items' (draw, stratum, site, post id) takes 9 to 12 s against 1.9 s by rank
    (EXPLAIN ANALYZE, one process); reading the labels and final labels of 2,000-item chunks
    by a list of ids took 11 s, by a range of post ids 7.7 s, against 3.8 s this way."""
    quote = connection.ops.quote_name
    try:
        rows_sql, rows_params = rows.order_by().query.sql_with_params()
        ranked_sql, ranked_params = _ranked(items).values("rank", ranked_ref=F("pk")).query.sql_with_params()
    except EmptyResultSet:  # a filter that keeps nothing (no draw; a reader who may see none of it)
        return
    sql = (f"SELECT o.{quote('rank')}, {', '.join('r.' + quote(c) for c in columns)} FROM ({rows_sql}) r "
           f"INNER JOIN ({ranked_sql}) o ON o.{quote('ranked_ref')} = r.{quote('item_ref')} "
           f"ORDER BY o.{quote('rank')}, r.{quote('row_ref')}")
    with connection.chunked_cursor() as cursor:
        cursor.execute(sql, (*rows_params, *ranked_params))
        while batch := cursor.fetchmany(CHUNK):
            yield from batch


class _Follower:
    """A stream of (rank, item id, *fields, category id) in the items' order, one row per category
    of a label (or final label), its rows consecutive: ``take(rank, item_id)`` returns that item's
    labels as [(fields, category ids)], read as the items go by."""

    def __init__(self, rows: Iterator[tuple]):
        self._rows = rows
        self._head = next(rows, None)

    def take(self, rank: int, item_id: int) -> list[tuple[tuple, list[int]]]:
        out: list[tuple[tuple, list[int]]] = []
        head = self._head
        while head is not None and head[0] <= rank:
            if head[1] == item_id:  # (an item that came since the items were read is passed by)
                fields, category_id = head[2:-1], head[-1]
                if out and out[-1][0] == fields:
                    out[-1][1].append(category_id)
                else:
                    out.append((fields, [] if category_id is None else [category_id]))
            head = next(self._rows, None)
        self._head = head
        return out


def _utc(value) -> datetime | None:
    """A time read through a cursor (SQLite gives text) as an aware UTC datetime."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value
    value = DECIDED_AT.to_python(value)
    return value if value is None or timezone.is_aware(value) else timezone.make_aware(value, UTC)


def items_csv_table(*, study: Study, user, sight: Sight | None = None, draw: SampleDraw | int | None = None,
                    stratum: str | None = None, progress: Callable[[int, int], None] | None = None) -> ItemsTable:
    """The header and the (lazy) rows of the items CSV, as ``user`` (or ``sight``) may see them;
    a ValidationError names a draw or stratum that does not exist. ``progress(rows_done, rows_total)``
    is called after every ``CHUNK`` rows and at the end.

    Three streams in the items' order, each one query read through a database cursor: the
    items, the raters' labels, the final labels; merged item by item. The number of queries
    does not depend on the number of items, nor memory (beyond the tree and the rows in flight)."""
    sight = sight if sight is not None else sight_for(study=study, user=user)
    scope = results_scope(study=study, draw_version=getattr(draw, "version", draw), stratum_name=stratum)
    items = scope.items()
    labels = label_list_visible(study=study, user=user, sight=sight).filter(
        assignment__draw__arbitration_started_at__isnull=False, assignment__item__in=items)
    raters = (labels.values("assignment__item_id").annotate(raters=Count("pk"))
              .aggregate(most=Max("raters"))["most"] or 0)
    total = items.count()
    texts = _Labels(tree_shape(study=study, categories=Category.objects.filter(category_visible_q(sight),
                                                                                 study=study)))
    item_rows = (_ranked(items).order_by("rank")
                 .values_list("rank", "pk", "draw__version", "stratum__name", "part", "post__site", "post__so_id",
                              "post__title"))
    label_rows = labels.values(**{alias: F(path) for alias, path in LABEL_FIELDS.items()})
    final_fields = {alias: F(path) for alias, path in FINAL_FIELDS.items()}
    server_times = connection.vendor == "postgresql"
    if server_times:  # the time as the text the file holds, made by the database
        final_fields["decided"] = IsoUtc(FINAL_FIELDS["decided"])
    final_rows = FinalLabel.objects.filter(final_label_visible_q(sight), item__in=items).values(**final_fields)

    def generate() -> Iterator[list]:
        rated = _Follower(_in_item_order(label_rows, columns=list(LABEL_FIELDS), items=items))
        decided = _Follower(_in_item_order(final_rows, columns=list(FINAL_FIELDS), items=items))
        blank_rater, blank_final = [""] * len(RATER_FIELDS), [""] * len(FINAL_COLUMNS)
        done = 0
        for rank, item_id, version, stratum_name, part, site, so_id, title in item_rows.iterator(chunk_size=CHUNK):
            row = [version, stratum_name, part, site, so_id, f"https://{site}/questions/{so_id}", title]
            # by user name in code point order: the same on every database, whatever its collation
            item_raters = sorted(rated.take(rank, item_id), key=lambda rater: rater[0][1])
            for (_, username, kind, note), category_ids in item_raters:
                row += [username, texts.text(kind, category_ids), note]
            row += blank_rater * (raters - len(item_raters))
            final = decided.take(rank, item_id)
            if final:
                (_, kind, method, decided_by, decided_at, reason), category_ids = final[0]
                row += [kind, texts.text(kind, category_ids), method, decided_by,
                        decided_at if server_times else _utc(decided_at), reason]
            else:
                row += blank_final
            yield row
            done += 1
            if progress is not None and (done % CHUNK == 0 or done == total):
                progress(done, total)

    return ItemsTable(header=items_csv_columns(raters), rows=generate(), total=total)


def items_csv_write(*, study: Study, out, user, sight: Sight | None = None, draw: SampleDraw | int | None = None,
                    stratum: str | None = None, excel: bool = False,
                    progress: Callable[[int, int], None] | None = None) -> int:
    """Write the items CSV to ``out`` (a binary or text file object, see ``annotator.csv_output``);
    returns the number of rows. ``sight`` replaces ``user``'s (``sight_whole`` for the shell)."""
    table = items_csv_table(study=study, user=user, sight=sight, draw=draw, stratum=stratum, progress=progress)
    return csv_write(out, table.header, table.rows, excel=excel)
