"""The dump reader on its own: records, counts and refusals, no database.

What a refusal does to the database (nothing) is tested in
test_import_service.py; here, what the reader reads and how it says no."""

import io
import random
import re
import time
import tracemalloc
from datetime import datetime
from pathlib import Path

import pytest

from annotator.corpus.dump_parser import (
    READ_CHUNK,
    CommentRecord,
    DumpError,
    DumpReader,
    IdSet,
    PostRecord,
    normalise_tags,
    parse_tag_list,
    peek_kind,
    site_from_path,
    tags_to_field,
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "dumps"
HEADER = '\ufeff<?xml version="1.0" encoding="utf-8"?>\n'


def dump(*rows: str, root: str = "posts", bom: bool = True) -> bytes:
    """A dump with one row per line: the XML declaration is line 1, the root
    line 2, the first row line 3."""
    head = HEADER if bom else HEADER.removeprefix("\ufeff")
    return (head + f"<{root}>\n" + "".join(f"  {r}\n" for r in rows) + f"</{root}>\n").encode()


def read(data: bytes, **options) -> tuple[list, DumpReader]:
    reader = DumpReader(io.BytesIO(data), name="test-Posts.xml", **options)
    return list(reader), reader


# -- the real dumps ------------------------------------------------------------

REAL_DUMPS = [
    pytest.param(
        "genai.stackexchange.com-Posts.xml",
        dict(questions=181, answers=243, accepted=47, askers=103, without_owner=4,
             skipped={"post type 4": 25, "post type 5": 25}),
        rb'Tags="&lt;[^"|]+&gt;"',
        id="genai-angle-tags",
    ),
    pytest.param(
        "datascience.meta.stackexchange.com-Posts.xml",
        dict(questions=257, answers=341, accepted=83, askers=134, without_owner=2,
             skipped={"post type 4": 13, "post type 5": 13}),
        rb'Tags="\|[^"]+\|"',
        id="datascience-meta-pipe-tags",
    ),
]


@pytest.mark.parametrize(("name", "expected", "raw_tags_format"), REAL_DUMPS)
def test_real_dump_counts(shared_data, name, expected, raw_tags_format):
    path = shared_data / name
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), "the real dumps carry a BOM"
    # Every question row of this file uses one tag format, the one named in the id.
    question_rows = [line for line in raw.splitlines() if b'PostTypeId="1"' in line]
    assert all(re.search(raw_tags_format, line) for line in question_rows)

    with open(path, "rb") as stream:
        reader = DumpReader(stream, name=name)
        records = list(reader)
    questions = [r for r in records if r.post_type == 1]
    answers = [r for r in records if r.post_type == 2]

    assert reader.kind == "posts"
    assert len(questions) == reader.stats.questions == expected["questions"]
    assert len(answers) == reader.stats.answers == expected["answers"]
    assert sum(1 for q in questions if q.accepted_answer_so_id) == expected["accepted"]
    assert len({q.owner_user_id for q in questions if q.owner_user_id is not None}) == expected["askers"]
    assert sum(1 for q in questions if q.owner_user_id is None) == expected["without_owner"]
    assert dict(reader.stats.skipped) == expected["skipped"]
    assert reader.stats.rejected == 0
    assert reader.stats.rows == len(records) + sum(expected["skipped"].values())
    assert reader.bytes_read == len(raw)
    # Whatever the file's format, tags come out as "|a|b|"; answers have none.
    assert all(re.fullmatch(r"(\|[^|<>&]+)+\|", q.tags) for q in questions)
    assert all(a.tags == "" and a.parent_so_id is not None for a in answers)
    question_ids = {q.so_id for q in questions}
    assert {a.parent_so_id for a in answers} <= question_ids


def test_genai_first_question_is_read_field_by_field(shared_data):
    with open(shared_data / "genai.stackexchange.com-Posts.xml", "rb") as stream:
        first = next(iter(DumpReader(stream)))
    assert first.so_id == 1 and first.post_type == 1
    assert first.accepted_answer_so_id == 2
    assert first.creation_date == datetime(2023, 7, 17, 19, 24, 1, 893000)
    assert first.score == 7 and first.view_count == 2132 and first.owner_user_id == 8
    assert first.body.startswith("<p>I've seen a number of prompts")  # entities decoded to HTML
    assert first.tags.startswith("|") and "&lt;" not in first.tags


