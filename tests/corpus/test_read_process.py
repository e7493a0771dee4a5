"""Reading an import's files in chunks, by child processes (``read_process``): the same
rows, counts, rejections and errors as reading here, whatever the chunks cut; and what
happens when either side fails. Imports through both ways are compared end to end in
test_import_service.py (its ``reading`` fixture)."""

import os
import signal
from datetime import datetime
from pathlib import Path

import pytest

from annotator.corpus.dump_parser import DumpError, peek_header
from annotator.corpus.read_process import BATCH_BYTES, ReadFile, ReadPlan, read_in_children, read_plan

HEAD = '\ufeff<?xml version="1.0" encoding="utf-8"?>\n<posts>\n'


def posts_file(path: Path, count: int, body: str = "b", extra: str = "") -> Path:
    rows = "".join(f'  <row Id="{i}" PostTypeId="1" Title="q{i}" Body="{body}" Tags="|a|" />\n'
                   for i in range(1, count + 1))
    path.write_text(f"{HEAD}{rows}{extra}</posts>\n", encoding="utf-8")
    return path


def plan_for(*paths: Path, chunk_bytes: int = 64) -> ReadPlan:
    files = []
    for p in paths:
        with open(p, "rb") as stream:
            header = peek_header(stream, name=p.name)
        files.append(ReadFile(path=str(p), name=p.name, site="s.example", kind=header.kind, size=p.stat().st_size,
                              rows_start=header.rows_start, header_lines=header.lines, has_rows=header.has_rows))
    return ReadPlan(files=files, study_id=1, now=datetime(2026, 1, 1), chunk_bytes=chunk_bytes)


def outcome(messages: list[tuple]) -> dict:
    """What an import takes from the messages, whatever the batches' sizes."""
    return {
        "rows": [row for m in messages if m[0] == "batch" for row in m[3]],
        "files": [(m[1], m[2], m[3]) for m in messages if m[0] == "file"],
    }


def both_ways(plan: ReadPlan, workers: int = 2) -> tuple[dict, dict]:
    here, there = [], []
    read_plan(plan, here.append)
    read_in_children(plan, there.append, workers=workers)
    return outcome(here), outcome(there)


def test_children_read_what_reading_here_reads_whatever_the_chunks(tmp_path, children):
    odd = (
        '  <row Id="2" PostTypeId="1" Title="the same id again" />\n'  # a duplicate, chunks apart
        '  <row Id="900" PostTypeId="4" Body="a tag wiki" />\n'  # skipped
        "\n   \n"  # blank lines count as lines
        '  <row Id="901" PostTypeId="1" Score="many" />\n'  # rejected
        '  <row Id="902" PostTypeId="2" ParentId="1" Body="an answer" />\n'
    )
    first = posts_file(tmp_path / "a-Posts.xml", 300, extra=odd)
    second = posts_file(tmp_path / "b-Posts.xml", 5)  # same site and kind: its ids 1-5 were read
    for chunk_bytes in (1, 64, 1000, 1 << 20):
        here, there = both_ways(plan_for(first, second, chunk_bytes=chunk_bytes))
        assert there == here, chunk_bytes
    [(_, stats, size), (_, stats_second, _)] = here["files"]
    assert (stats.questions, stats.answers, stats.rejected, stats_second.rejected) == (300, 1, 2, 5)
    assert [(r.line, r.so_id) for r in stats.rejections] == [(303, 2), (307, 901)]
    assert size == first.stat().st_size
    assert len(children) == 8 and all(c.exitcode == 0 for c in children)


