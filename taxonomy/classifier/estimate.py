"""Shares of each category over posts nobody coded, corrected for the classifier's errors. No Django.

**Method: adjusted classify-and-count with a bootstrap interval.** For one category, let p be
the share of the unsampled posts the model puts in it, and TPR/FPR its cross-validated true- and
false-positive rates. Then the true share is estimated by

    π̂ = (p − FPR) / (TPR − FPR), clipped to [0, 1]

(the misclassification correction of Rogan & Gladen 1978, "Estimating prevalence from the
results of a screening test", Am J Epidemiol 107:71–76; Gart & Buck 1966; used for quantification
as "adjusted classify and count" by Forman 2008, "Quantifying counts and costs via
classification", Data Min Knowl Disc 17:164–206).

The 95 % interval is a percentile bootstrap (B replicates, seeded) that carries both sources of
error: in each replicate the cross-validated posts are resampled with replacement (so TPR and
FPR vary as their finite validation sample allows) and the observed share is redrawn as
Binomial(N, p)/N (the sampling noise of p over N posts); π̂ is recomputed and the 2.5th and
97.5th percentiles taken. Where TPR − FPR is too small to divide by (≤ ``MIN_SEPARATION``) the
category is flagged and its estimate is the uncorrected share.

The hand-coded sample's share has a Wilson score interval (Wilson 1927).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.stats import norm

METHOD = ("Adjusted classify-and-count (Rogan & Gladen 1978; Forman 2008) with a percentile bootstrap "
          "resampling the cross-validated predictions (TPR/FPR) and the binomial noise of the observed share; "
          "sample shares with Wilson intervals (Wilson 1927).")
MIN_SEPARATION = 0.05
BOOTSTRAP = 1000


@dataclass(frozen=True)
class AdjustedShare:
    observed: float  # share the model assigns
    estimate: float
    low: float
    high: float
    tpr: float
    fpr: float
    adjusted: bool  # False: TPR − FPR too small, the observed share is reported


def rates(truth: np.ndarray, predicted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per column TPR and FPR (boolean n×k arrays); 0 where a column has no positives/negatives."""
    t, p = truth.astype(bool), predicted.astype(bool)
    positives, negatives = t.sum(axis=0), (~t).sum(axis=0)
    tpr = np.divide((t & p).sum(axis=0), positives, out=np.zeros(t.shape[1]), where=positives > 0)
    fpr = np.divide((~t & p).sum(axis=0), negatives, out=np.zeros(t.shape[1]), where=negatives > 0)
    return tpr, fpr


def _adjust(observed, tpr, fpr):
    separation = tpr - fpr
    safe = separation > MIN_SEPARATION
    adjusted = np.where(safe, (observed - fpr) / np.where(safe, separation, 1.0), observed)
    return np.clip(adjusted, 0.0, 1.0), safe


def adjusted_shares(*, predicted_counts: np.ndarray, total: int, cv_truth: np.ndarray, cv_predicted: np.ndarray,
                    seed: int, replicates: int = BOOTSTRAP, level: float = 0.95) -> list[AdjustedShare]:
    """One AdjustedShare per category. ``predicted_counts``: posts the model put in each category
    out of ``total``; ``cv_truth``/``cv_predicted``: the cross-validated posts' boolean n×k
    true and out-of-fold predicted categories."""
    predicted_counts = np.asarray(predicted_counts, dtype=float)
    k = len(predicted_counts)
    observed = predicted_counts / total if total else np.zeros(k)
    tpr, fpr = rates(cv_truth, cv_predicted)
    estimate, safe = _adjust(observed, tpr, fpr)
    rng = np.random.default_rng(seed)
    n = len(cv_truth)
    draws = np.empty((replicates, k))
    truth, predicted = cv_truth.astype(bool), cv_predicted.astype(bool)
    for b in range(replicates):
        rows = rng.integers(0, n, n)
        tpr_b, fpr_b = rates(truth[rows], predicted[rows])
        observed_b = rng.binomial(total, observed) / total if total else observed
        draws[b] = np.where(safe, _adjust(observed_b, tpr_b, fpr_b)[0], observed_b)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(draws, [tail, 100 - tail], axis=0)
    return [AdjustedShare(observed=float(observed[j]), estimate=float(estimate[j]),
                          low=float(min(low[j], estimate[j])), high=float(max(high[j], estimate[j])),
                          tpr=float(tpr[j]), fpr=float(fpr[j]), adjusted=bool(safe[j])) for j in range(k)]


def wilson(successes: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a proportion; (0, 1) when n is 0."""
    if n <= 0:
        return 0.0, 1.0
    z = float(norm.ppf(1 - (1 - level) / 2))
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)
