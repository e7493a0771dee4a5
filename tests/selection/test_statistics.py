"""The proportion test against SciPy and a hand-worked table; duration summaries."""

import math

import numpy as np
import pytest
from scipy.stats import chi2_contingency

from sampling.question_sets.statistics import summarise_durations, two_proportion_test


def test_hand_worked_two_by_two_table():
    # 30 of 100 vs 50 of 100 without an accepted answer. Expected counts are
    # 40/60 in each row; χ² = Σ (O−E)²/E = 2·(10²/40 + 10²/60) = 8.3333…;
    # with Yates: 2·(9.5²/40 + 9.5²/60) = 7.5208…
    result = two_proportion_test(x1=30, n1=100, x2=50, n2=100)
    assert result.chi2 == pytest.approx(25 / 3)
    assert result.chi2_corrected == pytest.approx(2 * (9.5**2 / 40 + 9.5**2 / 60))
    assert result.p_value == pytest.approx(0.0038924, abs=1e-6)
    assert result.p_value_corrected == pytest.approx(0.0060989, abs=1e-6)
    assert result.df == 1 and (result.p1, result.p2) == (0.3, 0.5)


@pytest.mark.parametrize("seed", range(25))
def test_agrees_with_scipy_on_random_tables(seed):
    rng = np.random.default_rng(seed)
    n1, n2 = (int(v) for v in rng.integers(1, 400, size=2))
    x1, x2 = int(rng.integers(0, n1 + 1)), int(rng.integers(0, n2 + 1))
    result = two_proportion_test(x1=x1, n1=n1, x2=x2, n2=n2)
    table = np.array([[x1, n1 - x1], [x2, n2 - x2]])
    if (table.sum(axis=0) == 0).any():
        assert result.chi2 is None and result.undefined_reason
        return
    plain = chi2_contingency(table, correction=False)
    yates = chi2_contingency(table, correction=True)
    assert result.chi2 == pytest.approx(plain.statistic)
    assert result.p_value == pytest.approx(plain.pvalue)
    assert result.chi2_corrected == pytest.approx(yates.statistic)
    assert result.p_value_corrected == pytest.approx(yates.pvalue)


def test_small_differences_are_not_over_corrected():
    # |O−E| < 0.5 in every cell: the corrected statistic is 0, not negative.
    result = two_proportion_test(x1=5, n1=10, x2=5, n2=11)
    assert result.chi2_corrected == 0.0 and result.p_value_corrected == pytest.approx(1.0)


@pytest.mark.parametrize(
    "x1, n1, x2, n2, reason",
    [(0, 0, 3, 10, "no questions"), (0, 10, 0, 20, "equal"), (10, 10, 20, 20, "equal")],
)
def test_undefined_cases_say_why_and_never_give_nan(x1, n1, x2, n2, reason):
    result = two_proportion_test(x1=x1, n1=n1, x2=x2, n2=n2)
    assert result.chi2 is None and result.p_value is None and reason in result.undefined_reason


def test_impossible_counts_are_refused():
    with pytest.raises(ValueError):
        two_proportion_test(x1=11, n1=10, x2=0, n2=5)
    with pytest.raises(ValueError):
        two_proportion_test(x1=-1, n1=10, x2=0, n2=5)


def test_duration_summary_quartiles_and_whiskers():
    summary = summarise_durations([1, 2, 3, 4, 5, 6, 7, 8, 100])
    assert (summary.n, summary.median, summary.q1, summary.q3) == (9, 5.0, 3.0, 7.0)
    assert (summary.minimum, summary.maximum) == (1.0, 100.0)
    assert (summary.whisker_low, summary.whisker_high, summary.outliers) == (1.0, 8.0, 1)
    assert summarise_durations([4.0, 2.0]).median == 3.0


def test_empty_durations_have_no_figures():
    summary = summarise_durations([None, math.nan])
    assert summary.n == 0 and summary.median is None and summary.outliers == 0