# -- tags ------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("<tensorflow><keras>", ("tensorflow", "keras")),
        ("|tensorflow|keras|", ("tensorflow", "keras")),
        ("<C#><.NET><c#>", ("c#", ".net")),
        ("|a|a|b|", ("a", "b")),
        ("  <python-3.x>  ", ("python-3.x",)),
        ("python numpy", ("python", "numpy")),
        ("", ()),
        ("||", ()),
    ],
)
def test_normalise_tags(raw, expected):
    assert normalise_tags(raw) == expected


def test_both_tag_formats_are_stored_the_same_way():
    angle, _ = read(dump('<row Id="1" PostTypeId="1" Title="a" Tags="&lt;Deep-Learning&gt;&lt;keras&gt;" />'))
    pipes, _ = read(dump('<row Id="1" PostTypeId="1" Title="a" Tags="|deep-learning|keras|" />'))
    assert angle[0].tags == pipes[0].tags == "|deep-learning|keras|"
    assert tags_to_field(()) == ""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("tensorflow, keras pytorch", ("tensorflow", "keras", "pytorch")),
        ("TensorFlow,tensorflow", ("tensorflow",)),
        ("c++,c#,.net,python-3.x,scikit_learn", ("c++", "c#", ".net", "python-3.x", "scikit_learn")),
        ("", ()),
        (None, ()),
    ],
)
def test_parse_tag_list(text, expected):
    assert parse_tag_list(text) == expected


@pytest.mark.parametrize("text", ["<tensorflow>", "keras|pytorch", "tensor'flow", "naïve"])
def test_parse_tag_list_refuses_what_is_not_a_tag(text):
    with pytest.raises(ValueError, match="is not a Stack Exchange tag"):
        parse_tag_list(text)


# -- ids and sites ---------------------------------------------------------------

def test_id_set_membership():
    ids = IdSet([1, 8, 4095, 4096, 80_000_000])
    assert all(i in ids for i in (1, 8, 4095, 4096, 80_000_000))
    assert not any(i in ids for i in (0, 2, 7, 9, 4097, 79_999_999, 10**12))
    ids.add(0)
    ids.add(2**31)  # past the bitmap: kept aside, still a member
    ids.add(-5)
    assert 0 in ids and 2**31 in ids and -5 in ids
    assert 2**31 + 1 not in ids and -4 not in ids


def test_id_set_stays_a_bitmap():
    ids = IdSet([80_000_000])
    assert len(ids._bits) <= 80_000_000 // 8 * 2  # ~10 MB for Stack Overflow, not gigabytes


@pytest.mark.parametrize(
    ("path", "site"),
    [
        ("genai.stackexchange.com-Posts.xml", "genai.stackexchange.com"),
        ("/data/Datascience.Meta.StackExchange.com-Comments.xml", "datascience.meta.stackexchange.com"),
        ("dumps/serverfault.com/Posts.xml", "serverfault.com"),
        ("dumps/askubuntu.com.7z/Comments.xml", "askubuntu.com"),
        ("Posts.xml", None),
        ("/tmp/upload/Posts.xml", None),
        ("genai.stackexchange.com-Users.xml", "genai.stackexchange.com"),
        ("genai.stackexchange.com-Votes.xml", None),
    ],
)
def test_site_from_path(path, site):
    assert site_from_path(path) == site


# -- rows ------------------------------------------------------------------------

def test_fixture_dump_is_read_field_by_field():
    with open(FIXTURES / "sample.stackexchange.com-Posts.xml", "rb") as stream:
        reader = DumpReader(stream)
        records = {r.so_id: r for r in reader}
    assert set(records) == {1, 2, 3, 4, 5, 6, 7}
    question = records[1]
    assert isinstance(question, PostRecord)
    assert question.title == "Serving a TensorFlow model"
    assert question.body == "<p>How do I serve a TensorFlow model behind an HTTP API?</p>\n"
    assert question.tags == "|tensorflow|serving|"
    assert question.creation_date == datetime(2020, 1, 2, 3, 4, 5, 123000)
    assert (question.score, question.view_count, question.answer_count, question.comment_count) == (5, 120, 2, 1)
    assert question.accepted_answer_so_id == 3 and question.owner_user_id == 7
    assert question.content_license == "CC BY-SA 4.0"
    assert records[3].parent_so_id == 1 and records[3].post_type == 2
    assert records[6].owner_user_id is None and records[6].owner_display_name == "anonymous"
    assert dict(reader.stats.skipped) == {"post type 4": 1, "post type 5": 1, "post type 6": 1}


