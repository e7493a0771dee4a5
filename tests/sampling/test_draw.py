"""Stratified seeded draws, the pilot split and balanced assignment (pure)."""

import random
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from sampling.draws.draw import Draw, StratumSpec, balanced_assignment, key_order, pilot_split, stratified_draw
from sampling.draws.sample_size import sample_size

SERVER = list(range(1, 1326))  # N = 1,325
MOBILE = list(range(2000, 3533))  # N = 1,533
BROWSER = list(range(5000, 5165))  # N = 165: census


def design(seed=42, server_order=None):
    return stratified_draw(seed=seed, strata=[
        StratumSpec("server", server_order or SERVER, sample_size(population=len(SERVER)).n),
        StratumSpec("mobile", MOBILE, sample_size(population=len(MOBILE)).n),
        StratumSpec("browser", BROWSER, None),
    ])


def test_each_stratum_gets_its_n_from_its_own_population():
    draw = design()
    server, mobile, browser = draw.strata
    assert (len(server.drawn), len(mobile.drawn), len(browser.drawn)) == (298, 308, 165)
    assert set(server.drawn) <= set(SERVER) and set(mobile.drawn) <= set(MOBILE)
    assert browser.census and browser.drawn == tuple(BROWSER)
    assert len(set(draw.post_ids)) == len(draw.post_ids) == 298 + 308 + 165


def test_same_seed_same_posts_whatever_the_input_order():
    assert design(seed=7) == design(seed=7, server_order=list(reversed(SERVER)))


def test_different_seed_different_posts():
    assert design(seed=1).strata[0].drawn != design(seed=2).strata[0].drawn


def test_a_post_in_two_strata_counts_once_in_the_first():
    draw = stratified_draw(seed=3, strata=[StratumSpec("C", [1, 2, 3, 4], None), StratumSpec("D", [3, 4, 5, 6], 2)])
    c, d = draw.strata
    assert c.drawn == (1, 2, 3, 4)
    assert d.population == 2 and d.overlap_removed == 2 and d.drawn == (5, 6)


def test_n_larger_than_n_is_refused_with_the_reason():
    with pytest.raises(ValueError, match="larger than its population N = 2 .2 of its posts"):
        stratified_draw(seed=1, strata=[StratumSpec("C", [1, 2, 3, 4], None), StratumSpec("D", [3, 4, 5, 6], 3)])
    with pytest.raises(ValueError, match="same name"):
        stratified_draw(seed=1, strata=[StratumSpec("C", [1], None), StratumSpec("C", [2], None)])
    with pytest.raises(ValueError, match="seed"):
        stratified_draw(seed=-1, strata=[StratumSpec("C", [1], None)])


def test_an_empty_stratum_draws_nothing():
    assert stratified_draw(seed=1, strata=[StratumSpec("E", [], None)]).strata[0].drawn == ()


def test_pilot_split_is_thirty_percent_per_stratum_and_seeded():
    draw = design()
    split = pilot_split(draw=draw, share=0.3, seed=9)
    for stratum in draw.strata:
        pilot, rest = split.pilot[stratum.name], split.reliability[stratum.name]
        assert len(pilot) == round(0.3 * len(stratum.drawn) + 1e-9)
        assert set(pilot) | set(rest) == set(stratum.drawn) and not set(pilot) & set(rest)
    assert len(split.pilot["server"]) == 89  # 0.3 × 298 = 89.4
    assert len(split.pilot["browser"]) == 50  # 0.3 × 165 = 49.5, halves up
    assert split == pilot_split(draw=draw, share=0.3, seed=9)
    assert split != pilot_split(draw=draw, share=0.3, seed=10)
    with pytest.raises(ValueError):
        pilot_split(draw=draw, share=1.5, seed=1)


@pytest.mark.parametrize("n_items, raters, k", [(100, ["a", "b"], 2), (101, ["a", "b", "c"], 2), (7, list("abcd"), 3)])
def test_balanced_assignment(n_items, raters, k):
    items = list(range(n_items))
    assignment = balanced_assignment(items=items, raters=raters, per_item=k, seed=5)
    assert set(assignment) == set(items)
    assert all(len(set(r)) == k for r in assignment.values())
    load = Counter(r for rs in assignment.values() for r in rs)
    assert max(load.values()) - min(load.values()) <= 1 and sum(load.values()) == n_items * k
    assert assignment == balanced_assignment(items=list(reversed(items)), raters=raters, per_item=k, seed=5)


