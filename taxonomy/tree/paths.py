"""Where a category sits in its tree: its path, root, depth, level and whether it is a leaf.

The one home of these notions: the tree page and API, labelling, coding,
arbitration, agreement and exports all ask a ``TreeShape``. It is a pure
object over plain rows (id, parent id, name, status, position), so whoever
builds one decides which categories it holds: a rater's labelling tree holds
the categories that rater may see, and then "leaf" means a category none of
*those* has as parent (another rater's proposal under it does not make it
inner for them). ``tree_shape`` loads a study's rows in one query.

Rules (as the models promise):

- a **leaf** is a live (not retired) category with no live child among the rows;
- the **path** is the names from the top down, joined by ``PATH_SEPARATOR``;
- the **root** is the top of the parent chain, the **depth** the number of
  ancestors above it (0 for a root), the **level** ``root`` (depth 0),
  ``leaf`` or ``inner``;
- a category is **attached** when its parent chain reaches a root through the
  rows given (a child of a category the rows leave out is not, and neither is
  one caught in a cycle). Every walk up a chain stops at the first id it has
  seen already, so a corrupt parent cycle can never hang a page.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import NamedTuple

PATH_SEPARATOR = " › "
RETIRED = "retired"  # CategoryStatus.RETIRED, as plain text: this module needs no Django

ROOT, INNER, LEAF = "root", "inner", "leaf"


class CategoryRow(NamedTuple):
    id: int
    parent_id: int | None
    name: str
    status: str = "active"
    position: int = 0


ROW_FIELDS = CategoryRow._fields


def row_of(category) -> CategoryRow:
    """A row from a ``values()`` dict, a Category (or anything with those attributes) or a tuple."""
    if isinstance(category, CategoryRow):
        return category
    if isinstance(category, Mapping):
        return CategoryRow(category["id"], category["parent_id"], category["name"],
                           category.get("status", "active"), category.get("position", 0))
    if isinstance(category, tuple):
        return CategoryRow(*category)
    return CategoryRow(category.pk, category.parent_id, category.name, getattr(category, "status", "active"),
                       getattr(category, "position", 0))


class TreeShape:
    """The shape of a set of categories; ``rows`` are rows, dicts or Category objects."""

    def __init__(self, rows: Iterable):
        self.rows: dict[int, CategoryRow] = {}
        for item in rows:
            row = row_of(item)
            self.rows[row.id] = row
        children: dict[int | None, list[int]] = {}
        for row in self.rows.values():
            children.setdefault(row.parent_id, []).append(row.id)
        self._children = {parent: tuple(sorted(ids, key=self.sort_key)) for parent, ids in children.items()}
        self._live_children = {parent: tuple(c for c in ids if self.rows[c].status != RETIRED)
                               for parent, ids in self._children.items()}
        self._chains: dict[int, tuple[int, ...]] = {}
        self._paths: dict[int, str] = {}

    def __contains__(self, category_id) -> bool:
        return category_id in self.rows

    def __len__(self) -> int:
        return len(self.rows)

    def sort_key(self, category_id: int) -> tuple:
        """Order among siblings: position, then name (case-insensitive), then id."""
        row = self.rows[category_id]
        return row.position, row.name.lower(), row.id

    # -- up the tree ------------------------------------------------------------------------

    def chain(self, category_id: int) -> tuple[int, ...]:
        """The category and its ancestors, bottom up, as far as the rows (and no cycle) go."""
        chain = self._chains.get(category_id)
        if chain is not None:
            return chain
        trail, seen, node = [], set(), category_id
        while node is not None and node in self.rows and node not in seen and node not in self._chains:
            seen.add(node)
            trail.append(node)
            node = self.rows[node].parent_id
        tail = self._chains.get(node, ()) if node not in seen else ()
        for index in range(len(trail) - 1, -1, -1):
            tail = (trail[index], *tail)
            self._chains[trail[index]] = tail
        return self._chains.get(category_id, ())

    def ancestors(self, category_id: int) -> tuple[int, ...]:
        """Parent, grandparent, … up to the top (nearest first)."""
        return self.chain(category_id)[1:]

    def root_id(self, category_id: int) -> int | None:
        chain = self.chain(category_id)
        return chain[-1] if chain else None

    def depth(self, category_id: int) -> int:
        return max(len(self.chain(category_id)) - 1, 0)

    def attached(self, category_id: int) -> bool:
        """Its chain reaches a root (a category with no parent) within the rows."""
        chain = self.chain(category_id)
        return bool(chain) and self.rows[chain[-1]].parent_id is None

    def names(self, category_id: int) -> list[str]:
        return [self.rows[c].name for c in reversed(self.chain(category_id))]

    def path(self, category_id: int) -> str:
        """"Root › Inner › Leaf" (from as high up as the rows go); "" for an id not in the rows."""
        path = self._paths.get(category_id)
        if path is None:
            chain = self.chain(category_id)
            name = self.rows[category_id].name if chain else ""
            # chain(parent) is always chain[1:], so the parent's path is the rest of this one
            path = self.path(chain[1]) + PATH_SEPARATOR + name if len(chain) > 1 else name
            self._paths[category_id] = path
        return path

    def paths(self) -> dict[int, str]:
        return {category_id: self.path(category_id) for category_id in self.rows}

    def is_under(self, category_id: int, ancestor_ids) -> bool:
        """The category is one of ``ancestor_ids`` or lies below one of them."""
        return any(node in ancestor_ids for node in self.chain(category_id))

    # -- down the tree ----------------------------------------------------------------------

    def is_live(self, category_id: int) -> bool:
        row = self.rows.get(category_id)
        return row is not None and row.status != RETIRED

    def children(self, category_id: int | None) -> tuple[int, ...]:
        """Every child among the rows (retired ones too), in sibling order; ``None``: the tops."""
        return self._children.get(category_id, ())

    def live_children(self, category_id: int | None) -> tuple[int, ...]:
        return self._live_children.get(category_id, ())

    def is_leaf(self, category_id: int) -> bool:
        return self.is_live(category_id) and not self.live_children(category_id)

    def level(self, category_id: int) -> str:
        if self.rows[category_id].parent_id is None:
            return ROOT
        return LEAF if self.is_leaf(category_id) else INNER

    def roots(self) -> list[int]:
        """Live categories with no parent, in sibling order."""
        return list(self.live_children(None))

    def live_order(self) -> list[int]:
        """Every live, attached category depth-first in sibling order (parents before children)."""
        out: list[int] = []
        stack = list(reversed(self.roots()))
        seen = set()
        while stack:
            node = stack.pop()
            if node in seen:
                continue
            seen.add(node)
            out.append(node)
            stack.extend(reversed(self.live_children(node)))
        return out

    def leaves(self) -> list[int]:
        """Live attached leaves, in tree order."""
        return [c for c in self.live_order() if not self.live_children(c)]

    def descendants(self, category_ids) -> set[int]:
        """The given categories and every category below them (retired ones too)."""
        out, stack = set(), [c for c in category_ids if c in self.rows]
        while stack:
            node = stack.pop()
            if node in out:
                continue
            out.add(node)
            stack.extend(self.children(node))
        return out

    def subtree_totals(self, counts: Mapping[int, int]) -> dict[int, int]:
        """Category id → its own count plus its live descendants' (a live tree's subtree totals);
        a retired category keeps its own count."""
        totals: dict[int, int] = {}
        for node in reversed(self.live_order()):  # children before parents
            totals[node] = counts.get(node, 0) + sum(totals.get(c, 0) for c in self.live_children(node))
        for node in self.rows:
            totals.setdefault(node, counts.get(node, 0))
        return totals


def tree_shape(*, study, categories=None) -> TreeShape:
    """The shape of ``study``'s categories, read in one query (``categories``: a narrower queryset
    of the study's Category rows, e.g. only those a user may see)."""
    from .models import Category

    queryset = categories if categories is not None else Category.objects.filter(study=study)
    return TreeShape(CategoryRow(*values) for values in queryset.values_list(*ROW_FIELDS))


# -- the same rules in the database ------------------------------------------------------------


def live_children(category):
    """The live children of ``category`` (a Category or an id), as a queryset."""
    from .models import Category

    return Category.objects.filter(parent=category).exclude(status=RETIRED)


def leaves(queryset):
    """The live categories of ``queryset`` with no live child: what a label may name."""
    from django.db.models import Exists, OuterRef

    return queryset.exclude(status=RETIRED).filter(~Exists(live_children(OuterRef("pk"))))