def test_children_report_progress_chunk_by_chunk(tmp_path):
    path = posts_file(tmp_path / "Posts.xml", 500)
    messages = []
    read_in_children(plan_for(path, chunk_bytes=4096), messages.append, workers=2)
    progress = [(m[2], m[3]) for m in messages if m[0] == "progress"]
    assert len(progress) == -(-(path.stat().st_size - len(HEAD.encode())) // 4096) > 5
    assert progress == sorted(progress) and progress[-1] == (path.stat().st_size, 500)


def test_a_line_longer_than_several_chunks_is_read_once(tmp_path):
    path = tmp_path / "Posts.xml"
    path.write_text(f'{HEAD}  <row Id="1" PostTypeId="1" Title="a" />\n'
                    f'  <row Id="2" PostTypeId="1" Title="long" Body="{"x" * 3_000_000}" />\n'
                    f'  <row Id="3" PostTypeId="1" Title="c" />\n</posts>\n', encoding="utf-8")
    plan = plan_for(path, chunk_bytes=256 * 1024)
    plan.max_field_bytes = 1_000_000
    here, there = both_ways(plan)
    assert there == here
    [(_, stats, _)] = there["files"]
    assert [(r.line, r.so_id) for r in stats.rejections] == [(4, 2)] and stats.questions == 2


@pytest.mark.parametrize("chunk_bytes", [64, 1 << 20])
def test_an_error_in_a_chunk_is_raised_with_its_line_from_the_top_of_the_file(tmp_path, children, chunk_bytes):
    path = posts_file(tmp_path / "Posts.xml", 3000, extra='  <row Id="9" PostTypeId="1" Title="a < b" />\n')
    handled = []
    with pytest.raises(DumpError) as caught:
        read_in_children(plan_for(path, chunk_bytes=chunk_bytes), handled.append, workers=2)
    assert (caught.value.file, caught.value.line) == ("Posts.xml", 3003)
    assert "malformed XML" in caught.value.message
    assert all(c.exitcode is not None for c in children)


@pytest.mark.parametrize(("tail", "line", "message"), [
    ("", 13, "the file ends before </posts>"),
    ("</posts>\n\n", 15, "unexpected content after the end"),
])
def test_the_end_tag_closes_the_file_across_chunks(tmp_path, tail, line, message):
    path = posts_file(tmp_path / "Posts.xml", 10)
    path.write_bytes(path.read_bytes().replace(b"</posts>\n", tail.encode()) + b'  <row Id="99" PostTypeId="1" />\n')
    for read in (lambda plan: read_plan(plan, lambda m: None),
                 lambda plan: read_in_children(plan, lambda m: None, workers=2)):
        with pytest.raises(DumpError, match=message) as caught:
            read(plan_for(path))
        assert caught.value.line == line


def test_ids_are_checked_in_file_order_and_duplicates_leave_the_batches(tmp_path):
    """A duplicate id, whichever child read it, is left out of its batch and rejected at its
    line; the first row with the id is kept. (Binary COPY data from children for PostgreSQL:
    test_import_direct.py.)"""
    path = posts_file(tmp_path / "Posts.xml", 40, extra='  <row Id="3" PostTypeId="1" Title="again" />\n')
    here, there = both_ways(plan_for(path))
    assert there == here
    ids = [row[2] for row in there["rows"]]
    assert ids == list(range(1, 41))
    assert there["rows"][2][6] == "q3" and there["rows"][0][-1] == "2026-01-01 00:00:00"
    [(_, stats, _)] = there["files"]
    assert [(r.line, r.so_id) for r in stats.rejections] == [(43, 3)] and stats.questions == 40


def test_a_batch_holds_at_most_its_bytes_whatever_its_rows(tmp_path):
    path = posts_file(tmp_path / "Posts.xml", 30, body="x" * 700_000)
    batches = []
    read_plan(plan_for(path), lambda m: batches.append(m) if m[0] == "batch" else None)
    assert len(batches) > 1 and sum(m[2] for m in batches) == 30
    assert all(m[2] * 700_000 <= BATCH_BYTES + 700_000 for m in batches)


def test_an_unexpected_error_in_a_child_comes_with_its_traceback(tmp_path, children):
    path = posts_file(tmp_path / "Posts.xml", 10)
    plan = plan_for(path)
    path.unlink()
    with pytest.raises(RuntimeError, match="FileNotFoundError"):
        read_in_children(plan, lambda m: None, workers=2)
    assert all(c.exitcode is not None for c in children)


def test_a_child_that_dies_fails_the_reading(tmp_path, children):
    path = posts_file(tmp_path / "Posts.xml", 20_000)

    def kill_on_first(message):
        if children[0].exitcode is None:
            os.kill(children[0].pid, signal.SIGKILL)

    with pytest.raises(RuntimeError, match=r"stopped unexpectedly \(exit code -9\)"):
        read_in_children(plan_for(path, chunk_bytes=1 << 20), kill_on_first, workers=2)
    assert all(c.exitcode is not None for c in children)


def test_an_error_here_stops_the_children(tmp_path, children):
    path = posts_file(tmp_path / "Posts.xml", 20_000)

    def refuse(message):
        raise ValueError("the database refused the batch")

    with pytest.raises(ValueError, match="refused"):
        read_in_children(plan_for(path, chunk_bytes=1 << 20), refuse, workers=2)
    assert len(children) == 2 and all(c.exitcode is not None for c in children)
