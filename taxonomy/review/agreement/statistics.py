"""Inter-rater agreement for multi-label coding: pure functions over NumPy arrays.

Input is ``(item, rater, label)`` triples. One rater's answer on one item is the
*set* of labels they gave it (several triples with the same item and rater), so
"False positive", "Unclear" and "Pending" are labels like any other.
:class:`RatingTable` encodes everything once as integer codes; each distinct
label set gets a code, and that code is the nominal category of the
set-based coefficients.

What the coefficients use
-------------------------
* **Percent agreement**: the share (0–1) of items with two or more ratings on
  which *all* raters gave the same label set. **Pairwise agreement**: the mean
  over those items of the share of agreeing rater pairs, Σ n_ic(n_ic − 1) /
  (m_i(m_i − 1)); it credits 2 of 3 raters agreeing, which the strict share
  does not.
* **Cohen's κ**: exactly two raters, on the items both rated.
* **Fleiss' κ** is defined for a constant number m of ratings per item (the
  raters need not be the same people). With missing ratings we do not
  generalise it: it uses the items with the most common number of ratings
  among items with ≥ 2 (ties: the larger number), and reports how many items
  it used and left out. Krippendorff's α is the coefficient built for missing
  data, so there is no need to bend Fleiss'.
* **Krippendorff's α**, nominal and MASI (Passonneau 2006: 1 − Jaccard · M,
  M = 1 equal, 2/3 subset, 1/3 overlap, 0 disjoint): units with fewer than two
  values are not pairable and are dropped, as Krippendorff defines.
* **Per category**: each label as a binary present/absent judgement (Cohen's κ
  for two raters, Fleiss' κ on the Fleiss items) and which labels it is
  confused with.

Undefined cases never produce NaN: the value is ``None`` and ``reason`` says
why (no ratings, no item with two ratings, not two raters, a single category so
expected agreement is 1 / expected disagreement is 0).

A coefficient whose value is fixed by the design rather than by the ratings
does not apply either, and is ``None`` with the reason, as the README promises
("a rater who used one category only"):

* Cohen's κ when a rater gave every common item the same label set: p_o = p_e
  whatever the other rater did, so κ is 0 by construction (both raters
  constant and different: p_o = p_e = 0). Per category, the same when a rater
  used the label on every item or on none.
* One pairable item: Krippendorff's α compares the disagreement within units
  with that across all pairable values, which are then the same pairs, so
  α = 0; Fleiss' κ on one item is −1/(m − 1) (P̄ = (S − m)/(m(m − 1)),
  P̄e = S/m², S = Σ n_j²), headline and per category.

The bootstrap counts a resample in which Cohen's κ is 0 by construction (a
rater constant in the resample) as undefined, like one with a single category.

Speed: every coefficient is written as "per-item contributions, then weighted
sums", evaluated on a weight matrix (units × resamples). The point estimate is
the all-ones column; a bootstrap resample is a column of multinomial counts
over the items with ≥ 2 ratings, so resampling is one dense and a few sparse
matrix products, never a recomputation from triples. The interval is the
percentile one; resamples in which a coefficient is undefined (one category
drawn) are left out and counted.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from functools import cached_property

import numpy as np
from scipy import sparse

NO_RATINGS = "there are no ratings"
NO_PAIRS = "no item has ratings from two or more raters"
# κ fixed by the design, not the ratings: reported as None with these reasons
COHEN_ONE_SET = ("one rater gave every item the same label set: observed agreement equals the agreement expected "
                 "by chance whatever the other rater did, so κ is 0 by construction and says nothing about agreement "
                 "(see percent agreement)")
COHEN_TWO_CONSTANT = ("each rater gave every item one label set, a different one each: observed and expected "
                      "agreement are both 0, so κ is 0 by construction")
ONE_ITEM_ALPHA = ("only one item has two or more ratings: α compares disagreement within items with disagreement "
                  "across all values, which are then the same pairs, so α is 0 by construction")
ONE_ITEM_FLEISS = "only one item: Fleiss' κ on one item is −1/(m − 1) by construction, whatever the ratings"
HEADLINE = (
    "percent_agreement", "pairwise_agreement", "cohen_kappa", "fleiss_kappa",
    "krippendorff_alpha", "krippendorff_alpha_masi",
)
# One bootstrap chunk holds at most this many weights (units × resamples, float64: 32 MB).
_CHUNK_ELEMENTS = 1 << 22
_WORD_BITS = 64


# ---------------------------------------------------------------- results


@dataclass(frozen=True)
class Interval:
    """Percentile bootstrap interval; ``undefined`` resamples (e.g. a resample
    with one category only) are left out of the percentiles and counted."""

    low: float
    high: float
    level: float
    resamples: int
    seed: int
    undefined: int = 0

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Estimate:
    value: float | None
    items: int  # items that entered the computation
    excluded: int = 0  # items left out (too few ratings, not the Fleiss number, ...)
    reason: str = ""  # why value is None
    note: str = ""  # what a reader must know although value is defined
    interval: Interval | None = None

    def as_dict(self) -> dict:
        return {**asdict(self), "interval": self.interval.as_dict() if self.interval else None}


@dataclass(frozen=True)
class CategoryAgreement:
    label: Hashable
    items: int  # items on which at least one rater used the label
    answers: int  # (item, rater) answers containing the label
    cohen_kappa: Estimate  # present/absent, two raters only
    fleiss_kappa: Estimate  # present/absent, on the Fleiss items
    confused_with: tuple[tuple[Hashable, int], ...]  # (other label, count), most frequent first

    def as_dict(self) -> dict:
        reasons = {name: e.reason for name, e in (("cohen_kappa", self.cohen_kappa),
                                                   ("fleiss_kappa", self.fleiss_kappa)) if e.reason}
        return {
            "label": self.label, "items": self.items, "answers": self.answers,
            "cohen_kappa": self.cohen_kappa.value, "fleiss_kappa": self.fleiss_kappa.value, "reasons": reasons,
            "confused_with": [{"label": label, "count": count} for label, count in self.confused_with],
        }


# How the headline coefficients are named wherever they are shown (the command, the
# pages); the two shares are printed as percentages, the rest as coefficients.
COEFFICIENT_TITLES = {
    "percent_agreement": "Percent agreement (all raters, same label set)",
    "pairwise_agreement": "Pairwise agreement (rater pairs, same label set)",
    "cohen_kappa": "Cohen's κ (two raters)",
    "fleiss_kappa": "Fleiss' κ",
    "krippendorff_alpha": "Krippendorff's α (nominal)",
    "krippendorff_alpha_masi": "Krippendorff's α (MASI, label sets)",
}
SHARE_COEFFICIENTS = frozenset({"percent_agreement", "pairwise_agreement"})


@dataclass(frozen=True)
class AgreementReport:
    items: int
    raters: tuple[Hashable, ...]
    labels: tuple[Hashable, ...]
    estimates: dict[str, Estimate]  # keyed by the names in HEADLINE
    per_category: tuple[CategoryAgreement, ...]
    resamples: int
    seed: int
    level: float

    def as_dict(self) -> dict:
        """JSON-ready: headline coefficients as plain numbers (null when they do
        not apply), the why and the intervals beside them."""
        return {
            "items": self.items,
            "raters": len(self.raters),
            "labels": len(self.labels),
            "rater_names": list(self.raters),
            **{name: estimate.value for name, estimate in self.estimates.items()},
            "per_category": [category.as_dict() for category in self.per_category],
            "confidence_intervals": {
                "level": self.level, "resamples": self.resamples, "seed": self.seed,
                **{name: [e.interval.low, e.interval.high] if e.interval else None
                   for name, e in self.estimates.items()},
            },
            "reasons": {name: e.reason for name, e in self.estimates.items() if e.reason},
            "estimates": {name: estimate.as_dict() for name, estimate in self.estimates.items()},
        }


# ---------------------------------------------------------------- the table


@dataclass(frozen=True, eq=False)
class RatingTable:
    """All ratings as integer codes.

    ``answers[i, r]`` is the code of the label set rater ``r`` gave item ``i``
    (-1: not rated); ``set_words[k]`` is label set ``k`` as bits over the
    labels, packed in little-endian uint64 words. Items × raters is dense:
    coding studies have a handful of raters, so this is small and makes every
    per-item quantity a vectorised column operation.
    """

    items: tuple[Hashable, ...]
    raters: tuple[Hashable, ...]
    labels: tuple[Hashable, ...]
    answers: np.ndarray
    set_words: np.ndarray

    @classmethod
    def from_triples(cls, triples: Iterable[tuple[Hashable, Hashable, Hashable]]) -> RatingTable:
        """Identical triples count once (an answer is a set)."""
        item_codes: dict = {}
        rater_codes: dict = {}
        label_codes: dict = {}
        items, raters, labels = [], [], []
        for item, rater, label in triples:
            items.append(item_codes.setdefault(item, len(item_codes)))
            raters.append(rater_codes.setdefault(rater, len(rater_codes)))
            labels.append(label_codes.setdefault(label, len(label_codes)))
        # Raters and labels sorted, so that a report does not depend on row order.
        rater_names, rater_map = _sorted_codes(rater_codes)
        label_names, label_map = _sorted_codes(label_codes)
        return cls.from_codes(
            items=tuple(item_codes), raters=rater_names, labels=label_names,
            item_codes=np.asarray(items, dtype=np.int64),
            rater_codes=rater_map[np.asarray(raters, dtype=np.int64)],
            label_codes=label_map[np.asarray(labels, dtype=np.int64)],
        )

    @classmethod
    def from_codes(
        cls, *, items: Sequence[Hashable], raters: Sequence[Hashable], labels: Sequence[Hashable],
        item_codes: np.ndarray, rater_codes: np.ndarray, label_codes: np.ndarray,
    ) -> RatingTable:
        """The vectorised constructor: one row per triple, codes index the name sequences."""
        n_items, n_raters, n_labels = len(items), len(raters), len(labels)
        n_words = max(1, -(-n_labels // _WORD_BITS))
        keys = np.sort((np.asarray(item_codes, np.int64) * n_raters + rater_codes) * n_labels + label_codes)
        keys = keys[np.r_[True, keys[1:] != keys[:-1]]] if keys.size else keys
        answer_keys, label_of = np.divmod(keys, max(n_labels, 1))
        starts = np.flatnonzero(np.r_[True, answer_keys[1:] != answer_keys[:-1]]) if keys.size else keys
        words = np.zeros((starts.size, n_words), dtype="<u8")
        bit = np.left_shift(np.uint64(1), (label_of % _WORD_BITS).astype(np.uint64))
        for w in range(n_words):
            if starts.size:
                # the labels of an answer are distinct, so the sum of their bits is their OR
                words[:, w] = np.add.reduceat(np.where(label_of // _WORD_BITS == w, bit, np.uint64(0)), starts)
        set_words, set_codes = _unique_rows(words)
        answers = np.full((n_items, n_raters), -1, dtype=np.int32)
        answers.flat[answer_keys[starts]] = set_codes
        return cls(items=tuple(items), raters=tuple(raters), labels=tuple(labels),
                   answers=answers, set_words=np.ascontiguousarray(set_words, dtype="<u8"))

    @cached_property
    def _units(self) -> _Units:
        return _Units.build(self)


def _sorted_codes(codes: dict) -> tuple[tuple, np.ndarray]:
    names = tuple(sorted(codes, key=str))
    remap = np.empty(len(codes), dtype=np.int64)
    remap[[codes[name] for name in names]] = np.arange(len(names))
    return names, remap


def _unique_rows(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """np.unique(axis=0, return_inverse=True), without its slow sort of void records."""
    order = np.lexsort(rows.T[::-1])
    ordered = rows[order]
    first = np.r_[True, (ordered[1:] != ordered[:-1]).any(axis=1)] if rows.shape[0] else np.zeros(0, bool)
    inverse = np.empty(rows.shape[0], dtype=np.int64)
    inverse[order] = np.cumsum(first) - 1
    return ordered[first], inverse


def _popcount(words: np.ndarray) -> np.ndarray:
    if hasattr(np, "bitwise_count"):  # NumPy ≥ 2
        return np.bitwise_count(words).sum(axis=-1, dtype=np.int64)
    return np.unpackbits(np.ascontiguousarray(words).view(np.uint8), axis=-1).sum(axis=-1, dtype=np.int64)


def _incidence(words: np.ndarray, n_labels: int) -> np.ndarray:
    """Label sets as a bool matrix (sets × labels)."""
    bits = np.unpackbits(np.ascontiguousarray(words, dtype="<u8").view(np.uint8), axis=1, bitorder="little")
    return bits[:, :n_labels].astype(bool)


def _masi_similarity(inter: np.ndarray, size_a: np.ndarray, size_b: np.ndarray) -> np.ndarray:
    """Jaccard · M for pairs of label sets given their intersection and sizes, so MASI distance = 1 − this."""
    union = size_a + size_b - inter
    monotonicity = np.select(
        [inter == union, inter == np.minimum(size_a, size_b), inter > 0], [1.0, 2 / 3, 1 / 3], 0.0
    )
    return inter / np.maximum(union, 1) * monotonicity


@dataclass(frozen=True, eq=False)
class _Units:
    """The pairable items (≥ 2 ratings), the index every coefficient and every
    bootstrap weight refer to. Set codes here are local to the sets used on them."""

    index: np.ndarray  # item codes
    answers: np.ndarray  # units × raters, local set code or -1
    m: np.ndarray  # ratings per unit
    counts_t: sparse.csc_matrix  # sets × units, n_uc; CSC so a product with weights walks units in order
    sq: np.ndarray  # Σ_c n_uc²
    set_words: np.ndarray

    @classmethod
    def build(cls, table: RatingTable) -> _Units:
        present_all = table.answers >= 0
        index = np.flatnonzero(present_all.sum(axis=1) >= 2)
        answers, present = table.answers[index], present_all[index]
        codes = answers[present]
        # the codes are already small integers: a bincount renumbers them far faster than np.unique
        used = np.flatnonzero(np.bincount(codes, minlength=table.set_words.shape[0]))
        renumber = np.zeros(table.set_words.shape[0], dtype=np.int32)
        renumber[used] = np.arange(used.size, dtype=np.int32)
        answers = np.full(answers.shape, -1, dtype=np.int32)
        answers[present] = renumber[codes]
        units = np.nonzero(present)[0]
        counts_t = sparse.csc_matrix((np.ones(units.size), (answers[present], units)), shape=(used.size, index.size))
        counts_t.sum_duplicates()
        sq = np.bincount(np.repeat(np.arange(index.size), np.diff(counts_t.indptr)), weights=counts_t.data**2,
                         minlength=index.size)
        return cls(index=index, answers=answers, m=present.sum(axis=1).astype(float), counts_t=counts_t, sq=sq,
                   set_words=table.set_words[used])

    @property
    def n(self) -> int:
        return int(self.index.size)

    @property
    def n_sets(self) -> int:
        return int(self.set_words.shape[0])

    @cached_property
    def ones(self) -> np.ndarray:
        return np.ones(self.n)

    @cached_property
    def masi_similarity(self) -> sparse.csr_matrix:
        """Sets × sets, Jaccard · M. Disjoint sets have similarity 0, so only
        pairs sharing a label are stored: their count is Σ over labels of
        (sets containing it)², far below sets²."""
        incidence = sparse.csr_matrix(_incidence(self.set_words, self.set_words.shape[1] * _WORD_BITS),
                                      dtype=np.float64)
        similarity = (incidence @ incidence.T).tocsr()  # entries: |c ∩ k| for sets sharing a label
        rows = np.repeat(np.arange(self.n_sets), np.diff(similarity.indptr))
        sizes = self.set_sizes
        similarity.data = _masi_similarity(similarity.data, sizes[rows], sizes[similarity.indices])
        return similarity

    @cached_property
    def set_sizes(self) -> np.ndarray:
        return _popcount(self.set_words)

    @cached_property
    def masi_observed(self) -> np.ndarray:
        """Per unit Σ over ordered pairs of its values of δ_MASI, / (m_u − 1)."""
        total = np.zeros(self.n)
        n_raters = self.answers.shape[1]
        for r in range(n_raters):
            for s in range(r + 1, n_raters):
                both = (self.answers[:, r] >= 0) & (self.answers[:, s] >= 0)
                a, b = self.answers[both, r], self.answers[both, s]
                inter = _popcount(self.set_words[a] & self.set_words[b])
                total[both] += 2 * (1 - _masi_similarity(inter, self.set_sizes[a], self.set_sizes[b]))
        return total / (self.m - 1)


# ---------------------------------------------------------------- coefficients as weighted sums

# combine(sums, totals) → values per resample (NaN: undefined in that resample), where
# sums[i] = vectors[i] @ weights and totals[j] = matrices[j] @ weights (sets × resamples).
Combine = Callable[[list[np.ndarray], list[np.ndarray]], np.ndarray]


@dataclass(frozen=True)
class _Statistic:
    items: int
    excluded: int = 0
    reason: str = ""  # set: undefined, nothing to evaluate
    note: str = ""
    vectors: tuple[np.ndarray, ...] = ()  # per-unit contributions
    matrices: tuple[sparse.csc_matrix, ...] = ()  # sets × units counts
    combine: Combine | None = None

    def estimate(self) -> Estimate:
        value = None
        if self.combine is not None:
            result = float(_Plan([self]).evaluate(np.ones((self.vectors[0].size, 1)))[0][0])
            value = result if np.isfinite(result) else None
        reason = self.reason or ("" if value is not None else "the coefficient is 0/0 on these data")
        return Estimate(value=value, items=self.items, excluded=self.excluded, reason=reason, note=self.note)


class _Plan:
    """Evaluates several statistics on one weight matrix, computing each weighted
    sum once: all per-unit vectors in a single matrix product (one pass over the
    weights), each shared count matrix once."""

    def __init__(self, statistics: Sequence[_Statistic]):
        self.statistics = statistics
        vectors: dict[int, np.ndarray] = {}
        matrices: dict[int, sparse.csc_matrix] = {}
        for stat in statistics:
            vectors.update((id(v), v) for v in stat.vectors)
            matrices.update((id(m), m) for m in stat.matrices)
        self.stacked = np.vstack(list(vectors.values()))
        self.matrices = list(matrices.values())
        vector_row = {key: row for row, key in enumerate(vectors)}
        matrix_row = {key: row for row, key in enumerate(matrices)}
        self.rows = [([vector_row[id(v)] for v in s.vectors], [matrix_row[id(m)] for m in s.matrices])
                     for s in statistics]

    def evaluate(self, weights: np.ndarray) -> list[np.ndarray]:
        # This orientation: OpenBLAS's threaded gemm for (few × units) @ (units × resamples) takes seconds
        # instead of milliseconds when the cores are busy.
        sums = (weights.T @ self.stacked.T).T
        totals = [matrix @ weights for matrix in self.matrices]
        with np.errstate(divide="ignore", invalid="ignore"):
            return [stat.combine([sums[i] for i in vector_rows], [totals[j] for j in matrix_rows])
                    for stat, (vector_rows, matrix_rows) in zip(self.statistics, self.rows)]


def _no_units(table: RatingTable) -> _Statistic | None:
    if not table.items:
        return _Statistic(items=0, reason=NO_RATINGS)
    if table._units.n == 0:
        reason = NO_PAIRS + (" (there is one rater only)" if len(table.raters) == 1 else "")
        return _Statistic(items=0, excluded=len(table.items), reason=reason)
    return None


def _share_statistic(table: RatingTable, per_unit: Callable[[_Units], np.ndarray]) -> _Statistic:
    if (missing := _no_units(table)) is not None:
        return missing
    u = table._units
    return _Statistic(items=u.n, excluded=len(table.items) - u.n, vectors=(per_unit(u), u.ones),
                      combine=lambda sums, _: sums[0] / sums[1])


def _percent_statistic(table: RatingTable) -> _Statistic:
    return _share_statistic(table, lambda u: (u.sq == u.m**2).astype(float))


def _pairwise_statistic(table: RatingTable) -> _Statistic:
    return _share_statistic(table, lambda u: (u.sq - u.m) / (u.m * (u.m - 1)))


def _cohen_statistic(table: RatingTable) -> _Statistic:
    if not table.items:
        return _Statistic(items=0, reason=NO_RATINGS)
    if len(table.raters) != 2:
        return _Statistic(items=0, reason=f"Cohen's κ is for exactly two raters; there are {len(table.raters)}")
    u = table._units
    excluded = len(table.items) - u.n
    if u.n == 0:
        return _Statistic(items=0, excluded=excluded, reason="the two raters have no item in common")
    note = f"{_items(excluded)} rated by one rater only left out" if excluded else ""
    if u.n_sets == 1:
        return _Statistic(items=u.n, excluded=excluded, note=note, reason=(
            "both raters gave the same label set to every item: expected agreement is 1, so κ is 0/0"))
    first, second = u.answers[:, 0], u.answers[:, 1]
    constant = [bool((column == column[0]).all()) for column in (first, second)]
    if all(constant):
        return _Statistic(items=u.n, excluded=excluded, note=note, reason=COHEN_TWO_CONSTANT)
    if any(constant):
        return _Statistic(items=u.n, excluded=excluded, note=note, reason=COHEN_ONE_SET)
    units = np.arange(u.n)
    first_t = sparse.csc_matrix((np.ones(u.n), (first, units)), shape=(u.n_sets, u.n))
    second_t = sparse.csc_matrix((np.ones(u.n), (second, units)), shape=(u.n_sets, u.n))

    def combine(sums: list[np.ndarray], totals: list[np.ndarray]) -> np.ndarray:
        agreeing, n = sums
        expected = (totals[0] * totals[1]).sum(axis=0) / (n * n)
        kappa = _ratio(agreeing / n - expected, 1 - expected)
        # a resample in which a rater is constant: κ is 0 by construction there, not a measurement
        one_set = (np.count_nonzero(totals[0], axis=0) == 1) | (np.count_nonzero(totals[1], axis=0) == 1)
        return np.where(one_set, np.nan, kappa)

    return _Statistic(items=u.n, excluded=excluded, note=note, vectors=((first == second).astype(float), u.ones),
                      matrices=(first_t, second_t), combine=combine)


def _fleiss_items(u: _Units) -> tuple[int, np.ndarray]:
    """The most common number of ratings (ties: the larger) and the units that have it."""
    frequency = np.bincount(u.m.astype(int))
    m = int(np.flatnonzero(frequency == frequency.max()).max())
    return m, u.m == m


def _fleiss_statistic(table: RatingTable) -> _Statistic:
    if (missing := _no_units(table)) is not None:
        return missing
    u = table._units
    m, mask = _fleiss_items(u)
    used = int(mask.sum())
    excluded = len(table.items) - used
    note = (f"Fleiss' κ needs a constant number of ratings per item: it uses the {_items(used)} with {m} "
            f"ratings and leaves out {_items(excluded)} with another number") if excluded else ""
    counts_t = (u.counts_t @ sparse.diags(mask.astype(float))).tocsc()
    counts_t.eliminate_zeros()
    if np.count_nonzero(counts_t.getnnz(axis=1)) == 1:
        return _Statistic(items=used, excluded=excluded, note=note, reason=(
            "every rating is the same label set: expected agreement is 1, so κ is 0/0"))
    if used == 1:
        return _Statistic(items=used, excluded=excluded, note=note, reason=ONE_ITEM_FLEISS)

    def combine(sums: list[np.ndarray], totals: list[np.ndarray]) -> np.ndarray:
        agreement, n = sums
        proportions = totals[0] / (n * m)
        expected = (proportions * proportions).sum(axis=0)
        return _ratio(agreement / n - expected, 1 - expected)

    per_item = np.where(mask, (u.sq - m) / (m * (m - 1)), 0.0)
    return _Statistic(items=used, excluded=excluded, note=note, vectors=(per_item, mask.astype(float)),
                      matrices=(counts_t,), combine=combine)


def _alpha_statistic(table: RatingTable, distance: str) -> _Statistic:
    if distance not in ("nominal", "masi"):
        raise ValueError(f"Unknown distance {distance!r}: use 'nominal' or 'masi'.")
    if (missing := _no_units(table)) is not None:
        return missing
    u = table._units
    excluded = len(table.items) - u.n
    note = f"{_items(excluded)} with a single rating not pairable, left out" if excluded else ""
    if u.n_sets == 1:
        return _Statistic(items=u.n, excluded=excluded, note=note, reason=(
            "every pairable value is the same label set: expected disagreement is 0, so α is 0/0"))
    if u.n == 1:
        return _Statistic(items=u.n, excluded=excluded, note=note, reason=ONE_ITEM_ALPHA)
    if distance == "nominal":
        observed = (u.m**2 - u.sq) / (u.m - 1)

        def agreement_mass(totals: np.ndarray) -> np.ndarray:
            return (totals * totals).sum(axis=0)
    else:
        observed = u.masi_observed
        similarity = u.masi_similarity

        def agreement_mass(totals: np.ndarray) -> np.ndarray:
            return (totals * (similarity @ totals)).sum(axis=0)

    def combine(sums: list[np.ndarray], totals: list[np.ndarray]) -> np.ndarray:
        # α = 1 − (n − 1) Σ_u o_u / Σ_ck n_c n_k δ_ck, and Σ_ck n_c n_k δ_ck = n² − Σ_ck n_c n_k (1 − δ_ck)
        disagreement, n = sums
        return 1 - _ratio((n - 1) * disagreement, n * n - agreement_mass(totals[0]))

    return _Statistic(items=u.n, excluded=excluded, note=note, vectors=(observed, u.m), matrices=(u.counts_t,),
                      combine=combine)


def _items(n: int) -> str:
    return f"{n} item" if n == 1 else f"{n} items"


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    # A resample can hit a single category (denominator 0 up to rounding): undefined, not ±inf.
    return np.where(np.abs(denominator) > 1e-12, numerator / np.where(denominator == 0, 1, denominator), np.nan)


_STATISTICS: dict[str, Callable[[RatingTable], _Statistic]] = {
    "percent_agreement": _percent_statistic,
    "pairwise_agreement": _pairwise_statistic,
    "cohen_kappa": _cohen_statistic,
    "fleiss_kappa": _fleiss_statistic,
    "krippendorff_alpha": lambda table: _alpha_statistic(table, "nominal"),
    "krippendorff_alpha_masi": lambda table: _alpha_statistic(table, "masi"),
}


# ---------------------------------------------------------------- public functions


def percent_agreement(*, table: RatingTable) -> Estimate:
    """Share (0–1) of items with ≥ 2 ratings on which every rater gave the same label set."""
    return _STATISTICS["percent_agreement"](table).estimate()


def pairwise_agreement(*, table: RatingTable) -> Estimate:
    """Mean over items with ≥ 2 ratings of the share of rater pairs giving the same label set."""
    return _STATISTICS["pairwise_agreement"](table).estimate()


def cohen_kappa(*, table: RatingTable) -> Estimate:
    """Cohen's κ, label set as category; exactly two raters, items rated by both."""
    return _STATISTICS["cohen_kappa"](table).estimate()


