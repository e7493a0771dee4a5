"""``manage.py import_stackexchange``: the command line researchers and checks use."""

import io
import json
from pathlib import Path

import pytest
from django.core.management import ManagementUtility, call_command
from django.core.management.base import CommandError

from annotator.corpus.models import Comment, Post
from annotator.jobs.models import Job, JobKind, JobStatus
from annotator.studies.models import Membership, Study
from tests.factories import PostFactory, StudyFactory, UserFactory

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "dumps"
SAMPLE_POSTS = FIXTURES / "sample.stackexchange.com-Posts.xml"
SAMPLE_COMMENTS = FIXTURES / "sample.stackexchange.com-Comments.xml"
SITE = "sample.stackexchange.com"
MALFORMED = (
    '\ufeff<?xml version="1.0" encoding="utf-8"?>\n<posts>\n'
    '  <row Id="1" PostTypeId="1" Title="Overwritten" />\n'
    '  <row Id="2" PostTypeId="1" Title="a < b" />\n'
    "</posts>\n"
).encode()


def import_stackexchange(*args) -> str:
    out = io.StringIO()
    call_command("import_stackexchange", *[str(a) for a in args], stdout=out, stderr=io.StringIO())
    return out.getvalue()


def import_json(*args) -> dict:
    output = import_stackexchange(*args, "--json")
    assert len(output.strip().splitlines()) == 1, "--json prints one object on one line"
    return json.loads(output)


def test_json_output_and_a_new_study():
    assert not Study.objects.filter(slug="deployment").exists()
    result = import_json("--study", "deployment", SAMPLE_POSTS, SAMPLE_COMMENTS)

    study = Study.objects.get(slug="deployment")
    assert {"questions", "answers", "comments", "skipped", "rejected", "study_totals"} <= result.keys()
    assert (result["questions"], result["answers"], result["comments"]) == (3, 4, 5)
    assert (result["skipped"], result["rejected"]) == (3, 0)
    assert result["study_totals"] == {"questions": 3, "answers": 4, "comments": 5}
    assert result["study"] == "deployment"
    assert Post.objects.filter(study=study).count() == 7
    assert Comment.objects.filter(study=study).count() == 5

    job = Job.objects.get(pk=result["job"])
    assert (job.study, job.kind, job.status) == (study, JobKind.IMPORT, JobStatus.SUCCEEDED)
    assert job.params["uploaded"] is False and job.params["source"] == "command line"
    assert job.result["study_totals"] == result["study_totals"]
    assert SAMPLE_POSTS.exists(), "the user's own files are never deleted"


def test_reimport_changes_only_the_counts_of_this_run():
    import_json("--study", "again", SAMPLE_POSTS)
    result = import_json("--study", "again", SAMPLE_POSTS)
    assert result["questions"] == 3  # this run read them again ...
    assert result["study_totals"] == {"questions": 3, "answers": 4, "comments": 0}  # ... and updated them
    assert Study.objects.filter(slug="again").count() == 1
    assert Job.objects.filter(study__slug="again", status=JobStatus.SUCCEEDED).count() == 2


def test_comments_before_posts_on_the_command_line_with_only_tags():
    """Posts are read first whatever the order, so the filter knows which posts it kept."""
    result = import_json("--study", "filtered", SAMPLE_COMMENTS, SAMPLE_POSTS, "--only-tags", "tensorflow")
    study = Study.objects.get(slug="filtered")
    assert result["study_totals"] == {"questions": 1, "answers": 2, "comments": 2}
    assert set(Post.objects.filter(study=study).values_list("so_id", flat=True)) == {1, 3, 4}
    assert set(Comment.objects.filter(study=study).values_list("post_so_id", flat=True)) == {1, 3}
    assert result["skipped_by_reason"]["comment on a post not kept"] == 3
    assert result["only_tags"] == ["tensorflow"]


