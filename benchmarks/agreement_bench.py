"""Time the agreement engine on 100,000 items × 3 raters × 100 categories.

    .venv/bin/python benchmarks/agreement_bench.py [--items 100000] [--raters 3] [--resamples 1000] [--seed 7]

Synthetic but shaped like a reliability round: 100 categories (97 leaves in
ten root groups, plus False positive, Unclear, Pending), popularity skewed;
each item has a true label set (85 % one label, 13 % two, 2 % three, mostly
within one root); each rater copies it 80 % of the time, otherwise swaps a
label for a sibling, adds a sibling, drops one, or answers Unclear/Pending;
2 % of answers are missing. Prints the time of building the table, of every
point estimate and of the bootstrap, and of the ``krippendorff`` package's
nominal α on the same data (pip install '.[bench]'): as far as its units ×
values × values array fits in memory, i.e. on a prefix of the items when the
label sets are many. A report, never a test: nothing fails on speed.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from taxonomy.review.agreement import statistics as st  # noqa: E402

LEAVES, ROOT_SIZE = 97, 10
FALSE_POSITIVE, UNCLEAR, PENDING = 97, 98, 99
PACKAGE_MEMORY = 2**30  # for the krippendorff package's units × values × values array (it makes several)
LABELS = tuple(f"leaf {i:02d}" for i in range(LEAVES)) + ("False positive", "Unclear", "Pending")


def generate(*, items: int, raters: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(item, rater, label) code arrays, one row per label of an answer."""
    rng = np.random.default_rng(seed)
    popularity = 1 / np.arange(1, LEAVES + 1) ** 0.8
    popularity /= popularity.sum()

    def sibling(labels: np.ndarray) -> np.ndarray:
        root = labels // ROOT_SIZE
        return np.minimum(root * ROOT_SIZE + rng.integers(0, ROOT_SIZE, labels.size), LEAVES - 1)

    truth = np.full((items, 3), -1)
    truth[:, 0] = rng.choice(LEAVES, size=items, p=popularity)
    size = rng.choice([1, 2, 3], size=items, p=[0.85, 0.13, 0.02])
    within_root = rng.random(items) < 0.7
    for slot in (1, 2):
        has = size > slot
        truth[has, slot] = np.where(within_root[has], sibling(truth[has, 0]),
                                    rng.choice(LEAVES, size=int(has.sum()), p=popularity))
    special = rng.random(items)
    truth[special < 0.05] = [FALSE_POSITIVE, -1, -1]

    rows = []
    for rater in range(raters):
        answer = truth.copy()
        noise = rng.random(items)
        swap, add, drop, vague = noise < 0.08, (noise >= 0.08) & (noise < 0.12), \
            (noise >= 0.12) & (noise < 0.15), (noise >= 0.15) & (noise < 0.18)
        answer[swap, 0] = sibling(answer[swap, 0])
        free = add & (answer[:, 1] < 0)
        answer[free, 1] = sibling(answer[free, 0])
        answer[drop & (answer[:, 1] >= 0), 1] = -1
        answer[vague] = np.c_[np.where(rng.random(int(vague.sum())) < 0.5, UNCLEAR, PENDING),
                              np.full((int(vague.sum()), 2), -1)]
        answer[rng.random(items) < 0.02] = -1  # not rated
        item, slot = np.nonzero(answer >= 0)
        rows.append(np.c_[item, np.full(item.size, rater), answer[item, slot]])
    triples = np.vstack(rows)
    return triples[:, 0], triples[:, 1], triples[:, 2]


