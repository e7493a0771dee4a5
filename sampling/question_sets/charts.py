"""Charts of question sets for the pages and for papers: SVG and PNG from the same code.

Pure functions: plain figures in, a matplotlib ``Figure`` out, no ORM. Figures
are built directly (``matplotlib.figure.Figure`` on an Agg canvas), never with
``pyplot``, whose global current figure is not safe in a web process serving
several requests at once.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, FuncFormatter, MaxNLocator, NullLocator

from .reports import DAY, MINUTE, MONTH, YEAR, readable_hours
from .selectors import PeriodTable
from .statistics import DurationSummary, summarise_durations

SIZE = (7.0, 4.0)  # inches: a column-wide figure in a paper
PNG_DPI = 200
WIDE_RANGE = 100.0  # largest / smallest positive value beyond which hours go on a log axis
QUESTIONS_COLOUR, ASKERS_COLOUR, BOX_COLOUR = "#2456c9", "#c26a00", "#1d2330"
# Ticks of a log time axis at durations people think in.
TIME_TICKS = [
    (MINUTE, "1 min"), (10 * MINUTE, "10 min"), (1.0, "1 h"), (6.0, "6 h"), (DAY, "1 day"), (7 * DAY, "1 week"),
    (MONTH, "1 month"), (YEAR, "1 year"), (10 * YEAR, "10 years"),
]
FORMATS = ("svg", "png")


def _figure() -> Figure:
    fig = Figure(figsize=SIZE, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _empty(fig: Figure, ax, *, title: str, message: str) -> Figure:
    ax.set_title(title)
    ax.text(0.5, 0.5, message, transform=ax.transAxes, ha="center", va="center", fontsize=13, color="#5b6476")
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)
    return fig


PERIOD_MONTHS = {"month": 1, "quarter": 3, "year": 12}
TICK_STEPS = (1, 2, 3, 4, 6, 12, 24, 60, 120, 240, 600, 1200)


def _period_ticks(table: PeriodTable) -> list[int]:
    """Positions of at most a dozen labelled periods, evenly spaced, on round periods
    (every January of a monthly chart labelled when a year is the step, say)."""
    n = len(table.periods)
    step = next((s for s in TICK_STEPS if n / s <= 12), TICK_STEPS[-1])
    first = table.periods[0].start
    ordinal = (first.year * 12 + first.month - 1) // PERIOD_MONTHS[table.period]
    return list(range((-ordinal) % step, n, step))


def questions_chart(table: PeriodTable, *, title: str) -> Figure:
    """Questions and distinct askers per month, quarter or year of creation, as two lines.

    The figures are exactly the table's (``fig.axes[0].lines``: questions, then askers,
    at x = 0, 1, … for the table's periods in order, labelled with the periods); what the
    table leaves out of the periods is said under the axes."""
    fig = _figure()
    ax = fig.subplots()
    if not table.periods:
        message = "no questions" if table.questions == 0 else (
            f"no questions with a creation date\n({table.questions} without one)")
        return _empty(fig, ax, title=title, message=message)
    labels = [row.label for row in table.periods]
    x = list(range(len(labels)))
    many = len(x) > 40  # a decade of months: the lines carry the figures, markers would blot them
    # Askers are often as many as questions: the thinner dashed line on top keeps both visible.
    ax.plot(x, [row.questions for row in table.periods], marker="" if many else "o", markersize=8,
            linewidth=1.8 if many else 3,
            color=QUESTIONS_COLOUR, label="questions")
    ax.plot(x, [row.askers for row in table.periods], marker="" if many else "s", markersize=4.5,
            linewidth=1.0 if many else 1.4,
            linestyle="--", color=ASKERS_COLOUR, label="distinct askers")
    ax.xaxis.set_major_locator(FixedLocator(_period_ticks(table)))
    ax.xaxis.set_major_formatter(FuncFormatter(
        lambda value, _pos: labels[int(value)] if value == int(value) and 0 <= value < len(labels) else ""))
    ax.set_xlim(-1 if len(x) == 1 else -0.5, len(x) if len(x) == 1 else len(x) - 0.5)
    if table.period != "year":
        ax.tick_params(axis="x", labelrotation=45)
    ax.set_ylim(0, max(row.questions for row in table.periods) * 1.08 + 0.5)  # room above the highest point
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel(f"{table.period} of creation (UTC)")
    ax.set_ylabel("count")
    ax.set_title(title)
    ax.legend(loc="best", frameon=False)
    ax.grid(axis="y", color="#dde1e8", linewidth=0.6)
    notes = []
    if table.without_date:
        plural = "s" * (table.without_date != 1)
        notes.append(f"{table.without_date} question{plural} without a creation date not shown")
    if table.without_owner:
        notes.append(f"{table.without_owner} without an owner in no askers figure")
    if notes:
        # supxlabel, unlike fig.text, gets its own room from the constrained layout.
        fig.supxlabel("; ".join(notes) + ".", x=0.01, ha="left", fontsize=7, color="#5b6476")
    return fig


def _significant(values: np.ndarray, digits: int = 3) -> np.ndarray:
    """Outliers rounded to ``digits`` significant digits and deduplicated: on one
    box they would be drawn on top of each other anyway, and a set of 10⁵
    questions must not give a 10 MB SVG."""
    if values.size == 0:
        return values
    magnitude = np.floor(np.log10(np.where(values > 0, np.abs(values), 1.0)))
    scale = 10.0 ** (digits - 1 - magnitude)
    return np.unique(np.round(values * scale) / scale)


def _box(label: str, data: DurationSummary | Sequence[float]) -> tuple[DurationSummary, dict | None]:
    if isinstance(data, DurationSummary):
        summary, fliers = data, None  # only their number is known
    else:
        values = np.asarray([v for v in data if v is not None and not math.isnan(v)], dtype=float)
        summary = summarise_durations(values)
        fliers = np.empty(0)
        if summary.n:
            fliers = _significant(values[(values < summary.whisker_low) | (values > summary.whisker_high)])
    if not summary.n:
        return summary, None
    name = f"{label}\n(n = {summary.n}"
    if fliers is None and summary.outliers:
        name += f", {summary.outliers} outliers not drawn"
    stats = {"label": name + ")", "med": summary.median, "q1": summary.q1, "q3": summary.q3,
             "whislo": summary.whisker_low, "whishi": summary.whisker_high,
             "fliers": np.empty(0) if fliers is None else fliers}
    return summary, stats


def _time_axis(ax, low: float, high: float) -> None:
    """Log scale (symlog when a duration is 0) with ticks at readable durations."""
    if low <= 0:
        ax.set_yscale("symlog", linthresh=MINUTE, linscale=0.5)
        ax.set_ylim(bottom=0)
        ticks = [(0.0, "0")]
    else:
        ax.set_yscale("log")
        ticks = []
    ticks += [(t, text) for t, text in TIME_TICKS if max(low, 0) / 1.5 <= t <= high * 1.5]
    labels = dict(ticks)
    ax.yaxis.set_major_locator(FixedLocator([t for t, _ in ticks]))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _pos: labels.get(value, "")))
    ax.yaxis.set_minor_locator(NullLocator())
    ax.set_ylabel("time from question to accepted answer (log scale)")


def response_box_plot(summaries: Sequence[tuple[str, DurationSummary | Sequence[float]]], *, title: str) -> Figure:
    """One box of hours from question to accepted answer per set, its median labelled.

    Each entry is (set name, hours) or (set name, DurationSummary); given hours
    the outliers are drawn, given a summary only their number is told. Boxes,
    whiskers (1.5 IQR) and medians are those of ``summarise_durations``, the
    same figures as the page's tables. A log axis when the values span more than
    two decades."""
    fig = _figure()
    ax = fig.subplots()
    boxes = [(position, summary, stats)
             for position, (label, data) in enumerate(summaries, start=1)
             for summary, stats in [_box(label, data)]]
    drawn = [(position, stats) for position, _summary, stats in boxes if stats]
    if not drawn:
        message = "no questions" if not summaries else "no questions with a response time\n(no accepted answer to time)"
        return _empty(fig, ax, title=title, message=message)
    ax.bxp([stats for _, stats in drawn], positions=[p for p, _ in drawn], widths=0.5, patch_artist=True,
           boxprops={"facecolor": "#e8effc", "edgecolor": BOX_COLOUR},
           medianprops={"color": QUESTIONS_COLOUR, "linewidth": 2},
           flierprops={"marker": "o", "markersize": 3, "markerfacecolor": "none", "markeredgecolor": "#5b6476"})
    for position, summary, stats in boxes:
        if stats:
            ax.annotate(f"median {readable_hours(summary.median)}", xy=(position + 0.25, summary.median),
                        xytext=(4, 0), textcoords="offset points", va="center", fontsize=8, color=QUESTIONS_COLOUR)
        else:
            ax.text(position, 0.5, "no response times", transform=ax.get_xaxis_transform(), ha="center",
                    va="center", fontsize=9, color="#5b6476")
    ax.set_xticks(range(1, len(boxes) + 1),
                  [stats["label"] if stats else label for (label, _), (_, _, stats) in zip(summaries, boxes)])
    ax.set_xlim(0.4, len(boxes) + 0.9)  # room for the median labels on the right of the last box
    plotted = np.concatenate([[s["whislo"], s["q1"], s["med"], s["q3"], s["whishi"]] for _, s in drawn]
                             + [s["fliers"] for _, s in drawn])
    low, high = float(plotted.min()), float(plotted.max())
    positive = plotted[plotted > 0]
    if positive.size and high / max(float(positive.min()), MINUTE) > WIDE_RANGE:
        _time_axis(ax, low, high)
    else:
        ax.set_ylim(bottom=0)
        ax.set_ylabel("hours from question to accepted answer")
    ax.set_title(title)
    ax.grid(axis="y", color="#dde1e8", linewidth=0.6)
    return fig


def render(fig: Figure, fmt: str) -> bytes:
    """The figure as SVG (text as paths, so no font is needed to show it) or
    as PNG at 200 dpi, for papers."""
    buffer = io.BytesIO()
    if fmt == "svg":
        fig.savefig(buffer, format="svg", metadata={"Date": None})
    elif fmt == "png":
        fig.savefig(buffer, format="png", dpi=PNG_DPI)
    else:
        raise ValueError(f"unknown chart format {fmt!r} (svg or png)")
    return buffer.getvalue()