def test_comments_dump():
    with open(FIXTURES / "sample.stackexchange.com-Comments.xml", "rb") as stream:
        reader = DumpReader(stream)
        comments = list(reader)
    assert reader.kind == "comments"
    assert [c.post_so_id for c in comments] == [1, 3, 2, 6, 7]
    first = comments[0]
    assert isinstance(first, CommentRecord)
    assert (first.so_id, first.text, first.score, first.user_id) == (101, "Which TensorFlow version?", 2, 9)
    assert comments[3].user_id is None and comments[3].user_display_name == "guest"


@pytest.mark.parametrize("bom", [True, False])
def test_byte_order_mark_is_optional(bom):
    records, _ = read(dump('<row Id="1" PostTypeId="1" Title="Hello" Tags="|a|" />', bom=bom))
    assert [(r.so_id, r.title) for r in records] == [(1, "Hello")]


def test_windows_line_endings():
    records, reader = read(dump('<row Id="1" PostTypeId="1" Title="Hello" />').replace(b"\n", b"\r\n"))
    assert [r.so_id for r in records] == [1] and reader.stats.rejected == 0


def test_dates_come_out_as_naive_utc():
    records, _ = read(dump(
        '<row Id="1" PostTypeId="1" CreationDate="2020-01-02T03:04:05.000" ClosedDate="2020-01-09T00:00:00" />',
        '<row Id="2" PostTypeId="1" CreationDate="2020-01-02T05:04:05+02:00" />',
        '<row Id="3" PostTypeId="1" />',
    ))
    assert records[0].creation_date == datetime(2020, 1, 2, 3, 4, 5)
    assert records[0].closed_date == datetime(2020, 1, 9)
    assert records[1].creation_date == datetime(2020, 1, 2, 3, 4, 5)  # an offset is converted to UTC
    assert records[2].creation_date is None


def test_other_post_types_are_skipped_by_reason():
    records, reader = read(dump(
        '<row Id="1" PostTypeId="1" Title="q" />',
        '<row Id="2" PostTypeId="4" Body="excerpt" />',
        '<row Id="3" PostTypeId="5" Body="wiki" />',
        '<row Id="4" PostTypeId="5" Body="wiki" />',
        '<row Id="5" PostTypeId="7" Body="privilege wiki" />',
        '<row Id="6" PostTypeId="2" ParentId="1" Body="a" />',
    ))
    assert [r.so_id for r in records] == [1, 6]
    assert dict(reader.stats.skipped) == {"post type 4": 1, "post type 5": 2, "post type 7": 1}
    assert reader.stats.skipped_total == 4 and reader.stats.rows == 6


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ('<row Id="2" PostTypeId="1" Score="many" />', "Score='many' is not a whole number"),
        ('<row Id="2" PostTypeId="1" ViewCount="1.5" />', "ViewCount='1.5' is not a whole number"),
        ('<row Id="2" PostTypeId="1" Score="99999999999" />', "Score='99999999999' is out of range"),
        ('<row Id="99999999999999999999" PostTypeId="1" />', "out of range"),
        ('<row Id="2" PostTypeId="2" Body="orphan" />', "answer without ParentId"),
        ('<row Id="2" PostTypeId="1" CreationDate="yesterday" />', "CreationDate='yesterday' is not a date"),
        ('<row PostTypeId="1" Title="no id" />', "missing Id"),
        ('<row Id="2" Title="no type" />', "missing PostTypeId"),
        ('<row Id="0" PostTypeId="1" />', "Id=0 is not a positive number"),
        ('<row Id="1" PostTypeId="1" Title="again" />', "duplicate Id 1"),
        ('<row Id="2" PostTypeId="1" Body="' + "é" * 600 + '" />', "Body is 1 KB, over the 1 KB limit"),
    ],
)
def test_bad_rows_are_rejected_with_line_and_reason(row, reason):
    records, reader = read(
        dump('<row Id="1" PostTypeId="1" Title="first" />', row, '<row Id="3" PostTypeId="1" Title="third" />'),
        max_field_bytes=1000,
    )
    assert [(r.so_id, r.title) for r in records] == [(1, "first"), (3, "third")]
    assert reader.stats.rejected == 1
    [rejection] = reader.stats.rejections
    assert rejection.line == 4
    assert reason in rejection.reason


