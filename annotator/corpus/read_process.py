"""Reading an import's dump files into ready-to-write batches, here or in a child process.

:func:`read_plan` reads every file of a :class:`ReadPlan` with :class:`DumpReader` and
hands each batch of rows, already in the form its database takes, to an ``emit``
callback, with progress and each file's counts. It knows no Django, so that
:func:`read_in_child` can run the same loop in a process of its own
(``python -m annotator.corpus.read_process``) and send its messages through a pipe.

Why a process: reading a dump is pure Python (about 25 µs a row), and so is most of a
thread's share of a ``COPY``. In one process the two take turns on one core under the
GIL, while PostgreSQL waits; with the reading in a child, the child parses on one core
while this process sends the previous batch and PostgreSQL stores it on the other. For
PostgreSQL the child also encodes each batch as a binary ``COPY`` stream, so this
process only forwards bytes. Small imports read in-process: a child costs a fraction
of a second to start.

Messages (tuples; pickled between processes):

- ``("batch", file_index, rows, payload)``: ``payload`` is a binary COPY stream
  (``bytes``) for PostgreSQL, or a list of row tuples for SQLite;
- ``("progress", file_index, bytes_read, rows_read)``;
- ``("file", file_index, stats, bytes_read)`` when a file has been read whole;
- ``("error", message, line, file)``: a :class:`DumpError` (nothing may be kept);
- ``("crash", text)``: anything else that went wrong in the child, with its traceback.
"""

from __future__ import annotations

import os
import pickle
import struct
import subprocess
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .dump_parser import DumpError, DumpReader, IdSet

BATCH_ROWS = 2000
# A batch is sent once it holds this many bytes even with fewer rows: rows can be
# megabytes each, and both processes hold a batch in memory.
BATCH_BYTES = 8 * 1024 * 1024
# Pipe buffer (Linux): the child may run this far ahead of the writes.
PIPE_BYTES = 1024 * 1024
_LENGTH = struct.Struct("<Q")

Emit = Callable[[tuple], None]


@dataclass
class ReadFile:
    path: str
    name: str
    site: str
    kind: str  # "posts" or "comments"


@dataclass
class ReadPlan:
    """Everything the reading needs, picklable: no Django objects."""

    files: list[ReadFile]
    study_id: int
    now: datetime  # naive UTC: every row's updated_at
    only_tags: tuple[str, ...] = ()
    max_field_bytes: int = 1024 * 1024
    # site -> (question ids, post ids) the study already has: a filtered import keeps
    # the answers and comments that belong to them.
    kept: dict[str, tuple[IdSet, IdSet]] = field(default_factory=dict)
    # "copy": binary COPY streams with these psycopg type names per kind, in the order
    # study_id, site, record fields, updated_at; "rows": tuples with dates as text (SQLite).
    output: str = "rows"
    copy_types: dict[str, list[str]] = field(default_factory=dict)


class _Batcher:
    """Collects one file's records and emits them in batches of ready rows."""

    def __init__(self, plan: ReadPlan, index: int, emit: Emit):
        self.plan, self.index, self.emit = plan, index, emit
        self.head = (plan.study_id, plan.files[index].site)
        self.tail = (plan.now,) if plan.output == "copy" else (str(plan.now),)
        kind = plan.files[index].kind
        self.posts = kind == "posts"
        if plan.output == "copy":
            from psycopg.adapt import Transformer
            from psycopg.postgres import types
            from psycopg.pq import Format

            self.transformer = Transformer()
            self.transformer.set_dumper_types(
                [types.get_oid(name) for name in plan.copy_types[kind]], Format.BINARY
            )
        self.records: list = []
        self.size = 0

    def add(self, record) -> None:
        self.records.append(record)
        # the bulk of a row: a post's title and body, a comment's text
        self.size += (len(record.title) + len(record.body)) if self.posts else len(record.text)
        if len(self.records) >= BATCH_ROWS or self.size >= BATCH_BYTES:
            self.flush()

    def flush(self) -> None:
        if not self.records:
            return
        records, self.records, self.size = self.records, [], 0
        head, tail = self.head, self.tail
        if self.plan.output == "copy":
            # psycopg's binary COPY encoder (its C implementation), as Copy.write_row uses
            # it; a new formatter per batch writes the stream's signature and trailer.
            from psycopg._copy_base import BinaryFormatter

            formatter = BinaryFormatter(self.transformer)
            parts = [formatter.write_row(head + record + tail) for record in records]
            parts.append(formatter.end())
            payload: Any = b"".join(parts)
        else:
            payload = [head + _dates_as_text(record) + tail for record in records]
        self.emit(("batch", self.index, len(records), payload))


def _dates_as_text(record) -> tuple:
    # SQLite stores naive UTC datetimes as text, as Django does.
    return tuple(str(v) if isinstance(v, datetime) else v for v in record)


def read_plan(plan: ReadPlan, emit: Emit) -> None:
    """Read every file of ``plan`` in order, emitting its messages. Raises DumpError."""
    seen: dict[tuple[str, str], IdSet] = {}
    for index, f in enumerate(plan.files):
        questions, posts = plan.kept.get(f.site, (None, None)) if plan.only_tags else (None, None)
        if plan.only_tags and questions is None:
            questions, posts = plan.kept.setdefault(f.site, (IdSet(), IdSet()))

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
                on_progress=progress,
            )
            batcher = _Batcher(plan, index, emit)
            for record in reader:
                batcher.add(record)
            batcher.flush()
        emit(("file", index, reader.stats, reader.bytes_read))


# -- the child process -------------------------------------------------------------------


def read_in_child(plan: ReadPlan, handle: Emit) -> None:
    """Run :func:`read_plan` in a child process; ``handle`` gets its messages here, in
    order. Raises DumpError as the reading would, and stops the child on any error."""
    env = dict(os.environ)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    proc = subprocess.Popen(
        [sys.executable, "-m", "annotator.corpus.read_process"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=env,
        pipesize=PIPE_BYTES,
    )
    try:
        try:
            pickle.dump(plan, proc.stdin, protocol=pickle.HIGHEST_PROTOCOL)
            proc.stdin.close()
        except BrokenPipeError:
            raise RuntimeError(f"the process reading the dump did not start (exit code {proc.wait()})") from None
        read = proc.stdout.read
        while True:
            head = read(_LENGTH.size)
            if len(head) < _LENGTH.size:
                code = proc.wait()
                raise RuntimeError(f"the process reading the dump stopped unexpectedly (exit code {code})")
            message = pickle.loads(read(_LENGTH.unpack(head)[0]))
            kind = message[0]
            if kind in ("done", "error", "crash"):
                break
            handle(message)
        proc.wait(timeout=60)  # its last message sent, the child exits
        if kind == "error":
            raise DumpError(message[1], line=message[2], file=message[3])
        if kind == "crash":
            raise RuntimeError(f"the process reading the dump failed:\n{message[1]}")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()


def _child_main() -> int:
    # Messages go to the pipe that was stdout; anything printed goes to stderr instead.
    out = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)

    def emit(message: tuple) -> None:
        data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        out.write(_LENGTH.pack(len(data)))
        out.write(data)

    try:
        plan = pickle.load(sys.stdin.buffer)
        read_plan(plan, emit)
        emit(("done",))
    except DumpError as exc:
        emit(("error", exc.message, exc.line, exc.file))
    except BrokenPipeError:  # the importing process stopped reading: it has failed already
        return 1
    except BaseException:  # noqa: BLE001 - reported to the importing process, which raises
        emit(("crash", traceback.format_exc()))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(_child_main())
