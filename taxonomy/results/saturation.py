"""The saturation curve: how many distinct leaf categories the final labels have named
as coding proceeds, and the item at which the last new one appeared (the point after
which coding found nothing new: what qualitative reviewers call saturation).

**Coding order.** The items of the results' scope that have a final label the reader
may see (``final_label_visible_q``), ordered by

1. the draw's version (a later draw is coded after an earlier one);
2. the part: the draw's pilot items first, then its reliability items;
3. the time the item was coded: a pilot item at its first code (``CodeUse``), a
   reliability item at its raters' first submitted label (``Label.submitted_at``,
   counting only labels the reader may see); an item with no such code or label
   (decided directly) at the time of its final label;
4. the item's id, for ties.

**Categories.** Only final labels decide: an item brings the categories its final label
names that are live and attached in the tree the reader sees (False positive and
Unclear bring none; a retired category none). A category is *new* at the first item
in that order that names it; ``distinct`` after an item is how many categories the
items up to it have named. Items without a final label are not in the curve (their
number is ``undecided``).

Nothing here reveals a sealed draw's work: a reliability item has a final label only
once arbitration has started on its draw, and its label times are read through the
blindness rule as well.

``saturation_points`` is the pure fold; ``saturation_curve`` reads the study.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from itertools import groupby

from django.db.models import Case, F, Min, OuterRef, Subquery, Value, When
from django.db.models.functions import Coalesce
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from annotator.csv_output import csv_write
from annotator.studies.models import Study
from sampling.draws.models import ItemPart
from sampling.draws.sight import Sight, final_label_visible_q, sight_for
from taxonomy.coding.models import CodeUse
from taxonomy.labelling.visibility import label_list_visible
from taxonomy.review.arbitration.models import FinalLabel
from taxonomy.tree.models import Category
from taxonomy.tree.paths import tree_shape
from taxonomy.tree.selectors import category_visible_q

from .figure import FIGURE_FORMATS, NOTE_COLOUR, PALETTE, TEXT_COLOUR, figure_bytes
from .selectors import ResultsScope, results_scope
from .taxonomy_csv import PATH_SEPARATOR

PART_ORDER = {ItemPart.PILOT: 0, ItemPart.RELIABILITY: 1}
SATURATION_FORMATS = ("svg", "png", "pdf")
SATURATION_COLUMNS = ("index", "item_id", "draw", "part", "site", "post_id", "coded_at", "final_kind",
                      "new_leaves", "new_leaf_paths", "distinct_leaves")
NEW_PATHS_SEPARATOR = "; "


@dataclass(frozen=True, slots=True)  # one per decided item: slots keep 100,000 of them small
class CodedItem:
    """One decided item, as the curve needs it."""

    item_id: int
    draw_version: int
    part: str
    coded_at: datetime
    kind: str
    category_ids: frozenset[int]
    site: str = ""
    post_id: int | None = None

    @property
    def order_key(self) -> tuple:
        return self.draw_version, PART_ORDER.get(self.part, len(PART_ORDER)), self.coded_at, self.item_id


@dataclass(frozen=True, slots=True)
class SaturationPoint:
    index: int  # 1 for the first item coded
    item: CodedItem
    new_categories: tuple[int, ...]  # first named here, in tree order
    distinct: int  # distinct categories named by the items up to this one


@dataclass(frozen=True)
class Saturation:
    scope: ResultsScope
    points: list[SaturationPoint]
    paths: dict[int, str]  # category id → "Root > Inner > Leaf", for every category in the curve
    undecided: int = 0  # items of the scope without a final label the reader sees: not in the curve

    @property
    def items(self) -> int:
        return len(self.points)

    @property
    def distinct(self) -> int:
        return self.points[-1].distinct if self.points else 0

    @property
    def last_new_index(self) -> int | None:
        """The index of the item that named the last new category (None: no category yet)."""
        for point in reversed(self.points):
            if point.new_categories:
                return point.index
        return None

    @property
    def since_last_new(self) -> int:
        """Items coded after the last new category appeared."""
        return self.items - (self.last_new_index or 0)

    @property
    def pilot_items(self) -> int:
        return sum(1 for point in self.points if point.item.part == ItemPart.PILOT)

    def summary(self) -> str:
        """One sentence: where the last new category appeared."""
        if not self.points:
            return "No item has a final label yet."
        if self.last_new_index is None:
            return f"{self.items} item{'s' * (self.items != 1)} coded; no final label names a category yet."
        tail = (f"; the {self.since_last_new} item{'s' * (self.since_last_new != 1)} coded since "
                f"named no new one" if self.since_last_new else "")
        return (f"{self.distinct} distinct leaf categor{'ies' if self.distinct != 1 else 'y'} in "
                f"{self.items} coded item{'s' * (self.items != 1)}; the last new one appeared at item "
                f"{self.last_new_index}{tail}.")

    def as_dict(self) -> dict:
        """The curve as the API gives it (JSON-ready)."""
        return {
            "items": self.items,
            "pilot_items": self.pilot_items,
            "undecided": self.undecided,
            "distinct_leaves": self.distinct,
            "last_new_index": self.last_new_index,
            "since_last_new": self.since_last_new,
            "summary": self.summary(),
            "points": [
                {"index": p.index, "item_id": p.item.item_id, "draw": p.item.draw_version, "part": p.item.part,
                 "site": p.item.site, "post_id": p.item.post_id, "coded_at": p.item.coded_at.isoformat(),
                 "final_kind": p.item.kind, "distinct_leaves": p.distinct,
                 "new_leaves": [{"id": c, "path": self.paths[c]} for c in p.new_categories]}
                for p in self.points
            ],
        }

    def steps(self) -> tuple[list[int], list[int]]:
        """The curve's corners: (item index, distinct categories) from (0, 0) to the last item,
        one corner where a new category appears (the curve is flat in between)."""
        xs, ys = [0], [0]
        for point in self.points:
            if point.new_categories:
                xs.append(point.index)
                ys.append(point.distinct)
        if self.points and xs[-1] != self.items:
            xs.append(self.items)
            ys.append(self.distinct)
        return xs, ys


def saturation_points(items: Iterable[CodedItem], *, counted: set[int] | frozenset[int],
                      tree_order: dict[int, int] | None = None) -> list[SaturationPoint]:
    """The curve over ``items`` (in any order; sorted here by ``CodedItem.order_key``):
    only categories in ``counted`` count; new ones are listed in ``tree_order``."""
    return list(_fold(sorted(items, key=lambda i: i.order_key), counted=counted, tree_order=tree_order))


def _fold(items: Iterable[CodedItem], *, counted: set[int] | frozenset[int],
          tree_order: dict[int, int] | None = None) -> Iterator[SaturationPoint]:
    """The points of ``items`` taken in the order given (``saturation_points``' fold, as a stream)."""
    tree_order = tree_order or {}
    seen: set[int] = set()
    for index, item in enumerate(items, start=1):
        new = sorted((c for c in item.category_ids if c in counted and c not in seen),
                     key=lambda c: (tree_order.get(c, len(tree_order)), c))
        seen.update(new)
        yield SaturationPoint(index=index, item=item, new_categories=tuple(new), distinct=len(seen))


def _coded_items(*, scope: ResultsScope, sight: Sight) -> Iterator[CodedItem]:
    """The decided items in coding order (``CodedItem.order_key``), sorted by the database and
    read a chunk at a time with their categories (one row per category): memory stays flat
    whatever the number of items (sorting 100,000 items in Python held 100 MB). On SQLite the
    times are ISO text, whose order is their time order."""
    finals = FinalLabel.objects.filter(final_label_visible_q(sight), item__in=scope.items())
    first_code = (CodeUse.objects.filter(item=OuterRef("item_id")).order_by().values("item")
                  .annotate(first=Min("created_at")).values("first"))
    first_label = (label_list_visible(study=scope.study, user=None, sight=sight)
                   .filter(assignment__item=OuterRef("item_id")).order_by().values("assignment__item")
                   .annotate(first=Min("submitted_at")).values("first"))
    part_order = Case(*(When(item__part=part, then=Value(n)) for part, n in PART_ORDER.items()),
                      default=Value(len(PART_ORDER)))
    coded_at = Coalesce(Case(When(item__part=ItemPart.PILOT, then=Subquery(first_code)),
                             default=Subquery(first_label)), F("decided_at"),
                        output_field=FinalLabel._meta.get_field("decided_at"))
    rows = (finals.annotate(part_order=part_order, coded_at=coded_at)
            .order_by("item__draw__version", "part_order", "coded_at", "item_id", "categories__category_id")
            .values_list("item_id", "item__draw__version", "item__part", "kind", "coded_at", "item__post__site",
                         "item__post__so_id", "categories__category_id")
            .iterator(chunk_size=5000))
    names: dict[str, str] = {}  # one object per distinct text (part, kind, site) for the whole curve
    for (item_id, version, part, kind, started, site, so_id), group in groupby(rows, key=lambda row: row[:-1]):
        category_ids = frozenset(row[-1] for row in group if row[-1] is not None)
        yield CodedItem(item_id=item_id, draw_version=version, part=names.setdefault(part, part),
                        coded_at=started, kind=names.setdefault(kind, kind), category_ids=category_ids,
                        site=names.setdefault(site, site), post_id=so_id)


def _curve_parts(*, study: Study, sight: Sight, draw_version: int | None, stratum_name: str | None):
    scope = results_scope(study=study, draw_version=draw_version, stratum_name=stratum_name)
    shape = tree_shape(study=study, categories=Category.objects.filter(category_visible_q(sight), study=study))
    order = {category_id: position for position, category_id in enumerate(shape.live_order())}
    return scope, shape, order


def saturation_curve(*, study: Study, user=None, sight: Sight | None = None, draw_version: int | None = None,
                     stratum_name: str | None = None) -> Saturation:
    """The saturation curve of the results' scope (every draw in labelling, or one draw, or
    one stratum), as ``user`` (or ``sight``) may see it. A scope that does not exist is a
    ValidationError (``selectors.results_scope``)."""
    sight = sight if sight is not None else sight_for(study=study, user=user)
    scope, shape, order = _curve_parts(study=study, sight=sight, draw_version=draw_version,
                                       stratum_name=stratum_name)
    points = list(_fold(_coded_items(scope=scope, sight=sight), counted=set(order), tree_order=order))
    named = {c for point in points for c in point.new_categories}
    paths = {c: PATH_SEPARATOR.join(shape.names(c)) for c in named}
    return Saturation(scope=scope, points=points, paths=paths, undecided=scope.items().count() - len(points))


# -- outputs ------------------------------------------------------------------------------------


def saturation_rows(saturation: Saturation) -> Iterator[list]:
    """The CSV's rows (``SATURATION_COLUMNS``), one per item in coding order."""
    return _rows(saturation.points, saturation.paths.__getitem__)


def _rows(points: Iterable[SaturationPoint], path) -> Iterator[list]:
    for point in points:
        item = point.item
        yield [point.index, item.item_id, item.draw_version, item.part, item.site, item.post_id, item.coded_at,
               item.kind, len(point.new_categories), NEW_PATHS_SEPARATOR.join(path(c) for c in point.new_categories),
               point.distinct]


def saturation_csv_filename(*, study: Study) -> str:
    return f"{study.slug}-saturation.csv"


def saturation_csv_write(*, study: Study, out, user=None, sight: Sight | None = None, excel: bool = False,
                         saturation: Saturation | None = None) -> int:
    """The curve as CSV to ``out`` (a binary file); returns the number of rows. Without
    ``saturation``, the curve is read and written a chunk of items at a time (flat memory)."""
    if saturation is not None:
        rows = saturation_rows(saturation)
    else:
        sight = sight if sight is not None else sight_for(study=study, user=user)
        scope, shape, order = _curve_parts(study=study, sight=sight, draw_version=None, stratum_name=None)
        rows = _rows(_fold(_coded_items(scope=scope, sight=sight), counted=set(order), tree_order=order),
                     lambda c: PATH_SEPARATOR.join(shape.names(c)))
    text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)
    try:
        return csv_write(out=text, header=SATURATION_COLUMNS, rows=rows, excel=excel)
    finally:
        text.detach()  # leave ``out`` open for whoever gave it