def test_a_rejected_row_does_not_claim_its_id():
    records, reader = read(dump(
        '<row Id="1" PostTypeId="1" Score="x" Title="rejected" />',
        '<row Id="1" PostTypeId="1" Title="kept" />',
    ))
    assert [(r.so_id, r.title) for r in records] == [(1, "kept")]
    assert reader.stats.rejected == 1


def test_duplicate_across_files_of_one_run_is_rejected():
    seen = IdSet()
    first, _ = read(dump('<row Id="1" PostTypeId="1" Title="first file" />'), seen=seen)
    second, reader = read(dump('<row Id="1" PostTypeId="1" Title="second file" />'), seen=seen)
    assert [r.title for r in first] == ["first file"] and second == []
    assert "duplicate Id 1" in reader.stats.rejections[0].reason


class LargestReadRecorder:
    """A binary stream that remembers the largest piece it handed out."""

    def __init__(self, stream):
        self.stream = stream
        self.largest = 0

    def readline(self, limit=-1):
        line = self.stream.readline(limit)
        self.largest = max(self.largest, len(line))
        return line


@pytest.mark.parametrize("max_field_bytes", [None, 1000], ids=["default-limit", "small-limit"])
def test_ten_megabyte_row_is_rejected_without_being_held_whole(tmp_path, max_field_bytes):
    big_row = ('<row Id="2" PostTypeId="1" Title="huge" Body="' + "x" * (10 * 1024 * 1024) + '" />').encode()
    path = tmp_path / "big-Posts.xml"
    path.write_bytes(
        dump('<row Id="1" PostTypeId="1" Title="before" />', "BIG", '<row Id="3" PostTypeId="1" Title="after" />')
        .replace(b"BIG", big_row)
    )
    options = {"max_field_bytes": max_field_bytes} if max_field_bytes else {}

    tracemalloc.start()
    try:
        with open(path, "rb") as file:
            stream = LargestReadRecorder(file)
            reader = DumpReader(stream, **options)
            records = list(reader)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert [r.so_id for r in records] == [1, 3]
    [rejection] = reader.stats.rejections
    assert (rejection.line, rejection.so_id) == (4, 2)
    assert "limited to" in rejection.reason
    assert stream.largest <= max(reader.max_line_bytes, READ_CHUNK)
    assert reader.max_line_bytes < len(big_row)
    assert peak < len(big_row), f"the reader held {peak:,} bytes for a {len(big_row):,}-byte row"
    assert reader.bytes_read == path.stat().st_size


# -- refusals ----------------------------------------------------------------------

def refusal(data: bytes, **options) -> DumpError:
    with pytest.raises(DumpError) as caught:
        read(data, **options)
    return caught.value


def test_dump_error_names_file_and_line():
    error = refusal(dump('<row Id="1" PostTypeId="1" />', '<row Id="2" PostTypeId="1" Title="a < b" />'))
    assert error.line == 4 and error.file == "test-Posts.xml"
    assert str(error).startswith("test-Posts.xml, line 4: malformed XML")


ENTITY_BOMB = (
    '<?xml version="1.0"?>\n'
    "<!DOCTYPE posts [\n"
    ' <!ENTITY lol0 "lol">\n'
    + "".join(f' <!ENTITY lol{i} "' + f"&lol{i - 1};" * 10 + '">\n' for i in range(1, 10))
    + "]>\n<posts>\n"
    '  <row Id="1" PostTypeId="1" Title="&lol9;" />\n'
    "</posts>\n"
).encode()


