"""Users.xml: the display names of a site's users, imported beside Posts.xml and
Comments.xml and shown for the posts and comments they wrote instead of "user 7".

The Users.xml here is written by the tests (the dumps in ../shared have none): a
byte-order mark, Community's id -1, entities in a name, a row without DisplayName, a
long AboutMe that is read past and never kept."""

import re
from pathlib import Path

import pytest

from annotator.corpus.dump_parser import DumpReader
from annotator.corpus.models import Post, SiteUser
from annotator.corpus.services import import_file_describe, import_run
from tests.factories import MembershipFactory, StudyFactory

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "dumps"
SAMPLE_POSTS = FIXTURES / "sample.stackexchange.com-Posts.xml"
SAMPLE_COMMENTS = FIXTURES / "sample.stackexchange.com-Comments.xml"
SITE = "sample.stackexchange.com"
ABOUT = "&lt;p&gt;" + "I write about serving models. " * 2000 + "&lt;/p&gt;"  # ~60 KB, as some profiles are

USERS = f"""\ufeff<?xml version="1.0" encoding="utf-8"?>
<users>
  <row Id="-1" Reputation="1" CreationDate="2014-04-01T00:00:00.000" DisplayName="Community" AccountId="-1" />
  <row Id="7" Reputation="101" CreationDate="2015-01-01T00:00:00.000" DisplayName="Ann &amp; Bo &lt;ML&gt;" AboutMe="{ABOUT}" />
  <row Id="8" Reputation="1" CreationDate="2015-01-02T00:00:00.000" DisplayName="Émile Zoë" />
  <row Id="9" Reputation="1" CreationDate="2015-01-03T00:00:00.000" />
  <row Id="10" Reputation="1" CreationDate="2015-01-04T00:00:00.000" DisplayName="   " />
  <row Id="11" Reputation="1" CreationDate="2015-01-05T00:00:00.000" DisplayName="commenter eleven" />
  <row Id="500" Reputation="1" CreationDate="2015-01-06T00:00:00.000" DisplayName="wrote nothing here" />
  <row Id="8" Reputation="1" CreationDate="2015-01-07T00:00:00.000" DisplayName="a second row 8" />
</users>
""".encode()


@pytest.fixture
def users_xml(tmp_path) -> Path:
    path = tmp_path / f"{SITE}-Users.xml"
    path.write_bytes(USERS)
    return path


def run(study, *paths, **options) -> dict:
    return import_run(study=study, files=[import_file_describe(path=str(p)) for p in paths], **options)


def names(study) -> dict[int, str]:
    return dict(SiteUser.objects.filter(study=study, site=SITE).values_list("so_id", "display_name"))


def test_users_xml_is_read_for_the_display_names(reading, users_xml):
    study = StudyFactory()

    # Users first on the command line: the import reads it after the posts and comments anyway.
    summary = run(study, users_xml, SAMPLE_POSTS, SAMPLE_COMMENTS)

    assert names(study) == {-1: "Community", 7: "Ann & Bo <ML>", 8: "Émile Zoë", 11: "commenter eleven",
                            500: "wrote nothing here"}
    assert summary["users"] == 5
    assert summary["skipped_by_reason"]["user without a display name"] == 2  # 9: none, 10: blank
    assert summary["rejected_rows"] == [{"file": users_xml.name, "line": 10, "id": 8, "reason":
                                         "duplicate Id 8: a row with this id was already read; the first one is kept"}]
    users_file = next(f for f in summary["files"] if f["kind"] == "users")
    assert users_file["users"] == 5 and users_file["rows"] == 8
    # Counted independently of the import: every named row of the file but the duplicate.
    named = re.findall(rb'<row Id="(-?\d+)"[^>]*DisplayName="([^"]*\S[^"]*)"', USERS)
    assert len({i for i, _ in named}) == summary["users"]


def test_reimporting_users_xml_updates_names_and_never_duplicates(users_xml, tmp_path):
    study = StudyFactory()
    run(study, SAMPLE_POSTS, users_xml)
    renamed = tmp_path / "again" / f"{SITE}-Users.xml"
    renamed.parent.mkdir()
    renamed.write_bytes(USERS.replace(b'DisplayName="Community"', b'DisplayName="Community bot"'))

    run(study, renamed)

    assert SiteUser.objects.filter(study=study).count() == 5
    assert names(study)[-1] == "Community bot" and names(study)[7] == "Ann & Bo <ML>"


