"""Stratified seeded draws, the pilot split and balanced assignment (pure)."""

from collections import Counter

import numpy as np
import pytest

from sampling.draw import StratumSpec, balanced_assignment, pilot_split, stratified_draw
from sampling.sample_size import sample_size

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