@pytest.mark.parametrize(
    "data",
    [
        ENTITY_BOMB,
        # The whole DTD on the line of the XML declaration.
        b'<?xml version="1.0"?><!DOCTYPE posts [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>\n'
        b'<posts>\n  <row Id="1" PostTypeId="1" Title="&lol2;" />\n</posts>\n',
        # ... even when no row uses it.
        b'<?xml version="1.0"?><!DOCTYPE posts [<!ENTITY lol "lol">]>\n'
        b'<posts>\n  <row Id="1" PostTypeId="1" Title="plain" />\n</posts>\n',
    ],
    ids=["nested-entities", "dtd-on-declaration-line", "unused-dtd"],
)
def test_entity_bomb_is_refused_quickly_in_little_memory(data):
    tracemalloc.start()
    started = time.monotonic()
    try:
        error = refusal(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert time.monotonic() - started < 1
    assert peak < 2 * 1024 * 1024
    assert "DTD and entity declarations are refused" in str(error)
    assert error.line in (1, 2)


def test_undefined_entity_is_refused_not_expanded():
    error = refusal(dump('<row Id="1" PostTypeId="1" Title="&xxe;" />'))
    assert error.line == 3 and "undefined entity refused" in str(error)


def test_over_long_first_line_is_not_a_dump():
    error = refusal(b"{" + b'"x": 1, ' * 20_000 + b"}", max_field_bytes=1000)
    assert error.line == 1 and "not a Stack Exchange dump" in str(error)


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (dump('<row Id="1" PostTypeId="1" />'), "posts"),
        (dump('<row Id="1" PostId="1" Text="hi" />', root="comments"), "comments"),
        (HEADER.encode() + b"<posts />\n", "posts"),
    ],
)
def test_peek_kind(data, kind):
    assert peek_kind(io.BytesIO(data)) == kind


def test_empty_self_closed_root_has_no_records():
    records, reader = read(HEADER.encode() + b"<posts/>\n")
    assert records == [] and reader.kind == "posts"


def test_peek_kind_refuses_other_dumps():
    with pytest.raises(DumpError, match="this is a Votes.xml dump; only Posts.xml, Comments.xml and Users.xml"):
        peek_kind(io.BytesIO(dump('<row Id="1" PostId="2" VoteTypeId="2" />', root="votes")))
    assert peek_kind(io.BytesIO(dump('<row Id="1" DisplayName="x" />', root="users"))) == "users"


# -- the tag filter ------------------------------------------------------------------

def test_only_tags_keeps_questions_with_any_tag_and_their_answers_and_comments():
    kept_questions, kept_posts = IdSet(), IdSet()
    options = dict(only_tags=("tensorflow", "keras"), kept_questions=kept_questions, kept_posts=kept_posts)
    with open(FIXTURES / "sample.stackexchange.com-Posts.xml", "rb") as stream:
        posts = DumpReader(stream, **options)
        kept = [r.so_id for r in posts]
    with open(FIXTURES / "sample.stackexchange.com-Comments.xml", "rb") as stream:
        comments = DumpReader(stream, **options)
        kept_comments = [c.so_id for c in comments]
    assert kept == [1, 3, 4, 6, 7]
    assert dict(posts.stats.skipped) == {
        "question without a selected tag": 1,
        "answer to a question not kept": 1,
        "post type 4": 1,
        "post type 5": 1,
        "post type 6": 1,
    }
    assert kept_comments == [101, 102, 104, 105]
    assert dict(comments.stats.skipped) == {"comment on a post not kept": 1}


def test_only_tags_ignores_a_tag_that_appears_only_in_the_body():
    records, reader = read(
        dump(
            '<row Id="1" PostTypeId="1" Title="q" Body="&lt;code&gt;x = 1&lt;/code&gt; |code|" Tags="|python|" />',
            '<row Id="2" PostTypeId="2" ParentId="1" Body="&lt;code&gt;y&lt;/code&gt;" />',
            '<row Id="3" PostTypeId="1" Title="q" Tags="&lt;code&gt;" />',
        ),
        only_tags=("code",),
    )
    assert [r.so_id for r in records] == [3]
    assert dict(reader.stats.skipped) == {
        "question without a selected tag": 1,
        "answer to a question not kept": 1,
    }


# -- rows lxml refuses, and odd rows it reads ------------------------------------------


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (b'<row Id="2" PostTypeId="1" Title="a < b" />', "line 4: malformed XML"),
        (b'<row Id="2" PostTypeId="1" Title="&xxe;" />', "line 4: undefined entity refused"),
        (b'<row Id="2" PostTypeId="1" Title="&nbsp;" />', "line 4: undefined entity refused"),
        (b'<row Id="2" PostTypeId="1" Title="caf\xe9" />', "line 4: the bytes are not valid UTF-8"),
        (b'<row Id="2" PostTypeId="1" Title="\xed\xa0\x80" />', "line 4: the bytes are not valid UTF-8"),
        (b'<row Id="2" PostTypeId="1" Title="&#x1F;" />', "line 4: malformed XML"),
        (b'<row Id="2" PostTypeId="1" Id="3" />', "line 4: malformed XML"),
        (b'<row Id="2" PostTypeId="1" Title="x"/>"/>', "line 4: malformed XML"),
        (b'<row Id="2" PostTypeId="1" Title="\x01" />', "line 4: malformed XML"),
    ],
)
def test_malformed_rows_are_refused_with_their_line(row, message):
    data = dump('<row Id="1" PostTypeId="1" />', "ROW").replace(b"ROW", row)
    error = refusal(data)
    assert message in str(error)


