"""Charts of question sets: they draw exactly the tables' figures, render to
SVG and PNG, and say "no questions" rather than fail on empty data."""

import numpy as np
import pytest
from matplotlib.figure import Figure

from datetime import date

from sampling.question_sets.charts import questions_chart, render, response_box_plot
from sampling.question_sets.reports import hours_text, p_value_text, percent_text, readable_hours
from sampling.question_sets.selectors import PeriodRow, PeriodTable
from sampling.question_sets.statistics import summarise_durations

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

def year(y, questions, askers) -> PeriodRow:
    return PeriodRow(date(y, 1, 1), str(y), questions, askers)


def YearTable(periods, questions, askers, without_date, without_owner) -> PeriodTable:  # noqa: N802
    return PeriodTable("year", periods, questions, askers, without_date, without_owner)


def years_chart(table, *, title):
    return questions_chart(table, title=title)


TABLE = YearTable((year(2019, 3, 2), year(2020, 0, 0), year(2021, 10, 7)), 15, 8, 2, 1)
EMPTY_TABLE = YearTable((), 0, 0, 0, 0)


def texts(fig: Figure) -> list[str]:
    return [t.get_text() for t in fig.findobj(lambda artist: hasattr(artist, "get_text"))]


def is_svg(data: bytes) -> bool:
    return data.startswith(b"<?xml") and b"<svg" in data and data.rstrip().endswith(b"</svg>")


def tick_labels(ax) -> list[str]:
    ax.figure.canvas.draw()
    return [t.get_text() for t in ax.get_xticklabels() if t.get_text()]


def test_year_chart_draws_the_tables_figures_on_whole_years():
    fig = years_chart(TABLE, title="C per year")
    ax = fig.axes[0]
    questions, askers = ax.lines
    assert list(questions.get_xdata()) == [0, 1, 2]  # the table's periods, in order
    assert list(questions.get_ydata()) == [3, 0, 10]
    assert list(askers.get_xdata()) == [0, 1, 2]
    assert list(askers.get_ydata()) == [2, 0, 7]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["questions", "distinct askers"]
    assert ax.get_xlabel() == "year of creation (UTC)" and ax.get_ylabel() and ax.get_title() == "C per year"
    assert tick_labels(ax) == ["2019", "2020", "2021"]  # whole years only, no 2019.5
    # What the lines leave out is said on the figure.
    assert any("2 questions without a creation date" in t for t in texts(fig))


def test_year_chart_of_one_year_and_of_undated_questions():
    one = years_chart(YearTable((year(2022, 4, 4),), 4, 4, 0, 0), title="one")
    assert list(one.axes[0].lines[0].get_ydata()) == [4]
    assert tick_labels(one.axes[0]) == ["2022"]
    assert is_svg(render(one, "svg"))
    undated = years_chart(YearTable((), 5, 3, 5, 0), title="undated")
    assert not undated.axes[0].lines
    assert any("no questions with a creation date" in t for t in texts(undated))


@pytest.mark.parametrize("make", [
    lambda: years_chart(TABLE, title="years"),
    lambda: years_chart(EMPTY_TABLE, title="years"),
    lambda: response_box_plot([("C", [0.5, 1, 2, 30, 700]), ("baseline", [3, 4, 5])], title="times"),
    lambda: response_box_plot([], title="times"),
    lambda: response_box_plot([("C", [])], title="times"),
])
def test_figures_render_to_svg_and_png(make):
    svg = render(make(), "svg")
    assert is_svg(svg)
    png = render(make(), "png")
    assert png.startswith(PNG_MAGIC)
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert width >= 7 * 200 * 0.9 and height >= 4 * 200 * 0.9  # 7×4 inches at 200 dpi


def test_unknown_format_is_refused():
    with pytest.raises(ValueError):
        render(years_chart(TABLE, title="x"), "pdf")


def test_empty_data_says_no_questions():
    for fig in (years_chart(EMPTY_TABLE, title="x"), response_box_plot([], title="x"),
                response_box_plot([("C", []), ("D", [])], title="x")):
        assert any("no questions" in t for t in texts(fig))
        assert not fig.axes[0].lines