def test_assignment_needs_enough_raters():
    with pytest.raises(ValueError, match="2 raters but the study has 1"):
        balanced_assignment(items=[1, 2], raters=["a"], per_item=2, seed=1)


def test_assignment_is_balanced_within_every_stratum_too():
    groups = [list(range(0, 89)), list(range(1000, 1208)), list(range(5000, 5005))]
    assignment = balanced_assignment(groups=groups, raters=["a", "b", "c"], per_item=2, seed=3)
    total = Counter(r for rs in assignment.values() for r in rs)
    assert max(total.values()) - min(total.values()) <= 1
    for group in groups:
        load = Counter(r for item in group for r in assignment[item])
        assert max(load.values()) - min(load.values()) <= 1, load
    with pytest.raises(ValueError, match="two groups"):
        balanced_assignment(groups=[[1, 2], [2, 3]], raters=["a", "b"], per_item=1, seed=1)


def test_pilot_split_does_not_reuse_the_draws_random_stream():
    # With the draw's own stream, the pilot would be a function of the drawing order.
    population = list(range(10_000))
    a = stratified_draw(seed=4, strata=[StratumSpec("s", population, 400)])
    split = pilot_split(draw=a, share=0.5, seed=4)
    rng = np.random.default_rng(np.random.SeedSequence(4).spawn(1)[0])
    same_stream = set(np.asarray(a.strata[0].drawn)[rng.permutation(400)[:200]].tolist())
    assert set(split.pilot["s"]) != same_stream


# -- algorithm 2: posts keyed by (site, id) ------------------------------------------------


def test_key_order_is_by_site_code_points_then_id_as_a_number():
    keys = [("b.example", 10), ("a.example", 9), ("B.example", 3), ("b.example", 9), ("ä.example", 1),
            ("a.example", 9)]
    assert key_order(keys) == [("B.example", 3), ("a.example", 9), ("b.example", 9), ("b.example", 10),
                               ("ä.example", 1)]
    # the same as sorting the sites' UTF-8 bytes
    assert key_order(keys) == sorted(set(keys), key=lambda k: (k[0].encode(), k[1]))
    assert key_order([3, 1, 2, 3]) == [1, 2, 3] and key_order([]) == []
    with pytest.raises(ValueError, match="mix"):
        key_order([1, ("a", 1)])


def _installation(identities, rng):
    """The same posts as another installation holds them: other database ids, another row order."""
    pks = rng.sample(range(1, 10 * len(identities)), len(identities))
    pk_of = dict(zip(identities, pks, strict=True))
    shuffled = list(identities)
    rng.shuffle(shuffled)
    return shuffled, pk_of


SITE_POSTS = [("stackoverflow.com", i) for i in range(1, 4000, 3)] + [("ai.stackexchange.com", i)
                                                                       for i in range(5, 900, 2)]


def _sample(identities, seed=11):
    first = [k for k in identities if k[1] % 2]
    second = [k for k in identities if k[1] % 5 == 0]  # overlaps the first
    draw = stratified_draw(seed=seed, strata=[StratumSpec("odd", first, 200), StratumSpec("fives", second, 60)])
    split = pilot_split(draw=draw, share=0.3, seed=seed)
    assignment = balanced_assignment(groups=list(split.reliability.values()), raters=["cy", "Bo", "ana"],
                                     per_item=2, seed=seed)
    return draw, split, assignment


def test_the_sample_depends_on_the_posts_identities_not_on_database_ids_or_order():
    rng = random.Random(1)
    reference = _sample(SITE_POSTS)
    for _ in range(3):
        shuffled, pk_of = _installation(SITE_POSTS, rng)
        assert _sample(shuffled) == reference
        # Keyed by database ids instead (algorithm 1), the installations draw different posts.
        by_pk = {pk: key for key, pk in pk_of.items()}
        other = stratified_draw(seed=11, strata=[
            StratumSpec("odd", [pk_of[k] for k in shuffled if k[1] % 2], 200),
            StratumSpec("fives", [pk_of[k] for k in shuffled if k[1] % 5 == 0], 60)])
        assert sorted(by_pk[pk] for pk in other.post_ids) != sorted(reference[0].post_ids)