def fleiss_kappa(*, table: RatingTable) -> Estimate:
    """Fleiss' κ, label set as category, on the items with the modal number of
    ratings (Fleiss' constant-m design); ``items``/``excluded`` say how many."""
    return _STATISTICS["fleiss_kappa"](table).estimate()


def krippendorff_alpha(*, table: RatingTable, distance: str = "nominal") -> Estimate:
    """Krippendorff's α with the label set as value; ``distance`` "nominal" or
    "masi". Units with a single value are not pairable and are dropped."""
    return _alpha_statistic(table, distance).estimate()


def bootstrap_intervals(
    *, table: RatingTable, resamples: int = 1000, seed: int = 0, level: float = 0.95,
    statistics: Sequence[str] = HEADLINE,
) -> dict[str, Interval | None]:
    """Percentile bootstrap over items (the pairable ones), seeded.

    A resample is a column of multinomial counts (how often each item was
    drawn); every coefficient is a function of weighted sums of per-item
    contributions, so all of them are evaluated on a chunk of resamples at once
    with a few sparse products. ``None`` where the coefficient itself is
    undefined or every resample was.
    """
    if resamples < 1 or not 0 < level < 1:
        raise ValueError("resamples must be ≥ 1 and level between 0 and 1.")
    built = {name: _STATISTICS[name](table) for name in statistics}
    active = {name: stat for name, stat in built.items() if stat.combine is not None}
    intervals: dict[str, Interval | None] = {name: None for name in statistics}
    if not active:
        return intervals
    plan = _Plan(list(active.values()))
    n = table._units.n
    values = np.empty((len(active), resamples))
    rng = np.random.default_rng(seed)
    chunk = max(1, min(resamples, _CHUNK_ELEMENTS // n))
    # Buffers reused: a fresh 32 MB array per chunk costs more in page faults than the arithmetic.
    drawn, weights = np.empty((chunk, n)), np.empty((n, chunk))
    for start in range(0, resamples, chunk):
        size = min(chunk, resamples - start)
        if size < chunk:
            drawn, weights = np.empty((size, n)), np.empty((n, size))
        for row in range(size):
            drawn[row] = np.bincount(rng.integers(0, n, size=n), minlength=n)
        # (unit, resample) layout: sparse products and the one matrix product walk units in order.
        np.copyto(weights, drawn.T)
        values[:, start:start + size] = plan.evaluate(weights)
    tail = (1 - level) / 2
    for name, sample in zip(active, values):
        finite = sample[np.isfinite(sample)]
        if finite.size:
            low, high = np.quantile(finite, [tail, 1 - tail])
            intervals[name] = Interval(low=float(low), high=float(high), level=level, resamples=resamples,
                                       seed=seed, undefined=int(resamples - finite.size))
    return intervals


def per_category(*, table: RatingTable) -> tuple[CategoryAgreement, ...]:
    """One row per label, most used first.

    ``confused_with``: over items and pairs of raters whose label sets differ,
    how often one rater used this label and the other rater the other label
    (a ≠ b; symmetric). Binary κ values use the same items as the headline
    Cohen's and Fleiss' κ.
    """
    n_labels = len(table.labels)
    if not table.items:
        return ()
    incidence = sparse.csr_matrix(np.vstack([_incidence(table.set_words, n_labels),
                                             np.zeros((1, n_labels), dtype=bool)]), dtype=np.float64)
    missing_row = table.set_words.shape[0]  # the all-zero row stands for "not rated"
    codes = np.where(table.answers >= 0, table.answers, missing_row)
    per_rater = [incidence[codes[:, r]] for r in range(len(table.raters))]
    item_label = sum(per_rater[1:], per_rater[0]).tocsr()
    items_used = np.asarray((item_label > 0).sum(axis=0)).ravel()
    answers_used = np.asarray(item_label.sum(axis=0)).ravel().astype(int)

    cohen = _binary_cohen(table, per_rater)
    fleiss = _binary_fleiss(table, item_label)
    confusion = _confusion(table, incidence[:-1]).tocsr()

    rows = []
    for label in sorted(range(n_labels), key=lambda i: (-items_used[i], i)):
        start, end = confusion.indptr[label], confusion.indptr[label + 1]
        others = sorted(zip(confusion.indices[start:end], confusion.data[start:end]), key=lambda p: (-p[1], p[0]))
        rows.append(CategoryAgreement(
            label=table.labels[label], items=int(items_used[label]), answers=int(answers_used[label]),
            cohen_kappa=cohen[label], fleiss_kappa=fleiss[label],
            confused_with=tuple((table.labels[other], int(count)) for other, count in others if count),
        ))
    return tuple(rows)


def _binary_kappa(observed, expected, reasons: Sequence[str], *, items: int, excluded: int) -> list[Estimate]:
    """One estimate per label; a label with a reason gets None and the reason."""
    with np.errstate(divide="ignore", invalid="ignore"):
        kappa = (observed - expected) / (1 - expected)
    return [Estimate(value=None, items=items, excluded=excluded, reason=why) if why
            else Estimate(value=float(k), items=items, excluded=excluded) for k, why in zip(kappa, reasons)]


def _binary_cohen_reason(a: int, b: int, n: int) -> str:
    """Why a label's present/absent κ does not apply ("" when it does), from how
    many of the n common items each rater used it on."""
    if (a, b) in ((0, 0), (n, n)):
        return "both raters used it on every item or on none: expected agreement is 1, so κ is 0/0"
    constant = [count in (0, n) for count in (a, b)]
    if all(constant):
        return "one rater used it on every item, the other on none: κ is 0 by construction"
    if any(constant):
        how = "on every item" if (a if constant[0] else b) == n else "on no item"
        return (f"one rater used it {how}: observed agreement equals the agreement expected by chance, "
                "so κ is 0 by construction")
    return ""


def _binary_cohen(table: RatingTable, per_rater: list[sparse.csr_matrix]) -> list[Estimate]:
    headline = _cohen_statistic(table)
    if headline.items == 0:  # not two raters, or no item in common
        return [headline.estimate()] * len(table.labels)
    both = table._units.index  # with two raters, the pairable items are those both rated
    first, second = per_rater[0][both], per_rater[1][both]
    n = both.size
    a = np.asarray(first.sum(axis=0)).ravel()
    b = np.asarray(second.sum(axis=0)).ravel()
    together = np.asarray(first.multiply(second).sum(axis=0)).ravel()
    observed = (n - a - b + 2 * together) / n
    expected = (a * b + (n - a) * (n - b)) / (n * n)
    reasons = [_binary_cohen_reason(int(x), int(y), n) for x, y in zip(a, b)]
    return _binary_kappa(observed, expected, reasons, items=n, excluded=len(table.items) - n)


def _binary_fleiss(table: RatingTable, item_label: sparse.csr_matrix) -> list[Estimate]:
    n_labels = len(table.labels)
    if (missing := _no_units(table)) is not None:
        return [missing.estimate()] * n_labels
    u = table._units
    m, mask = _fleiss_items(u)
    chosen = item_label[u.index[mask]]
    n = chosen.shape[0]
    s1 = np.asarray(chosen.sum(axis=0)).ravel()
    s2 = np.asarray(chosen.multiply(chosen).sum(axis=0)).ravel()
    # P_i = (n_i1² + n_i0² − m) / (m(m − 1)) with n_i0 = m − n_i1, summed over items
    observed = (2 * s2 - 2 * m * s1 + n * m * (m - 1)) / (n * m * (m - 1))
    p = s1 / (n * m)
    expected = p * p + (1 - p) * (1 - p)
    reasons = ["used in every rating or in none on these items: expected agreement is 1, so κ is 0/0"
               if used in (0, n * m) else ONE_ITEM_FLEISS if n == 1 else "" for used in s1]
    return _binary_kappa(observed, expected, reasons, items=n, excluded=len(table.items) - n)


def _confusion(table: RatingTable, incidence: sparse.csr_matrix) -> sparse.spmatrix:
    n_sets = table.set_words.shape[0]
    pairs = sparse.csr_matrix((n_sets, n_sets))
    answers = table.answers
    for r in range(answers.shape[1]):
        for s in range(r + 1, answers.shape[1]):
            differ = (answers[:, r] >= 0) & (answers[:, s] >= 0) & (answers[:, r] != answers[:, s])
            pairs = pairs + sparse.csr_matrix(
                (np.ones(int(differ.sum())), (answers[differ, r], answers[differ, s])), shape=(n_sets, n_sets))
    confusion = (incidence.T @ (pairs + pairs.T) @ incidence).tolil()
    confusion.setdiag(0)
    return confusion


@dataclass(frozen=True)
class PairConfusion:
    """One ordered pair of raters (``a`` before ``b`` in the table's rater order): on the items
    both rated, how often ``a`` answered one label set and ``b`` another. ``cells`` holds
    ``(a's set, b's set, items)`` for every non-zero cell, a set being a tuple of labels in
    the table's label order; the diagonal (the same set) is agreement."""

    a: Hashable
    b: Hashable
    items: int  # items both rated: the sum of the cells
    agreed: int  # items on which they gave the same set: the diagonal
    cells: tuple[tuple[tuple[Hashable, ...], tuple[Hashable, ...], int], ...]


def pairwise_confusion(*, table: RatingTable) -> tuple[PairConfusion, ...]:
    """The confusion matrix of every pair of raters who rated an item in common, over label
    sets: the nominal categories of Cohen's κ, so that a pair's matrix is the table its κ is
    computed from (percent agreement of the pair = ``agreed / items``)."""
    sets = _incidence(table.set_words, len(table.labels))
    names = [tuple(table.labels[i] for i in np.flatnonzero(row)) for row in sets]
    n_sets = len(names)
    out = []
    answers = table.answers
    for r in range(answers.shape[1]):
        for s in range(r + 1, answers.shape[1]):
            both = (answers[:, r] >= 0) & (answers[:, s] >= 0)
            if not both.any():
                continue
            keys = answers[both, r].astype(np.int64) * n_sets + answers[both, s]
            cells, counts = np.unique(keys, return_counts=True)
            rows, cols = np.divmod(cells, n_sets)
            out.append(PairConfusion(
                a=table.raters[r], b=table.raters[s], items=int(both.sum()), agreed=int(counts[rows == cols].sum()),
                cells=tuple((names[i], names[j], int(c)) for i, j, c in zip(rows, cols, counts))))
    return tuple(out)


def agreement_report(
    *, table: RatingTable, resamples: int = 1000, seed: int = 0, level: float = 0.95,
) -> AgreementReport:
    """Every headline coefficient with its bootstrap interval (``resamples=0``:
    none), and the per-category table."""
    estimates = {name: _STATISTICS[name](table).estimate() for name in HEADLINE}
    if resamples:
        intervals = bootstrap_intervals(table=table, resamples=resamples, seed=seed, level=level)
        estimates = {name: replace(e, interval=intervals[name] if e.value is not None else None)
                     for name, e in estimates.items()}
    return AgreementReport(
        items=len(table.items), raters=table.raters, labels=table.labels, estimates=estimates,
        per_category=per_category(table=table), resamples=resamples, seed=seed, level=level,
    )
