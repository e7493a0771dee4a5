"""Streaming reader for Stack Exchange dump files (``Posts.xml``, ``Comments.xml``, ``Users.xml``).

Pure Python + lxml, no Django: it turns a binary stream into records and
counts, and raises :class:`DumpError` (with the line number) for a file it
cannot trust. Memory stays constant whatever the file size: the dump has one
``<row .../>`` per line, each line is read with a length cap and parsed alone by
lxml. The lines are what give each row and error its line number, let a row
over the cap be rejected without being held whole, and let child processes
start reading mid-file (read_process); one lxml parser over the whole file
reads rows no faster (measured: ~30 µs a 2 KB row either way).

Safety: a dump never has a DTD, so a ``<!DOCTYPE``/``<!ENTITY`` line is refused
before any row is read; rows are parsed with entity resolution, DTD loading and
network access off, so an undefined entity is a syntax error, never an
expansion or a file read.

With a tag filter, a line is first checked on its raw bytes (``&lt;tag&gt;`` or
``|tag|`` somewhere in it; its ``ParentId`` for answers) and only parsed when
it may be kept. Rows dropped by that check are not parsed, so malformation
inside them is not reported (a truncated line still is).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from operator import itemgetter
from typing import BinaryIO, NamedTuple

from lxml import etree

BOM = b"\xef\xbb\xbf"
ROOTS = {b"posts": "posts", b"comments": "comments", b"users": "users"}
KIND_ORDER = {"posts": 0, "comments": 1, "users": 2}  # the order an import reads its files in
OTHER_DUMP_ROOTS = {b"votes", b"badges", b"tags", b"postlinks", b"posthistory"}
DEFAULT_MAX_FIELD_BYTES = 1024 * 1024
READ_CHUNK = 1024 * 1024
PROGRESS_MASK = (1 << 14) - 1  # every 16,384 lines

_ROW_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False, huge_tree=False
)
_TYPE_RE = re.compile(rb'\sPostTypeId="(\d+)"')
_PARENT_RE = re.compile(rb'\sParentId="(\d+)"')
_POSTID_RE = re.compile(rb'\sPostId="(\d+)"')
_ID_RE = re.compile(rb'\sId="(\d+)"')
_USER_ID_RE = re.compile(rb'\sId="(-?\d+)"')
_ENCODING_RE = re.compile(rb'encoding\s*=\s*["\']([A-Za-z0-9._-]+)["\']')
_ROOT_RE = re.compile(rb"^<([A-Za-z]+)\s*(/?)>$")
_HTML_RE = re.compile(rb"<!doctype\s+html\b|<html\b", re.IGNORECASE)
_ANGLE_TAGS_RE = re.compile(r"<([^<>]+)>")


class DumpError(Exception):
    """The file cannot be imported; nothing from it should be kept."""

    def __init__(self, message: str, *, line: int | None = None, file: str | None = None):
        self.message = message
        self.line = line
        self.file = file
        super().__init__(str(self))

    def __str__(self) -> str:
        where = ", ".join(p for p in (self.file, f"line {self.line}" if self.line else None) if p)
        return f"{where}: {self.message}" if where else self.message


class PostRecord(NamedTuple):
    so_id: int
    post_type: int
    parent_so_id: int | None
    accepted_answer_so_id: int | None
    title: str
    body: str
    tags: str  # normalised "|a|b|"
    creation_date: datetime | None  # naive, UTC as in the dump
    last_activity_date: datetime | None
    closed_date: datetime | None
    score: int | None
    view_count: int | None
    answer_count: int | None
    comment_count: int | None
    favorite_count: int | None
    owner_user_id: int | None
    owner_display_name: str
    content_license: str


class UserRecord(NamedTuple):
    so_id: int  # Community is -1
    display_name: str


class CommentRecord(NamedTuple):
    so_id: int
    post_so_id: int
    score: int | None
    text: str
    creation_date: datetime | None
    user_id: int | None
    user_display_name: str
    content_license: str


@dataclass(slots=True)
class Rejection:
    line: int
    so_id: int | None
    reason: str


class RowRejected(ValueError):
    pass


class IdSet:
    """A set of positive integer ids as a bitmap: ~10 MB for the 80 M ids of
    Stack Overflow, where a Python ``set`` would take gigabytes."""

    __slots__ = ("_bits", "_overflow")
    _BITMAP_LIMIT = 1 << 31

    def __init__(self, ids: Iterable[int] = ()):
        self._bits = bytearray()
        self._overflow: set[int] = set()
        for i in ids:
            self.add(i)

    def add(self, i: int) -> None:
        if i >= self._BITMAP_LIMIT or i < 0:
            self._overflow.add(i)
            return
        byte = i >> 3
        if byte >= len(self._bits):
            self._bits.extend(bytes(max(byte + 1 - len(self._bits), len(self._bits) // 2, 4096)))
        self._bits[byte] |= 1 << (i & 7)

    def __contains__(self, i: int) -> bool:
        if i >= self._BITMAP_LIMIT or i < 0:
            return i in self._overflow
        byte = i >> 3
        return byte < len(self._bits) and bool(self._bits[byte] & (1 << (i & 7)))


def normalise_tags(raw: str) -> tuple[str, ...]:
    """Both dump formats (``<a><b>`` and ``|a|b|``) to a tuple of lower-case tags."""
    # The usual case, in C: printable ASCII without spaces has nothing to strip and
    # lower-cases the same whole or tag by tag.
    if raw.isascii() and raw.isprintable() and " " not in raw:
        low = raw.lower()
        if low.startswith("<"):
            parts = low[1:-1].split("><")
            # Only separators hold < or >: what the regex would find, tag for tag.
            if low.endswith(">") and low.count("<") == len(parts) == low.count(">"):
                tags = dict.fromkeys(parts)
                tags.pop("", None)
                return tuple(tags)
        elif "|" in low:
            tags = dict.fromkeys(low.split("|"))
            tags.pop("", None)
            return tuple(tags)
    raw = raw.strip()
    if not raw:
        return ()
    if raw.startswith("<"):
        parts = _ANGLE_TAGS_RE.findall(raw)
    elif "|" in raw:
        parts = raw.split("|")
    else:
        parts = raw.split()
    return tuple(dict.fromkeys(p.strip().lower() for p in parts if p.strip()))


def tags_to_field(tags: Iterable[str]) -> str:
    tags = tuple(tags)
    return "|" + "|".join(tags) + "|" if tags else ""


def parse_tag_list(text: str) -> tuple[str, ...]:
    """``"a, b c"`` → ``("a", "b", "c")``: the user-facing form of ``--only-tags``."""
    tags = [t.strip().lower() for t in re.split(r"[,\s]+", text or "") if t.strip()]
    for t in tags:
        if not re.fullmatch(r"[a-z0-9#+.\-_]+", t):
            raise ValueError(f"“{t}” is not a Stack Exchange tag (letters, digits and + # . - _ only).")
    return tuple(dict.fromkeys(tags))


def _int(attrs: dict, name: str, required: bool = False) -> int | None:
    value = attrs.get(name)
    if value is None or value == "":
        if required:
            raise RowRejected(f"missing {name}")
        return None
    try:
        return int(value)
    except ValueError:
        raise RowRejected(f"{name}={value[:30]!r} is not a whole number") from None


def _date(attrs: dict, name: str) -> datetime | None:
    value = attrs.get(name)
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise RowRejected(f"{name}={value[:40]!r} is not a date") from None
    # Records carry naive UTC, as the dump does.
    return parsed if parsed.tzinfo is None else parsed.astimezone(UTC).replace(tzinfo=None)


def _opt_int(value: str | None) -> int | None:
    return int(value) if value else None


def _opt_date(value: str | None) -> datetime | None:
    if not value:
        return None
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo is None else parsed.astimezone(UTC).replace(tzinfo=None)


def _human_bytes(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MB" if n >= 1024 * 1024 else f"{n / 1024:.0f} KB"


@dataclass
class ReadStats:
    rows: int = 0
    questions: int = 0
    answers: int = 0
    comments: int = 0
    users: int = 0
    skipped: Counter = field(default_factory=Counter)
    rejected: int = 0
    rejections: list[Rejection] = field(default_factory=list)

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())


class DumpReader:
    """Iterate over the records of one dump file.

    ``seen`` collects the ids read so far (a second row with the same id, in
    this file or an earlier one of the same run, is rejected). With
    ``only_tags``, ``kept_questions``/``kept_posts`` say which questions and
    posts are kept (seeded with what the study already has); answers and
    comments are kept when their question/post is.
    """

    MAX_REJECTIONS_LISTED = 200

    def __init__(
        self,
        stream: BinaryIO,
        *,
        name: str = "",
        only_tags: Iterable[str] | None = None,
        max_field_bytes: int = DEFAULT_MAX_FIELD_BYTES,
        seen: IdSet | None = None,
        kept_questions: IdSet | None = None,
        kept_posts: IdSet | None = None,
        kept_users: IdSet | None = None,
        on_progress: Callable[[DumpReader], None] | None = None,
        byte_limit: int | None = None,
    ):
        self.stream = stream
        # Read only the lines that start within this many bytes (a chunk of a file).
        self.byte_limit = byte_limit
        # Called every PROGRESS_EVERY lines, kept or not: a filtered run over a
        # huge dump keeps few rows but must still show that it moves.
        self.on_progress = on_progress
        self.name = name
        self.only_tags = frozenset(only_tags or ())
        self.max_field_bytes = max_field_bytes
        # A line longer than this cannot be a row within the field limit: it is
        # rejected without being held in memory whole.
        self.max_line_bytes = 3 * max_field_bytes + 64 * 1024
        self.seen = seen if seen is not None else IdSet()
        self.kept_questions = kept_questions if kept_questions is not None else IdSet()
        self.kept_posts = kept_posts if kept_posts is not None else IdSet()
        # With a tag filter: the authors of the posts and comments kept (Users.xml keeps only them).
        self.kept_users = kept_users if kept_users is not None else IdSet()
        self._needles = [
            needle
            for tag in sorted(self.only_tags)
            for needle in (b"&lt;" + tag.encode() + b"&gt;", b"|" + tag.encode() + b"|")
        ]
        self.kind: str | None = None
        self.line_no = 0
        self.bytes_read = 0
        self.stats = ReadStats()
        # Whether the closing </posts> (</comments>) was read, and the line of the first
        # thing that is not blank space (the chunks after the end must have none).
        self.ended = False
        self.first_content_line: int | None = None

    # -- lines -----------------------------------------------------------------
    def _lines(self) -> Iterator[tuple[bytes, bool]]:
        """(line, complete) pairs; an over-long line is yielded as its first
        chunk with complete=False and the rest is read and dropped."""
        readline = self.stream.readline
        limit = self.max_line_bytes
        byte_limit = self.byte_limit
        while True:
            if byte_limit is not None and self.bytes_read >= byte_limit:
                return
            line = readline(limit)
            if not line:
                return
            self.line_no += 1
            self.bytes_read += len(line)
            if not self.line_no & PROGRESS_MASK and self.on_progress is not None:
                self.on_progress(self)
            if len(line) >= limit and not line.endswith(b"\n"):
                head = line
                while True:
                    rest = readline(READ_CHUNK)
                    self.bytes_read += len(rest)
                    if not rest or rest.endswith(b"\n"):
                        break
                yield head, False
                continue
            yield line, True

    def _fail(self, message: str) -> DumpError:
        return DumpError(message, line=self.line_no or None, file=self.name or None)

    def _header(self, lines: Iterator[tuple[bytes, bool]]) -> bool:
        """Read up to the root element; return False for an empty self-closed root."""
        first = True
        for line, complete in lines:
            if first:
                first = False
                if line.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in line[:200]:
                    raise self._fail(
                        "the file is UTF-16; Stack Exchange dumps are UTF-8 (convert it, e.g. iconv -f UTF-16 -t UTF-8)"
                    )
                if line.startswith(BOM):
                    line = line[len(BOM):]
            if not complete:
                raise self._fail("not a Stack Exchange dump: the first lines are not XML rows")
            text = line.strip()
            if not text:
                continue
            if text.startswith(b"<?xml"):
                m = _ENCODING_RE.search(text)
                if m and m.group(1).lower().replace(b"_", b"-") not in (b"utf-8", b"utf8"):
                    raise self._fail(
                        f"the file declares encoding {m.group(1).decode('ascii', 'replace')}; "
                        "Stack Exchange dumps are UTF-8 (convert it first)"
                    )
                if b"<!" not in text:
                    continue
                text = text[text.index(b"<!"):]  # a DTD on the same line is refused below
            if text.startswith(b"<!--") and text.endswith(b"-->"):
                continue
            if _HTML_RE.match(text):
                raise self._fail("not a Stack Exchange dump: this is an HTML page (a failed download or a login page?)")
            upper = text[:10].upper()
            if upper.startswith((b"<!DOCTYPE", b"<!ENTITY")):
                raise self._fail(
                    "DTD and entity declarations are refused (a Stack Exchange dump has none; "
                    "they are how entity-expansion and external-entity attacks work)"
                )
            m = _ROOT_RE.match(text)
            if m and m.group(1).lower() in ROOTS:
                self.kind = ROOTS[m.group(1).lower()]
                return m.group(2) != b"/"
            if m and m.group(1).lower() in OTHER_DUMP_ROOTS:
                raise self._fail(
                    f"this is a {m.group(1).decode().capitalize()}.xml dump; only Posts.xml, Comments.xml and "
                    "Users.xml are imported"
                )
            raise self._fail(
                f"not a Stack Exchange Posts.xml, Comments.xml or Users.xml dump: expected <posts>, <comments> "
                f"or <users>, "
                f"found {text[:60].decode('utf-8', 'replace')!r}"
            )
        raise self._fail("not a Stack Exchange dump: the file is empty or has no <posts>/<comments>/<users> element")

    # -- records ---------------------------------------------------------------
    def __iter__(self) -> Iterator[PostRecord | CommentRecord | UserRecord]:
        lines = self._lines()
        if not self._header(lines):
            self.ended = True
            self._expect_end(lines)
            return
        yield from self._records(lines)
        if not self.ended:
            raise self._fail(f"the file ends before </{self.kind}>: it looks truncated")

    def chunk_records(self, kind: str) -> Iterator[PostRecord | CommentRecord | UserRecord]:
        """The records of a chunk of a ``kind`` file, its stream placed at the start of a
        line after the header. Whether the file ended in it, and where its first content
        is, are left for the caller to check (see read_process)."""
        self.kind = kind
        return self._records(self._lines())

    def _records(self, lines: Iterator[tuple[bytes, bool]]) -> Iterator[PostRecord | CommentRecord | UserRecord]:
        end_tag = b"</" + self.kind.encode() + b">"
        is_posts = self.kind == "posts"
        stats, parse = self.stats, self._parse
        make = {"posts": self._post, "comments": self._comment, "users": self._user}[self.kind]
        for line, complete in lines:
            text = line.strip()
            if not text:
                continue
            if self.first_content_line is None:
                self.first_content_line = self.line_no
            if not text.startswith(b"<row"):
                if text == end_tag:
                    self.ended = True
                    self._expect_end(lines)
                    return
                if text.startswith(b"<!"):
                    raise self._fail("DTD and entity declarations are refused")
                raise self._fail(
                    f"expected a <row .../> element or {end_tag.decode()}, found {text[:60].decode('utf-8', 'replace')!r}"
                )
            stats.rows += 1
            if not complete:
                m = _ID_RE.search(line, 0, 400)
                self._reject(
                    int(m.group(1)) if m else None,
                    f"row is over {_human_bytes(self.max_line_bytes)}; fields are limited to "
                    f"{_human_bytes(self.max_field_bytes)}",
                )
                continue
            if not text.endswith(b"/>"):
                raise self._fail("malformed row: a <row> must end with '/>' on the same line (truncated file?)")
            if self.only_tags and not self._may_keep(text, is_posts):
                continue
            attrs = parse(text)
            try:
                record = make(attrs)
            except RowRejected as exc:
                self._reject(_safe_int(attrs.get("Id")), str(exc))
                continue
            if record is not None:
                yield record

    def _expect_end(self, lines: Iterator[tuple[bytes, bool]]) -> None:
        for line, _complete in lines:
            if line.strip():
                raise self._fail("unexpected content after the end of the document")

    def _parse(self, text: bytes):
        """The row's attributes, as lxml reads them."""
        try:
            return etree.fromstring(text, _ROW_PARSER).attrib
        except etree.XMLSyntaxError as exc:
            msg = str(exc.msg if hasattr(exc, "msg") else exc)
            if "UTF-8" in msg or "encoding" in msg.lower():
                raise self._fail(
                    "the bytes are not valid UTF-8 (is the file in another encoding? Stack Exchange dumps are UTF-8)"
                ) from None
            if "Entity" in msg or "entity" in msg:
                raise self._fail(f"undefined entity refused ({msg}); entities are never expanded") from None
            raise self._fail(f"malformed XML: {msg}") from None

    def _may_keep(self, text: bytes, is_posts: bool) -> bool:
        """The byte-level filter: False means the row is certainly not kept."""
        if self.kind == "users":
            m = _USER_ID_RE.search(text)
            if m and int(m.group(1)) not in self.kept_users:
                self.stats.skipped["user who wrote nothing kept"] += 1
                return False
            return True
        if not is_posts:
            m = _POSTID_RE.search(text)
            if m and int(m.group(1)) not in self.kept_posts:
                self.stats.skipped["comment on a post not kept"] += 1
                return False
            return True
        m = _TYPE_RE.search(text, 0, 300)
        post_type = m.group(1) if m else None
        if post_type == b"1":
            for needle in self._needles:  # a plain loop: no generator to set up per row
                if needle in text:
                    break
            else:
                self.stats.skipped["question without a selected tag"] += 1
                return False
        elif post_type == b"2":
            p = _PARENT_RE.search(text)
            if p and int(p.group(1)) not in self.kept_questions:
                self.stats.skipped["answer to a question not kept"] += 1
                return False
        elif post_type is not None:
            self.stats.skipped[f"post type {post_type.decode()}"] += 1
            return False
        return True

    def _reject(self, so_id: int | None, reason: str) -> None:
        self.stats.rejected += 1
        if len(self.stats.rejections) < self.MAX_REJECTIONS_LISTED:
            self.stats.rejections.append(Rejection(line=self.line_no, so_id=so_id, reason=reason))

    def _check_size(self, **values: str) -> None:
        for name, value in values.items():
            # len(str) <= bytes <= 4*len(str); only encode when it might matter.
            if value and len(value) * 4 > self.max_field_bytes and len(value.encode()) > self.max_field_bytes:
                raise RowRejected(
                    f"{name} is {_human_bytes(len(value.encode()))}, over the {_human_bytes(self.max_field_bytes)} limit"
                )

    def _claim_id(self, attrs) -> int:
        try:
            so_id = int(attrs["Id"])
        except (KeyError, ValueError):
            so_id = _int(attrs, "Id", required=True)  # raises with the reason
        if so_id <= 0:
            raise RowRejected(f"Id={so_id} is not a positive number")
        if so_id in self.seen:
            raise RowRejected(duplicate_reason(so_id))
        return so_id

    def _post(self, a) -> PostRecord | None:
        try:
            post_type = int(a["PostTypeId"])
        except (KeyError, ValueError):
            post_type = _int(a, "PostTypeId", required=True)  # raises with the reason
        if post_type != 1 and post_type != 2:
            self.stats.skipped[f"post type {post_type}"] += 1
            return None
        so_id = self._claim_id(a)
        get = a.get
        title, body = get("Title", ""), get("Body", "")  # each get() decodes: fetch once
        if (len(title) + len(body)) * 4 > self.max_field_bytes:  # else certainly within the limit
            self._check_size(Title=title, Body=body)
        try:  # the fast path; any surprise is worded by the careful one below
            parent = _opt_int(get("ParentId"))
            values = (
                _opt_int(get("AcceptedAnswerId")),
                title,
                body,
                None,  # tags, below
                _opt_date(get("CreationDate")),
                _opt_date(get("LastActivityDate")),
                _opt_date(get("ClosedDate")),
                _opt_int(get("Score")),
                _opt_int(get("ViewCount")),
                _opt_int(get("AnswerCount")),
                _opt_int(get("CommentCount")),
                _opt_int(get("FavoriteCount")),
                _opt_int(get("OwnerUserId")),
            )
        except (ValueError, TypeError):
            parent = _int(a, "ParentId")
            values = (
                _int(a, "AcceptedAnswerId"), title, body, None,
                _date(a, "CreationDate"), _date(a, "LastActivityDate"), _date(a, "ClosedDate"),
                _int(a, "Score"), _int(a, "ViewCount"), _int(a, "AnswerCount"), _int(a, "CommentCount"),
                _int(a, "FavoriteCount"), _int(a, "OwnerUserId"),
            )
        tags = normalise_tags(get("Tags", ""))
        if post_type == 1:
            if self.only_tags and self.only_tags.isdisjoint(tags):
                self.stats.skipped["question without a selected tag"] += 1
                return None
        else:
            if parent is None:
                raise RowRejected("answer without ParentId")
            if self.only_tags and parent not in self.kept_questions:
                self.stats.skipped["answer to a question not kept"] += 1
                return None
        record = PostRecord(
            so_id,
            post_type,
            parent if post_type == 2 else None,
            values[0],
            values[1],
            values[2],
            tags_to_field(tags),
            *values[4:],
            get("OwnerDisplayName", "")[:200],
            get("ContentLicense", "")[:40],
        )
        _check_ranges(record)
        self.seen.add(so_id)
        self.kept_posts.add(so_id)
        if self.only_tags and record.owner_user_id is not None:
            self.kept_users.add(record.owner_user_id)
        if post_type == 1:
            self.kept_questions.add(so_id)
            self.stats.questions += 1
        else:
            self.stats.answers += 1
        return record

    def _comment(self, a) -> CommentRecord | None:
        so_id = self._claim_id(a)
        text = a.get("Text", "")
        if len(text) * 4 > self.max_field_bytes:
            self._check_size(Text=text)
        post_id = _int(a, "PostId", required=True)
        if self.only_tags and post_id not in self.kept_posts:
            self.stats.skipped["comment on a post not kept"] += 1
            return None
        record = CommentRecord(
            so_id=so_id,
            post_so_id=post_id,
            score=_int(a, "Score"),
            text=text,
            creation_date=_date(a, "CreationDate"),
            user_id=_int(a, "UserId"),
            user_display_name=a.get("UserDisplayName", "")[:200],
            content_license=a.get("ContentLicense", "")[:40],
        )
        _check_ranges(record)
        self.seen.add(so_id)
        if self.only_tags and record.user_id is not None:
            self.kept_users.add(record.user_id)
        self.stats.comments += 1
        return record

    def _user(self, a) -> UserRecord | None:
        """A user's id and display name; the rest of the row (AboutMe, often the bulk of
        it) is neither checked nor kept. Ids may be negative (Community is -1)."""
        so_id = _int(a, "Id", required=True)
        if so_id in self.seen:
            raise RowRejected(duplicate_reason(so_id))
        if self.only_tags and so_id not in self.kept_users:
            self.stats.skipped["user who wrote nothing kept"] += 1
            return None
        name = a.get("DisplayName", "").strip()
        if not name:
            self.stats.skipped["user without a display name"] += 1
            return None
        record = UserRecord(so_id, name[:200])
        _check_ranges(record)
        self.seen.add(so_id)
        self.stats.users += 1
        return record