def test_a_filtered_import_keeps_only_the_users_who_wrote_what_it_kept(users_xml):
    study = StudyFactory()

    summary = run(study, SAMPLE_POSTS, SAMPLE_COMMENTS, users_xml, only_tags=["tensorflow"])

    kept = set(Post.objects.filter(study=study).values_list("owner_user_id", flat=True)) - {None}
    assert 7 in kept and 8 not in kept  # 8 asked about pytorch only
    assert set(names(study)) <= kept | {11, 13}  # authors of kept posts and comments
    assert 500 not in names(study) and 8 not in names(study) and -1 not in names(study)
    assert summary["skipped_by_reason"]["user who wrote nothing kept"] >= 3


def test_a_huge_users_xml_is_streamed_row_by_row(tmp_path):
    """Rows are read one line at a time: a file of many users never sits in memory whole,
    and a profile over the field limit only costs its row (nothing of AboutMe is kept)."""
    path = tmp_path / f"{SITE}-Users.xml"
    with open(path, "wb") as out:
        out.write(b'<?xml version="1.0" encoding="utf-8"?>\n<users>\n')
        for i in range(1, 20_001):
            out.write(f'  <row Id="{i}" DisplayName="user number {i}" AboutMe="{ABOUT[:200]}" />\n'.encode())
        out.write(b"</users>\n")
    with open(path, "rb") as stream:
        reader = DumpReader(stream, name=path.name)
        first = next(iter(reader))
        assert (first.so_id, first.display_name) == (1, "user number 1")
        assert reader.bytes_read < 1024 * 1024 < path.stat().st_size  # it has read a few lines, not the file

    study = StudyFactory()
    assert run(study, path)["users"] == 20_000
    assert SiteUser.objects.get(study=study, so_id=19_999).display_name == "user number 19999"


def test_authors_show_by_name_where_users_xml_gave_one(client, users_xml):
    study = StudyFactory(slug="names")
    client.force_login(MembershipFactory(study=study).user)
    run(study, SAMPLE_POSTS, SAMPLE_COMMENTS, users_xml)
    question = Post.objects.get(study=study, so_id=1)  # asked by 7, answered by 9 and 7

    page = client.get(f"/studies/{study.slug}/posts/{question.pk}/").content.decode()

    assert "asked 2020-01-02 03:04 by Ann &amp; Bo &lt;ML&gt;" in page  # escaped, never markup
    assert "user 7" not in page
    assert "by user 9" in page  # no name in Users.xml: the id, as before
    commenters = re.findall(r"— ([^,<]+), (\d{4}-\d\d-\d\d)", page)
    assert commenters == [("user 9", "2020-01-02"), ("Ann &amp; Bo &lt;ML&gt;", "2020-01-03")]


def test_the_post_api_gives_the_authors_names(client, users_xml):
    study = StudyFactory(slug="names-api")
    client.force_login(MembershipFactory(study=study).user)
    run(study, SAMPLE_POSTS, SAMPLE_COMMENTS, users_xml)
    answer = Post.objects.get(study=study, so_id=3)  # by 9 (no name), answering 1 (by 7)

    data = client.get(f"/api/studies/{study.slug}/posts/{answer.pk}/").json()

    assert (data["owner_user_id"], data["owner_name"]) == (9, "")
    by_id = {a["so_id"]: a for a in data["answers"]}
    assert by_id[4]["owner_name"] == "Ann & Bo <ML>"
    assert [(c["user_id"], c["user_name"]) for c in by_id[3]["comments"]] == [(7, "Ann & Bo <ML>")]
    question = client.get(f"/api/studies/{study.slug}/posts/{data['question_id']}/").json()
    assert question["owner_name"] == "Ann & Bo <ML>"


def test_the_import_summary_counts_the_display_names_read(client, users_xml):
    from django.utils import timezone

    from annotator.jobs.models import Job, JobStatus

    study = StudyFactory(slug="summary")
    client.force_login(MembershipFactory(study=study, is_owner=True).user)
    summary = run(study, SAMPLE_POSTS, SAMPLE_COMMENTS, users_xml)
    job = Job.objects.create(study=study, kind="import", params={}, status=JobStatus.SUCCEEDED, result=summary,
                             started_at=timezone.now(), finished_at=timezone.now())
    page = client.get(f"/studies/{study.slug}/imports/{job.pk}/").content.decode()
    assert f"<tr><th>Users (display names)</th><td>{summary['users']}</td></tr>" in page and summary["users"] > 0
