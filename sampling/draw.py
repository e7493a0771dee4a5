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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class StratumSpec:
    name: str
    post_ids: Sequence[int]
    n: int | None = None  # None (and no size_for): take the whole stratum, a census
    size_for: Callable[[int], int] | None = None  # n from the stratum's N after overlap, e.g. a sample-size rule


@dataclass(frozen=True)
class StratumDraw:
    name: str
    population: int  # N after removing posts of earlier strata
    overlap_removed: int
    census: bool
    n: int
    drawn: tuple[int, ...]  # sorted


@dataclass(frozen=True)
class Draw:
    seed: int
    strata: tuple[StratumDraw, ...]

    @property
    def post_ids(self) -> list[int]:
        return [pid for s in self.strata for pid in s.drawn]


# One independent random stream per purpose: the pilot split must not reuse
# the draw's stream (the same permutation would correlate "drawn" and "pilot").
_DRAW, _PILOT, _ASSIGN = 0, 1, 2


def _seed_sequence(seed: int, purpose: int) -> np.random.SeedSequence:
    if isinstance(seed, bool) or int(seed) != seed or seed < 0:
        raise ValueError("The seed must be a non-negative whole number.")
    return np.random.SeedSequence(int(seed)) if purpose == _DRAW else np.random.SeedSequence([int(seed), purpose])


def _stratum_seeds(seed: int, count: int, purpose: int = _DRAW) -> list[np.random.SeedSequence]:
    return _seed_sequence(seed, purpose).spawn(count)


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
        census = spec.n is None and spec.size_for is None
        if census:
            n = len(population)
        elif spec.n is not None:
            n = spec.n
        else:
            try:
                n = spec.size_for(len(population))
            except ValueError as exc:
                raise ValueError(f"Stratum “{spec.name}”: {exc}") from None
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
                               census=census, n=n, drawn=drawn))
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
    for stratum, child in zip(draw.strata, _stratum_seeds(seed, len(draw.strata), _PILOT), strict=True):
        k = math.floor(share * len(stratum.drawn) + 0.5 + 1e-9)  # halves up, whatever the float noise
        rng = np.random.default_rng(child)
        order = rng.permutation(len(stratum.drawn))
        chosen = {stratum.drawn[i] for i in order[:k]}
        pilot[stratum.name] = tuple(pid for pid in stratum.drawn if pid in chosen)
        reliability[stratum.name] = tuple(pid for pid in stratum.drawn if pid not in chosen)
    return PilotSplit(pilot=pilot, reliability=reliability)


def balanced_assignment(*, items: Sequence[int] = (), groups: Sequence[Sequence[int]] = (), raters: Sequence,
                        per_item: int = 2, seed: int) -> dict[int, tuple]:
    """Every item to ``per_item`` different raters, balanced: every rater gets
    ⌊n·k/R⌋ or ⌈n·k/R⌉ items overall and, when the items come in ``groups``
    (strata), within one of that share in every group too. One rotation over
    the raters runs through the groups in turn (items shuffled within each
    group), so consecutive items go to consecutive raters. Seeded: the same
    inputs give the same assignment, whatever order the items came in."""
    raters = list(dict.fromkeys(raters))
    if per_item < 1:
        raise ValueError("Each item needs at least one rater.")
    if per_item > len(raters):
        raise ValueError(f"Each item should go to {per_item} raters but the study has {len(raters)}.")
    all_groups = [sorted(set(g)) for g in groups] + ([sorted(set(items))] if items else [])
    seen: set[int] = set()
    for group in all_groups:
        if seen & set(group):
            raise ValueError("An item is in two groups; a post is assigned once.")
        seen.update(group)
    rng = np.random.default_rng(_seed_sequence(seed, _ASSIGN))
    rotation = [raters[i] for i in rng.permutation(len(raters))]
    assignment = {}
    position = 0
    for group in all_groups:
        for index in rng.permutation(len(group)):
            start = position * per_item
            assignment[group[index]] = tuple(sorted(rotation[(start + j) % len(rotation)] for j in range(per_item)))
            position += 1
    return dict(sorted(assignment.items()))
