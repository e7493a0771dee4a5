"""How a finished run is read: the headline coefficient on a published interpretation
scale, and a pair of raters' confusion matrix as a heat map. Pure functions over the
run's stored result (the job computed everything; a page only arranges it).

Scales
------
* **Landis & Koch (1977)**, "The measurement of observer agreement for categorical data",
  *Biometrics* 33(1):159–174: κ < 0 poor, 0–0.20 slight, 0.21–0.40 fair, 0.41–0.60
  moderate, 0.61–0.80 substantial, 0.81–1.00 almost perfect. Their bands are written to two
  decimals; here a band runs up to and including its upper bound (0.205 is fair).
* **Krippendorff (2004)**, *Content Analysis: An Introduction to Its Methodology*, 2nd ed.,
  p. 241: rely on variables with α ≥ .800; consider those with .667 ≤ α < .800 only for
  tentative conclusions; below .667, do not rely on them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# The picture of a scale is 1000 units wide (an SVG viewBox; CSS grid columns in agreement.css).
SCALE_WIDTH = 1000
HEAT_BUCKETS = 10  # .heat-0 (an empty cell) … .heat-9 (the largest count), in agreement.css
MATRIX_SETS_SHOWN = 30  # rows (and columns) of a matrix on the page; the rest are added up in one
OTHER = -1  # the row and column of the label sets added up


@dataclass(frozen=True)
class Band:
    key: str
    name: str
    bounds: str  # as the source writes them
    high: float  # a value ≤ high (and above the previous band's high) is in this band


@dataclass(frozen=True)
class Scale:
    key: str
    title: str
    citation: str
    bands: tuple[Band, ...]
    low: float  # the left end of the picture: a value below it is drawn at the edge
    high: float = 1.0

    def band(self, value: float) -> Band:
        for band in self.bands:
            if value <= band.high:
                return band
        return self.bands[-1]

    def x(self, value: float) -> int:
        """Where ``value`` falls on the picture, in viewBox units (clipped to it)."""
        share = (min(max(value, self.low), self.high) - self.low) / (self.high - self.low)
        return round(share * SCALE_WIDTH)


LANDIS_KOCH = Scale(
    key="landis-koch", title="Landis & Koch (1977)",
    citation=("Landis, J. R. & Koch, G. G. (1977). The measurement of observer agreement for categorical data. "
              "Biometrics, 33(1), 159–174."),
    bands=(Band("poor", "poor", "< 0", -1e-12), Band("slight", "slight", "0–0.20", 0.20),
           Band("fair", "fair", "0.21–0.40", 0.40), Band("moderate", "moderate", "0.41–0.60", 0.60),
           Band("substantial", "substantial", "0.61–0.80", 0.80),
           Band("almost-perfect", "almost perfect", "0.81–1.00", math.inf)),
    low=-0.2)  # six bands of equal width: poor is drawn from −0.2, anything lower at its left edge
KRIPPENDORFF = Scale(
    key="krippendorff", title="Krippendorff (2004)",
    citation=("Krippendorff, K. (2004). Content Analysis: An Introduction to Its Methodology (2nd ed.), p. 241. "
              "Sage."),
    bands=(Band("unreliable", "not to be relied on", "α < .667", 0.667 - 1e-12),
           Band("tentative", "tentative conclusions only", ".667 ≤ α < .800", 0.800 - 1e-12),
           Band("reliable", "reliable", "α ≥ .800", math.inf)),
    low=0.0)
SCALES = {"cohen_kappa": LANDIS_KOCH, "fleiss_kappa": LANDIS_KOCH,
          "krippendorff_alpha": KRIPPENDORFF, "krippendorff_alpha_masi": KRIPPENDORFF}


def scale_for(name: str) -> Scale | None:
    """The scale a coefficient is read on (κ: Landis & Koch; α: Krippendorff), or None (a share)."""
    return SCALES.get(name)


@dataclass(frozen=True)
class BandView:
    band: Band
    holds_value: bool
    in_interval: bool  # the interval reaches into this band


@dataclass(frozen=True)
class Headline:
    coefficient: object  # selectors.Coefficient
    why: str
    scale: Scale
    band: Band
    bands: tuple[BandView, ...]
    x: int
    low_x: int | None
    high_x: int | None
    interval_bands: tuple[Band, ...]  # the bands the interval spans, low to high

    @property
    def interval_width(self) -> int:
        return max(2, self.high_x - self.low_x) if self.low_x is not None and self.high_x is not None else 0

    @property
    def interval_text(self) -> str:
        """Where the interval lies on the scale, in words."""
        if not self.interval_bands:
            return "no interval (0 resamples)"
        if len(self.interval_bands) == 1:
            return f"the interval lies within {self.interval_bands[0].name}"
        return f"the interval spans {self.interval_bands[0].name} to {self.interval_bands[-1].name}"

    @property
    def marker_x(self) -> int:
        """The left edge of the value's mark (6 units wide, centred on the value)."""
        return self.x - 3