def timed(label: str, func, results: dict):
    start = time.perf_counter()
    value = func()
    elapsed = time.perf_counter() - start
    results[label] = elapsed
    shown = value.value if isinstance(value, st.Estimate) else ""
    print(f"  {label:<34} {elapsed:8.3f} s   {'' if shown == '' else f'{shown:.4f}' if shown is not None else 'None'}")
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--raters", type=int, default=3)
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    item, rater, label = generate(items=args.items, raters=args.raters, seed=args.seed)
    print(f"{args.items:,} items × {args.raters} raters × {len(LABELS)} categories: {item.size:,} rows "
          f"(seed {args.seed}); {os.cpu_count()} cores")
    times: dict[str, float] = {}
    names = [f"post {i}" for i in range(args.items)]
    raters = [f"rater {r}" for r in range(args.raters)]
    triples = list(zip([names[i] for i in item], [raters[r] for r in rater], [LABELS[c] for c in label]))
    timed("table from string triples", lambda: st.RatingTable.from_triples(triples), times)
    table = timed("table from code arrays", lambda: st.RatingTable.from_codes(
        items=names, raters=raters, labels=LABELS, item_codes=item, rater_codes=rater, label_codes=label), times)
    print(f"  ({table.set_words.shape[0]:,} distinct label sets)")

    print("point estimates (fresh table, so cached per-item pieces are built inside the timings):")
    table = st.RatingTable.from_codes(items=names, raters=raters, labels=LABELS, item_codes=item,
                                      rater_codes=rater, label_codes=label)
    start = time.perf_counter()
    timed("percent agreement", lambda: st.percent_agreement(table=table), times)
    timed("pairwise agreement", lambda: st.pairwise_agreement(table=table), times)
    timed("Cohen's κ (n/a unless 2 raters)", lambda: st.cohen_kappa(table=table), times)
    timed("Fleiss' κ", lambda: st.fleiss_kappa(table=table), times)
    timed("Krippendorff's α nominal", lambda: st.krippendorff_alpha(table=table), times)
    timed("Krippendorff's α MASI", lambda: st.krippendorff_alpha(table=table, distance="masi"), times)
    timed("per-category table", lambda: st.per_category(table=table), times)
    print(f"  {'all point estimates together':<34} {time.perf_counter() - start:8.3f} s   (target < 1 s)")

    start = time.perf_counter()
    intervals = st.bootstrap_intervals(table=table, resamples=args.resamples, seed=1)
    elapsed = time.perf_counter() - start
    print(f"bootstrap, {args.resamples} resamples, all headline coefficients: {elapsed:.3f} s (target < 20 s)")
    for name, interval in intervals.items():
        print(f"  {name:<26} {'n/a' if interval is None else f'[{interval.low:.4f}, {interval.high:.4f}]'}")

    if len(raters) > 2:
        pair = st.RatingTable(items=table.items, raters=table.raters[:2], labels=table.labels,
                              answers=table.answers[:, :2], set_words=table.set_words)
        print("Cohen's κ, on the first two raters only:")
        timed("Cohen's κ (fresh table)", lambda: st.cohen_kappa(table=pair), times)
        start = time.perf_counter()
        interval = st.bootstrap_intervals(table=pair, resamples=args.resamples, seed=1,
                                          statistics=("cohen_kappa",))["cohen_kappa"]
        print(f"  {'bootstrap, ' + str(args.resamples) + ' resamples':<34} {time.perf_counter() - start:8.3f} s   "
              f"[{interval.low:.4f}, {interval.high:.4f}]")

    try:
        import krippendorff
    except ImportError:
        print("krippendorff package not installed (pip install '.[bench]'): comparison skipped")
        return
    compare_with_package(krippendorff, table)


def compare_with_package(krippendorff, table: st.RatingTable) -> None:
    """The package builds a units × values × values array (values = distinct
    label sets here), which for the whole data set would not fit in memory. So
    it runs on the largest prefix of items that fits PACKAGE_MEMORY, and ours is
    timed on the same prefix too."""
    def needed(n: int) -> int:
        prefix = table.answers[:n]
        values = np.unique(prefix[prefix >= 0]).size
        return n * values * values * 8

    n = len(table.items)
    if needed(n) > PACKAGE_MEMORY:
        low, high = 1, n  # the largest prefix that fits: needed() only grows with n
        while low < high:
            middle = (low + high + 1) // 2
            low, high = (middle, high) if needed(middle) <= PACKAGE_MEMORY else (low, middle - 1)
        print(f"krippendorff package: the whole data set needs a units × values × values array of "
              f"{needed(n) / 2**30:,.0f} GiB (values: the {table.set_words.shape[0]:,} distinct label sets); "
              f"compared on the first {low:,} items ({needed(low) / 2**30:.1f} GiB)")
        n = low
    prefix = table.answers[:n]
    # raters × units, NaN for missing; the label-set code is the nominal value
    data = np.where(prefix >= 0, prefix, np.nan).T.astype(float)
    start = time.perf_counter()
    theirs = krippendorff.alpha(reliability_data=data, level_of_measurement="nominal")
    theirs_time = time.perf_counter() - start
    sub = st.RatingTable(items=table.items[:n], raters=table.raters, labels=table.labels, answers=prefix,
                         set_words=table.set_words)
    start = time.perf_counter()
    ours = st.krippendorff_alpha(table=sub).value
    ours_time = time.perf_counter() - start
    print(f"  krippendorff.alpha (nominal)  {theirs_time:8.3f} s   α = {theirs:.6f}")
    print(f"  ours, α nominal               {ours_time:8.3f} s   α = {ours:.6f}   "
          f"(difference {abs(theirs - ours):.1e})")


if __name__ == "__main__":
    main()
