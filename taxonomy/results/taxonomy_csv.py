"""The taxonomy table: one row per category, then False positive, Unclear and Pending.

Columns (``TAXONOMY_COLUMNS``): ``id`` and ``parent_id`` (the category's ids in
this installation; a restored archive keeps them), ``level`` (root / inner /
leaf, or ``special``), ``depth`` (0 for a root), ``path`` (``Root > Inner >
Leaf``), ``name``, ``status`` (active, or proposed while awaiting approval),
``definition``, ``posts`` (posts with a final label in it or below it),
``root_posts`` (posts counted in its root) and ``percent_of_root`` (one
decimal, halves up). A post in several categories counts once in each, so
the percentages within a root may sum to more than 100 %.

The special rows count items of the scope: ``posts`` is how many got that
verdict (Pending: how many wait in the Pending queue), ``root_posts`` the
items of the scope and ``percent_of_root`` the share of them.
"""

from __future__ import annotations

from collections.abc import Iterator

from annotator.csv_output import csv_write

from .counting import percent
from .selectors import Results

TAXONOMY_COLUMNS = ("id", "parent_id", "level", "depth", "path", "name", "status", "definition", "posts",
                    "root_posts", "percent_of_root")
PATH_SEPARATOR = " > "


def taxonomy_csv_rows(*, results: Results) -> Iterator[list]:
    counts = results.counts
    for node in counts.nodes:
        yield [node.id, node.parent_id if node.parent_id is not None else "", node.level, node.depth,
               node.path(PATH_SEPARATOR), node.name, node.status, results.definitions.get(node.id, ""), node.posts,
               node.root_posts, node.percent_of_root]
    for name, posts in (("False positive", counts.false_positive), ("Unclear", counts.unclear),
                        ("Pending", counts.pending)):
        yield ["", "", "special", 0, name, name, "", "", posts, counts.items, percent(posts, counts.items)]


def taxonomy_csv_filename(*, results: Results) -> str:
    """``<study>-taxonomy[-v<draw>][-<stratum>].csv``"""
    scope = results.scope
    parts = [scope.study.slug, "taxonomy"]
    if scope.explicit_draw:
        parts.append(f"v{scope.draws[0].version}")
    if scope.stratum_name:
        parts.append("".join(ch if ch.isalnum() else "-" for ch in scope.stratum_name.lower()))
    return "-".join(parts) + ".csv"


def taxonomy_csv_write(*, results: Results, out, excel: bool = False) -> None:
    """Write the table to ``out`` (a binary file object)."""
    csv_write(out, TAXONOMY_COLUMNS, taxonomy_csv_rows(results=results), excel=excel)
