"""Stratified, seeded, reproducible draws; the pilot split; balanced assignment.

Pure: post keys and parameters in, drawn keys out. The same inputs (same strata
in the same order, same populations, same seed) give exactly the same result,
whatever order the keys come in: every function first puts its keys in the
canonical order (``key_order``).

A key is what identifies a post to the algorithm, and the algorithm version
says which (the draw records it):

* **version 2** (``ALGORITHM``): the post's identity on Stack Exchange, a
  ``(site, id)`` pair such as ``("datascience.stackexchange.com", 4711)``. The
  same data gives the same keys in any database and any import order, so the
  same seed draws the same posts everywhere. Raters are ordered by username.
* **version 1** (draws made before): the database's own post ids, and the
  raters in the order the draw recorded them. Such a draw is redrawn (to check
  it) and split again with the same rules over the same ids, in its own
  installation only.

Overlapping strata: a post that belongs to several strata is counted **once,
in the first stratum (in the order given) that contains it**; the later
strata's populations exclude it. So populations are disjoint and every N, n
and percentage in the design table refers to that disjoint population. The
number of posts moved this way is reported per stratum (``overlap_removed``).

README.md ("Drawing the sample") states the algorithm step by step, for
anyone who wants to draw the sample again from an exported population list.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

ALGORITHM = 2  # the version new draws record
ALGORITHMS = (1, 2)

Key = Hashable  # version 2: (site, id); version 1: a database id
# Keys as a sequence, or (version 2, for large populations) by column: site → its ids.
Keys = Sequence[Key] | Mapping[str, Sequence[int] | np.ndarray]
# Keys in key order, by column: (site, its ids once each, ascending), sites in key order;
# one column (None, ids) for version 1's plain ids.
Columns = list[tuple[str | None, np.ndarray]]


def _sorted_unique(values) -> np.ndarray:
    array = np.sort(np.asarray(values, dtype=np.int64))
    return array[np.concatenate(([True], array[1:] != array[:-1]))] if len(array) else array


def _columns(keys: Keys) -> Columns:
    if isinstance(keys, Mapping):
        by_site = keys
    elif isinstance(keys, np.ndarray):
        return [(None, _sorted_unique(keys))]
    else:
        numbers: list[int] = []
        by_site: dict[str, list[int]] = {}
        for key in keys:
            if isinstance(key, tuple):
                site, number = key
                by_site.setdefault(site, []).append(number)
            else:
                numbers.append(key)
        if numbers and by_site:
            raise ValueError("The keys mix (site, id) pairs with plain ids.")
        if not by_site:
            return [(None, _sorted_unique(numbers))]
    for site in by_site:
        if not isinstance(site, str):
            raise ValueError(f"A key's site must be text, not {site!r}.")
    return [(site, ids) for site in sorted(by_site) if len(ids := _sorted_unique(by_site[site]))]


def _keys(columns: Columns) -> list[Key]:
    return [number if site is None else (site, number) for site, ids in columns for number in ids.tolist()]


def keys_by_site(keys: Keys) -> list[tuple[str, np.ndarray]]:
    """(site, id) keys grouped by site, in key order: each site's ids once, ascending."""
    columns = _columns(keys)
    if any(site is None for site, ids in columns if len(ids)):
        raise ValueError("Expected (site, id) pairs, not plain ids.")
    return [(site, ids) for site, ids in columns if site is not None]


def key_order(keys: Keys) -> list[Key]:
    """Each key once, in the canonical order: ``(site, id)`` pairs by site (the
    sites' Unicode code points, which is the byte order of their UTF-8), then by
    id as a number; plain numbers (version 1) ascending."""
    return _keys(_columns(keys))


@dataclass(frozen=True)
class StratumSpec:
    name: str
    post_ids: Keys
    n: int | None = None  # None (and no size_for): take the whole stratum, a census
    size_for: Callable[[int], int] | None = None  # n from the stratum's N after overlap, e.g. a sample-size rule


@dataclass(frozen=True)
class StratumDraw:
    name: str
    population: int  # N after removing posts of earlier strata
    overlap_removed: int
    census: bool
    n: int
    drawn: tuple[Key, ...]  # in key order