# Ids are 64-bit columns, scores and counts 32-bit: a larger number would make the
# database refuse the whole import, so it rejects its row here instead.
_INT64, _INT32 = 2**63, 2**31
_NUMBER_LIMITS = {
    PostRecord: (
        ("so_id", "Id", _INT64), ("parent_so_id", "ParentId", _INT64),
        ("accepted_answer_so_id", "AcceptedAnswerId", _INT64), ("score", "Score", _INT32),
        ("view_count", "ViewCount", _INT32), ("answer_count", "AnswerCount", _INT32),
        ("comment_count", "CommentCount", _INT32), ("favorite_count", "FavoriteCount", _INT32),
        ("owner_user_id", "OwnerUserId", _INT64),
    ),
    CommentRecord: (
        ("so_id", "Id", _INT64), ("post_so_id", "PostId", _INT64), ("score", "Score", _INT32),
        ("user_id", "UserId", _INT64),
    ),
    UserRecord: (("so_id", "Id", _INT64),),
}


# The checked numbers of a record, in one C call.
_NUMBER_GETTERS = {
    cls: itemgetter(*(cls._fields.index(field_name) for field_name, _, _ in limits))
    if len(limits) > 1 else (lambda record, i=cls._fields.index(limits[0][0]): (record[i],))
    for cls, limits in _NUMBER_LIMITS.items()
}


