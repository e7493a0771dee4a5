"""A run as a file: the CSV (one tidy table of every figure the page shows) and the names of
the downloads. The JSON download is the API's document of the run (``apis.AgreementRunDetailOutput``).

The CSV has one row per figure; ``section`` says what the row is:

* ``run``: ``name`` a parameter or count of the run, ``value`` its value;
* ``coefficient``: ``name`` the coefficient's key, ``row`` its title, ``value``, the interval's
  ``low`` and ``high``, the ``items`` used and ``excluded``, the ``reading`` on its scale
  (κ: Landis & Koch 1977; α: Krippendorff 2004) and in ``note`` why it does not apply;
* ``category``: ``name`` a label, ``row`` its key, ``column`` the figure (``items``,
  ``answers``, ``cohen_kappa``, ``fleiss_kappa``), ``value`` and in ``note`` why a κ does not apply;
* ``rater``: ``name`` a rater, ``items`` labelled, ``value`` distinct answers, ``note``;
* ``confusion``: ``name`` a pair of raters "a × b", ``row`` rater a's label set, ``column``
  rater b's, ``value`` the items (non-zero cells only);
* ``confused_labels``: ``row`` and ``column`` two labels used against each other, ``value`` how often.
"""

from __future__ import annotations

from collections.abc import Iterator

from .figures import coefficient_reading, scale_for
from .models import AgreementRun
from .selectors import agreement_run_coefficients

AGREEMENT_CSV_COLUMNS = ("section", "name", "row", "column", "value", "low", "high", "items", "excluded",
                         "reading", "note")


def agreement_run_filename(*, run: AgreementRun, extension: str) -> str:
    return f"{run.study.slug}-agreement-run-{run.pk}.{extension}"


def _row(section, name, row="", column="", value=None, low=None, high=None, items=None, excluded=None,
         reading="", note="") -> tuple:
    return (section, name, row, column, value, low, high, items, excluded, reading, note)


def agreement_run_csv_rows(*, run: AgreementRun) -> Iterator[tuple]:
    """The rows of the run's CSV, in the order of the page."""
    result = run.result or {}
    for name, value in (
        ("id", run.pk), ("scope", run.scope), ("draws", " ".join(f"v{d['version']}" for d in run.draws)),
        ("stratum", run.stratum.name if run.stratum else None), ("status", run.status),
        ("taxonomy_version", run.taxonomy_version), ("resamples", run.resamples), ("seed", run.seed),
        ("confidence", run.confidence), ("items", run.items), ("items_in_scope", run.items_in_scope),
        ("items_unlabelled", run.items_unlabelled), ("raters", run.raters), ("labels", run.labels),
        ("created_by", run.created_by.username if run.created_by else None), ("created_at", run.created_at),
        ("finished_at", run.finished_at), ("message", run.message), ("error", run.error),
    ):
        yield _row("run", name, value=value)
    for c in agreement_run_coefficients(run=run):
        scale = scale_for(c.name)
        reading = coefficient_reading(c.name, c.value)
        yield _row("coefficient", c.name, row=c.title, value=c.value, low=c.low, high=c.high,
                   items=c.items if c.value is not None else None, excluded=c.excluded if c.value is not None else None,
                   reading=f"{reading} ({scale.title})" if reading else "", note=c.reason or c.note)
    for category in result.get("per_category") or []:
        reasons = category.get("reasons") or {}
        for figure in ("items", "answers", "cohen_kappa", "fleiss_kappa"):
            yield _row("category", category["name"], row=category["key"], column=figure, value=category.get(figure),
                       note=reasons.get(figure, ""))
    for rater in result.get("rater_summary") or []:
        yield _row("rater", rater["rater"], column="distinct_answers", value=rater["distinct_answers"],
                   items=rater["items"], note=rater["note"])
    matrices = result.get("confusion_matrix") or {}
    sets = matrices.get("sets") or []
    for pair in matrices.get("pairs") or []:
        for row, column, count in pair["cells"]:
            yield _row("confusion", f"{pair['a']} × {pair['b']}", row=sets[row]["name"], column=sets[column]["name"],
                       value=count)
    for pair in result.get("confusion") or []:
        yield _row("confused_labels", "label pair", row=pair["a"]["name"], column=pair["b"]["name"],
                   value=pair["count"])
