import pytest

from annotator.corpus import read_process


@pytest.fixture
def children(monkeypatch):
    """The child processes that imports start to read their files, to check that each
    one was waited for (its ``returncode`` is set)."""
    started = []
    popen = read_process.subprocess.Popen

    def recording(*args, **kwargs):
        started.append(popen(*args, **kwargs))
        return started[-1]

    monkeypatch.setattr(read_process.subprocess, "Popen", recording)
    return started
