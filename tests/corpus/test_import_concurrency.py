"""Two imports into one study at the same time: both finish, nothing duplicated."""

import threading

import pytest
from django.db import connection

from annotator.corpus.models import Post
from annotator.corpus.services import import_file_describe, import_run
from tests.factories import StudyFactory


def _dump(path, ids, title):
    rows = "".join(
        f'  <row Id="{i}" PostTypeId="1" CreationDate="2021-01-01T00:00:00.000" Title="{title} {i}" '
        f'Body="&lt;p&gt;b&lt;/p&gt;" Tags="&lt;python&gt;" />\n'
        for i in ids
    )
    path.write_text(f'<?xml version="1.0" encoding="utf-8"?>\n<posts>\n{rows}</posts>\n', encoding="utf-8")
    return import_file_describe(path=str(path), site="stackoverflow.com")


@pytest.mark.django_db(transaction=True)
def test_two_overlapping_imports_at_once_both_apply_without_duplicates(tmp_path):
    study = StudyFactory()
    # Overlapping ids in opposite orders: the classic recipe for an upsert deadlock.
    first = _dump(tmp_path / "a-Posts.xml", range(1, 3001), "first")
    second = _dump(tmp_path / "b-Posts.xml", range(4000, 999, -1), "second")
    errors, summaries = [], []

    def run(f):
        try:
            summaries.append(import_run(study=study, files=[f]))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(f,)) for f in (first, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)

    assert not errors, errors
    assert len(summaries) == 2
    posts = Post.objects.filter(study=study)
    assert posts.count() == 4000
    assert posts.values("so_id").distinct().count() == 4000
    # Ids only the first file has keep its titles; the rest were last written by one of the two runs.
    assert set(posts.filter(so_id__lt=1000).values_list("title", flat=True)) == {f"first {i}" for i in range(1, 1000)}
