"""The agreement engine against published values, independent implementations
(scikit-learn, statsmodels, a textbook α written here with loops) and its
undefined cases."""

import json
import math
from collections import defaultdict

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import aggregate_raters
from statsmodels.stats.inter_rater import fleiss_kappa as statsmodels_fleiss

from taxonomy.review.agreement import statistics as st
from taxonomy.review.agreement.statistics import (
    RatingTable, agreement_report, bootstrap_intervals, cohen_kappa, fleiss_kappa, krippendorff_alpha,
    pairwise_agreement, per_category, percent_agreement,
)

# Fleiss (1971), as in Wikipedia "Fleiss' kappa": 10 subjects, 14 raters, counts per category 1..5.
FLEISS_EXAMPLE = [
    [0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7],
]
# Krippendorff (2011), "Computing Krippendorff's alpha-reliability": observers A–D, 12 units, None = missing.
KRIPPENDORFF_EXAMPLE = {
    "A": [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
    "B": [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
    "C": [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
    "D": [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],
}


def fleiss_example_table() -> RatingTable:
    triples = []
    for subject, row in enumerate(FLEISS_EXAMPLE):
        raters = iter(range(14))
        triples += [(subject, next(raters), category) for category, n in enumerate(row, 1) for _ in range(n)]
    return RatingTable.from_triples(triples)


def krippendorff_example_table() -> RatingTable:
    return RatingTable.from_triples(
        (unit, observer, value) for observer, values in KRIPPENDORFF_EXAMPLE.items()
        for unit, value in enumerate(values) if value is not None
    )


def cohen_example_table() -> RatingTable:
    # Wikipedia "Cohen's kappa": 20 yes/yes, 5 A-yes/B-no, 10 A-no/B-yes, 15 no/no.
    triples, item = [], 0
    for a, b, n in (("yes", "yes", 20), ("yes", "no", 5), ("no", "yes", 10), ("no", "no", 15)):
        for _ in range(n):
            triples += [(item, "A", a), (item, "B", b)]
            item += 1
    return RatingTable.from_triples(triples)


def random_triples(seed: int, *, items: int, raters: int, labels: int, missing: float = 0.0,
                   multi: float = 0.3) -> list[tuple[int, str, str]]:
    """Multi-label answers that agree more often than chance: each item has a
    true set that a rater copies 60 % of the time."""
    rng = np.random.default_rng(seed)
    names = [f"L{i}" for i in range(labels)]

    def draw() -> list[str]:
        size = 1 + int(rng.random() < multi) + int(rng.random() < multi / 3)
        return list(rng.choice(names, size=min(size, labels), replace=False))

    triples = []
    for item in range(items):
        truth = draw()
        for rater in range(raters):
            if rng.random() < missing:
                continue
            triples += [(item, f"r{rater}", label) for label in (truth if rng.random() < 0.6 else draw())]
    return triples


def answers_by_item(triples) -> dict:
    sets = defaultdict(set)
    for item, rater, label in triples:
        sets[item, rater].add(label)
    units = defaultdict(dict)
    for (item, rater), labels in sets.items():
        units[item][rater] = frozenset(labels)
    return units


def masi(a: frozenset, b: frozenset) -> float:
    if a == b:
        monotonicity = 1.0
    elif a <= b or b <= a:
        monotonicity = 2 / 3
    elif a & b:
        monotonicity = 1 / 3
    else:
        monotonicity = 0.0
    return 1 - len(a & b) / len(a | b) * monotonicity


def nominal(a, b) -> float:
    return float(a != b)


def reference_alpha(units: dict, delta) -> float:
    """Krippendorff's α from the coincidence matrix, written the textbook way."""
    coincidences = defaultdict(float)
    for ratings in units.values():
        values = list(ratings.values())
        m = len(values)
        if m < 2:
            continue
        for i, a in enumerate(values):
            for j, b in enumerate(values):
                if i != j:
                    coincidences[a, b] += 1 / (m - 1)
    totals = defaultdict(float)
    for (a, _), count in coincidences.items():
        totals[a] += count
    n = sum(totals.values())
    observed = sum(count * delta(a, b) for (a, b), count in coincidences.items())
    expected = sum(totals[a] * totals[b] * delta(a, b) for a in totals for b in totals)
    return 1 - (n - 1) * observed / expected


# ---------------------------------------------------------------- published values


def test_fleiss_kappa_published_example():
    result = fleiss_kappa(table=fleiss_example_table())
    assert result.value == pytest.approx(0.210, abs=5e-4)
    assert (result.items, result.excluded, result.reason) == (10, 0, "")


def test_krippendorff_alpha_nominal_published_example():
    result = krippendorff_alpha(table=krippendorff_example_table())
    assert result.value == pytest.approx(0.743, abs=5e-4)
    assert (result.items, result.excluded) == (11, 1)  # unit 12 has one value: not pairable
    # single labels: MASI is 0 for equal and 1 for different values, i.e. nominal
    assert krippendorff_alpha(table=krippendorff_example_table(), distance="masi").value == pytest.approx(result.value)


def test_cohen_kappa_published_example():
    table = cohen_example_table()
    assert cohen_kappa(table=table).value == pytest.approx(0.4)
    assert percent_agreement(table=table).value == pytest.approx(0.7)
    # two labels, one per answer: each label's present/absent κ is the same 2×2 table
    assert [c.cohen_kappa.value for c in per_category(table=table)] == [pytest.approx(0.4)] * 2


# ---------------------------------------------------------------- independent implementations


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_cohen_kappa_matches_scikit_learn_on_label_sets(seed):
    triples = random_triples(seed, items=300, raters=2, labels=6, missing=0.1)
    units = answers_by_item(triples)
    both = [ratings for ratings in units.values() if len(ratings) == 2]
    first = ["|".join(sorted(r["r0"])) for r in both]
    second = ["|".join(sorted(r["r1"])) for r in both]
    result = cohen_kappa(table=RatingTable.from_triples(triples))
    assert result.value == pytest.approx(cohen_kappa_score(first, second), abs=1e-12)
    assert result.items == len(both) and result.excluded == len(units) - len(both)


def test_per_category_cohen_kappa_matches_scikit_learn():
    triples = random_triples(4, items=400, raters=2, labels=5, missing=0.05, multi=0.5)
    # a label only r1 uses, on a few items: r0's present/absent judgement of it is constant
    triples += [(item, "r1", "only r1") for item in range(0, 400, 37)]
    units = [r for r in answers_by_item(triples).values() if len(r) == 2]
    categories = per_category(table=RatingTable.from_triples(triples))
    for category in categories:
        first = [category.label in r["r0"] for r in units]
        second = [category.label in r["r1"] for r in units]
        if category.label == "only r1":
            # scikit-learn's κ is exactly 0 whatever r1 did: p_o = p_e by construction, so no figure
            assert cohen_kappa_score(first, second) == pytest.approx(0, abs=1e-12)
            assert category.cohen_kappa.value is None
            assert category.cohen_kappa.reason.startswith("one rater used it on no item")
            assert "0 by construction" in category.cohen_kappa.reason
        else:
            assert category.cohen_kappa.value == pytest.approx(cohen_kappa_score(first, second), abs=1e-12)
    assert "only r1" in {c.label for c in categories}


@pytest.mark.parametrize("seed, raters", [(5, 3), (6, 5), (7, 2)])
def test_fleiss_kappa_matches_statsmodels(seed, raters):
    triples = random_triples(seed, items=250, raters=raters, labels=7)
    units = answers_by_item(triples)
    codes = {s: i for i, s in enumerate({s for r in units.values() for s in r.values()})}
    table, _ = aggregate_raters(np.array([[codes[s] for s in r.values()] for r in units.values()]))
    assert fleiss_kappa(table=RatingTable.from_triples(triples)).value == pytest.approx(
        statsmodels_fleiss(table, method="fleiss"), abs=1e-12)


def test_fleiss_kappa_with_missing_ratings_uses_the_items_with_the_modal_number():
    triples = random_triples(8, items=300, raters=4, labels=5, missing=0.08)
    units = answers_by_item(triples)
    full = [r for r in units.values() if len(r) == 4]  # with 8 % missing, 4 ratings is the most common count
    codes = {s: i for i, s in enumerate({s for r in units.values() for s in r.values()})}
    table, _ = aggregate_raters(np.array([[codes[s] for s in r.values()] for r in full]))
    result = fleiss_kappa(table=RatingTable.from_triples(triples))
    assert result.value == pytest.approx(statsmodels_fleiss(table), abs=1e-12)
    assert result.items == len(full) and result.excluded == len(units) - len(full) > 0
    assert "4 ratings" in result.note


def test_per_category_fleiss_kappa_matches_statsmodels():
    triples = random_triples(9, items=300, raters=3, labels=5, multi=0.5)
    units = list(answers_by_item(triples).values())
    for category in per_category(table=RatingTable.from_triples(triples)):
        present = np.array([[category.label in s for s in r.values()] for r in units], dtype=int)
        table, _ = aggregate_raters(present, n_cat=2)
        assert category.fleiss_kappa.value == pytest.approx(statsmodels_fleiss(table), abs=1e-12)


@pytest.mark.parametrize("seed, raters, labels", [(10, 2, 4), (11, 3, 6), (12, 5, 8), (13, 4, 130)])
def test_krippendorff_alpha_matches_the_textbook_formula(seed, raters, labels):
    # 130 labels: label sets span three 64-bit words
    triples = random_triples(seed, items=200, raters=raters, labels=labels, missing=0.25, multi=0.5)
    units = answers_by_item(triples)
    table = RatingTable.from_triples(triples)
    assert krippendorff_alpha(table=table).value == pytest.approx(reference_alpha(units, nominal), abs=1e-10)
    assert krippendorff_alpha(table=table, distance="masi").value == pytest.approx(
        reference_alpha(units, masi), abs=1e-10)


def test_masi_distance_cases():
    a, b, c = "a", "b", "c"
    triples = [(1, "x", a), (1, "y", a), (1, "y", b),  # subset: 1 − 1/2 · 2/3
               (2, "x", a), (2, "x", b), (2, "y", b), (2, "y", c),  # overlap: 1 − 1/3 · 1/3
               (3, "x", a), (3, "y", c)]  # disjoint: 1
    units = answers_by_item(triples)
    assert masi(frozenset("a"), frozenset("ab")) == pytest.approx(2 / 3)
    assert masi(frozenset("ab"), frozenset("bc")) == pytest.approx(8 / 9)
    assert krippendorff_alpha(table=RatingTable.from_triples(triples), distance="masi").value == pytest.approx(
        reference_alpha(units, masi))


def test_percent_and_pairwise_agreement_by_hand():
    triples = [(1, "x", "a"), (1, "y", "a"), (1, "z", "a"),  # all agree
               (2, "x", "a"), (2, "y", "a"), (2, "z", "b"),  # 1 of 3 pairs
               (3, "x", "a"), (3, "y", "a"), (3, "y", "b"),  # {a} vs {a, b}: different sets
               (4, "x", "a")]  # one rating: not counted
    table = RatingTable.from_triples(triples)
    assert percent_agreement(table=table).value == pytest.approx(1 / 3)
    assert pairwise_agreement(table=table).value == pytest.approx((1 + 1 / 3 + 0) / 3)
    assert percent_agreement(table=table).excluded == 1


def test_duplicate_triples_count_once_and_row_order_does_not_matter():
    triples = random_triples(14, items=50, raters=3, labels=4)
    shuffled = list(reversed(triples + triples[:20]))
    a, b = (agreement_report(table=RatingTable.from_triples(t), resamples=0).as_dict() for t in (triples, shuffled))
    for name in st.HEADLINE:  # summed in another order: equal up to rounding
        assert a[name] == (None if b[name] is None else pytest.approx(b[name], abs=1e-12)), name
    for one, two in zip(a["per_category"], b["per_category"]):
        assert one["fleiss_kappa"] == pytest.approx(two["fleiss_kappa"], abs=1e-12)
        assert {**one, "fleiss_kappa": None} == {**two, "fleiss_kappa": None}


def test_confusion_counts_pairs_of_labels_across_raters_whose_sets_differ():
    triples = [(1, "x", "a"), (1, "y", "b"),
               (2, "x", "a"), (2, "y", "a"), (2, "y", "c"),
               (3, "x", "b"), (3, "y", "b")]  # agree: no confusion
    confusion = {c.label: dict(c.confused_with) for c in per_category(table=RatingTable.from_triples(triples))}
    assert confusion == {"a": {"b": 1, "c": 1}, "b": {"a": 1}, "c": {"a": 1}}
    items = {c.label: (c.items, c.answers) for c in per_category(table=RatingTable.from_triples(triples))}
    assert items == {"a": (2, 3), "b": (2, 3), "c": (1, 1)}


# ---------------------------------------------------------------- undefined cases


def assert_no_nan(report) -> None:
    json.dumps(report.as_dict(), allow_nan=False)  # raises on NaN or infinity


def test_no_ratings():
    report = agreement_report(table=RatingTable.from_triples([]))
    assert_no_nan(report)
    data = report.as_dict()
    assert data["items"] == 0 and data["per_category"] == []
    for name in st.HEADLINE:
        assert data[name] is None and data["reasons"][name]


def test_one_rater_only():
    report = agreement_report(table=RatingTable.from_triples([(1, "x", "a"), (2, "x", "b")]))
    assert_no_nan(report)
    for name in st.HEADLINE:
        assert report.estimates[name].value is None
    assert "one rater" in report.estimates["krippendorff_alpha"].reason
    assert "two raters" in report.estimates["cohen_kappa"].reason


def test_every_rating_the_same_category():
    triples = [(i, r, "Pending") for i in range(5) for r in ("x", "y")]
    report = agreement_report(table=RatingTable.from_triples(triples), resamples=100)
    assert_no_nan(report)
    assert report.estimates["percent_agreement"].value == 1.0
    for name in ("cohen_kappa", "fleiss_kappa", "krippendorff_alpha", "krippendorff_alpha_masi"):
        estimate = report.estimates[name]
        assert estimate.value is None and estimate.interval is None
        assert "expected" in estimate.reason, estimate.reason
    assert report.per_category[0].cohen_kappa.value is None and report.per_category[0].cohen_kappa.reason


@pytest.mark.parametrize("second", [
    ["a", "b", "a", "c", "a", "b"],  # varies
    ["a", "a", "a", "a", "a", "b"],  # almost constant: κ 0 all the same
])
def test_a_rater_who_used_one_label_set_only_has_no_cohen_kappa_but_the_reason(second):
    """p_o = p_e whatever the other rater did: scikit-learn's 0 is fixed by the
    design, not measured, so the figure is None with the reason (README)."""
    first = ["a"] * len(second)
    triples = [(i, "x", a) for i, a in enumerate(first)] + [(i, "y", b) for i, b in enumerate(second)]
    report = agreement_report(table=RatingTable.from_triples(triples), resamples=200, seed=1)
    assert_no_nan(report)
    assert cohen_kappa_score(first, second) == pytest.approx(0, abs=1e-12)
    kappa = report.estimates["cohen_kappa"]
    assert kappa.value is None and kappa.interval is None and kappa.reason == st.COHEN_ONE_SET
    assert kappa.items == len(second)  # the items it would have used
    assert report.estimates["percent_agreement"].value == pytest.approx(second.count("a") / len(second))
    # Fleiss' κ and α are not fixed by one constant rater: they stay figures and match the references
    units = answers_by_item(triples)
    assert report.estimates["krippendorff_alpha"].value == pytest.approx(reference_alpha(units, nominal), abs=1e-12)
    codes = {v: k for k, v in enumerate(sorted(set(first + second)))}
    counts, _ = aggregate_raters(np.array([[codes[a], codes[b]] for a, b in zip(first, second)]))
    assert report.estimates["fleiss_kappa"].value == pytest.approx(statsmodels_fleiss(counts), abs=1e-12)
    for category in report.per_category:  # x's present/absent judgement of every label is constant
        assert category.cohen_kappa.value is None and "0 by construction" in category.cohen_kappa.reason
    data = report.as_dict()
    assert data["cohen_kappa"] is None and data["reasons"]["cohen_kappa"] == st.COHEN_ONE_SET
    assert all(c["cohen_kappa"] is None and c["reasons"]["cohen_kappa"] for c in data["per_category"])


def test_two_raters_each_with_one_label_set_of_their_own():
    triples = [(i, "x", "a") for i in range(4)] + [(i, "y", "b") for i in range(4)]
    report = agreement_report(table=RatingTable.from_triples(triples), resamples=0)
    assert cohen_kappa_score(["a"] * 4, ["b"] * 4) == 0
    assert report.estimates["cohen_kappa"].value is None
    assert report.estimates["cohen_kappa"].reason == st.COHEN_TWO_CONSTANT
    reasons = {c.label: c.cohen_kappa.reason for c in report.per_category}
    assert reasons == {label: "one rater used it on every item, the other on none: κ is 0 by construction"
                       for label in "ab"}
    assert report.estimates["percent_agreement"].value == 0


def test_one_pairable_item_fixes_alpha_and_fleiss_kappa_by_construction():
    # one item with three ratings (plus an item rated once, not pairable): α = 0 and Fleiss' κ = −1/(m − 1)
    triples = [(1, "x", "a"), (1, "y", "a"), (1, "z", "b"), (2, "x", "c")]
    units = {item: ratings for item, ratings in answers_by_item(triples).items() if len(ratings) >= 2}
    assert reference_alpha(units, nominal) == pytest.approx(0, abs=1e-12)
    assert reference_alpha(units, masi) == pytest.approx(0, abs=1e-12)
    assert statsmodels_fleiss(np.array([[2, 1]])) == pytest.approx(-1 / 2)
    report = agreement_report(table=RatingTable.from_triples(triples), resamples=100)
    assert_no_nan(report)
    for name in ("krippendorff_alpha", "krippendorff_alpha_masi"):
        estimate = report.estimates[name]
        assert estimate.value is None and estimate.reason == st.ONE_ITEM_ALPHA and estimate.items == 1
        assert estimate.note == "1 item with a single rating not pairable, left out"
    assert report.estimates["fleiss_kappa"].value is None
    assert report.estimates["fleiss_kappa"].reason == st.ONE_ITEM_FLEISS
    assert all(c.fleiss_kappa.value is None and c.fleiss_kappa.reason for c in report.per_category)
    assert report.estimates["percent_agreement"].value == 0  # a share is a measurement even on one item
    two_items = triples + [(2, "y", "c"), (2, "z", "a")]  # a second item with three ratings: figures again
    assert fleiss_kappa(table=RatingTable.from_triples(two_items)).value == pytest.approx(
        statsmodels_fleiss(np.array([[2, 1, 0], [1, 0, 2]])), abs=1e-12)
    assert krippendorff_alpha(table=RatingTable.from_triples(two_items)).value == pytest.approx(
        reference_alpha(answers_by_item(two_items), nominal))


def test_bootstrap_counts_resamples_with_a_constant_rater_as_undefined():
    """In a resample where one rater is constant κ is 0 by construction: left out and counted."""
    first = ["a"] * 9 + ["b"]
    second = ["a"] * 8 + ["b", "b"]
    triples = [(i, "x", a) for i, a in enumerate(first)] + [(i, "y", b) for i, b in enumerate(second)]
    table = RatingTable.from_triples(triples)
    assert cohen_kappa(table=table).value == pytest.approx(cohen_kappa_score(first, second))
    resamples = 400
    interval = bootstrap_intervals(table=table, resamples=resamples, seed=7)["cohen_kappa"]
    # the same multinomial draws, recomputed item by item
    rng = np.random.default_rng(7)
    n, constant, kappas = table._units.n, 0, []
    for _ in range(resamples):
        drawn = np.repeat(np.arange(n), np.bincount(rng.integers(0, n, size=n), minlength=n))
        a, b = [first[i] for i in drawn], [second[i] for i in drawn]
        if len(set(a)) == 1 or len(set(b)) == 1:
            constant += 1
        else:
            kappas.append(cohen_kappa_score(a, b))
    assert 0 < constant < resamples and interval.undefined == constant
    assert (interval.low, interval.high) == pytest.approx(tuple(np.quantile(kappas, [0.025, 0.975])), abs=1e-12)


def test_two_raters_without_a_common_item():
    report = agreement_report(table=RatingTable.from_triples([(1, "x", "a"), (2, "y", "b")]))
    assert report.estimates["cohen_kappa"].reason == "the two raters have no item in common"
    assert_no_nan(report)


def test_three_raters_have_no_cohen_kappa_and_unknown_distance_is_refused():
    table = RatingTable.from_triples(random_triples(15, items=20, raters=3, labels=3))
    assert cohen_kappa(table=table).value is None
    assert fleiss_kappa(table=table).value is not None
    with pytest.raises(ValueError):
        krippendorff_alpha(table=table, distance="interval")


# ---------------------------------------------------------------- bootstrap


def test_bootstrap_is_reproducible_and_contains_the_estimate():
    table = RatingTable.from_triples(random_triples(16, items=200, raters=2, labels=5, missing=0.1))
    first = bootstrap_intervals(table=table, resamples=300, seed=42)
    again = bootstrap_intervals(table=table, resamples=300, seed=42)
    other = bootstrap_intervals(table=table, resamples=300, seed=43)
    assert first == again and first != other
    for name in st.HEADLINE:
        point = st._STATISTICS[name](table).estimate().value
        assert first[name].low < point < first[name].high, name
        assert first[name].high - first[name].low < 0.5


def test_bootstrap_does_not_depend_on_the_chunk_size(monkeypatch):
    table = RatingTable.from_triples(random_triples(17, items=120, raters=3, labels=4, missing=0.1))
    whole = bootstrap_intervals(table=table, resamples=50, seed=3)
    monkeypatch.setattr(st, "_CHUNK_ELEMENTS", 7 * 120)  # 7 resamples per chunk, last one partial
    assert bootstrap_intervals(table=table, resamples=50, seed=3) == whole


def test_a_weighted_evaluation_equals_recomputing_on_the_resampled_items():
    """The bootstrap's weighted sums are the coefficients of the data set in
    which each item appears as often as its weight."""
    triples = random_triples(18, items=60, raters=3, labels=4, missing=0.15, multi=0.5)
    table = RatingTable.from_triples(triples)
    units = table._units
    weights = np.random.default_rng(0).multinomial(units.n, np.full(units.n, 1 / units.n))
    copies = [(f"{item}#{k}", rater, label) for item, rater, label in triples
              if (unit := np.flatnonzero(units.index == item)).size
              for k in range(weights[unit[0]])]
    resampled = RatingTable.from_triples(copies)
    for name in st.HEADLINE:
        stat = st._STATISTICS[name](table)
        if stat.combine is None:
            continue
        weighted = st._Plan([stat]).evaluate(weights.reshape(-1, 1).astype(float))[0][0]
        assert weighted == pytest.approx(st._STATISTICS[name](resampled).estimate().value, abs=1e-10), name


def test_report_as_dict_is_json_with_plain_numbers():
    report = agreement_report(table=krippendorff_example_table(), resamples=200, seed=1)
    data = json.loads(json.dumps(report.as_dict(), allow_nan=False))
    assert data["krippendorff_alpha"] == pytest.approx(0.743, abs=5e-4)
    assert data["cohen_kappa"] is None and "cohen_kappa" in data["reasons"]
    low, high = data["confidence_intervals"]["krippendorff_alpha"]
    assert low <= data["krippendorff_alpha"] <= high
    assert data["estimates"]["fleiss_kappa"]["items"] == 8  # the units with 4 values
    assert all(math.isfinite(c["fleiss_kappa"]) for c in data["per_category"] if c["fleiss_kappa"] is not None)