def test_box_plot_boxes_are_the_summaries_with_the_median_labelled():
    hours = [0.5, 1.0, 2.0, 4.0, 8.0, 200.0]
    fig = response_box_plot([("C", hours), ("empty", [])], title="times")
    ax = fig.axes[0]
    summary = summarise_durations(hours)
    median_lines = [line for line in ax.lines if line.get_color() == "#2456c9"]
    assert len(median_lines) == 1
    assert set(median_lines[0].get_ydata()) == {summary.median}
    assert summary.outliers == 1
    fliers = [line for line in ax.lines if line.get_marker() == "o"]
    assert [list(f.get_ydata()) for f in fliers] == [[200.0]]
    labels = texts(fig)
    assert f"median {readable_hours(summary.median)}" in labels
    assert "no response times" in labels  # the empty set keeps its place
    assert [t.get_text() for t in ax.get_xticklabels()] == ["C\n(n = 6)", "empty"]
    assert ax.get_yscale() == "log"  # 0.5 h to 200 h: wider than two decades


def test_box_plot_scale_follows_the_range():
    assert response_box_plot([("C", [1, 2, 3, 5])], title="t").axes[0].get_yscale() == "linear"
    # A zero (an answer accepted in the same second) cannot go on a log axis: symlog.
    wide_with_zero = response_box_plot([("C", [0.0, 0.2, 5, 30, 400, 2000])], title="t")
    assert wide_with_zero.axes[0].get_yscale() == "symlog"
    assert wide_with_zero.axes[0].get_ylim()[0] == 0


def test_box_plot_from_summaries_tells_the_outliers_it_cannot_draw():
    summary = summarise_durations([1, 2, 3, 4, 100])
    fig = response_box_plot([("C", summary)], title="t")
    assert fig.axes[0].get_xticklabels()[0].get_text() == "C\n(n = 5, 1 outliers not drawn)"
    assert not [line for line in fig.axes[0].lines if line.get_marker() == "o" and len(line.get_ydata())]


def test_many_outliers_are_deduplicated_not_drawn_one_by_one():
    rng = np.random.default_rng(7)
    hours = list(rng.lognormal(2, 2.5, 20_000))
    fig = response_box_plot([("big", hours)], title="t")
    outliers = summarise_durations(hours).outliers
    drawn = sum(len(line.get_ydata()) for line in fig.axes[0].lines if line.get_marker() == "o")
    assert 0 < drawn < outliers
    assert len(render(fig, "svg")) < 2_000_000


def test_readable_figures():
    assert readable_hours(0.25) == "15 min"
    assert readable_hours(5.25) == "5.2 h"
    assert readable_hours(52.8) == "2.2 days"
    assert readable_hours(None) == "—" and readable_hours(float("nan")) == "—"
    assert hours_text(52.8) == "52.80 h (2.2 days)" and hours_text(3.0) == "3.00 h"
    assert percent_text(0.75) == "75.0 %" and percent_text(None) == "—"
    assert p_value_text(0.0004) == "p < 0.001" and p_value_text(0.04) == "p = 0.040"
    assert p_value_text(None) == "p undefined"


def test_a_month_chart_labels_a_dozen_whole_months_at_most():
    months = []
    for i in range(30):  # 2019-11 to 2022-04
        first = date(2019 + (10 + i) // 12, (10 + i) % 12 + 1, 1)
        months.append(PeriodRow(first, f"{first.year}-{first.month:02d}", i, i // 2))
    fig = questions_chart(PeriodTable("month", tuple(months), 435, 200, 0, 0), title="per month")
    ax = fig.axes[0]
    assert list(ax.lines[0].get_ydata()) == list(range(30))
    assert ax.get_xlabel() == "month of creation (UTC)"
    labels = tick_labels(ax)
    assert 2 <= len(labels) <= 13
    assert set(labels) <= {m.label for m in months}  # real months, never 2020-03.5
    assert is_svg(render(fig, "svg"))
