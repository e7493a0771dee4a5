"""The counting rules, against the published reference (a study of deploying deep-learning
software): of 769 sampled questions, 58 False positive and 130 Unclear; the remaining
posts are covered by the taxonomy as 227 Server/Cloud, 231 Mobile and 125 Browser
(583, as 2 questions carry two categories); Data Processing holds 19.8 % of
Server/Cloud, 16.9 % of Mobile and 18.4 % of Browser; Environment 19.4 % of
Server/Cloud and 19.2 % of Browser."""

from decimal import Decimal

from taxonomy.results.counting import Decision, percent, taxonomy_counts
from taxonomy.tree.paths import CategoryRow, TreeShape

ROOTS = {"Server/Cloud": 1, "Mobile": 2, "Browser": 3}
# per root: (Data Processing, Environment, everything else) as leaves
LEAVES = {1: (11, 12, 13), 2: (21, 22, 23), 3: (31, 32, 33)}


def reference_shape() -> TreeShape:
    rows = [CategoryRow(pk, None, name, "active", pk) for name, pk in ROOTS.items()]
    for root, (dp, env, other) in LEAVES.items():
        rows += [CategoryRow(dp, root, "Data Processing", "active", 1), CategoryRow(env, root, "Environment", "active", 2),
                 CategoryRow(other, root, "Other", "active", 3)]
    return TreeShape(rows)


def reference_decisions() -> list[Decision]:
    out, item = [], iter(range(1, 10_000))

    def add(kind, *categories):
        out.append(Decision(item_id=next(item), kind=kind, category_ids=frozenset(categories)))

    for _ in range(58):
        add("false_positive")
    for _ in range(130):
        add("unclear")
    # Server/Cloud 227 = 45 Data Processing + 44 Environment + 138 other (one of them also Mobile)
    # Mobile 231 = 39 Data Processing + 40 Environment + 152 other (one also Server/Cloud, one also Browser)
    # Browser 125 = 23 Data Processing + 24 Environment + 78 other (one of them also Mobile)
    for root, (dp, env, other) in ((1, (45, 44, 137)), (2, (39, 40, 150)), (3, (23, 24, 77))):
        for leaf, n in zip(LEAVES[root], (dp, env, other), strict=True):
            for _ in range(n):
                add("categories", leaf)
    add("categories", 13, 23)  # two questions carry two categories
    add("categories", 23, 33)
    return out


def test_the_published_table_comes_out_exactly():
    counts = taxonomy_counts(shape=reference_shape(), decisions=reference_decisions(), items=769, undecided=0)
    assert (counts.items, counts.decided, counts.false_positive, counts.unclear) == (769, 769, 58, 130)
    assert counts.covered == 769 - 58 - 130 == 581 and counts.multi_category == 2
    roots = {n.name: n for n in counts.nodes if n.level == "root"}
    assert {name: n.posts for name, n in roots.items()} == {"Server/Cloud": 227, "Mobile": 231, "Browser": 125}
    assert counts.root_posts_total == 583
    by_path = {n.path(): n for n in counts.nodes}
    expected = {"Server/Cloud > Data Processing": "19.8", "Mobile > Data Processing": "16.9",
                "Browser > Data Processing": "18.4", "Server/Cloud > Environment": "19.4",
                "Browser > Environment": "19.2"}
    assert {path: str(by_path[path].percent_of_root) for path in expected} == expected
    assert by_path["Server/Cloud"].percent_of_root == Decimal("100.0")
    assert by_path["Mobile > Data Processing"].root_posts == 231 and by_path["Mobile > Data Processing"].posts == 39


def test_a_post_counts_once_per_category_and_in_every_ancestor():
    shape = TreeShape([CategoryRow(1, None, "Root"), CategoryRow(2, 1, "Inner"), CategoryRow(3, 2, "A"),
                       CategoryRow(4, 2, "B"), CategoryRow(5, 1, "C")])
    counts = taxonomy_counts(shape=shape, decisions=[Decision(1, "categories", frozenset({3, 4})),
                                                     Decision(2, "categories", frozenset({5}))],
                             items=3, undecided=1, pending=1)
    posts = {n.name: (n.posts, n.root_posts, n.percent_of_root) for n in counts.nodes}
    assert posts == {"Root": (2, 2, Decimal("100.0")), "Inner": (1, 2, Decimal("50.0")),
                     "A": (1, 2, Decimal("50.0")), "B": (1, 2, Decimal("50.0")), "C": (1, 2, Decimal("50.0"))}
    # A and B sum to 100 % of Inner's root share twice over: the percentages of a root's children may exceed 100 %
    assert (counts.undecided, counts.pending, counts.multi_category) == (1, 1, 1)
    levels = {n.name: (n.level, n.depth) for n in counts.nodes}
    assert levels == {"Root": ("root", 0), "Inner": ("inner", 1), "A": ("leaf", 2), "B": ("leaf", 2), "C": ("leaf", 1)}


def test_percent_rounds_halves_up_to_one_decimal():
    assert percent(1, 8) == Decimal("12.5") and percent(1, 16) == Decimal("6.3")  # 6.25 → 6.3
    assert percent(45, 227) == Decimal("19.8") and percent(0, 5) == Decimal("0.0") and percent(1, 0) is None
    assert percent(2, 3) == Decimal("66.7")


def test_retired_or_unknown_categories_are_counted_apart():
    shape = TreeShape([CategoryRow(1, None, "Root"), CategoryRow(2, 1, "Gone", "retired")])
    counts = taxonomy_counts(shape=shape, decisions=[Decision(1, "categories", frozenset({2})),
                                                     Decision(2, "categories", frozenset({99}))],
                             items=2, undecided=0)
    assert counts.off_tree == 2 and counts.covered == 0 and [n.posts for n in counts.nodes] == [0]


def test_an_empty_study_counts_nothing():
    counts = taxonomy_counts(shape=TreeShape([]), decisions=[], items=0, undecided=0)
    assert counts.nodes == [] and counts.items == counts.covered == 0
