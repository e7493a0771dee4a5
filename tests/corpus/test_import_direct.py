"""The PostgreSQL import path: its own connection and transaction, rows copied straight
into the study's table when a site is new to it, and imports into one study taking
turns. Transactional tests: the import commits on a connection of its own."""

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.db import connection, connections

from annotator.corpus import staging
from annotator.corpus.dump_parser import DumpError
from annotator.corpus.models import Comment, Post
from annotator.corpus.read_process import BATCH_ROWS
from annotator.corpus.services import import_file_describe, import_run
from tests.factories import StudyFactory

pytestmark = pytest.mark.django_db(transaction=True)

SITE = "sample.stackexchange.com"
HEAD = '\ufeff<?xml version="1.0" encoding="utf-8"?>\n'


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("the import's own connection and advisory lock are PostgreSQL's")


@pytest.fixture
def writes(monkeypatch):
    """(table, rows) of every COPY the import makes: where its rows went."""
    seen: list[tuple[str, int]] = []
    original = staging.ImportStage.write

    def spy(self, kind, site, rows, *payload):
        if rows:
            model = staging.MODELS[kind]
            direct = self.is_direct(model, site)
            seen.append((model._meta.db_table if direct else self.tables[model][0], rows))
        return original(self, kind, site, rows, *payload)

    monkeypatch.setattr(staging.ImportStage, "write", spy)
    return seen


def posts_file(path: Path, ids, title="t", tail="</posts>\n") -> Path:
    rows = "".join(f'  <row Id="{i}" PostTypeId="1" CreationDate="2021-01-01T00:00:00.000" Title="{title} {i}" '
                   f'Body="&lt;p&gt;body {i}&lt;/p&gt;" Tags="&lt;python&gt;" Score="{i % 7}" />\n' for i in ids)
    path.write_text(f"{HEAD}<posts>\n{rows}{tail}", encoding="utf-8")
    return path


def comments_file(path: Path, ids) -> Path:
    rows = "".join(f'  <row Id="{i}" PostId="1" Text="comment {i}" CreationDate="2021-01-02T00:00:00.000" />\n'
                   for i in ids)
    path.write_text(f"{HEAD}<comments>\n{rows}</comments>\n", encoding="utf-8")
    return path


def run(study, *paths, **options):
    return import_run(study=study, files=[import_file_describe(path=str(p)) for p in paths], **options)


def test_first_import_copies_straight_in_and_a_reimport_upserts(tmp_path, writes):
    study = StudyFactory()
    first = posts_file(tmp_path / f"{SITE}-Posts.xml", range(1, 5001))
    comments = comments_file(tmp_path / f"{SITE}-Comments.xml", range(1, 11))
    summary = run(study, first, comments)
    assert summary["questions"] == 5000 and summary["comments"] == 10
    assert {table for table, _ in writes} == {"corpus_post", "corpus_comment"}
    assert Post.objects.filter(study=study).count() == 5000
    post = Post.objects.get(study=study, so_id=42)
    assert post.title == "t 42"
    # dates go in binary COPY as naive UTC; they read back as the same instant
    assert post.creation_date == datetime(2021, 1, 1, tzinfo=UTC)
    assert abs(post.updated_at - datetime.now(UTC)) < timedelta(minutes=5)
    assert Comment.objects.filter(study=study).count() == 10

    writes.clear()
    again = posts_file(tmp_path / f"{SITE}-Posts.xml", range(4001, 6001), title="new")
    run(study, again)
    assert {table for table, _ in writes} == {"import_stage_post"}  # the site is no longer new
    assert Post.objects.filter(study=study).count() == 6000
    assert Post.objects.filter(study=study, title__startswith="new").count() == 2000
    assert Post.objects.filter(study=study).values("so_id").distinct().count() == 6000


def test_a_new_site_in_a_study_that_has_another_is_copied_straight_in(tmp_path, writes):
    study = StudyFactory()
    run(study, posts_file(tmp_path / f"{SITE}-Posts.xml", range(1, 11)))
    writes.clear()
    run(study, posts_file(tmp_path / "other.stackexchange.com-Posts.xml", range(1, 11)))
    assert {table for table, _ in writes} == {"corpus_post"}
    assert Post.objects.filter(study=study).count() == 20