def _check_ranges(record: PostRecord | CommentRecord | UserRecord) -> None:
    # Nearly always all within 32 bits, the tightest limit: then nothing to word.
    for value in _NUMBER_GETTERS[type(record)](record):
        if value is not None and not -_INT32 <= value < _INT32:
            break
    else:
        return
    for field_name, attribute, limit in _NUMBER_LIMITS[type(record)]:
        value = getattr(record, field_name)
        if value is not None and not -limit <= value < limit:
            raise RowRejected(f"{attribute}={str(value)[:30]!r} is out of range (at most {limit - 1:,})")


def _safe_int(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


def duplicate_reason(so_id: int) -> str:
    return f"duplicate Id {so_id}: a row with this id was already read; the first one is kept"


class DumpHeader(NamedTuple):
    kind: str  # "posts", "comments" or "users"
    rows_start: int  # the byte offset of the line after the root element
    lines: int  # the lines up to the root element
    has_rows: bool  # False for a self-closed root (<posts/>): nothing may follow


def peek_header(stream: BinaryIO, *, name: str = "") -> DumpHeader:
    """What a dump's header says (raises DumpError for a file that is not a dump)."""
    reader = DumpReader(stream, name=name)
    has_rows = reader._header(reader._lines())
    assert reader.kind is not None
    return DumpHeader(reader.kind, reader.bytes_read, reader.line_no, has_rows)


def peek_kind(stream: BinaryIO, *, name: str = "") -> str:
    """'posts', 'comments' or 'users', from the header alone (raises DumpError otherwise)."""
    return peek_header(stream, name=name).kind


SITE_FROM_NAME = re.compile(r"^(?P<site>[A-Za-z0-9][A-Za-z0-9.-]*\.[A-Za-z]{2,})-(?:Posts|Comments|Users)\.xml$",
                            re.I)


def site_from_path(path: str) -> str | None:
    """``genai.stackexchange.com-Posts.xml`` → ``genai.stackexchange.com``; a
    ``Posts.xml`` inside a folder named like a site → that folder's name."""
    from pathlib import PurePath

    p = PurePath(path)
    m = SITE_FROM_NAME.match(p.name)
    if m:
        return m.group("site").lower()
    parent = p.parent.name
    parent = parent.removesuffix(".7z")
    if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9.-]*\.[A-Za-z]{2,}", parent):
        return parent.lower()
    return None