def test_pilot_split_and_assignment_do_not_depend_on_the_order_given():
    draw, split, assignment = _sample(SITE_POSTS)
    reordered = Draw(seed=draw.seed, strata=tuple(replace(s, drawn=tuple(reversed(s.drawn))) for s in draw.strata))
    assert pilot_split(draw=reordered, share=0.3, seed=11) == split
    groups = [list(reversed(g)) for g in split.reliability.values()]
    assert balanced_assignment(groups=groups, raters=["ana", "cy", "Bo", "ana"], per_item=2, seed=11) == assignment
    # Version 1 took the raters in the order it was given (the draw recorded them in username order).
    v1 = [balanced_assignment(items=list(range(30)), raters=order, per_item=1, seed=3, algorithm=1)
          for order in (["a", "b", "c"], ["c", "b", "a"])]
    assert v1[0] != v1[1]
    with pytest.raises(ValueError, match="Unknown draw algorithm"):
        balanced_assignment(items=[1], raters=["a"], per_item=1, seed=1, algorithm=3)


README = Path(__file__).resolve().parents[2] / "README.md"


def _readme_recipe():
    """The ``rederive`` function README.md gives under "Drawing the sample": the test
    runs the documentation itself, so the two cannot drift apart."""
    section = README.read_text(encoding="utf-8").split("### Drawing the sample", 1)[1].split("\n### ", 1)[0]
    block = section.split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict = {}
    exec(compile(block, "README.md", "exec"), namespace)  # noqa: S102 (our own README)
    return namespace["rederive"]


def test_the_readme_recipe_rederives_the_sample_from_the_population_list():
    rows = [(0, site, i) for site, i in SITE_POSTS if i % 2] + [(1, site, i) for site, i in SITE_POSTS if i % 5 == 0]
    # a census of 165 (0.3 × 165 is 49.4999… in floating point: a half, rounded up), non-ASCII and capitals
    rows += [(2, "ü.example", i) for i in range(164, 0, -1)] + [(2, "Z.example", 7)]
    random.Random(5).shuffle(rows)
    rederive = _readme_recipe()
    drawn, pilots, assignment = rederive(rows, {0: 200, 1: 60, 2: None}, 11, 0.3, ["cy", "Bo", "ana", "Émile"], 2)

    specs = [StratumSpec(str(p), [(site, i) for q, site, i in rows if q == p], n) for p, n in ((0, 200), (1, 60),
                                                                                              (2, None))]
    draw = stratified_draw(strata=specs, seed=11)
    split = pilot_split(draw=draw, share=0.3, seed=11)
    ours = balanced_assignment(groups=list(split.reliability.values()), raters=["cy", "Bo", "ana", "Émile"],
                               per_item=2, seed=11)
    assert [list(s.drawn) for s in draw.strata] == drawn
    assert [set(split.pilot[s.name]) for s in draw.strata] == pilots
    assert {post: list(names) for post, names in ours.items()} == assignment
    assert draw.strata[2].drawn[:3] == (("Z.example", 7), ("ü.example", 1), ("ü.example", 2))
    assert len(split.pilot["2"]) == 50


def test_keys_by_column_draw_what_the_same_keys_as_pairs_draw():
    # The job passes large populations by column (site → ids); the result is the same.
    def by_column(keys):
        columns = {}
        for site, number in reversed(keys):
            columns.setdefault(site, []).append(number)
        return {site: np.array(ids) for site, ids in columns.items()}

    first = [k for k in SITE_POSTS if k[1] % 2]
    second = [k for k in SITE_POSTS if k[1] % 5 == 0]
    pairs = stratified_draw(seed=4, strata=[StratumSpec("a", first, 150), StratumSpec("b", second, None)])
    columns = stratified_draw(seed=4, strata=[StratumSpec("a", by_column(first), 150),
                                              StratumSpec("b", by_column(second), None)])
    assert pairs == columns and pairs.strata[1].overlap_removed > 0
    with pytest.raises(ValueError, match="site must be text"):
        stratified_draw(seed=1, strata=[StratumSpec("a", {1: np.array([1])}, None)])