def test_a_failure_after_rows_were_copied_in_leaves_nothing(tmp_path, writes):
    study = StudyFactory()
    # 6,000 good rows (several batches copied into corpus_post), then a truncated file
    bad = posts_file(tmp_path / f"{SITE}-Posts.xml", range(1, 6001), tail='  <row Id="9" PostTypeId="1"')
    with pytest.raises(DumpError, match="line 6003"):
        run(study, bad)
    assert sum(n for table, n in writes if table == "corpus_post") == 6000
    assert not Post.objects.filter(study=study).exists()
    # and the study can still be imported afterwards (no lock left behind)
    run(study, posts_file(tmp_path / f"{SITE}-Posts.xml", range(1, 11)))
    assert Post.objects.filter(study=study).count() == 10


@pytest.mark.parametrize("child", [False, True], ids=["read here", "read by children"])
def test_an_error_while_writing_fails_the_import_and_leaves_nothing(
    tmp_path, monkeypatch, settings, children, child
):
    """A batch the database refuses (here: the second) fails the import; with the reading
    in child processes, they are stopped too."""
    settings.TAXONOMIST_IMPORT_CHILD_BYTES = 0 if child else 1 << 40
    study = StudyFactory()
    original, calls = staging.ImportStage.write, []

    def failing(self, *args):
        calls.append(args[2])
        if len(calls) == 2:
            raise RuntimeError("the server went away")
        return original(self, *args)

    monkeypatch.setattr(staging.ImportStage, "write", failing)
    with pytest.raises(RuntimeError, match="went away"):
        run(study, posts_file(tmp_path / f"{SITE}-Posts.xml", range(1, 10001)))
    assert calls == [BATCH_ROWS, BATCH_ROWS]  # nothing written after the error
    assert bool(children) == child and all(c.exitcode is not None for c in children)
    assert not Post.objects.filter(study=study).exists()
    monkeypatch.setattr(staging.ImportStage, "write", original)
    run(study, posts_file(tmp_path / f"{SITE}-Posts.xml", range(1, 11)))
    assert Post.objects.filter(study=study).count() == 10


@pytest.mark.parametrize("direct", [True, False], ids=["copied straight in", "staged"])
def test_rows_read_by_children_leave_their_duplicates_out(tmp_path, settings, children, writes, direct):
    """Children send binary COPY data; a row whose id came earlier in the file (in another
    chunk, or in the same batch) is left out of it by the stage, in SQL: the first is kept."""
    study = StudyFactory()
    if not direct:  # the site is not new to the study: its rows are staged
        run(study, posts_file(tmp_path / f"{SITE}-Posts.xml", [9000]))
        writes.clear()
    settings.TAXONOMIST_IMPORT_CHILD_BYTES = 0
    settings.TAXONOMIST_IMPORT_READERS = 2
    settings.TAXONOMIST_IMPORT_CHUNK_BYTES = 64 * 1024
    tail = "".join(f'  <row Id="{i}" PostTypeId="1" Title="{title}" />\n'
                   for i, title in ((3, "again"), (2999, "again"), (3001, "first"), (3001, "again")))
    path = posts_file(tmp_path / f"{SITE}-Posts.xml", range(1, 3001), tail=tail + "</posts>\n")
    summary = run(study, path)
    assert len(children) == 2 and all(c.exitcode == 0 for c in children)
    assert [(r["line"], r["id"]) for r in summary["rejected_rows"]] == [(3003, 3), (3004, 2999), (3006, 3001)]
    assert summary["questions"] == 3001 and summary["rejected"] == 3
    titles = dict(Post.objects.filter(study=study, so_id__in=[3, 2999, 3001]).values_list("so_id", "title"))
    assert titles == {3: "t 3", 2999: "t 2999", 3001: "first"}
    assert Post.objects.filter(study=study).count() == 3001 + (not direct)
    assert {table for table, _ in writes} == {"corpus_post" if direct else "import_stage_post"}


