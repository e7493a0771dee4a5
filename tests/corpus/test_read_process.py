"""Reading an import's files in a child process (``read_process``): what crosses the
pipe, and what happens when either side fails. That the child imports exactly what an
in-process reading imports is checked in test_import_service.py (its ``reading``
fixture runs those tests both ways)."""

import os
import signal
from datetime import datetime
from pathlib import Path

import pytest

from annotator.corpus.dump_parser import PROGRESS_MASK, DumpError
from annotator.corpus.read_process import BATCH_BYTES, ReadFile, ReadPlan, read_in_child, read_plan

HEAD = '\ufeff<?xml version="1.0" encoding="utf-8"?>\n<posts>\n'


def posts_file(path: Path, count: int, body: str = "b") -> Path:
    rows = "".join(f'  <row Id="{i}" PostTypeId="1" Title="q{i}" Body="{body}" Tags="|a|" />\n'
                   for i in range(1, count + 1))
    path.write_text(f"{HEAD}{rows}</posts>\n", encoding="utf-8")
    return path


def plan_for(*paths: Path) -> ReadPlan:
    return ReadPlan(files=[ReadFile(path=str(p), name=p.name, site="s.example", kind="posts") for p in paths],
                    study_id=1, now=datetime(2026, 1, 1))


def test_the_child_sends_what_reading_here_emits(tmp_path, children):
    path = posts_file(tmp_path / "Posts.xml", PROGRESS_MASK + 100)
    here, there = [], []
    read_plan(plan_for(path), here.append)
    read_in_child(plan_for(path), there.append)
    assert [m[0] for m in there] == [m[0] for m in here]
    progress = [m for m in there if m[0] == "progress"]
    assert progress == [m for m in here if m[0] == "progress"] and len(progress) == 1  # every 16,384 lines
    assert [m[3] for m in there if m[0] == "batch"] == [m[3] for m in here if m[0] == "batch"]
    assert sum(m[2] for m in there if m[0] == "batch") == PROGRESS_MASK + 100
    (stats_here, stats_there) = (next(m[2] for m in ms if m[0] == "file") for ms in (here, there))
    assert stats_there == stats_here and stats_there.questions == PROGRESS_MASK + 100
    assert [c.returncode for c in children] == [0]


def test_a_batch_holds_at_most_its_bytes_whatever_its_rows(tmp_path):
    path = posts_file(tmp_path / "Posts.xml", 30, body="x" * 700_000)
    batches = []
    read_plan(plan_for(path), lambda m: batches.append(m) if m[0] == "batch" else None)
    assert len(batches) > 1 and sum(m[2] for m in batches) == 30
    assert all(m[2] * 700_000 <= BATCH_BYTES + 700_000 for m in batches)


def test_a_dump_error_in_the_child_is_raised_here_with_its_file_and_line(tmp_path, children):
    path = posts_file(tmp_path / "Posts.xml", 3000)
    path.write_bytes(path.read_bytes().replace(b"</posts>\n", b'  <row Id="9" PostTypeId="1" Title="a < b" />\n'))
    handled = []
    with pytest.raises(DumpError) as caught:
        read_in_child(plan_for(path), handled.append)
    assert (caught.value.file, caught.value.line) == ("Posts.xml", 3003)
    assert "malformed XML" in caught.value.message
    assert [m[2] for m in handled if m[0] == "batch"] == [2000]  # what was read before the error
    assert [c.returncode for c in children] == [0]


def test_an_unexpected_error_in_the_child_comes_with_its_traceback(tmp_path, children):
    with pytest.raises(RuntimeError, match="FileNotFoundError"):
        read_in_child(plan_for(tmp_path / "gone-Posts.xml"), lambda m: None)
    assert [c.returncode for c in children] == [1]


def test_a_child_that_dies_fails_the_reading(tmp_path, children):
    path = posts_file(tmp_path / "Posts.xml", 20_000)

    def kill_on_first(message):
        if children[0].poll() is None:
            os.kill(children[0].pid, signal.SIGKILL)

    with pytest.raises(RuntimeError, match=r"stopped unexpectedly \(exit code -9\)"):
        read_in_child(plan_for(path), kill_on_first)


def test_an_error_here_stops_the_child(tmp_path, children):
    path = posts_file(tmp_path / "Posts.xml", 20_000)

    def refuse(message):
        raise ValueError("the database refused the batch")

    with pytest.raises(ValueError, match="refused"):
        read_in_child(plan_for(path), refuse)
    assert children[0].returncode is not None