def test_odd_but_valid_rows_are_still_read():
    records, reader = read(dump(
        "<row Id='1' PostTypeId='1' Title='single quotes' />",
        '<row  Id="2"  PostTypeId="1"\tTitle="spaced" />',
        '<row Id="3" PostTypeId="1" Title="&#160;nbsp&#x20AC;" />',
        '<row Id="4" PostTypeId="1" Title="a\tb" />',
    ))
    assert [(r.so_id, r.title) for r in records] == [
        (1, "single quotes"), (2, "spaced"), (3, "\xa0nbsp€"), (4, "a b"),
    ]
    assert reader.stats.rejected == 0


# -- the rest of the per-row path ------------------------------------------------------

def reference_normalise_tags(raw: str) -> tuple[str, ...]:
    """normalise_tags before its fast path."""
    raw = raw.strip()
    if not raw:
        return ()
    if raw.startswith("<"):
        parts = re.findall(r"<([^<>]+)>", raw)
    elif "|" in raw:
        parts = raw.split("|")
    else:
        parts = raw.split()
    return tuple(dict.fromkeys(p.strip().lower() for p in parts if p.strip()))


def test_normalise_tags_matches_the_plain_algorithm():
    rng = random.Random(7)
    alphabet = ["<", ">", "|", "a", "B", "c", "-", ".", "#", "+", " ", "\t", "\x1f", "É", "ß", "Σ", "İ", "<a>"]
    cases = ["<a><b>", "<a><>", "<>", "<", ">", "<a>x<b>", "<a><b", "a><b>", "|a||b|", "|", "||", " <a> ",
             "<A><a>", "<a b><c>", "<a>|b|", "|<a>|", "<a><<b>>", "a b", ""]
    cases += ["".join(rng.choice(alphabet) for _ in range(rng.randrange(12))) for _ in range(5000)]
    for raw in cases:
        assert normalise_tags(raw) == reference_normalise_tags(raw), repr(raw)


@pytest.mark.parametrize(
    ("row", "kept"),
    [
        ('<row Id="2" PostTypeId="1" Score="2147483647" ViewCount="-2147483648" />', True),
        ('<row Id="2" PostTypeId="1" Score="2147483648" />', False),
        ('<row Id="2" PostTypeId="1" ViewCount="-2147483649" />', False),
        ('<row Id="9223372036854775807" PostTypeId="1" OwnerUserId="4294967296" />', True),
        ('<row Id="2" PostTypeId="1" OwnerUserId="9223372036854775808" />', False),
        ('<row Id="2" PostTypeId="2" ParentId="1" AcceptedAnswerId="-9223372036854775808" />', True),
        ('<row Id="2" PostTypeId="1" Title="' + "é" * 600 + '" />', False),
        ('<row Id="2" PostTypeId="1" Title="' + "é" * 250 + '" Body="' + "é" * 250 + '" />', True),
        ('<row Id="abc" PostTypeId="1" />', False),
        ('<row Id="" PostTypeId="1" />', False),
    ],
)
def test_number_ranges_field_sizes_and_ids_at_their_limits(row, kept):
    records, reader = read(dump('<row Id="1" PostTypeId="1" />', row), max_field_bytes=1000)
    assert len(records) == 1 + kept
    assert reader.stats.rejected == (not kept)
    if not kept:
        reason = reader.stats.rejections[0].reason
        assert any(word in reason for word in ("out of range", "over the 1 KB limit", "whole number", "missing Id"))


def test_comment_text_over_the_limit_is_rejected():
    records, reader = read(dump('<row Id="1" PostId="1" Text="' + "é" * 600 + '" />', root="comments"),
                           max_field_bytes=1000)
    assert records == [] and "Text is 1 KB, over the 1 KB limit" in reader.stats.rejections[0].reason