def headline(*, coefficients, raters: int) -> Headline | None:
    """The coefficient to lead with and where it falls: Cohen's κ for exactly two raters,
    else Fleiss' κ, else Krippendorff's α (nominal), the first that is defined."""
    by_name = {c.name: c for c in coefficients}
    choices = [("cohen_kappa", "two raters: Cohen's κ on the items both rated")] if raters == 2 else []
    choices += [("fleiss_kappa", f"{raters} raters: Fleiss' κ on the items with the most common number of ratings"),
                ("krippendorff_alpha", "Krippendorff's α (nominal), which allows any number of ratings per item")]
    for name, why in choices:
        c = by_name.get(name)
        if c is None or c.value is None:
            continue
        scale = SCALES[name]
        band = scale.band(c.value)
        has_interval = c.low is not None and c.high is not None
        spanned = tuple(b for b in scale.bands
                        if has_interval and scale.band(c.low).high <= b.high <= scale.band(c.high).high)
        return Headline(
            coefficient=c, why=why, scale=scale, band=band,
            bands=tuple(BandView(b, b == band, b in spanned) for b in scale.bands),
            x=scale.x(c.value), low_x=scale.x(c.low) if has_interval else None,
            high_x=scale.x(c.high) if has_interval else None, interval_bands=spanned)
    return None


def coefficient_reading(name: str, value: float | None) -> str:
    """"substantial" (Landis & Koch) / "reliable" (Krippendorff) for a coefficient's value; "" for a share."""
    scale = SCALES.get(name)
    if scale is None or value is None:
        return ""
    return scale.band(value).name


# -- the confusion matrix ----------------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    count: int
    heat: int  # 0 … HEAT_BUCKETS − 1
    agree: bool  # on the diagonal
    column: dict


@dataclass(frozen=True)
class MatrixRow:
    set: dict  # {"keys", "name", "special"}
    number: int
    cells: tuple[Cell, ...]
    total: int


@dataclass(frozen=True)
class Matrix:
    index: int  # which pair, in the stored order
    a: str
    b: str
    items: int
    agreed: int
    columns: tuple[dict, ...]  # the label sets, numbered like the rows
    rows: tuple[MatrixRow, ...]
    column_totals: tuple[int, ...]
    largest: int
    folded: int  # label sets added up in the last row and column (0: none)
    pairs: tuple[tuple[int, str], ...]  # (index, "a × b") of every pair, to choose from

    @property
    def heat_buckets(self) -> range:
        return range(HEAT_BUCKETS)

    @property
    def agreed_share(self) -> float:
        return self.agreed / self.items if self.items else 0.0


def heat_bucket(count: int, largest: int) -> int:
    """0 for an empty cell; otherwise 1 … 9 in proportion to the largest count."""
    if count <= 0 or largest <= 0:
        return 0
    return max(1, min(HEAT_BUCKETS - 1, math.ceil((HEAT_BUCKETS - 1) * count / largest)))


def confusion_matrix(*, stored: dict | None, pair: int | None = None, shown: int = MATRIX_SETS_SHOWN
                     ) -> Matrix | None:
    """Pair number ``pair`` (default the first) of the stored matrices as rows of cells: the rows
    and columns are the label sets either rater used, in the same order, so the diagonal is
    agreement. Beyond ``shown`` sets, those with the fewest items are added up in one last row
    and column, "other label sets" (the downloads have every cell). None when the run stored
    none (no two raters rated an item in common, or the run predates the matrices)."""
    if not stored or not stored.get("pairs"):
        return None
    pairs = stored["pairs"]
    index = pair if pair is not None and 0 <= pair < len(pairs) else 0
    chosen, sets = pairs[index], stored["sets"]
    cells_stored = chosen["cells"]
    weight: dict[int, int] = {}
    for row, column, count in cells_stored:
        weight[row] = weight.get(row, 0) + count
        weight[column] = weight.get(column, 0) + count
    used = sorted(weight)
    folded = 0
    if len(used) > shown:
        kept = set(sorted(used, key=lambda i: (-weight[i], i))[:shown - 1])
        folded = len(used) - len(kept)
        used = [*sorted(kept), OTHER]
        sets = {**dict(enumerate(sets)), OTHER: {"keys": [], "name": f"{folded} other label sets", "special": True}}
    place = {i: i for i in used}
    counts: dict[tuple[int, int], int] = {}
    for row, column, count in cells_stored:
        key = (place.get(row, OTHER), place.get(column, OTHER))
        counts[key] = counts.get(key, 0) + count
    largest = max(counts.values(), default=0)
    rows = []
    for number, row in enumerate(used, start=1):
        cells = tuple(Cell(count=counts.get((row, column), 0), heat=heat_bucket(counts.get((row, column), 0), largest),
                           agree=row == column and row != OTHER, column=sets[column]) for column in used)
        rows.append(MatrixRow(set=sets[row], number=number, cells=cells, total=sum(c.count for c in cells)))
    column_totals = tuple(sum(counts.get((row, column), 0) for row in used) for column in used)
    return Matrix(index=index, a=chosen["a"], b=chosen["b"], items=chosen["items"], agreed=chosen["agreed"],
                  columns=tuple(sets[i] for i in used), rows=tuple(rows), column_totals=column_totals,
                  largest=largest, folded=folded, pairs=tuple((i, f"{p['a']} × {p['b']}") for i, p in enumerate(pairs)))
