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

Memory stays flat: items are read with a database cursor a chunk at a time,
and each chunk's labels and final labels in one query each.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import groupby

from django.db.models import Count, Max

from annotator.csv_output import csv_write, row_batches
from annotator.studies.models import Study
from sampling.models import SampleDraw
from taxonomy.arbitration.models import FinalLabel
from taxonomy.labelling.models import LabelKind
from taxonomy.labelling.visibility import Sight, final_label_visible_q, label_list_visible, sight_for
from taxonomy.tree.models import Category
from taxonomy.tree.paths import TreeShape, tree_shape
from taxonomy.tree.selectors import category_visible_q

from .selectors import results_scope
from .taxonomy_csv import PATH_SEPARATOR

ITEM_COLUMNS = ("draw", "stratum", "part", "site", "post_id", "link", "title")
RATER_FIELDS = ("", "_labels", "_note")  # rater_<n>, rater_<n>_labels, rater_<n>_note
FINAL_COLUMNS = ("final_kind", "final_labels", "method", "decided_by", "decided_at", "reason")
LABEL_SEPARATOR = " | "
HIDDEN_CATEGORY = "(a category you cannot see)"
CHUNK = 2000
SPECIAL_NAMES = {kind.value: kind.label for kind in LabelKind if kind != LabelKind.CATEGORIES}


def items_csv_columns(raters: int) -> list[str]:
    return [*ITEM_COLUMNS, *(f"rater_{n}{field}" for n in range(1, raters + 1) for field in RATER_FIELDS),
            *FINAL_COLUMNS]


@dataclass(frozen=True)
class ItemsTable:
    header: list[str]
    rows: Iterator[list]
    total: int  # rows the table will have


def _labels_text(kind: str, category_ids, shape: TreeShape) -> str:
    if kind in SPECIAL_NAMES:
        return SPECIAL_NAMES[kind]
    return LABEL_SEPARATOR.join(sorted(
        PATH_SEPARATOR.join(shape.names(pk)) if pk in shape else HIDDEN_CATEGORY for pk in category_ids))


def _grouped(rows, width: int) -> dict:
    """Rows of (key, *fields, category id) ordered by key → key → list of (fields, category ids)."""
    out: dict = {}
    for key, group in groupby(rows, key=lambda row: row[:width]):
        out.setdefault(key[0], []).append((key[1:], [row[width] for row in group if row[width] is not None]))
    return out


def items_csv_table(*, study: Study, user, sight: Sight | None = None, draw: SampleDraw | int | None = None,
                    stratum: str | None = None, progress: Callable[[int, int], None] | None = None) -> ItemsTable:
    """The header and the (lazy) rows of the items CSV, as ``user`` (or ``sight``) may see them;
    a ValidationError names a draw or stratum that does not exist. ``progress(rows_done, rows_total)``
    is called after every chunk of rows."""
    sight = sight if sight is not None else sight_for(study=study, user=user)
    scope = results_scope(study=study, draw_version=getattr(draw, "version", draw), stratum_name=stratum)
    items = scope.items()
    labels = label_list_visible(study=study, user=user, sight=sight).filter(
        assignment__draw__arbitration_started_at__isnull=False)
    raters = (labels.filter(assignment__item__in=items).values("assignment__item_id")
              .annotate(raters=Count("pk")).aggregate(most=Max("raters"))["most"] or 0)
    total = items.count()
    shape = tree_shape(study=study, categories=Category.objects.filter(category_visible_q(sight), study=study))
    finals = FinalLabel.objects.filter(final_label_visible_q(sight))
    rows = (items.order_by("draw__version", "stratum__position", "post__site", "post__so_id", "pk")
            .values_list("pk", "draw__version", "stratum__name", "part", "post__site", "post__so_id", "post__title"))

    def generate() -> Iterator[list]:
        done = 0
        for chunk in row_batches(rows.iterator(chunk_size=CHUNK), CHUNK):
            ids = [row[0] for row in chunk]
            rated = _grouped(labels.filter(assignment__item_id__in=ids).order_by("assignment__item_id", "pk")
                             .values_list("assignment__item_id", "assignment__rater__username", "kind", "note",
                                          "categories__category_id"), 4)
            decided = _grouped(finals.filter(item_id__in=ids).order_by("item_id")
                               .values_list("item_id", "kind", "method", "decided_by__username", "decided_at",
                                            "reason", "categories__category_id"), 6)
            for item_id, version, stratum_name, part, site, so_id, title in chunk:
                row = [version, stratum_name, part, site, so_id, f"https://{site}/questions/{so_id}", title]
                # by user name in code point order: the same on every database, whatever its collation
                item_raters = sorted(rated.get(item_id, []), key=lambda rater: rater[0][0])
                for (username, kind, note), category_ids in item_raters:
                    row += [username, _labels_text(kind, category_ids, shape), note]
                row += [""] * (len(RATER_FIELDS) * (raters - len(item_raters)))
                final = decided.get(item_id)
                if final:
                    (kind, method, decided_by, decided_at, reason), category_ids = final[0]
                    row += [kind, _labels_text(kind, category_ids, shape), method, decided_by, decided_at, reason]
                else:
                    row += [""] * len(FINAL_COLUMNS)
                yield row
            done += len(chunk)
            if progress is not None:
                progress(done, total)

    return ItemsTable(header=items_csv_columns(raters), rows=generate(), total=total)


def items_csv_write(*, study: Study, out, user, sight: Sight | None = None, draw: SampleDraw | int | None = None,
                    stratum: str | None = None, excel: bool = False,
                    progress: Callable[[int, int], None] | None = None) -> int:
    """Write the items CSV to ``out`` (a binary or text file object, see ``annotator.csv_output``);
    returns the number of rows. ``sight`` replaces ``user``'s (``sight_whole`` for the shell)."""
    table = items_csv_table(study=study, user=user, sight=sight, draw=draw, stratum=stratum, progress=progress)
    return csv_write(out, table.header, table.rows, excel=excel)
