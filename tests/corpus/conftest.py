import pytest

from annotator.corpus import read_process


@pytest.fixture
def children(monkeypatch):
    """The child processes that imports start to read their files, to check that each
    one was waited for (its ``exitcode`` is set)."""
    started = []
    process = read_process._CONTEXT.Process

    def recording(*args, **kwargs):
        started.append(process(*args, **kwargs))
        return started[-1]

    monkeypatch.setattr(read_process._CONTEXT, "Process", recording)
    return started


@pytest.fixture(params=["read here", "read by children"])
def reading(request, settings):
    """Runs a test twice: files read in this process, and by two child processes in chunks
    of 64 bytes (about a line each: every line is read by the other process than the one
    before it), the way a large unfiltered import reads. The results must not differ."""
    if request.param == "read by children":
        settings.TAXONOMIST_IMPORT_CHILD_BYTES = 0
        settings.TAXONOMIST_IMPORT_READERS = 2
        settings.TAXONOMIST_IMPORT_CHUNK_BYTES = 64
    else:
        settings.TAXONOMIST_IMPORT_CHILD_BYTES = 1 << 40
    return request.param