def test_malformed_file_fails_with_the_line_and_changes_nothing(tmp_path):
    study = StudyFactory(slug="existing")
    PostFactory(study=study, site=SITE, so_id=1, title="Original title")
    bad = tmp_path / f"{SITE}-Posts.xml"
    bad.write_bytes(MALFORMED)

    with pytest.raises(CommandError) as caught:
        import_stackexchange("--study", "existing", bad)

    message = str(caught.value)
    assert "line 4" in message and "malformed XML" in message and "Nothing was imported" in message
    assert Post.objects.filter(study=study).count() == 1
    assert Post.objects.get(study=study).title == "Original title"
    job = Job.objects.get(study=study)
    assert job.kind == JobKind.IMPORT and job.status == JobStatus.FAILED
    assert "line 4" in job.error and job.finished_at is not None
    assert bad.exists()


def test_failed_import_exits_with_a_non_zero_status(tmp_path, monkeypatch, capsys):
    bad = tmp_path / f"{SITE}-Posts.xml"
    bad.write_bytes(MALFORMED)
    # run_from_argv closes the connections when it ends; the test's transaction must survive.
    monkeypatch.setattr("django.core.management.base.connections.close_all", lambda: None)
    with pytest.raises(SystemExit) as exited:
        ManagementUtility(["manage.py", "import_stackexchange", "--study", "exit", str(bad), "--quiet"]).execute()
    assert exited.value.code == 1
    assert "line 4" in capsys.readouterr().err
    assert Job.objects.get(study__slug="exit").status == JobStatus.FAILED


def test_malformed_file_with_json_prints_the_error_and_still_fails(tmp_path):
    bad = tmp_path / f"{SITE}-Posts.xml"
    bad.write_bytes(MALFORMED)
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("import_stackexchange", "--study", "json-fail", str(bad), "--json", stdout=out)
    printed = json.loads(out.getvalue())
    assert printed["status"] == "failed" and "line 4" in printed["error"]
    assert Job.objects.get(pk=printed["job"]).status == JobStatus.FAILED


def test_missing_file_is_a_command_error(tmp_path):
    with pytest.raises(CommandError, match="cannot read the file"):
        import_stackexchange("--study", "missing", tmp_path / "nowhere-Posts.xml")
    assert Job.objects.get(study__slug="missing").status == JobStatus.FAILED


@pytest.mark.parametrize("tags", ["<tensorflow>", "tensorflow|keras", "naïve"])
def test_invalid_only_tags_is_a_command_error(tags):
    with pytest.raises(CommandError, match="is not a Stack Exchange tag"):
        import_stackexchange("--study", "tags", SAMPLE_POSTS, "--only-tags", tags)
    assert not Study.objects.filter(slug="tags").exists()
    assert not Job.objects.exists()


def test_site_option_overrides_the_file_name():
    import_json("--study", "site", SAMPLE_POSTS, "--site", "ServerFault.com")
    assert set(Post.objects.filter(study__slug="site").values_list("site", flat=True)) == {"serverfault.com"}


def test_owner_option_makes_the_user_owner():
    user = UserFactory(username="ann")
    import_json("--study", "owned", SAMPLE_POSTS, "--owner", "ann")
    membership = Membership.objects.get(study__slug="owned", user=user)
    assert membership.is_owner
    assert Job.objects.get(study__slug="owned").created_by == user


def test_unknown_owner_is_a_command_error():
    with pytest.raises(CommandError, match="No user 'nobody'"):
        import_stackexchange("--study", "owned", SAMPLE_POSTS, "--owner", "nobody")
    assert not Study.objects.filter(slug="owned").exists()


def test_text_output_summarises_the_run(tmp_path):
    dump = tmp_path / f"{SITE}-Posts.xml"
    dump.write_bytes(SAMPLE_POSTS.read_bytes().replace(b'Score="-1"', b'Score="minus one"'))
    output = import_stackexchange("--study", "text", dump)
    assert "Imported into study 'text'" in output
    assert "questions 2   answers 4   comments 0   users 0   skipped 3   rejected 1" in output
    assert "skipped: post type 4: 1" in output
    assert f"rejected: {SITE}-Posts.xml line 4 (Id 2): Score='minus one' is not a whole number" in output
    assert "Study now holds 2 questions, 4 answers, 0 comments." in output
