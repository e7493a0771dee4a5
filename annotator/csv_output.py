"""Writing CSV: the one home of every CSV file the app writes (downloads, API, commands, exports).

Rules (README.md, "CSV files"):

- **RFC 4180.** Python's ``csv`` module, records ended by CRLF, a field quoted
  only when it holds a comma, a double quote, CR or LF (a quote inside is doubled).
  UTF-8.
- **Formula neutralisation** (OWASP, "CSV Injection"). A spreadsheet runs a cell
  that starts with ``=``, ``+``, ``-`` or ``@`` as a formula, and a leading tab
  or carriage return can hide such a start. Every *text* cell that starts with
  one of those characters is written with a single quote ``'`` in front, which
  spreadsheets show as text. So that the rule can be undone exactly, a text that
  starts with quotes followed by such a character gets one quote more
  (``'=x`` → ``''=x``); ``csv_text_restore`` reverses it. Any other text is
  written as it is (``'ascii' codec`` stays ``'ascii' codec``).
- **Numbers are written as numbers** (``int``, ``float``, ``Decimal``: ``12``,
  ``0.25``, ``19.8``), never neutralised: a number is a value to every
  spreadsheet, not a formula. The app's numeric columns are counts, ids, shares,
  durations, percentages and test statistics, all non-negative, so no cell of
  its files starts with ``-``. A value that is not finite (NaN, infinity) is
  written as text, under the text rule. ``None`` is an empty cell; a
  ``datetime`` is written in ISO 8601, in UTC when it is aware
  (``2024-05-01T09:30:00+00:00``); anything else as its text, under the text rule.
- **``excel``**: the same file with a UTF-8 byte order mark in front, which
  Excel needs to read UTF-8 (pandas and Python's ``csv`` with ``utf-8-sig`` skip
  it). Downloads take it as ``?excel=1``, commands as ``--excel``.

Files are written a chunk at a time, never held whole: ``csv_write`` to a file
object, ``csv_chunks`` as byte chunks, ``csv_response`` as a streamed download.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime
from decimal import Decimal

from django.http import StreamingHttpResponse
from django.utils.cache import patch_cache_control
from django.utils.http import content_disposition_header

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
NEUTRALISER = "'"
BOM = "\ufeff"
CONTENT_TYPE = "text/csv; charset=utf-8"
LINE_END = "\r\n"
EXCEL_VALUES = frozenset({"1", "true", "yes", "on"})
CHUNK_CHARS = 64 * 1024  # how much is written (or sent) at a time


def _needs_prefix(text: str) -> bool:
    """Starts with a formula character, perhaps after quotes (so that the prefix can be undone)."""
    return text.lstrip(NEUTRALISER).startswith(FORMULA_STARTS)


def csv_text_neutralise(text: str) -> str:
    """``=HYPERLINK("x")`` → ``'=HYPERLINK("x")``; ``'=x`` → ``''=x``; any other text unchanged."""
    return NEUTRALISER + text if _needs_prefix(text) else text


def csv_text_restore(cell: str) -> str:
    """The text a cell was written from (the inverse of ``csv_text_neutralise``)."""
    if cell.startswith(NEUTRALISER) and _needs_prefix(cell[1:]):
        return cell[1:]
    return cell


_RISKY_FIRST = frozenset((*FORMULA_STARTS, NEUTRALISER))


def csv_cell(value):
    """What is written for ``value``: a finite number as itself, text neutralised (the module's rules)."""
    kind = type(value)
    if kind is str:  # most cells: one look at the first character
        return NEUTRALISER + value if value and value[0] in _RISKY_FIRST and _needs_prefix(value) else value
    if kind is int or value is None:
        return "" if value is None else value
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float | Decimal):
        return value if math.isfinite(value) else csv_text_neutralise(str(value))
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC)
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return csv_text_neutralise(str(value))


