"""Figures of question sets as people read them: durations in a readable unit,
shares as percentages, p-values, and the response-time summary as rows that
the page and its CSV download share (so both always say the same thing).

Pure functions over the selectors' dataclasses; nothing here touches the database.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from django.utils.text import slugify

from .selectors import ResponseTimes
from .statistics import DurationSummary

MINUTE = 1 / 60
DAY = 24.0
MONTH = 365.25 / 12 * DAY
YEAR = 365.25 * DAY


def _number(value: float | None) -> bool:
    return value is not None and not math.isnan(value)


def readable_hours(hours: float | None) -> str:
    """A duration given in hours, in the unit a reader expects ("15 min", "2.2 days")."""
    if not _number(hours):
        return "—"
    if hours < MINUTE:
        return f"{hours * 3600:.0f} s"
    if hours < 1:
        return f"{hours * 60:.0f} min"
    if hours < 2 * DAY:
        return f"{hours:.1f} h"
    if hours < 60 * DAY:
        return f"{hours / DAY:.1f} days"
    if hours < 2 * YEAR:
        return f"{hours / MONTH:.1f} months"
    return f"{hours / YEAR:.1f} years"


def hours_text(hours: float | None) -> str:
    """Hours with two decimals, and the readable unit beside it when that is not hours."""
    if not _number(hours):
        return "—"
    readable = readable_hours(hours)
    return f"{hours:.2f} h" if readable.endswith(" h") else f"{hours:.2f} h ({readable})"


def percent_text(share: float | None) -> str:
    return f"{100 * share:.1f} %" if _number(share) else "—"


def p_value_text(p: float | None) -> str:
    """ "p = 0.040", or "p < 0.001" below what three decimals can tell."""
    if not _number(p):
        return "p undefined"
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def statistic_text(value: float | None) -> str:
    return f"{value:.3f}" if _number(value) else "—"


@dataclass(frozen=True)
class SummaryRow:
    measure: str
    value: float | int | None
    unit: str  # "hours" or "questions"

    @property
    def text(self) -> str:
        if self.unit == "hours":
            return hours_text(self.value)
        return "—" if self.value is None else str(self.value)


RESPONSE_TIME_HEADER = ("measure", "value", "unit")


def response_time_rows(*, times: ResponseTimes, durations: DurationSummary) -> list[SummaryRow]:
    """The summary of hours from question to accepted answer, then every
    question with an accepted answer that has no duration, by reason."""
    d = durations
    rows = [
        SummaryRow("questions with a response time", d.n, "questions"),
        SummaryRow("median", d.median, "hours"),
        SummaryRow("first quartile", d.q1, "hours"),
        SummaryRow("third quartile", d.q3, "hours"),
        SummaryRow("minimum", d.minimum, "hours"),
        SummaryRow("maximum", d.maximum, "hours"),
        SummaryRow("lower whisker", d.whisker_low, "hours"),
        SummaryRow("upper whisker", d.whisker_high, "hours"),
        SummaryRow("outliers (beyond 1.5 IQR)", d.outliers, "questions"),
        SummaryRow("without an accepted answer", times.without_accepted, "questions"),
    ]
    rows += [SummaryRow(f"skipped: {reason}", n, "questions") for reason, n in times.skipped.items()]
    return rows


def download_filename(*parts: str, ext: str) -> str:
    """ "C (cloud)", "response times", "svg" → "c-cloud-response-times.svg" (ASCII, safe in a header)."""
    slugs = [slugify(part) for part in parts]
    return "-".join(s for s in slugs if s) + f".{ext}"