@dataclass(frozen=True)
class Draw:
    seed: int
    strata: tuple[StratumDraw, ...]

    @property
    def post_ids(self) -> list[Key]:
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
    """Draw ``n`` posts without replacement from each stratum (all of them for a census).

    Per stratum, in the order given: the population is the stratum's keys in key
    order, less those of earlier strata; a generator seeded with the stratum's
    child of ``SeedSequence(seed).spawn(len(strata))`` picks ``n`` positions in
    that list (``choice(N, n, replace=False)``); the posts at those positions,
    in key order, are the drawn posts. A census, or n = N, takes them all."""
    names = [s.name for s in strata]
    if len(set(names)) != len(names):
        raise ValueError("Two strata have the same name.")
    taken: dict[str | None, np.ndarray] = {}  # per site, the posts of earlier strata
    out = []
    for spec, child in zip(strata, _stratum_seeds(seed, len(strata)), strict=True):
        columns = _columns(spec.post_ids)
        kept = [(site, ids[~np.isin(ids, taken[site], assume_unique=True)] if site in taken else ids)
                for site, ids in columns]
        for site, ids in kept:
            taken[site] = np.concatenate((taken[site], ids)) if site in taken else ids
        size = sum(len(ids) for _, ids in kept)
        removed = sum(len(ids) for _, ids in columns) - size
        census = spec.n is None and spec.size_for is None
        if census:
            n = size
        elif spec.n is not None:
            n = spec.n
        else:
            try:
                n = spec.size_for(size)
            except ValueError as exc:
                raise ValueError(f"Stratum “{spec.name}”: {exc}") from None
        if n < 0:
            raise ValueError(f"Stratum “{spec.name}”: n must not be negative.")
        if n > size:
            raise ValueError(
                f"Stratum “{spec.name}”: n = {n} is larger than its population N = {size}"
                + (f" ({removed} of its posts were counted in an earlier stratum)" if removed else "")
                + "; take a census instead."
            )
        if census or n == size:
            drawn = tuple(_keys(kept))
        else:
            # (Identical to choice(population, n) for version 1's numbers: NumPy picks positions either way.)
            positions = np.sort(np.random.default_rng(child).choice(size, size=n, replace=False))
            drawn = tuple(_at(kept, positions))
        out.append(StratumDraw(name=spec.name, population=size, overlap_removed=removed,
                               census=census, n=n, drawn=drawn))
    return Draw(seed=seed, strata=tuple(out))


def _at(columns: Columns, positions: np.ndarray) -> list[Key]:
    """The keys at these positions (ascending) of the columns' keys one after the other."""
    ends = np.cumsum([len(ids) for _, ids in columns])
    which = np.searchsorted(ends, positions, side="right")
    out = []
    for column, position in zip(which.tolist(), positions.tolist(), strict=True):
        site, ids = columns[column]
        number = int(ids[position - (ends[column - 1] if column else 0)])
        out.append(number if site is None else (site, number))
    return out


@dataclass(frozen=True)
class PilotSplit:
    pilot: dict[str, tuple[Key, ...]] = field(default_factory=dict)
    reliability: dict[str, tuple[Key, ...]] = field(default_factory=dict)


def pilot_round(share: float, drawn: int) -> int:
    """How many of a stratum's ``drawn`` posts go to the pilot: share × drawn, halves up."""
    return math.floor(share * drawn + 0.5 + 1e-9)  # 1e-9: 0.3 × 165 = 49.49999… is the half it means


def pilot_split(*, draw: Draw, share: float = 0.3, seed: int) -> PilotSplit:
    """Per stratum, round(share × drawn) posts (halves up) go to the joint pilot,
    the rest to the independent reliability round; seeded like the draw: the
    stratum's child of ``SeedSequence([seed, 1]).spawn(len(strata))`` permutes
    the drawn posts (in key order) and the first k of that permutation are the pilot."""
    if not 0 <= share <= 1:
        raise ValueError("The pilot share must be between 0 and 1 (e.g. 0.3 for 30 %).")
    pilot, reliability = {}, {}
    for stratum, child in zip(draw.strata, _stratum_seeds(seed, len(draw.strata), _PILOT), strict=True):
        drawn = key_order(stratum.drawn)
        k = pilot_round(share, len(drawn))
        order = np.random.default_rng(child).permutation(len(drawn))
        chosen = {drawn[i] for i in order[:k].tolist()}
        pilot[stratum.name] = tuple(pid for pid in drawn if pid in chosen)
        reliability[stratum.name] = tuple(pid for pid in drawn if pid not in chosen)
    return PilotSplit(pilot=pilot, reliability=reliability)


def balanced_assignment(*, items: Sequence[Key] = (), groups: Sequence[Sequence[Key]] = (), raters: Sequence,
                        per_item: int = 2, seed: int, algorithm: int = ALGORITHM) -> dict[Key, tuple]:
    """Every item to ``per_item`` different raters, balanced: every rater gets
    ⌊n·k/R⌋ or ⌈n·k/R⌉ items overall and, when the items come in ``groups``
    (strata), within one of that share in every group too. One rotation over
    the raters runs through the groups in turn (items shuffled within each
    group), so consecutive items go to consecutive raters. Seeded: the same
    inputs give the same assignment, whatever order the items came in, and
    (version 2, where raters are usernames) whatever order the raters came in:
    they are sorted first. Version 1 takes the raters in the order given."""
    if algorithm not in ALGORITHMS:
        raise ValueError(f"Unknown draw algorithm {algorithm}.")
    raters = sorted(set(raters)) if algorithm >= 2 else list(dict.fromkeys(raters))
    if per_item < 1:
        raise ValueError("Each item needs at least one rater.")
    if per_item > len(raters):
        raise ValueError(f"Each item should go to {per_item} raters but the study has {len(raters)}.")
    all_groups = [key_order(g) for g in groups] + ([key_order(items)] if items else [])
    seen: set[Key] = set()
    for group in all_groups:
        if seen.intersection(group):
            raise ValueError("An item is in two groups; a post is assigned once.")
        seen.update(group)
    rng = np.random.default_rng(_seed_sequence(seed, _ASSIGN))
    rotation = [raters[i] for i in rng.permutation(len(raters))]
    assignment = {}
    position = 0
    for group in all_groups:
        for index in rng.permutation(len(group)).tolist():
            start = position * per_item
            assignment[group[index]] = tuple(sorted(rotation[(start + j) % len(rotation)] for j in range(per_item)))
            position += 1
    return {key: assignment[key] for group in all_groups for key in group}  # in key order, group by group
