"""Read the long-format ratings CSV of the ``agreement`` command.

    item,rater,label
    post-17,alice,Model export
    post-17,alice,Model quantization      ← a multi-label answer is several rows
    post-17,bob,Model export

The header is required and exact (``item,rater,label``); spaces around fields
are ignored; UTF-8 with or without a byte-order mark; blank lines are skipped;
an identical row repeated counts once (an answer is a set of labels). Every
error names the line, because the file is usually a spreadsheet export a
researcher must fix by hand. Pure: bytes in, triples out.
"""

from __future__ import annotations

import csv
import io

HEADER = ("item", "rater", "label")


class RatingsCsvError(ValueError):
    def __init__(self, line: int, message: str):
        super().__init__(f"line {line}: {message}")
        self.line = line


def parse_ratings_csv(*, data: bytes) -> list[tuple[str, str, str]]:
    """(item, rater, label) triples in file order, duplicates dropped."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise RatingsCsvError(line, "the file is not UTF-8 text (save it as CSV UTF-8)") from None
    if not text.strip():
        raise RatingsCsvError(1, "the file is empty; the first line must be the header item,rater,label")
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    triples: dict[tuple[str, str, str], None] = {}  # a dict keeps file order and drops repeats
    header_seen = False
    try:
        for row in reader:
            fields = [field.strip() for field in row]
            if not any(fields):
                continue
            if not header_seen:
                if tuple(fields) != HEADER:
                    found = ",".join(fields)
                    raise RatingsCsvError(reader.line_num, f"the header must be item,rater,label (found {found})")
                header_seen = True
                continue
            if len(fields) != 3:
                raise RatingsCsvError(reader.line_num, f"expected 3 fields (item,rater,label), found {len(fields)}")
            for name, value in zip(HEADER, fields):
                if not value:
                    raise RatingsCsvError(reader.line_num, f"the {name} is empty")
            triples[tuple(fields)] = None
    except csv.Error as exc:
        raise RatingsCsvError(reader.line_num, f"malformed CSV ({exc})") from None
    return list(triples)
