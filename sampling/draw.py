"""Stratified, seeded, reproducible draws; the pilot split; balanced assignment.

Pure: post ids and parameters in, drawn ids out. The same inputs (same strata
in the same order, same populations, same seed) give exactly the same result,
whatever order the database returned the ids in.

Overlapping strata: a post that belongs to several strata is counted **once,
in the first stratum (in the order given) that contains it**; the later
strata's populations exclude it. So populations are disjoint and every N, n
and percentage in the design table refers to that disjoint population. The
number of posts moved this way is reported per stratum (``overlap_removed``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class StratumSpec:
    name: str
    post_ids: Sequence[int]
    n: int | None = None  # None: take the whole stratum (a census)


@dataclass(frozen=True)
class StratumDraw:
    name: str
    population: int  # N after removing posts of earlier strata
    overlap_removed: int
    census: bool
    drawn: tuple[int, ...]  # sorted


@dataclass(frozen=True)
class Draw:
    seed: int
    strata: tuple[StratumDraw, ...]

    @property
    def post_ids(self) -> list[int]:
        return [pid for s in self.strata for pid in s.drawn]


def _stratum_seeds(seed: int, count: int) -> list[np.random.SeedSequence]:
    if seed < 0:
        raise ValueError("The seed must be a non-negative whole number.")
    return np.random.SeedSequence(seed).spawn(count)


def stratified_draw(*, strata: Sequence[StratumSpec], seed: int) -> Draw:
    """Draw ``n`` posts without replacement from each stratum (all of them for a census)."""
    names = [s.name for s in strata]
    if len(set(names)) != len(names):
        raise ValueError("Two strata have the same name.")
    taken: set[int] = set()
    out = []
    for spec, child in zip(strata, _stratum_seeds(seed, len(strata)), strict=True):
        ids = sorted(set(spec.post_ids))
        population = [pid for pid in ids if pid not in taken]
        removed = len(ids) - len(population)
        taken.update(population)
        census = spec.n is None
        n = len(population) if census else spec.n
        if n < 0:
            raise ValueError(f"Stratum “{spec.name}”: n must not be negative.")
        if n > len(population):
            raise ValueError(
                f"Stratum “{spec.name}”: n = {n} is larger than its population N = {len(population)}"
                + (f" ({removed} of its posts were counted in an earlier stratum)" if removed else "")
                + "; take a census instead."
            )
        if census or n == len(population):
            drawn = tuple(population)
        else:
            rng = np.random.default_rng(child)
            drawn = tuple(sorted(int(i) for i in rng.choice(np.asarray(population, dtype=np.int64), size=n,
                                                              replace=False)))
        out.append(StratumDraw(name=spec.name, population=len(population), overlap_removed=removed,
                               census=census, drawn=drawn))
    return Draw(seed=seed, strata=tuple(out))


@dataclass(frozen=True)
class PilotSplit:
    pilot: dict[str, tuple[int, ...]] = field(default_factory=dict)
    reliability: dict[str, tuple[int, ...]] = field(default_factory=dict)


def pilot_split(*, draw: Draw, share: float = 0.3, seed: int) -> PilotSplit:
    """Per stratum, round(share × drawn) posts (halves up) go to the joint pilot,
    the rest to the independent reliability round; seeded like the draw."""
    if not 0 <= share <= 1:
        raise ValueError("The pilot share must be between 0 and 1 (e.g. 0.3 for 30 %).")
    pilot, reliability = {}, {}
    for stratum, child in zip(draw.strata, _stratum_seeds(seed, len(draw.strata)), strict=True):
        k = math.floor(share * len(stratum.drawn) + 0.5 + 1e-9)  # halves up, whatever the float noise
        rng = np.random.default_rng(child)
        order = rng.permutation(len(stratum.drawn))
        chosen = {stratum.drawn[i] for i in order[:k]}
        pilot[stratum.name] = tuple(pid for pid in stratum.drawn if pid in chosen)
        reliability[stratum.name] = tuple(pid for pid in stratum.drawn if pid not in chosen)
    return PilotSplit(pilot=pilot, reliability=reliability)


def balanced_assignment(*, items: Sequence[int], raters: Sequence[str], per_item: int = 2,
                        seed: int) -> dict[int, tuple[str, ...]]:
    """Every item to ``per_item`` different raters; every rater gets either
    ⌊n·k/R⌋ or ⌈n·k/R⌉ items. Seeded: the same inputs give the same assignment."""
    raters = list(dict.fromkeys(raters))
    if per_item < 1:
        raise ValueError("Each item needs at least one rater.")
    if per_item > len(raters):
        raise ValueError(f"Each item should go to {per_item} raters but the study has {len(raters)}.")
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    order = [sorted(set(items))[i] for i in rng.permutation(len(set(items)))]
    rotation = [raters[i] for i in rng.permutation(len(raters))]
    assignment = {}
    for position, item in enumerate(order):
        start = position * per_item
        assignment[item] = tuple(sorted(rotation[(start + j) % len(rotation)] for j in range(per_item)))
    return dict(sorted(assignment.items()))
