"""Cross-validation of the classifier and of the keyword baseline on the same folds. No Django.

**Folds.** Stratified k-fold (scikit-learn ``StratifiedKFold``, shuffled with the model's seed).
A post may hold several categories, so the stratum is its *label combination* when every
combination that occurs has at least k posts; otherwise the post's rarest category (the one
with fewest posts overall), so that each category is spread over the folds as evenly as
single-label stratification would. The report says which was used.

**Figures.** Per fold, per category precision, recall and F1 (a post counted once per category,
one-vs-rest); micro (pooled over categories) and macro (mean over categories) P/R/F1. Each is
reported as the mean over folds with its standard deviation, minimum and maximum. The confusion
is given twice, pooled over folds: per category as a 2×2 table (TP, FP, FN, TN), and as a
category × category matrix whose cell (i, j) counts posts truly in i that the model put in j
(multi-label: a post counts in every pair of its true and predicted categories).

**Keyword baseline** (the published approach without the learnt part): a post gets a category
when its title or text holds one of that category's keywords (whole word, case-insensitive).
The keywords are the user's list for that category; for a category without one, the
``BASELINE_TERMS`` words most associated with it in the training fold (χ² of word presence,
counted only where the category is more frequent than elsewhere): learnt anew in every fold, so
the baseline is never scored on posts it was made from.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.feature_selection import chi2
from sklearn.model_selection import StratifiedKFold

from .features import TEXT, keyword_pattern, pipeline_build, pipeline_scores, scores_decide

BASELINE_TERMS = 5


def fold_strata(labels: np.ndarray, folds: int) -> tuple[np.ndarray, str]:
    """One stratum per post (rows of the boolean n×k ``labels``) and the rule used."""
    combinations = [tuple(np.flatnonzero(row)) for row in labels]
    counts = Counter(combinations)
    if min(counts.values()) >= folds:
        index = {combination: i for i, combination in enumerate(sorted(counts))}
        return np.array([index[c] for c in combinations]), "label combination"
    totals = labels.sum(axis=0)
    rarest = np.array([min(c, key=lambda j: (totals[j], j)) if c else -1 for c in combinations])
    return rarest, "rarest category of each post"


def fold_split(labels: np.ndarray, folds: int, seed: int) -> tuple[list[tuple[np.ndarray, np.ndarray]], str]:
    strata, rule = fold_strata(labels, folds)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    return list(splitter.split(np.zeros(len(strata)), strata)), rule


def confusion_counts(truth: np.ndarray, predicted: np.ndarray) -> dict[str, np.ndarray]:
    """Per category TP, FP, FN, TN (vectors of length k)."""
    t, p = truth.astype(bool), predicted.astype(bool)
    return {"tp": (t & p).sum(axis=0), "fp": (~t & p).sum(axis=0), "fn": (t & ~p).sum(axis=0),
            "tn": (~t & ~p).sum(axis=0)}


def _ratio(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return np.divide(a, b, out=np.zeros_like(a), where=b > 0)


def prf(truth: np.ndarray, predicted: np.ndarray) -> dict:
    """Per category and micro/macro precision, recall, F1 (0 where undefined)."""
    c = confusion_counts(truth, predicted)
    precision = _ratio(c["tp"], c["tp"] + c["fp"])
    recall = _ratio(c["tp"], c["tp"] + c["fn"])
    f1 = _ratio(2 * precision * recall, precision + recall)
    tp, fp, fn = c["tp"].sum(), c["fp"].sum(), c["fn"].sum()
    micro_p, micro_r = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
    micro_f1 = _ratio(2 * micro_p * micro_r, micro_p + micro_r)
    return {"precision": precision, "recall": recall, "f1": f1,
            "micro": {"precision": float(micro_p), "recall": float(micro_r), "f1": float(micro_f1)},
            "macro": {"precision": float(precision.mean()), "recall": float(recall.mean()), "f1": float(f1.mean())}}


def spread(values: Sequence[float]) -> dict:
    values = np.asarray(values, dtype=float)
    return {"mean": float(values.mean()), "sd": float(values.std(ddof=1)) if len(values) > 1 else 0.0,
            "min": float(values.min()), "max": float(values.max())}


def baseline_keywords(texts: Sequence[str], labels: np.ndarray, keywords: Sequence[Sequence[str]]) -> list[list[str]]:
    """Each category's keywords: the user's, else the words most associated with it in ``texts``."""
    result = [list(k) for k in keywords] if keywords else [[] for _ in range(labels.shape[1])]
    if all(result):
        return result
    vectorizer = CountVectorizer(binary=True, token_pattern=r"(?u)\b[^\W\d_][\w+#.-]*\w\b|\b[^\W\d_]\b",
                                 stop_words="english")
    try:
        presence = vectorizer.fit_transform(texts)
    except ValueError:  # nothing but stop words
        return result
    vocabulary = vectorizer.get_feature_names_out()
    for j in range(labels.shape[1]):
        if result[j]:
            continue
        inside = labels[:, j].astype(bool)
        if not inside.any() or inside.all():
            continue
        scores, _ = chi2(presence, inside)
        scores = np.nan_to_num(scores)
        rate_in = np.asarray(presence[inside].mean(axis=0)).ravel()
        rate_out = np.asarray(presence[~inside].mean(axis=0)).ravel()
        scores[rate_in <= rate_out] = 0
        best = [i for i in np.argsort(-scores, kind="stable")[:BASELINE_TERMS] if scores[i] > 0]
        result[j] = [str(vocabulary[i]) for i in best]
    return result


def baseline_predict(texts: Sequence[str], keywords: Sequence[Sequence[str]]) -> np.ndarray:
    patterns = [keyword_pattern(words) for words in keywords]
    out = np.zeros((len(texts), len(patterns)), dtype=bool)
    for j, pattern in enumerate(patterns):
        if pattern is not None:
            out[:, j] = [bool(pattern.search(text)) for text in texts]
    return out


def _summary(per_fold: list[dict], k: int) -> dict:
    per_category = [{name: spread([fold[name][j] for fold in per_fold]) for name in ("precision", "recall", "f1")}
                    for j in range(k)]
    overall = {average: {name: spread([fold[average][name] for fold in per_fold])
                         for name in ("precision", "recall", "f1")} for average in ("micro", "macro")}
    return {"per_category": per_category, **overall}


def cross_validate(*, matrix: np.ndarray, labels: np.ndarray, params: dict, keywords: Sequence[Sequence[str]],
                   seed: int, progress: Callable[[int, int], None] | None = None) -> dict:
    """The cross-validated report of the classifier and of the keyword baseline.

    ``matrix``: documents_matrix of the training posts; ``labels``: boolean n×k."""
    folds = int(params["folds"])
    splits, rule = fold_split(labels, folds, seed)
    texts = list(matrix[:, TEXT])
    k = labels.shape[1]
    out_of_fold = np.zeros_like(labels, dtype=bool)
    model_folds, baseline_folds, fold_sizes = [], [], []
    baseline_pooled = np.zeros_like(labels, dtype=bool)
    for number, (train, test) in enumerate(splits):
        pipeline = pipeline_build(params=params, keywords=keywords, seed=seed)
        pipeline.fit(matrix[train], labels[train].astype(int))
        decided = scores_decide(pipeline_scores(pipeline, matrix[test]), float(params["threshold"]))
        out_of_fold[test] = decided
        model_folds.append(prf(labels[test], decided))
        words = baseline_keywords([texts[i] for i in train], labels[train], keywords)
        guessed = baseline_predict([texts[i] for i in test], words)
        baseline_pooled[test] = guessed
        baseline_folds.append(prf(labels[test], guessed))
        fold_sizes.append(int(len(test)))
        if progress is not None:
            progress(number + 1, folds)
    confusion = confusion_counts(labels, out_of_fold)
    matrix_counts = labels.astype(int).T @ out_of_fold.astype(int)
    return {
        "folds": folds, "stratified_on": rule, "fold_sizes": fold_sizes,
        "model": _summary(model_folds, k), "baseline": _summary(baseline_folds, k),
        "confusion": {name: values.astype(int).tolist() for name, values in confusion.items()},
        "confusion_matrix": matrix_counts.astype(int).tolist(),
        "baseline_confusion": {name: values.astype(int).tolist()
                               for name, values in confusion_counts(labels, baseline_pooled).items()},
        # the out-of-fold decisions, one list of category indexes per post: what an estimate
        # resamples to carry the uncertainty of the confusion rates
        "out_of_fold": [np.flatnonzero(row).tolist() for row in out_of_fold],
    }