def _is_binary(out) -> bool:
    return isinstance(out, io.RawIOBase | io.BufferedIOBase) or "b" in getattr(out, "mode", "")


class CsvWriter:
    """Rows to ``out`` under the module's rules, passed on a chunk of about ``chunk_chars`` at
    a time. ``out`` is a binary file object (it gets UTF-8 bytes) or a text one (opened with
    ``newline=""`` and UTF-8; a command's ``self.stdout`` will do). Call ``close()`` at the
    end: it writes what is left (and the byte order mark of an ``excel`` file with no rows)."""

    def __init__(self, out, *, excel: bool = False, chunk_chars: int = CHUNK_CHARS):
        self._out = out
        self._binary = _is_binary(out)
        self._chunk_chars = chunk_chars
        self._buffer = io.StringIO(newline="")
        self._writer = csv.writer(self._buffer, lineterminator=LINE_END, quoting=csv.QUOTE_MINIMAL)
        if excel:
            self._buffer.write(BOM)

    def writerow(self, values: Iterable) -> None:
        self._writer.writerow(map(csv_cell, values))
        if self._buffer.tell() >= self._chunk_chars:
            self.flush()

    def writerows(self, rows: Iterable[Iterable]) -> int:
        """Writes every row; returns how many."""
        count = 0
        for row in rows:
            self.writerow(row)
            count += 1
        return count

    def flush(self) -> None:
        text = self._buffer.getvalue()
        self._buffer.seek(0)
        self._buffer.truncate()
        if text:
            self._out.write(text.encode() if self._binary else text)

    close = flush


def csv_write(out, header: Iterable[str], rows: Iterable[Iterable], *, excel: bool = False) -> int:
    """The header, then the rows, to ``out`` (binary or text: see ``CsvWriter``); returns how
    many rows were written (the header not counted)."""
    writer = CsvWriter(out, excel=excel)
    writer.writerow(header)
    count = writer.writerows(rows)
    writer.close()
    return count


class _Chunks(io.BufferedIOBase):
    """A binary sink that keeps what it is given until ``csv_chunks`` hands it on."""

    def __init__(self):
        super().__init__()
        self.parts: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def drain(self) -> Iterator[bytes]:
        parts, self.parts = self.parts, []
        return iter(parts)


def csv_chunks(header: Iterable[str], rows: Iterable[Iterable], *, excel: bool = False,
               chunk_chars: int = CHUNK_CHARS) -> Iterator[bytes]:
    """The file as UTF-8 byte chunks of about ``chunk_chars``; rows are read as they are needed."""
    sink = _Chunks()
    writer = CsvWriter(sink, excel=excel, chunk_chars=chunk_chars)
    writer.writerow(header)
    for row in rows:
        writer.writerow(row)
        yield from sink.drain()
    writer.close()
    yield from sink.drain()


def row_batches(rows: Iterable, size: int) -> Iterator[list]:
    """``rows`` in lists of ``size`` (the last may be shorter): an export reads its rows from
    one query and what a chunk of them points at in one more query per chunk."""
    batch = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def csv_excel_requested(request) -> bool:
    """``?excel=1`` (or true / yes / on): the download is for Excel (UTF-8 with a BOM)."""
    return request.GET.get("excel", "").strip().lower() in EXCEL_VALUES


def csv_response(request, *, header: Iterable[str], rows: Iterable[Iterable], filename: str) -> StreamingHttpResponse:
    """A CSV download named ``filename``, streamed (``?excel=1`` adds the byte order mark).
    ``rows`` may be a generator: it is read as the response is sent, so memory stays flat."""
    response = StreamingHttpResponse(csv_chunks(header, rows, excel=csv_excel_requested(request)),
                                     content_type=CONTENT_TYPE)
    response.headers["Content-Disposition"] = content_disposition_header(True, filename)
    # The rows follow data that changes without the URL changing.
    patch_cache_control(response, private=True, no_cache=True)
    return response