def saturation_figure(saturation: Saturation, *, fmt: str) -> bytes:
    """The curve as ``fmt`` (svg, png, pdf): distinct leaf categories against items coded, the
    pilot shaded, the last new category marked. The same curve gives the same bytes."""
    if fmt not in FIGURE_FORMATS:
        raise ValueError(f"unknown figure format {fmt!r} ({', '.join(FIGURE_FORMATS)})")
    fig = Figure(figsize=(7.0, 3.4), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    ax.set_xlabel("items coded (pilot first, in coding order)")
    ax.set_ylabel("distinct leaf categories")
    if not saturation.points:
        ax.text(0.5, 0.5, "No item has a final label yet: nothing to draw.", transform=ax.transAxes, ha="center",
                va="center", fontsize=11, color=NOTE_COLOUR, parse_math=False)
        ax.set_xticks([])
        ax.set_yticks([])
        return figure_bytes(fig, fmt=fmt)
    colour = PALETTE[0]
    start = None
    for point in [*saturation.points, None]:  # shade each run of pilot items
        pilot = point is not None and point.item.part == ItemPart.PILOT
        if pilot and start is None:
            start = point.index - 1
        elif not pilot and start is not None:
            end = point.index - 1 if point is not None else saturation.items
            ax.axvspan(start, end, color="#e8ebf0", linewidth=0, zorder=0)
            ax.text((start + end) / 2, 0.98, "pilot", transform=ax.get_xaxis_transform(), ha="center", va="top",
                    fontsize=8, color=NOTE_COLOUR)
            start = None
    xs, ys = saturation.steps()
    ax.step(xs, ys, where="post", color=colour, linewidth=1.8)
    last = saturation.last_new_index
    if last is not None:
        ax.plot([last], [saturation.distinct], marker="o", markersize=6, color=colour, linestyle="none")
        ax.axvline(last, color=TEXT_COLOUR, linewidth=0.8, linestyle=":")
        # Bottom right: a rising curve leaves that corner empty.
        ax.annotate(f"last new category: item {last} of {saturation.items}", xy=(last, saturation.distinct),
                    xytext=(0.97, 0.08), textcoords="axes fraction", ha="right", va="bottom", fontsize=8,
                    color=TEXT_COLOUR, bbox={"boxstyle": "round,pad=0.3", "facecolor": "white", "edgecolor": "none"},
                    arrowprops={"arrowstyle": "->", "color": TEXT_COLOUR, "linewidth": 0.8})
    ax.set_xlim(0, max(saturation.items, 1) * 1.02)  # room for the last point's marker
    ax.set_ylim(0, max(saturation.distinct, 1) * 1.12)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(axis="y", color="#dde1e8", linewidth=0.6)
    return figure_bytes(fig, fmt=fmt)


def saturation_figure_filename(*, study: Study, fmt: str) -> str:
    return f"{study.slug}-saturation.{fmt}"