def test_progress_is_visible_while_the_rows_are_not(tmp_path):
    """Progress goes through Django's connection; the rows wait for the end of the import."""
    study = StudyFactory()
    seen = []

    def progress(**fields):
        if fields.get("phase", "").startswith("read "):  # after the file was read whole
            other = connections.create_connection("default")
            try:
                with other.cursor() as cursor:
                    cursor.execute("SELECT count(*) FROM corpus_post WHERE study_id = %s", [study.pk])
                    seen.append((fields["rows_read"], cursor.fetchone()[0]))
            finally:
                other.close()

    run(study, posts_file(tmp_path / f"{SITE}-Posts.xml", range(1, 3001)), progress=progress)
    assert seen == [(3000, 0)]
    assert Post.objects.filter(study=study).count() == 3000


def test_a_second_import_stages_and_waits_for_the_first(tmp_path, writes):
    study = StudyFactory()
    first = posts_file(tmp_path / f"a-{SITE}-Posts.xml", range(1, 3001), title="first")
    second = posts_file(tmp_path / f"b-{SITE}-Posts.xml", range(2001, 4001), title="second")
    first_read, phases, errors = threading.Event(), [], []
    release = threading.Event()

    def slow_first(**fields):
        if fields.get("phase", "").startswith("read "):
            first_read.set()
            release.wait(30)  # hold the import lock (and its open transaction) for a while

    def run_first():
        try:
            import_run(study=study, files=[import_file_describe(path=str(first), site=SITE)], progress=slow_first)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=run_first)
    thread.start()
    assert first_read.wait(30)

    def second_progress(**fields):
        phases.append(fields.get("phase"))
        if fields.get("phase", "").startswith("waiting"):
            release.set()

    summary = import_run(study=study, files=[import_file_describe(path=str(second), site=SITE)],
                         progress=second_progress)
    thread.join(30)
    assert not errors, errors
    assert summary["questions"] == 2000
    assert "waiting for another import into this study" in phases
    assert {table: sum(n for t, n in writes if t == table) for table, _ in writes} == {
        "corpus_post": 3000, "import_stage_post": 2000}
    posts = Post.objects.filter(study=study)
    assert posts.count() == 4000 and posts.values("so_id").distinct().count() == 4000
    # the second applied after the first: its rows win where they overlap
    assert set(posts.filter(so_id__gt=2000).values_list("title", flat=True)) == {
        f"second {i}" for i in range(2001, 4001)}


def test_long_texts_are_compressed_with_lz4_where_the_server_has_it():
    """Migration corpus 0003: bodies, titles and comments are compressed with lz4, a third
    of PostgreSQL's time in a large import when it was pglz."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'")
        if not cursor.fetchone()[0]:
            pytest.skip("this PostgreSQL was built without lz4")
        cursor.execute(
            "SELECT attrelid::regclass::text, attname, attcompression FROM pg_attribute "
            "WHERE attrelid IN ('corpus_post'::regclass, 'corpus_comment'::regclass) "
            "AND attname IN ('body', 'title', 'text')"
        )
        assert set(cursor.fetchall()) == {
            ("corpus_post", "body", "l"), ("corpus_post", "title", "l"), ("corpus_comment", "text", "l")}


def test_users_are_copied_straight_in_then_updated_in_place(tmp_path, writes):
    """A site's first Users.xml goes straight into corpus_siteuser; the next is staged and
    upserted (names updated, no duplicate), read by child processes both times."""
    from annotator.corpus.models import SiteUser

    study = StudyFactory()

    def users_file(name: str, names: dict[int, str]) -> Path:
        rows = "".join(f'  <row Id="{i}" DisplayName="{n}" AboutMe="&lt;p&gt;x&lt;/p&gt;" />\n' for i, n in names.items())
        path = tmp_path / name / f"{SITE}-Users.xml"
        path.parent.mkdir()
        path.write_text(f"{HEAD}<users>\n{rows}</users>\n", encoding="utf-8")
        return path

    first = users_file("first", {-1: "Community", 7: "Ann", 8: "Bo"})
    assert import_run(study=study, files=[import_file_describe(path=str(first))])["users"] == 3
    assert writes == [("corpus_siteuser", 3)]
    second = users_file("second", {7: "Ann B.", 9: "Cy"})
    import_run(study=study, files=[import_file_describe(path=str(second))])
    assert writes[1] == ("import_stage_user", 2)
    assert dict(SiteUser.objects.filter(study=study).values_list("so_id", "display_name")) == {
        -1: "Community", 7: "Ann B.", 8: "Bo", 9: "Cy"}
