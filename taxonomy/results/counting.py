"""The taxonomy's numbers from final labels: pure, no ORM.

Counting rules (what a paper reports, and what ``README.md`` states):

- A post counts in a category when one of its final labels names that category
  or a category below it. It counts **once per category**, however many of its
  labels lie below (two leaves under one inner category: once for that inner
  category), and **once in each** category it is in: a post in two categories
  counts in both, so the percentages within a root may sum to more than 100 %.
- A root's ``root_posts`` are the posts counted in it; every category under it
  has ``percent_of_root`` = posts / root_posts × 100, rounded to one decimal,
  halves up (the way the published tables round: 45 of 227 → 19.8).
- False positive and Unclear are counted apart and never in the tree; so are
  the items still waiting for a decision (and among them, those in the Pending
  queue).

Decisions arrive as a stream of (item, kind, categories) and are folded into
counters one by one, so memory depends on the number of categories, not of posts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from taxonomy.tree.paths import TreeShape

CATEGORIES, FALSE_POSITIVE, UNCLEAR = "categories", "false_positive", "unclear"
ONE_DECIMAL = Decimal("0.1")


def percent(part: int, whole: int) -> Decimal | None:
    """``part`` of ``whole`` in per cent, one decimal, halves up (None when ``whole`` is 0)."""
    if not whole:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(ONE_DECIMAL, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Decision:
    """One item's final label: a kind, and for ``categories`` the category ids."""

    item_id: int
    kind: str
    category_ids: frozenset[int] = frozenset()


@dataclass(frozen=True)
class NodeCount:
    id: int
    parent_id: int | None
    level: str  # root, inner, leaf
    depth: int
    names: tuple[str, ...]  # from the root down
    name: str
    status: str
    posts: int
    root_posts: int
    percent_of_root: Decimal | None

    def path(self, separator: str = " > ") -> str:
        return separator.join(self.names)


@dataclass
class TaxonomyCounts:
    nodes: list[NodeCount]  # live categories in tree order
    items: int  # items (sampled posts) in the scope
    decided: int
    false_positive: int
    unclear: int
    undecided: int  # no final label yet
    pending: int  # of those, waiting in the Pending queue
    covered: int  # posts with at least one category
    multi_category: int  # posts with two categories or more
    off_tree: int  # posts whose categories are not in the live tree (should be 0; shown when not)
    by_id: dict[int, NodeCount] = field(default_factory=dict)

    def __post_init__(self):
        self.by_id = {node.id: node for node in self.nodes}

    @property
    def root_posts_total(self) -> int:
        """The posts counted in each root, summed (a post in two roots counts twice)."""
        return sum(node.posts for node in self.nodes if node.parent_id is None)


def taxonomy_counts(*, shape: TreeShape, decisions: Iterable[Decision], items: int, undecided: int,
                    pending: int = 0) -> TaxonomyCounts:
    """Fold ``decisions`` into the counts of ``shape``'s live categories."""
    posts: Counter[int] = Counter()
    kinds: Counter[str] = Counter()
    covered = multi = off_tree = 0
    for decision in decisions:
        kinds[decision.kind] += 1
        if decision.kind != CATEGORIES:
            continue
        nodes: set[int] = set()
        for category_id in decision.category_ids:
            if shape.is_live(category_id) and shape.attached(category_id):
                nodes.update(shape.chain(category_id))
        if not nodes:
            off_tree += 1
            continue
        covered += 1
        if len(decision.category_ids) > 1:
            multi += 1
        posts.update(nodes)
    out = []
    for node_id in shape.live_order():
        row = shape.rows[node_id]
        root_posts = posts[shape.root_id(node_id)]
        out.append(NodeCount(
            id=node_id, parent_id=row.parent_id, level=shape.level(node_id), depth=shape.depth(node_id),
            names=tuple(shape.names(node_id)), name=row.name, status=row.status, posts=posts[node_id],
            root_posts=root_posts, percent_of_root=percent(posts[node_id], root_posts)))
    return TaxonomyCounts(nodes=out, items=items, decided=sum(kinds.values()), false_positive=kinds[FALSE_POSITIVE],
                          unclear=kinds[UNCLEAR], undecided=undecided, pending=pending, covered=covered,
                          multi_category=multi, off_tree=off_tree)
