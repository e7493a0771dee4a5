"""Charts of question sets: they draw exactly the tables' figures, render to
SVG and PNG, and say "no questions" rather than fail on empty data."""

import numpy as np
import pytest
from matplotlib.figure import Figure

from annotator.selection.charts import render, response_box_plot, years_chart
from annotator.selection.reports import hours_text, p_value_text, percent_text, readable_hours
from annotator.selection.selectors import YearRow, YearTable
from annotator.selection.statistics import summarise_durations

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

TABLE = YearTable(
    years=(YearRow(2019, 3, 2), YearRow(2020, 0, 0), YearRow(2021, 10, 7)),
    questions=15, askers=8, without_date=2, without_owner=1,
)
EMPTY_TABLE = YearTable(years=(), questions=0, askers=0, without_date=0, without_owner=0)


def texts(fig: Figure) -> list[str]:
    return [t.get_text() for t in fig.findobj(lambda artist: hasattr(artist, "get_text"))]


def is_svg(data: bytes) -> bool:
    return data.startswith(b"<?xml") and b"<svg" in data and data.rstrip().endswith(b"</svg>")


def test_year_chart_draws_the_tables_figures_on_integer_years():
    fig = years_chart(TABLE, title="C per year")
    ax = fig.axes[0]
    questions, askers = ax.lines
    assert list(questions.get_xdata()) == [2019, 2020, 2021]
    assert list(questions.get_ydata()) == [3, 0, 10]
    assert list(askers.get_xdata()) == [2019, 2020, 2021]
    assert list(askers.get_ydata()) == [2, 0, 7]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["questions", "distinct askers"]
    assert ax.get_xlabel() and ax.get_ylabel() and ax.get_title() == "C per year"
    fig.canvas.draw()
    ticks = [t for t in ax.get_xticks() if 2019 <= t <= 2021]
    assert ticks == [2019, 2020, 2021]  # whole years only, no 2019.5
    # What the lines leave out is said on the figure.
    assert any("2 questions without a creation date" in t for t in texts(fig))


def test_year_chart_of_one_year_and_of_undated_questions():
    one = years_chart(YearTable((YearRow(2022, 4, 4),), 4, 4, 0, 0), title="one")
    assert list(one.axes[0].lines[0].get_ydata()) == [4]
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
