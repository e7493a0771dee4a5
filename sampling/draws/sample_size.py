"""Sample size for estimating a proportion, with the finite-population correction.

    n₀ = z² · p(1 − p) / e²            z: the exact normal quantile for the confidence
    n  = n₀ / (1 + (n₀ − 1) / N)       (Cochran's correction for a population of N)

Pure: numbers in, numbers out. For 95 % and ±5 %: N = 1,325 gives 297.98
(ceil 298, floor 297); N = 1,533 gives 307.33; a large N tends to 384.15.

Where the formula degenerates. The corrected n is the smallest real n with
n · (N − 1 + n₀) ≥ n₀ · N, i.e. the sample whose (finite-population) variance
p(1 − p)/n · (N − n)/(N − 1) stays within (e/z)²:

* n₀ = 0 (p = 0 or 1, or a confidence so low that z = 0) assumes every post is
  alike: the bound holds for any sample, so ``exact`` is 0 — for every N,
  including N = 1, where the written formula is 0/0. But a proportion is only
  estimated from at least one post (p̂ = x/n needs n ≥ 1), so ``n`` is 1, with
  a note saying why. (n = 0 would leave the stratum out of the study; n = 1
  is also what ceil gives as p approaches 0 or 1.)
* Likewise, whenever the bound rounds below one post (a tiny n₀, floor or
  nearest rounding), n is 1, with a note; n never exceeds N (a census).
* N = 1 gives n = 1 whatever p: the one post is the census.
* The correction is computed in exact rational arithmetic, so any whole N
  works (N only ever lowers n, to at most n₀); a margin so small that n₀
  overflows a float (e < ~1e-154) is refused, as it would mean a census anyway.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from fractions import Fraction
from numbers import Integral, Real
from statistics import NormalDist

ROUNDINGS = ("ceil", "floor", "nearest")
# exact values such as 116.00000000000001 must not round up to 117
_EPSILON = 1e-9


@dataclass(frozen=True)
class SampleSize:
    population: int
    confidence: float
    margin: float
    proportion: float
    rounding: str
    z: float
    n0: float
    exact: float
    n: int
    note: str = ""  # why n is not the rounded ``exact`` (n₀ = 0, or a bound below one post)

    def as_dict(self) -> dict:
        return asdict(self)


class SampleSizeInputError(ValueError):
    """Input out of range: ``field`` names the argument at fault (population, confidence, margin,
    proportion or rounding), the message is a sentence a user can act on."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def _check(population, confidence, margin, proportion, rounding) -> int:
    if isinstance(population, bool) or not isinstance(population, Real) or (
            not isinstance(population, Integral) and not (math.isfinite(population) and population == int(population))):
        raise SampleSizeInputError("population", "The population N must be a whole number.")
    population = int(population)
    if population < 1:
        raise SampleSizeInputError("population", "The population N must be at least 1 (an empty set has nothing to sample).")
    for name, value in (("confidence", confidence), ("margin", margin), ("proportion", proportion)):
        if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
            raise SampleSizeInputError(name, f"The {name} must be a finite number.")
    if not 0 < confidence < 1:
        raise SampleSizeInputError("confidence", "The confidence level must be between 0 and 1, exclusive (e.g. 0.95).")
    if not 0 < margin < 1:
        raise SampleSizeInputError("margin", "The margin of error must be between 0 and 1, exclusive (e.g. 0.05 for ±5 %).")
    if not 0 <= proportion <= 1:
        raise SampleSizeInputError("proportion", "The expected proportion p must be between 0 and 1 (0.5 is the conservative choice).")
    if rounding not in ROUNDINGS:
        raise SampleSizeInputError("rounding", f"Rounding must be one of {', '.join(ROUNDINGS)}.")
    return population


def sample_size(
    *, population: int, confidence: float = 0.95, margin: float = 0.05, proportion: float = 0.5,
    rounding: str = "ceil",
) -> SampleSize:
    """Raises SampleSizeInputError (a ValueError naming the field at fault) with a sentence a user
    can act on for any input out of range."""
    population = _check(population, confidence, margin, proportion, rounding)
    # the lower tail: (1 − c)/2 stays exact for a confidence near 1, where 1 − (1 − c)/2 rounds to 1
    z = abs(NormalDist().inv_cdf((1 - confidence) / 2))  # agrees with scipy's norm.ppf to 1e-15
    n0 = (z / margin) * (z / margin) * proportion * (1 - proportion)
    if not math.isfinite(n0):
        raise SampleSizeInputError("margin", f"The margin of error {margin:g} is too small to compute n₀ = z²·p(1−p)/e²: "
                         "a margin this small means a census (n = N).")
    if n0 == 0:
        exact = 0.0
    else:  # n₀·N / (n₀ + N − 1), exactly: no overflow for a large N, 1 (not 0/0-ish noise) for N = 1
        exact = float(Fraction(population) / (1 + Fraction(population - 1) / Fraction(n0)))
    if rounding == "ceil":
        rounded = math.ceil(exact - _EPSILON)
    elif rounding == "floor":
        rounded = math.floor(exact + _EPSILON)
    else:  # nearest, halves up
        rounded = math.floor(exact + 0.5 + _EPSILON)
    note = ""
    if n0 == 0:
        if proportion in (0, 1):
            note = (f"With p = {proportion:g}, n₀ = 0: every post is assumed alike, so the variance bound asks for "
                    "no posts; but a proportion is estimated from at least one post, so n = 1. "
                    "Use the proportion you expect (0.5 when unsure).")
        else:
            note = ("At a confidence level this low z = 0, so n₀ = 0 and the bound asks for no posts; "
                    "but a proportion is estimated from at least one post, so n = 1.")
    elif rounded < 1:
        note = (f"The bound n = {exact:.3g} rounds ({rounding}) to no post at all; "
                "a proportion is estimated from at least one post, so n = 1.")
    return SampleSize(
        population=population, confidence=confidence, margin=margin, proportion=proportion, rounding=rounding,
        z=z, n0=n0, exact=exact, n=min(max(rounded, 1), population), note=note,
    )
