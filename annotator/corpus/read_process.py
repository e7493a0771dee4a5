"""Reading an import's dump files into ready-to-write batches: here, or in child processes.

:func:`read_plan` reads every file of a :class:`ReadPlan` with :class:`DumpReader`, in
this process, and hands each batch of rows, already in the form its database takes, to
an ``emit`` callback, with progress and each file's counts.

:func:`read_in_children` gives the same messages in the same order, but has the files
read by child processes (``multiprocessing`` processes, started with "spawn": a fresh
interpreter that imports this module, safe whatever threads this process runs), several
at once: reading is about 30 µs a row on one core, and is what limits an import of
everything. Each file is cut into chunks of ``chunk_bytes`` after its header; child *w*
of *n* reads chunks *w*, *w + n*, ... (a line belongs to the chunk it starts in) and
sends each batch through its own ``multiprocessing`` pipe, whose buffer holds back a
child that runs ahead of the writes. For PostgreSQL a child sends a batch as binary
``COPY`` data, made with psycopg's public ``Copy.write_row`` and ``FileWriter`` on a
connection of its own (used for nothing else), so that this process only forwards bytes.
This process takes the chunks in the file's order, which is what keeps the import's
meaning whole: line numbers count from the top of the file, a duplicate id is the second
one in file order (ids are checked here, across chunks; a duplicate row leaves its list
of tuples here, or is named to the stage, which leaves it out of COPY data in SQL), the
first error in the file is the one raised, the end tag must close the file. Filtered imports read here: whether an
answer is kept depends on the questions kept before it. One difference remains: a row
that repeats an earlier id *and* has another fault (a bad number, say) is rejected for
that other fault, where reading here names the duplicate id.

Messages (tuples):

- ``("batch", file_index, rows, payload[, skip])``: ``payload`` is a list of row tuples
  (study id, site, the record's fields, updated_at), dates as ``datetime`` for
  PostgreSQL's ``COPY`` and as text for SQLite (see :attr:`ReadPlan.output`), or, from
  children for PostgreSQL, those rows as binary ``COPY`` data; ``skip``: the positions
  (from 0) of its rows to leave out, duplicates of earlier ones (``rows`` does not count
  them);
- ``("progress", file_index, bytes_read, rows_read)``;
- ``("file", file_index, stats, bytes_read)`` when a file has been read whole.

A :class:`DumpError` is raised as reading in this process would raise it.
"""

from __future__ import annotations

import fcntl
import io
import multiprocessing
import traceback
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from .dump_parser import DumpError, DumpReader, IdSet, ReadStats, Rejection, duplicate_reason

BATCH_ROWS = 500
# A batch is sent once it holds this many bytes even with fewer rows: rows can be
# megabytes each, and both processes hold a batch in memory.
BATCH_BYTES = 8 * 1024 * 1024
# Pipe buffer (Linux; 64 KB by default): how far a child may run ahead of the writes.
PIPE_BYTES = 1024 * 1024
# "spawn": the children start from a fresh interpreter, never from a copy of this process
# (whose threads, such as a job's heartbeat, may hold locks) nor through a fork server.
_CONTEXT = multiprocessing.get_context("spawn")

Emit = Callable[[tuple], None]


