"""Archives that are refused: each with its reason, and nothing written (every table
the archive fills, users included, counted before and after)."""

from __future__ import annotations

import io
import json

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError

from annotator.corpus.models import Post
from annotator.studies.models import Study
from taxonomy.results.archive import SECTIONS, ArchiveRefused, study_archive_restore, study_archive_write
from taxonomy.tree.models import Category
from tests.factories import PostFactory, StudyFactory
from tests.taxonomy.results.archive_study import SLUG, rich_study_build, study_wipe

pytestmark = pytest.mark.django_db


def row_counts() -> dict[str, int]:
    counts = {s.name: s.model._default_manager.count() for s in SECTIONS}
    counts.update(studies=Study.objects.count(), users=get_user_model().objects.count())
    return counts


@pytest.fixture
def archive(queued) -> bytes:
    """The rich study's archive; the study itself deleted (so that the archive would restore)."""
    rich = rich_study_build()
    out = io.BytesIO()
    study_archive_write(study=rich.study, out=out)
    study_wipe(rich.study)
    return out.getvalue()


def edited(data: bytes, change) -> bytes:
    document = json.loads(data)
    change(document)
    return json.dumps(document).encode()


def refused(data: bytes, match: str) -> str:
    before = row_counts()
    with pytest.raises(ArchiveRefused, match=match) as caught:
        study_archive_restore(fileobj=io.BytesIO(data))
    assert row_counts() == before
    return caught.value.messages[0]


def test_the_untouched_archive_restores(archive):
    """The baseline of this file: what the other tests break is a good archive."""
    before = row_counts()
    study_archive_restore(fileobj=io.BytesIO(archive))
    assert row_counts()["posts"] == before["posts"] + 25


@pytest.mark.parametrize("data", [b"", b"   \n"])
def test_an_empty_file(data):
    refused(data, "The file is empty: it is not a study archive")


def test_a_truncated_file(archive):
    # Cut after many rows: whatever was written before the end is rolled back.
    cut = archive.index(b'"labels": [')
    message = refused(archive[:cut], r"not valid JSON \(truncated or corrupted\): parse error: premature EOF")
    assert "\n" not in message
    refused(archive[:-3], "not valid JSON")


def test_a_corrupted_file(archive):
    middle = archive.index(b'"final_labels": [')
    refused(archive[:middle] + b"\x00garbage" + archive[middle:], "not valid JSON")
    assert archive.count(b'"so_id":101,') == 1
    refused(archive.replace(b'"so_id":101,', b'"so_id":1O1,'), "not valid JSON")
    refused(b"\xff\xfe{" + archive, "not valid JSON|not UTF-8")


def test_not_json_or_not_an_object():
    refused(b"Posts.xml, surely", "not valid JSON")
    refused(b"[1, 2, 3]", "does not hold a JSON object")


def test_a_wrong_format(archive):
    refused(edited(archive, lambda d: d.update(format="something-else")),
            "Not a Taxonomist study archive: its format is 'something-else'")
    refused(json.dumps({"study": {"slug": "x"}}).encode(), "does not begin with its format and version")


def test_an_unknown_version(archive):
    refused(edited(archive, lambda d: d.update(version=2)),
            "format version is 2; this installation reads version 1 only")
    refused(edited(archive, lambda d: d.update(version="1")), "format version is '1'")


def test_an_existing_slug_is_refused_never_renamed(archive):
    study_archive_restore(fileobj=io.BytesIO(archive))
    refused(archive, f"A study with the slug “{SLUG}” already exists here: the restore is refused")


def test_ids_this_installation_holds(archive):
    # Another study took one of the archive's post ids: the study row, the users and
    # the memberships written before the posts are rolled back with them.
    post_id = json.loads(archive)["posts"][5]["id"]
    PostFactory(pk=post_id, study=StudyFactory(slug="other"))
    message = refused(archive, r"already holds posts with the archive's ids \(%d\)" % post_id)
    assert message.endswith("restore it into a fresh installation.")


def test_the_study_id_itself_is_taken(archive):
    study_id = json.loads(archive)["study"]["id"]
    Study.objects.create(pk=study_id, slug="squatter", name="Squatter")
    refused(archive, r"already holds studies with the archive's ids")


def test_a_row_that_breaks_a_constraint(archive):
    def bad_status(document):
        document["categories"][0]["status"] = "bogus"

    refused(edited(archive, bad_status), "A row of the archive breaks a rule of the database, so nothing was "
                                         "restored: .*category_status_valid")


def test_a_reference_to_a_row_that_is_not_there(archive):
    def dangling(document):
        document["label_categories"][0]["category"] = 987654

    refused(edited(archive, dangling), "breaks a rule of the database")


def test_a_reference_into_another_study_of_this_installation(archive):
    other = Category.objects.create(study=StudyFactory(slug="victim"), name="Not yours")

    def stray(document):
        document["label_categories"][0]["category"] = other.pk

    refused(edited(archive, stray), "section “label_categories”, row \\d+: its category is not a row of this study")

    def graft(document):  # a post of the archive put into the other study
        document["posts"][0]["study"] = other.study_id

    refused(edited(archive, graft), "section “posts” holds rows of another study")


def test_rows_missing_or_counts_gone(archive):
    def drop_a_post(document):
        del document["comments"][0]

    refused(edited(archive, drop_a_post), "section “comments” holds 0 rows, but its counts say 1")
    refused(edited(archive, lambda d: d.pop("counts")), "no row counts at its end")


def test_unknown_sections_fields_and_users(archive):
    refused(edited(archive, lambda d: d.update(extra=[])), "unknown section “extra”")

    def new_field(document):
        document["posts"][0]["mood"] = "happy"

    refused(edited(archive, new_field), "section “posts”: unknown field mood")

    def stranger(document):
        document["memberships"][0]["user"] = "mallory"

    refused(edited(archive, stranger), "the user 'mallory' is not among the archive's users")

    def bad_time(document):
        document["labels"][0]["submitted_at"] = "yesterday"

    refused(edited(archive, bad_time), "section “labels”, field submitted_at: .*invalid format")


def test_a_text_file_object_is_read_too(archive):
    study = study_archive_restore(fileobj=io.StringIO(archive.decode("utf-8")))
    assert study.slug == SLUG and Post.objects.filter(study=study).count() == 25


def test_the_command_refuses_in_one_line(archive, tmp_path):
    path = tmp_path / "bad.json"
    path.write_bytes(archive[: len(archive) // 2])
    before = row_counts()
    with pytest.raises(CommandError) as caught:
        call_command("import_study", str(path))
    assert str(caught.value).startswith("Not restored: The archive is not valid JSON")
    assert "\n" not in str(caught.value)
    assert row_counts() == before
