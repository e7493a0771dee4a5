"""Pure statistics for question sets: a two-sample proportion test and
summaries of durations. Plain numbers in, plain numbers out; checked against
SciPy and hand-worked tables in the tests."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class ProportionTest:
    """χ² test of two proportions (a 2×2 table), df = 1."""

    x1: int
    n1: int
    x2: int
    n2: int
    chi2: float | None
    p_value: float | None
    chi2_corrected: float | None  # with Yates' continuity correction
    p_value_corrected: float | None
    df: int = 1
    undefined_reason: str = ""

    @property
    def p1(self) -> float | None:
        return self.x1 / self.n1 if self.n1 else None

    @property
    def p2(self) -> float | None:
        return self.x2 / self.n2 if self.n2 else None


def two_proportion_test(*, x1: int, n1: int, x2: int, n2: int) -> ProportionTest:
    """Pearson's χ² on [[x1, n1−x1], [x2, n2−x2]], with and without Yates'
    correction (the correction moves each |O−E| towards zero by 0.5, never past it,
    as ``scipy.stats.chi2_contingency`` does). Undefined — with the reason, never
    NaN — when a sample is empty or a column of the table is all zeros."""
    for name, value in (("x1", x1), ("n1", n1), ("x2", x2), ("n2", n2)):
        if value < 0:
            raise ValueError(f"{name} must not be negative")
    if x1 > n1 or x2 > n2:
        raise ValueError("a count cannot exceed its sample size")
    base = dict(x1=x1, n1=n1, x2=x2, n2=n2)
    if n1 == 0 or n2 == 0:
        return ProportionTest(**base, chi2=None, p_value=None, chi2_corrected=None, p_value_corrected=None,
                              undefined_reason="one of the sets has no questions")
    observed = np.array([[x1, n1 - x1], [x2, n2 - x2]], dtype=float)
    column = observed.sum(axis=0)
    if (column == 0).any():
        which = "has" if column[0] == 0 else "lacks"
        return ProportionTest(**base, chi2=None, p_value=None, chi2_corrected=None, p_value_corrected=None,
                              undefined_reason=f"no question in either set {which} the property: "
                                               "the proportions are equal (0 or 1) and χ² is undefined")
    expected = np.outer(observed.sum(axis=1), column) / observed.sum()
    diff = np.abs(observed - expected)
    chi2 = float((diff**2 / expected).sum())
    corrected = float((np.maximum(diff - 0.5, 0.0) ** 2 / expected).sum())
    return ProportionTest(
        **base,
        chi2=chi2,
        p_value=float(stats.chi2.sf(chi2, 1)),
        chi2_corrected=corrected,
        p_value_corrected=float(stats.chi2.sf(corrected, 1)),
    )


@dataclass(frozen=True)
class DurationSummary:
    n: int
    median: float | None
    q1: float | None
    q3: float | None
    minimum: float | None
    maximum: float | None
    # Box-plot whiskers: the furthest values within 1.5 IQR of the quartiles.
    whisker_low: float | None
    whisker_high: float | None
    outliers: int


def summarise_durations(values: Sequence[float]) -> DurationSummary:
    """Median and quartiles (NumPy's default linear interpolation, type 7 in
    Hyndman & Fan, as R's ``quantile``) of non-negative durations. Empty input
    gives n = 0 and no figures."""
    data = np.asarray([v for v in values if v is not None and not math.isnan(v)], dtype=float)
    if data.size == 0:
        return DurationSummary(0, None, None, None, None, None, None, None, 0)
    q1, median, q3 = (float(q) for q in np.percentile(data, [25, 50, 75]))
    iqr = q3 - q1
    inside = data[(data >= q1 - 1.5 * iqr) & (data <= q3 + 1.5 * iqr)]
    return DurationSummary(
        n=int(data.size),
        median=median,
        q1=q1,
        q3=q3,
        minimum=float(data.min()),
        maximum=float(data.max()),
        whisker_low=float(inside.min()),
        whisker_high=float(inside.max()),
        outliers=int(data.size - inside.size),
    )