@dataclass
class ReadFile:
    path: str
    name: str
    site: str
    kind: str  # "posts", "comments" or "users"
    # From the file's header (dump_parser.peek_header); needed to read it in chunks.
    rows_start: int = 0
    header_lines: int = 0
    has_rows: bool = True
    size: int = 0

    def chunks(self, chunk_bytes: int) -> int:
        return -(-(self.size - self.rows_start) // chunk_bytes)


@dataclass
class ReadPlan:
    """Everything the reading needs, picklable: no Django objects."""

    files: list[ReadFile]
    study_id: int
    now: datetime  # naive UTC: every row's updated_at
    only_tags: tuple[str, ...] = ()
    max_field_bytes: int = 1024 * 1024
    # site -> (question ids, post ids, user ids) the study already has: a filtered import
    # keeps the answers and comments that belong to them, and the users who wrote them.
    kept: dict[str, tuple[IdSet, IdSet, IdSet]] = field(default_factory=dict)
    # "copy": dates as datetime, for psycopg's COPY; "rows": dates as text (SQLite).
    output: str = "rows"
    chunk_bytes: int = 4 * 1024 * 1024
    # "copy" read by children: the database to connect to (psycopg's formatting needs a
    # connection) and the psycopg type names of each kind's columns.
    conninfo: str = ""
    copy_types: dict[str, list[str]] = field(default_factory=dict)


class _CopyData:
    """Rows as binary COPY data, made in a child with psycopg's public ``Copy`` and
    ``FileWriter`` (documented for COPY data written for later use)."""

    def __init__(self, plan: ReadPlan):
        import psycopg

        self.types = plan.copy_types
        self.connection = psycopg.connect(plan.conninfo, autocommit=True)
        self.cursor = self.connection.cursor()

    def __call__(self, kind: str, rows: list[tuple]) -> memoryview:
        from psycopg.copy import Copy, FileWriter

        out = io.BytesIO()
        with Copy(self.cursor, binary=True, writer=FileWriter(out)) as copy:
            copy.set_types(self.types[kind])
            for row in rows:
                copy.write_row(row)
        return out.getbuffer()

    def close(self) -> None:
        self.connection.close()


class _Batcher:
    """Collects one file's records and emits them in batches of ready rows. With
    ``ids``, each batch also carries its rows' ids, lines and types, for the checks that
    only the reader of the whole file can make."""

    def __init__(self, plan: ReadPlan, index: int, emit: Emit, *, ids: bool = False,
                 copy_data: _CopyData | None = None):
        self.plan, self.index, self.emit, self.ids, self.copy_data = plan, index, emit, ids, copy_data
        self.head = (plan.study_id, plan.files[index].site)
        self.tail = (plan.now,) if plan.output == "copy" else (str(plan.now),)
        self.kind = kind = plan.files[index].kind
        # The type byte of each row in an id-checked batch: the post type, 0 a comment, 3 a user.
        self.type_of = (lambda record: record[1]) if kind == "posts" else (lambda _record, t=3 * (kind == "users"): t)
        # The bulk of a row: a post's title and body, a comment's text, a user's name.
        self.size_of = {"posts": lambda r: len(r.title) + len(r.body), "comments": lambda r: len(r.text),
                        "users": lambda r: len(r.display_name)}[kind]
        self.records: list = []
        self.lines: list[int] = []
        self.size = 0

    def add(self, record, line: int = 0) -> None:
        self.records.append(record)
        if self.ids:
            self.lines.append(line)
        self.size += self.size_of(record)
        if len(self.records) >= BATCH_ROWS or self.size >= BATCH_BYTES:
            self.flush()

    def flush(self) -> None:
        if not self.records:
            return
        records, self.records, self.size = self.records, [], 0
        head, tail = self.head, self.tail
        payload: list | memoryview
        if self.plan.output == "copy":
            payload = [head + record + tail for record in records]
            if self.copy_data is not None:
                payload = self.copy_data(self.kind, payload)
        else:
            payload = [head + _dates_as_text(record) + tail for record in records]
        message: tuple = ("batch", self.index, len(records), payload)
        if self.ids:
            types = bytes(map(self.type_of, records))
            message += (array("q", (record[0] for record in records)), array("q", self.lines), types)
            self.lines = []
        self.emit(message)


def _dates_as_text(record) -> tuple:
    # SQLite stores naive UTC datetimes as text, as Django does.
    return tuple(str(v) if isinstance(v, datetime) else v for v in record)


def read_plan(plan: ReadPlan, emit: Emit) -> None:
    """Read every file of ``plan`` in order, here, emitting its messages. Raises DumpError."""
    seen: dict[tuple[str, str], IdSet] = {}
    for index, f in enumerate(plan.files):
        # A filtered import shares its kept ids between a site's files (posts, then comments).
        questions, posts, users = (plan.kept.setdefault(f.site, (IdSet(), IdSet(), IdSet())) if plan.only_tags
                                   else (None, None, None))

        def progress(reader: DumpReader, index=index) -> None:
            emit(("progress", index, reader.bytes_read, reader.stats.rows))

        with open(f.path, "rb") as stream:
            reader = DumpReader(
                stream,
                name=f.name,
                only_tags=plan.only_tags,
                max_field_bytes=plan.max_field_bytes,
                seen=seen.setdefault((f.site, f.kind), IdSet()),
                kept_questions=questions,
                kept_posts=posts,
                kept_users=users,
                on_progress=progress,
            )
            batcher = _Batcher(plan, index, emit)
            for record in reader:
                batcher.add(record)
            batcher.flush()
        emit(("file", index, reader.stats, reader.bytes_read))


# -- reading in child processes ------------------------------------------------------------


class _NoIds(IdSet):
    """A chunk's reader claims no ids: the importing process checks them in file order."""

    def __contains__(self, i: int) -> bool:
        return False

    def add(self, i: int) -> None:
        pass


def _read_chunk(plan: ReadPlan, index: int, chunk: int, emit: Emit, copy_data: _CopyData | None) -> bool:
    """Read chunk ``chunk`` of file ``index``; False after a DumpError (reported)."""
    f = plan.files[index]
    start = f.rows_start + chunk * plan.chunk_bytes
    end = start + plan.chunk_bytes
    with open(f.path, "rb") as stream:
        stream.seek(start)
        if chunk > 0:
            # The line that starts in the chunk before is that chunk's: skip to the next line,
            # reading no further than this chunk (a chunk inside a long line has no line).
            stream.seek(start - 1)
            while stream.tell() < end:
                part = stream.readline(min(1024 * 1024, end - stream.tell()))
                if not part or part.endswith(b"\n"):
                    break
        reader = DumpReader(stream, name=f.name, max_field_bytes=plan.max_field_bytes, seen=_NoIds(),
                            byte_limit=max(0, end - stream.tell()))
        batcher = _Batcher(plan, index, emit, ids=True, copy_data=copy_data)
        try:
            for record in reader.chunk_records(f.kind):
                batcher.add(record, reader.line_no)
        except DumpError as exc:
            batcher.flush()
            emit(("error", index, chunk, exc.message, exc.line, reader.first_content_line))
            return False
        batcher.flush()
    emit(("chunk", index, chunk, reader.stats, reader.line_no, reader.ended, reader.first_content_line))
    return True


def _child_main(plan: ReadPlan, worker: int, workers: int, conn) -> None:
    """A child's work: its chunks of every file, in order, each message sent on ``conn``."""
    copy_data = None

    def emit(message: tuple) -> None:
        if message[0] == "batch" and isinstance(message[3], memoryview):
            # COPY data goes as it is, after the rest of the message: no pickled copy of it.
            conn.send((*message[:3], None, *message[4:]))
            conn.send_bytes(message[3])
        else:
            conn.send(message)

    try:
        copy_data = _CopyData(plan) if plan.output == "copy" else None
        for index, f in enumerate(plan.files):
            for chunk in range(worker, f.chunks(plan.chunk_bytes), workers):
                if not _read_chunk(plan, index, chunk, emit, copy_data):
                    return
        conn.send(("done",))
    except (BrokenPipeError, ConnectionResetError):  # the importing process has failed already
        return
    except BaseException:  # noqa: BLE001 - reported to the importing process, which raises
        conn.send(("crash", traceback.format_exc()))
    finally:
        conn.close()
        if copy_data is not None:
            copy_data.close()


class _Child:
    def __init__(self, plan: ReadPlan, worker: int, workers: int):
        self.conn, sender = _CONTEXT.Pipe(duplex=False)
        try:
            fcntl.fcntl(self.conn.fileno(), fcntl.F_SETPIPE_SZ, PIPE_BYTES)
        except (AttributeError, OSError):  # not Linux, or over /proc/sys/fs/pipe-max-size: slower
            pass
        self.proc = _CONTEXT.Process(target=_child_main, args=(plan, worker, workers, sender), daemon=True)
        try:
            self.proc.start()
        finally:
            sender.close()  # the child's end: once the child is gone, receive() sees the pipe end

    def receive(self) -> tuple:
        try:
            message = self.conn.recv()
            if message[0] == "batch" and message[3] is None:  # its COPY data follows
                message = (*message[:3], self.conn.recv_bytes(), *message[4:])
        except EOFError:
            self.proc.join(timeout=60)
            raise RuntimeError(
                f"a process reading the dump stopped unexpectedly (exit code {self.proc.exitcode})"
            ) from None
        if message[0] == "crash":
            self.proc.join(timeout=60)
            raise RuntimeError(f"a process reading the dump failed:\n{message[1]}")
        return message

    def stop(self, *, wait: bool) -> None:
        if wait:
            self.proc.join(timeout=60)
        if self.proc.exitcode is None:
            self.proc.kill()
            self.proc.join()
        self.conn.close()


def read_in_children(plan: ReadPlan, handle: Emit, *, workers: int) -> None:
    """What :func:`read_plan` does, with the files read in chunks by ``workers`` child
    processes. Not for filtered imports. Stops the children on any error."""
    assert not plan.only_tags, "a filtered import reads in order, in one process"
    children: list[_Child] = []
    finished = False
    try:
        for worker in range(workers):
            children.append(_Child(plan, worker, workers))
        seen: dict[tuple[str, str], IdSet] = {}
        for index, f in enumerate(plan.files):
            _FileAssembly(plan, index, seen.setdefault((f.site, f.kind), IdSet()), handle).run(children)
        for child in children:
            if child.receive()[0] != "done":
                raise RuntimeError("a process reading the dump sent more than it was asked for")
        finished = True
    finally:
        for child in children:
            child.stop(wait=finished)


class _FileAssembly:
    """Puts one file's chunks back in order: line numbers from the top of the file, ids
    checked for duplicates in file order, the first error raised, the end tag last."""

    def __init__(self, plan: ReadPlan, index: int, seen: IdSet, handle: Emit):
        self.plan, self.index, self.seen, self.handle = plan, index, seen, handle
        self.file = plan.files[index]
        self.stats = ReadStats()
        self.lines = self.file.header_lines  # of the chunks taken so far
        self.ended = not self.file.has_rows

    def fail(self, message: str, line: int | None) -> DumpError:
        return DumpError(message, line=line or None, file=self.file.name)

    def after_end(self, first_content_line: int | None) -> DumpError:
        return self.fail("unexpected content after the end of the document", self.lines + first_content_line)

    def run(self, children: list[_Child]) -> None:
        f, chunk_bytes = self.file, self.plan.chunk_bytes
        for chunk in range(f.chunks(chunk_bytes)):
            child = children[chunk % len(children)]
            while (message := child.receive())[0] == "batch":
                if not self.ended:
                    self.batch(*message[2:])
            kind, _index, _chunk = message[:3]
            if kind == "error":
                message_text, line, first_content_line = message[3:]
                if self.ended:
                    raise self.after_end(first_content_line)
                raise self.fail(message_text, self.lines + (line or 0))
            stats, lines, ended, first_content_line = message[3:]
            if self.ended and first_content_line is not None:
                raise self.after_end(first_content_line)
            self.add(stats)
            self.lines += lines
            self.ended = self.ended or ended
            bytes_read = min(f.size, f.rows_start + (chunk + 1) * chunk_bytes)
            self.handle(("progress", self.index, bytes_read, self.stats.rows))
        if not self.ended:
            raise self.fail(f"the file ends before </{f.kind}>: it looks truncated", self.lines)
        self.handle(("file", self.index, self.stats, f.size))

    def batch(self, rows: int, payload: list | bytes, ids: array, lines: array, types: bytes) -> None:
        seen, duplicates = self.seen, []
        for i, so_id in enumerate(ids):
            if so_id in seen:
                duplicates.append(i)
            else:
                seen.add(so_id)
        for i in duplicates:
            self.stats.rejected += 1
            self.stats.rejections.append(
                Rejection(line=self.lines + lines[i], so_id=ids[i], reason=duplicate_reason(ids[i]))
            )
            if types[i] == 1:
                self.stats.questions -= 1
            elif types[i] == 2:
                self.stats.answers -= 1
            elif types[i] == 3:
                self.stats.users -= 1
            else:
                self.stats.comments -= 1
        rows -= len(duplicates)
        if duplicates and isinstance(payload, list):
            dropped = set(duplicates)
            payload = [row for i, row in enumerate(payload) if i not in dropped]
        elif duplicates:
            self.handle(("batch", self.index, rows, payload, duplicates))  # the stage leaves them out
            return
        if rows:
            self.handle(("batch", self.index, rows, payload))

    def add(self, stats: ReadStats) -> None:
        total = self.stats
        total.rows += stats.rows
        total.questions += stats.questions
        total.answers += stats.answers
        total.comments += stats.comments
        total.users += stats.users
        total.skipped.update(stats.skipped)
        total.rejected += stats.rejected
        total.rejections.extend(Rejection(line=self.lines + r.line, so_id=r.so_id, reason=r.reason)
                                for r in stats.rejections)
        # Later chunks only add later lines: the list is kept to the first ones as it grows.
        total.rejections.sort(key=lambda r: r.line)
        del total.rejections[DumpReader.MAX_REJECTIONS_LISTED:]
