"""Sample size for estimating a proportion, with the finite-population correction.

    n₀ = z² · p(1 − p) / e²            z: the exact normal quantile for the confidence
    n  = n₀ / (1 + (n₀ − 1) / N)       (Cochran's correction for a population of N)

Pure: numbers in, numbers out. For 95 % and ±5 %: N = 1,325 gives 297.98
(ceil 298, floor 297); N = 1,533 gives 307.33; a large N tends to 384.15.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
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

    def as_dict(self) -> dict:
        return asdict(self)


def sample_size(
    *, population: int, confidence: float = 0.95, margin: float = 0.05, proportion: float = 0.5,
    rounding: str = "ceil",
) -> SampleSize:
    """Raises ValueError with a sentence a user can act on for any input out of range."""
    if isinstance(population, bool) or int(population) != population:
        raise ValueError("The population N must be a whole number.")
    population = int(population)
    if population < 1:
        raise ValueError("The population N must be at least 1 (an empty set has nothing to sample).")
    if not 0 < confidence < 1:
        raise ValueError("The confidence level must be between 0 and 1, exclusive (e.g. 0.95).")
    if not 0 < margin < 1:
        raise ValueError("The margin of error must be between 0 and 1, exclusive (e.g. 0.05 for ±5 %).")
    if not 0 <= proportion <= 1:
        raise ValueError("The expected proportion p must be between 0 and 1 (0.5 is the conservative choice).")
    if rounding not in ROUNDINGS:
        raise ValueError(f"Rounding must be one of {', '.join(ROUNDINGS)}.")
    z = NormalDist().inv_cdf(1 - (1 - confidence) / 2)  # agrees with scipy's norm.ppf to 1e-15
    n0 = z * z * proportion * (1 - proportion) / (margin * margin)
    exact = n0 / (1 + (n0 - 1) / population)
    if rounding == "ceil":
        n = math.ceil(exact - _EPSILON)
    elif rounding == "floor":
        n = math.floor(exact + _EPSILON)
    else:  # nearest, halves up
        n = math.floor(exact + 0.5 + _EPSILON)
    return SampleSize(
        population=population, confidence=confidence, margin=margin, proportion=proportion, rounding=rounding,
        z=z, n0=n0, exact=exact, n=min(max(n, 0), population),
    )
