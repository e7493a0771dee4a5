"""Importing dumps into a study: ``import_run``, import jobs, and the upload path.

The contract under test: rows are keyed by (study, site, Id), so re-importing
updates and never duplicates; a file that cannot be trusted raises DumpError
and changes nothing at all; a single bad row is rejected with its line and
reason while the rest is imported."""

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.models import Q

from annotator.corpus.dump_parser import DumpError
from annotator.corpus.models import Comment, Post, PostType
from annotator.corpus.services import (
    import_file_describe,
    import_job_execute,
    import_job_start,
    import_run,
    study_totals,
)
from annotator.jobs.models import Job, JobStatus
from tests.factories import (
    AnswerFactory,
    CommentFactory,
    JobFactory,
    MembershipFactory,
    PostFactory,
    StudyFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "dumps"
SAMPLE_POSTS = FIXTURES / "sample.stackexchange.com-Posts.xml"
SAMPLE_COMMENTS = FIXTURES / "sample.stackexchange.com-Comments.xml"
META_POSTS = FIXTURES / "meta.sample.stackexchange.com-Posts.xml"
SITE = "sample.stackexchange.com"

HEAD = '\ufeff<?xml version="1.0" encoding="utf-8"?>\n<posts>\n'.encode()
END = b"</posts>\n"


def rows(*lines: str | bytes) -> bytes:
    """Row lines for a dump: line 3 is the first row (after the declaration and <posts>)."""
    return b"".join((line.encode() if isinstance(line, str) else line) + b"\n" for line in lines)


def run(study, *paths, **options) -> dict:
    return import_run(study=study, files=[import_file_describe(path=str(p)) for p in paths], **options)


def write(tmp_path: Path, data: bytes, name: str = f"{SITE}-Posts.xml") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def posts(study, **filters):
    return Post.objects.filter(study=study, **filters)


# -- the real dumps ------------------------------------------------------------

def test_real_dumps_into_one_study(shared_data):
    study = StudyFactory()
    summary = run(
        study,
        shared_data / "genai.stackexchange.com-Posts.xml",
        shared_data / "datascience.meta.stackexchange.com-Posts.xml",
    )

    assert (summary["questions"], summary["answers"], summary["comments"]) == (181 + 257, 243 + 341, 0)
    assert summary["skipped_by_reason"] == {"post type 4": 25 + 13, "post type 5": 25 + 13}
    assert summary["skipped"] == 76 and summary["rejected"] == 0
    assert summary["study_totals"] == {"questions": 438, "answers": 584, "comments": 0}
    assert summary["study_totals"] == study_totals(study=study)

    for site, questions, answers, accepted, askers, without_owner in [
        ("genai.stackexchange.com", 181, 243, 47, 103, 4),
        ("datascience.meta.stackexchange.com", 257, 341, 83, 134, 2),
    ]:
        site_questions = posts(study, site=site, post_type=PostType.QUESTION)
        assert site_questions.count() == questions
        assert posts(study, site=site, post_type=PostType.ANSWER).count() == answers
        assert site_questions.exclude(accepted_answer_so_id=None).count() == accepted
        assert site_questions.exclude(owner_user_id=None).values("owner_user_id").distinct().count() == askers
        assert site_questions.filter(owner_user_id=None).count() == without_owner
        assert not site_questions.filter(Q(tags="") | ~Q(tags__startswith="|") | ~Q(tags__endswith="|")).exists()

    # Every answer names a question of the same study and site ...
    question_keys = set(posts(study, post_type=PostType.QUESTION).values_list("site", "so_id"))
    answer_parents = set(posts(study, post_type=PostType.ANSWER).values_list("site", "parent_so_id"))
    assert answer_parents <= question_keys
    # ... and every accepted answer id names an answer to that very question.
    answers = {
        (site, so_id): parent
        for site, so_id, parent in posts(study, post_type=PostType.ANSWER).values_list("site", "so_id", "parent_so_id")
    }
    accepted = posts(study, post_type=PostType.QUESTION).exclude(accepted_answer_so_id=None)
    assert accepted.count() == 47 + 83
    for site, so_id, accepted_id in accepted.values_list("site", "so_id", "accepted_answer_so_id"):
        assert answers.get((site, accepted_id)) == so_id, (site, so_id, accepted_id)


# -- what a row becomes ------------------------------------------------------------

def test_fields_are_stored(reading):
    study = StudyFactory()
    summary = run(study, SAMPLE_POSTS)
    assert (summary["questions"], summary["answers"], summary["rejected"]) == (3, 4, 0)
    assert summary["skipped_by_reason"] == {"post type 4": 1, "post type 5": 1, "post type 6": 1}

    question = Post.objects.get(study=study, site=SITE, so_id=1)
    assert question.post_type == PostType.QUESTION
    assert question.title == "Serving a TensorFlow model"
    assert question.body == "<p>How do I serve a TensorFlow model behind an HTTP API?</p>\n"
    assert question.tags == "|tensorflow|serving|"
    assert question.tag_list == ["tensorflow", "serving"]
    assert question.creation_date == datetime(2020, 1, 2, 3, 4, 5, 123000, tzinfo=UTC)
    assert question.creation_date.utcoffset() == timedelta(0)
    assert question.last_activity_date == datetime(2020, 2, 1, tzinfo=UTC)
    assert question.closed_date is None
    assert (question.score, question.view_count, question.answer_count, question.comment_count) == (5, 120, 2, 1)
    assert question.favorite_count == 1
    assert question.owner_user_id == 7
    assert question.accepted_answer_so_id == 3
    assert question.content_license == "CC BY-SA 4.0"
    assert question.original_url == "https://sample.stackexchange.com/questions/1"

    assert Post.objects.get(study=study, site=SITE, so_id=2).score == -1
    anonymous = Post.objects.get(study=study, site=SITE, so_id=6)
    assert anonymous.owner_user_id is None and anonymous.owner_display_name == "anonymous"

    answers = posts(study, post_type=PostType.ANSWER)
    assert dict(answers.values_list("so_id", "parent_so_id")) == {3: 1, 4: 1, 5: 2, 7: 6}
    answer = answers.get(so_id=3)
    assert (answer.title, answer.tags, answer.score, answer.owner_user_id) == ("", "", 3, 9)
    assert answer.creation_date == datetime(2020, 1, 3, 10, tzinfo=UTC)


def test_both_tag_formats_are_stored_as_pipes():
    study = StudyFactory()
    run(study, SAMPLE_POSTS, META_POSTS)
    assert posts(study, site=SITE, so_id=1).get().tags == "|tensorflow|serving|"  # from <a><b>
    assert posts(study, site="meta.sample.stackexchange.com", so_id=1).get().tags == "|feature-request|status-completed|"
    # The same Id on two sites is two posts.
    assert posts(study, so_id=1).count() == 2


def test_date_with_an_offset_is_stored_in_utc(tmp_path):
    study = StudyFactory()
    run(study, write(tmp_path, HEAD + rows(
        '  <row Id="1" PostTypeId="1" Title="q" CreationDate="2020-01-02T05:04:05+02:00" />',
    ) + END))
    assert posts(study).get().creation_date == datetime(2020, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_comments_given_first_link_to_posts_by_id():
    study = StudyFactory()
    summary = run(study, SAMPLE_COMMENTS, SAMPLE_POSTS)
    # Posts were read first whatever the order given.
    assert [f["kind"] for f in summary["files"]] == ["posts", "comments"]
    assert summary["comments"] == 5
    assert summary["study_totals"] == {"questions": 3, "answers": 4, "comments": 5}
    comments = Comment.objects.filter(study=study, site=SITE)
    assert dict(comments.values_list("so_id", "post_so_id")) == {101: 1, 102: 3, 103: 2, 104: 6, 105: 7}
    post_ids = set(posts(study, site=SITE).values_list("so_id", flat=True))
    assert set(comments.values_list("post_so_id", flat=True)) <= post_ids
    first = comments.get(so_id=101)
    assert (first.text, first.score, first.user_id) == ("Which TensorFlow version?", 2, 9)
    assert first.creation_date == datetime(2020, 1, 2, 4, tzinfo=UTC)
    assert comments.get(so_id=104).user_display_name == "guest"


def test_site_given_explicitly_wins_over_the_file_name():
    study = StudyFactory()
    import_run(study=study, files=[import_file_describe(path=str(SAMPLE_POSTS), site="Example.ORG")])
    assert set(posts(study).values_list("site", flat=True)) == {"example.org"}


def test_file_without_a_site_in_its_name_goes_to_stack_overflow(tmp_path):
    study = StudyFactory()
    path = tmp_path / "Posts.xml"
    shutil.copy(SAMPLE_POSTS, path)
    run(study, path)
    assert set(posts(study).values_list("site", flat=True)) == {"stackoverflow.com"}


# -- idempotence ------------------------------------------------------------------

def test_reimport_updates_and_never_duplicates(tmp_path, reading):
    study = StudyFactory()
    first = run(study, SAMPLE_POSTS, SAMPLE_COMMENTS)
    keys = list(posts(study).order_by("pk").values_list("pk", "site", "so_id"))
    assert len(keys) == 7 and Comment.objects.filter(study=study).count() == 5

    stamps = dict(posts(study).values_list("so_id", "updated_at"))
    comment_stamps = dict(Comment.objects.filter(study=study).values_list("so_id", "updated_at"))
    again = run(study, SAMPLE_POSTS, SAMPLE_COMMENTS)
    assert again["study_totals"] == first["study_totals"] == {"questions": 3, "answers": 4, "comments": 5}
    assert list(posts(study).order_by("pk").values_list("pk", "site", "so_id")) == keys
    # nothing changed in the dump: no row was rewritten
    assert dict(posts(study).values_list("so_id", "updated_at")) == stamps
    assert dict(Comment.objects.filter(study=study).values_list("so_id", "updated_at")) == comment_stamps

    edited = SAMPLE_POSTS.read_bytes().replace(
        b'Title="Serving a TensorFlow model"', b'Title="Serving a TensorFlow model (edited)"'
    ).replace(b'Score="5"', b'Score="6"')
    assert edited != SAMPLE_POSTS.read_bytes()
    third = run(study, write(tmp_path, edited))
    assert third["study_totals"] == first["study_totals"] == study_totals(study=study)
    assert posts(study).count() == 7
    question = posts(study, site=SITE, so_id=1).get()
    assert question.title == "Serving a TensorFlow model (edited)" and question.score == 6
    rewritten = {so_id for so_id, stamp in posts(study).values_list("so_id", "updated_at") if stamp != stamps[so_id]}
    assert rewritten == {1}  # the one row the edit changed
    assert list(posts(study).order_by("pk").values_list("pk", "site", "so_id")) == keys


def test_same_dump_in_two_studies_is_two_copies():
    one, two = StudyFactory(), StudyFactory()
    run(one, SAMPLE_POSTS)
    run(two, SAMPLE_POSTS)
    assert posts(one).count() == posts(two).count() == 7
    assert Post.objects.count() == 14


# -- --only-tags ------------------------------------------------------------------

def test_only_tags_keeps_questions_with_any_tag_with_answers_and_comments():
    study = StudyFactory()
    summary = run(study, SAMPLE_COMMENTS, SAMPLE_POSTS, only_tags=["tensorflow", "keras"])
    assert set(posts(study, post_type=PostType.QUESTION).values_list("so_id", flat=True)) == {1, 6}
    assert set(posts(study, post_type=PostType.ANSWER).values_list("so_id", flat=True)) == {3, 4, 7}
    assert set(Comment.objects.filter(study=study).values_list("so_id", flat=True)) == {101, 102, 104, 105}
    assert summary["skipped_by_reason"] == {
        "question without a selected tag": 1,
        "answer to a question not kept": 1,
        "comment on a post not kept": 1,
        "post type 4": 1,
        "post type 5": 1,
        "post type 6": 1,
    }
    assert summary["skipped"] == 6
    assert summary["only_tags"] == ["tensorflow", "keras"]
    assert summary["study_totals"] == {"questions": 2, "answers": 3, "comments": 4}


def test_only_tags_ignores_the_tag_written_in_a_body():
    """Question 6's body has <code>...</code>; it is tagged keras, not code."""
    study = StudyFactory()
    summary = run(study, SAMPLE_POSTS, SAMPLE_COMMENTS, only_tags=["code"])
    assert summary["study_totals"] == {"questions": 0, "answers": 0, "comments": 0}
    assert summary["skipped_by_reason"]["question without a selected tag"] == 3
    assert summary["skipped_by_reason"]["answer to a question not kept"] == 4
    assert summary["skipped_by_reason"]["comment on a post not kept"] == 5


def test_filtered_comment_import_keeps_comments_on_posts_the_study_already_has():
    study = StudyFactory()
    run(study, SAMPLE_POSTS, only_tags=["pytorch"])
    assert set(posts(study).values_list("so_id", flat=True)) == {2, 5}

    summary = run(study, SAMPLE_COMMENTS, only_tags=["pytorch"])
    assert set(Comment.objects.filter(study=study).values_list("post_so_id", flat=True)) == {2}
    assert summary["comments"] == 1 and summary["skipped_by_reason"] == {"comment on a post not kept": 4}


def test_filtered_answer_import_keeps_answers_to_questions_the_study_already_has(tmp_path):
    study = StudyFactory()
    PostFactory(study=study, site=SITE, so_id=1, tags="|serving|")
    data = HEAD + rows(
        '  <row Id="3" PostTypeId="2" ParentId="1" Body="kept: its question is in the study" />',
        '  <row Id="5" PostTypeId="2" ParentId="2" Body="not kept" />',
    ) + END
    run(study, write(tmp_path, data), only_tags=["serving"])
    assert set(posts(study, post_type=PostType.ANSWER).values_list("so_id", flat=True)) == {3}


# -- files that cannot be trusted change nothing ------------------------------------

GOOD_FIRST_ROW = '  <row Id="1" PostTypeId="1" Title="Overwritten" Body="x" Tags="|serving|" />'
GOOD_ROW = '  <row Id="2" PostTypeId="2" ParentId="1" Body="an answer" />'
BILLION_LAUGHS = (
    '<?xml version="1.0"?>\n<!DOCTYPE posts [\n <!ENTITY lol0 "lol">\n'
    + "".join(f' <!ENTITY lol{i} "' + f"&lol{i - 1};" * 10 + '">\n' for i in range(1, 10))
    + ']>\n<posts>\n  <row Id="1" PostTypeId="1" Title="&lol9;" />\n</posts>\n'
).encode()
XXE = b'<!DOCTYPE posts [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'

BAD_FILES = [
    pytest.param(
        HEAD + rows(GOOD_FIRST_ROW, GOOD_ROW, '  <row Id="3" PostTypeId="1" Title="a < b" />', GOOD_ROW) + END,
        5, "malformed XML", id="malformed-row-mid-file",
    ),
    pytest.param(
        HEAD + rows(GOOD_FIRST_ROW, GOOD_ROW, '  <row Id="3" PostTypeId="1" Title="x"></row>') + END,
        5, "must end with '/>'", id="row-not-self-closed",
    ),
    pytest.param(HEAD + rows(GOOD_FIRST_ROW, GOOD_ROW), 4, "truncated", id="truncated-no-end-tag"),
    pytest.param(
        HEAD + rows(GOOD_FIRST_ROW, '  <row Id="2" PostTypeId="2" ParentId="1" Body="cut off he'),
        4, "truncated", id="truncated-mid-row",
    ),
    pytest.param(
        HEAD + rows(GOOD_FIRST_ROW) + END + b"<posts>\n", 5, "after the end of the document",
        id="content-after-end",
    ),
    pytest.param(
        b"<!DOCTYPE html>\n<html><head><title>Sign in</title></head><body>Sign in</body></html>\n",
        1, "not a Stack Exchange dump", id="html-page",
    ),
    pytest.param(b"<html>\n<body>Sign in</body>\n</html>\n", 1, "not a Stack Exchange", id="html-without-doctype"),
    pytest.param(b'{"posts": [{"Id": 1, "Title": "q"}]}\n', 1, "not a Stack Exchange", id="json"),
    pytest.param(b"", None, "the file is empty", id="empty-file"),
    pytest.param(b"\n\n", 2, "the file is empty", id="blank-lines"),
    pytest.param(
        '\ufeff<?xml version="1.0" encoding="utf-8"?>\n<votes>\n  <row Id="1" PostId="1" VoteTypeId="2" />\n</votes>\n'.encode(),
        2, "this is a Votes.xml dump", id="votes-dump",
    ),
    pytest.param(
        (HEAD + rows(GOOD_FIRST_ROW) + END).decode("utf-8").encode("utf-16"), 1, "UTF-16", id="utf-16",
    ),
    pytest.param(
        (HEAD + rows(GOOD_FIRST_ROW) + END).decode("utf-8").encode("utf-16-le"), 1, "UTF-16", id="utf-16-no-bom",
    ),
    pytest.param(
        b'<?xml version="1.0" encoding="ISO-8859-1"?>\n<posts>\n'
        + rows('  <row Id="1" PostTypeId="1" Title="Caf\xe9" />'.encode("latin-1")) + END,
        1, "declares encoding ISO-8859-1", id="latin-1-declared",
    ),
    pytest.param(
        HEAD + rows(GOOD_FIRST_ROW, b'  <row Id="3" PostTypeId="1" Title="Caf\xe9 cr\xe8me" />') + END,
        4, "not valid UTF-8", id="invalid-utf-8-in-a-row",
    ),
    pytest.param(BILLION_LAUGHS, 2, "DTD and entity declarations are refused", id="billion-laughs"),
    pytest.param(
        b'<?xml version="1.0"?>\n' + XXE + b'\n<posts>\n  <row Id="1" PostTypeId="1" Title="&xxe;" />\n</posts>\n',
        2, "DTD and entity declarations are refused", id="external-entity",
    ),
    pytest.param(
        b'<?xml version="1.0"?>' + XXE + b'\n<posts>\n  <row Id="1" PostTypeId="1" Title="&xxe;" />\n</posts>\n',
        1, "DTD and entity declarations are refused", id="external-entity-on-declaration-line",
    ),
    pytest.param(
        HEAD + rows(GOOD_FIRST_ROW) + XXE + b"\n" + rows('  <row Id="3" PostTypeId="1" Title="&xxe;" />') + END,
        4, "DTD and entity declarations are refused", id="external-entity-after-root",
    ),
    pytest.param(
        HEAD + rows(GOOD_FIRST_ROW, '  <row Id="3" PostTypeId="1" Title="&xxe;" />') + END,
        4, "undefined entity refused", id="undefined-entity-without-doctype",
    ),
]


@pytest.fixture
def study_with_posts():
    """A study that already holds a post and a comment on the site the bad files are for."""
    study = StudyFactory()
    PostFactory(study=study, site=SITE, so_id=1, title="Original title")
    PostFactory(study=study, site=SITE, so_id=50, title="Another question")
    Comment.objects.create(study=study, site=SITE, so_id=101, post_so_id=1, text="Original comment",
                           updated_at=datetime(2020, 1, 1, tzinfo=UTC))
    return study


def snapshot(study) -> dict:
    return {
        "posts": list(Post.objects.order_by("pk").values_list("pk", "site", "so_id", "title", "body", "updated_at")),
        "comments": list(Comment.objects.order_by("pk").values_list("pk", "so_id", "text", "updated_at")),
        "totals": study_totals(study=study),
    }


@pytest.mark.parametrize(("data", "line", "message"), BAD_FILES)
def test_bad_file_is_refused_with_its_line_and_changes_nothing(
    tmp_path, study_with_posts, data, line, message, reading
):
    before = snapshot(study_with_posts)
    path = write(tmp_path, data)
    with pytest.raises(DumpError) as caught:
        run(study_with_posts, path)
    error = caught.value
    assert message in str(error)
    assert error.line == line
    if line is not None:
        assert f"line {line}" in str(error)
    assert error.file == path.name
    assert snapshot(study_with_posts) == before
    assert Post.objects.get(study=study_with_posts, site=SITE, so_id=1).title == "Original title"


def test_external_entity_content_appears_nowhere(tmp_path, study_with_posts):
    passwd = Path("/etc/passwd").read_text().splitlines()[0]  # e.g. root:x:0:0:root:/root:/bin/bash
    assert passwd
    before = snapshot(study_with_posts)
    for data in (
        b'<?xml version="1.0"?>\n' + XXE + b'\n<posts>\n  <row Id="7" PostTypeId="1" Title="&xxe;" Body="&xxe;" />\n'
        b"</posts>\n",
        HEAD + rows('  <row Id="7" PostTypeId="1" Title="&xxe;" Body="&xxe;" />') + END,
    ):
        with pytest.raises(DumpError) as caught:
            run(study_with_posts, write(tmp_path, data))
        assert passwd not in str(caught.value) and "root:" not in str(caught.value)
    assert snapshot(study_with_posts) == before
    assert not Post.objects.filter(Q(title__contains="root:") | Q(body__contains="root:")).exists()


def test_failure_after_many_staged_rows_changes_nothing(tmp_path, study_with_posts, reading):
    """Thousands of rows are staged (several batches) before the malformed line."""
    before = snapshot(study_with_posts)
    good = [f'  <row Id="{i}" PostTypeId="1" Title="q{i}" Tags="|a|" />' for i in range(1, 4501)]
    path = write(tmp_path, HEAD + rows(*good, '  <row Id="9999" PostTypeId="1" Title="<" />') + END)
    with pytest.raises(DumpError, match="line 4503"):
        run(study_with_posts, path)
    assert snapshot(study_with_posts) == before


def test_bad_second_file_discards_the_good_first_one(tmp_path, study_with_posts, reading):
    before = snapshot(study_with_posts)
    bad_comments = write(
        tmp_path,
        '\ufeff<?xml version="1.0" encoding="utf-8"?>\n<comments>\n'
        '  <row Id="500" PostId="1" Text="fine" />\n  <row Id="501" PostId="1" Text="broken & bad" />\n'
        "</comments>\n".encode(),
        name=f"{SITE}-Comments.xml",
    )
    with pytest.raises(DumpError) as caught:
        run(study_with_posts, SAMPLE_POSTS, bad_comments)
    assert caught.value.file == f"{SITE}-Comments.xml" and caught.value.line == 4
    assert snapshot(study_with_posts) == before


def test_missing_file_is_a_dump_error(tmp_path, study_with_posts):
    before = snapshot(study_with_posts)
    with pytest.raises(DumpError, match="cannot read the file"):
        run(study_with_posts, SAMPLE_POSTS, tmp_path / "nowhere-Posts.xml")
    assert snapshot(study_with_posts) == before


# -- single bad rows are rejected, the rest imported ---------------------------------

BAD_ROWS = [
    pytest.param('  <row Id="2" PostTypeId="1" Title="dup" />', "duplicate Id 2", id="duplicate-id"),
    pytest.param('  <row Id="4" PostTypeId="1" Title="q" Score="lots" />', "Score='lots' is not a whole number",
                 id="non-numeric-score"),
    pytest.param('  <row Id="4" PostTypeId="1" Title="q" Score="99999999999" />', "out of range",
                 id="score-too-large-for-the-column"),
    pytest.param('  <row Id="4" PostTypeId="1" Title="q" OwnerUserId="99999999999999999999" />', "out of range",
                 id="owner-id-too-large-for-the-column"),
    pytest.param('  <row Id="4" PostTypeId="2" Body="orphan" />', "answer without ParentId", id="answer-without-parent"),
    pytest.param('  <row Id="4" PostTypeId="1" CreationDate="31/12/2020" />', "is not a date", id="bad-date"),
    pytest.param('  <row PostTypeId="1" Title="q" />', "missing Id", id="missing-id"),
    pytest.param('  <row Id="4" PostTypeId="1" Body="' + "x" * 5000 + '" />', "over the 1 KB limit",
                 id="body-over-a-small-field-limit"),
]


@pytest.mark.parametrize(("bad_row", "reason"), BAD_ROWS)
def test_bad_row_is_rejected_and_the_rest_imported(tmp_path, bad_row, reason, reading):
    study = StudyFactory()
    data = HEAD + rows(
        '  <row Id="1" PostTypeId="1" Title="first" />',
        '  <row Id="2" PostTypeId="1" Title="second" />',
        bad_row,
        '  <row Id="3" PostTypeId="2" ParentId="1" Body="answer" />',
    ) + END
    summary = run(study, write(tmp_path, data), max_field_bytes=1000)
    assert summary["rejected"] == 1
    [rejected] = summary["rejected_rows"]
    assert rejected["line"] == 5 and rejected["file"] == f"{SITE}-Posts.xml"
    assert reason in rejected["reason"]
    assert dict(posts(study).values_list("so_id", "title")) == {1: "first", 2: "second", 3: ""}
    assert summary["study_totals"] == {"questions": 2, "answers": 1, "comments": 0}


def test_ten_megabyte_body_is_rejected_and_the_rest_imported(tmp_path):
    study = StudyFactory()
    path = tmp_path / f"{SITE}-Posts.xml"
    with open(path, "wb") as out:
        out.write(HEAD + rows('  <row Id="1" PostTypeId="1" Title="before" />'))
        out.write(b'  <row Id="2" PostTypeId="1" Title="huge" Body="' + b"x" * (10 * 1024 * 1024) + b'" />\n')
        out.write(rows('  <row Id="3" PostTypeId="1" Title="after" />') + END)
    summary = run(study, path)  # the default limit: 1 MB per field
    assert summary["rejected"] == 1
    [rejected] = summary["rejected_rows"]
    assert (rejected["line"], rejected["id"]) == (4, 2)
    assert "limited to 1.0 MB" in rejected["reason"]
    assert dict(posts(study).values_list("so_id", "title")) == {1: "before", 3: "after"}
    assert summary["bytes_read"] == path.stat().st_size


# -- jobs ---------------------------------------------------------------------------

def job_with_files(study, tmp_path, *sources: Path, uploaded: bool) -> tuple[Job, list[Path]]:
    folder = tmp_path / "imports" / "job"
    folder.mkdir(parents=True)
    copies = []
    for index, source in enumerate(sources):
        copies.append(folder / f"{index}-{source.name}")
        shutil.copy(source, copies[-1])
    job = JobFactory(study=study, params={
        "files": [import_file_describe(path=str(c), name=s.name).__dict__ for c, s in zip(copies, sources)],
        "only_tags": [],
        "uploaded": uploaded,
    })
    return job, copies


def test_job_succeeds_with_the_summary_and_deletes_uploaded_files(tmp_path):
    study = StudyFactory()
    job, copies = job_with_files(study, tmp_path, SAMPLE_POSTS, SAMPLE_COMMENTS, uploaded=True)
    progress = []
    summary = import_job_execute(job=job, on_progress=lambda j: progress.append(j.phase))

    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED and job.error == ""
    assert job.finished_at is not None
    assert job.result == summary
    assert job.result["questions"] == 3 and job.result["comments"] == 5
    assert job.result["study_totals"] == {"questions": 3, "answers": 4, "comments": 5}
    assert job.bytes_read == SAMPLE_POSTS.stat().st_size + SAMPLE_COMMENTS.stat().st_size
    assert "applying to the study" in progress
    assert not any(c.exists() for c in copies) and not copies[0].parent.exists()


def test_job_fails_with_the_line_and_deletes_uploaded_files(tmp_path, study_with_posts):
    before = snapshot(study_with_posts)
    bad = write(tmp_path, HEAD + rows(GOOD_FIRST_ROW, '  <row Id="3" PostTypeId="1" Title="a < b" />') + END)
    job, copies = job_with_files(study_with_posts, tmp_path, bad, uploaded=True)

    assert import_job_execute(job=job) is None

    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert "line 4" in job.error and "malformed XML" in job.error
    assert "Nothing was imported" in job.error
    assert job.finished_at is not None and job.result == {}
    assert snapshot(study_with_posts) == before
    assert not any(c.exists() for c in copies)


def test_job_keeps_files_it_did_not_upload(tmp_path):
    """The command line imports the user's own files: they must survive."""
    study = StudyFactory()
    job, copies = job_with_files(study, tmp_path, SAMPLE_POSTS, uploaded=False)
    import_job_execute(job=job)
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED
    assert all(c.exists() for c in copies)


def test_job_honours_only_tags(tmp_path):
    study = StudyFactory()
    job, _ = job_with_files(study, tmp_path, SAMPLE_POSTS, uploaded=True)
    job.params["only_tags"] = ["keras"]
    job.save()
    import_job_execute(job=job)
    job.refresh_from_db()
    assert job.result["study_totals"] == {"questions": 1, "answers": 1, "comments": 0}


# -- uploads --------------------------------------------------------------------------

@pytest.fixture
def owner_client(client):
    owner = UserFactory()
    study = StudyFactory()
    MembershipFactory(study=study, user=owner, is_owner=True)
    client.force_login(owner)
    client.study = study
    client.owner = owner
    return client


def upload(name: str, data: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="text/xml")


def uploaded_folders(settings) -> list[Path]:
    root = Path(settings.MEDIA_ROOT) / "imports"
    return list(root.iterdir()) if root.exists() else []


def test_upload_page_queues_a_job(owner_client, queued, settings, django_capture_on_commit_callbacks):
    study = owner_client.study
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = owner_client.post(f"/studies/{study.slug}/imports/", {
            "files": [upload(SAMPLE_POSTS.name, SAMPLE_POSTS.read_bytes()),
                      upload(SAMPLE_COMMENTS.name, SAMPLE_COMMENTS.read_bytes())],
            "only_tags": "TensorFlow, keras",
            "site": "",
        })
    job = Job.objects.get(study=study)
    assert response.status_code == 302 and response["Location"] == f"/studies/{study.slug}/imports/{job.pk}/"
    assert len(callbacks) == 1 and queued == [job.pk]
    assert job.status == JobStatus.QUEUED and job.created_by == owner_client.owner
    assert job.params["uploaded"] is True
    assert job.params["only_tags"] == ["tensorflow", "keras"]
    assert [(f["name"], f["site"]) for f in job.params["files"]] == [
        (SAMPLE_POSTS.name, SITE), (SAMPLE_COMMENTS.name, SITE),
    ]
    assert all(Path(f["path"]).is_file() for f in job.params["files"])
    assert Path(job.params["files"][0]["path"]).read_bytes() == SAMPLE_POSTS.read_bytes()
    assert job.bytes_total == SAMPLE_POSTS.stat().st_size + SAMPLE_COMMENTS.stat().st_size
    assert not posts(study).exists()  # nothing imported until a worker runs the job


def test_upload_api_queues_a_job(owner_client, queued, django_capture_on_commit_callbacks):
    study = owner_client.study
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(
            f"/api/studies/{study.slug}/imports/", {"files": upload("Posts.xml", SAMPLE_POSTS.read_bytes()),
                                                    "site": "serverfault.com"},
        )
    assert response.status_code == 202, response.content
    job = Job.objects.get(study=study)
    assert response.json()["id"] == job.pk and response.json()["status"] == "queued"
    assert "path" not in response.json()["params"]["files"][0]  # server paths stay private
    assert queued == [job.pk]
    assert job.params["files"][0]["site"] == "serverfault.com"


# Declared over the limit (beyond the form's allowance): 413 before the body is read
# (annotator/middleware.py); within the allowance: counted as it streams in, the form says why.
@pytest.mark.parametrize(("extra_bytes", "status"), [(200_000, 413), (1_000, 200)],
                         ids=["declared-length-over", "streamed-bytes-over"])
def test_upload_over_the_limit_is_refused_on_the_page(owner_client, queued, settings, extra_bytes, status):
    settings.TAXONOMIST_MAX_UPLOAD_BYTES = 1_000_000
    study = owner_client.study
    big = HEAD + b" " * (1_000_000 + extra_bytes) + rows(GOOD_FIRST_ROW) + END
    response = owner_client.post(f"/studies/{study.slug}/imports/", {"files": upload(f"{SITE}-Posts.xml", big)})
    assert response.status_code == status
    text = response.content.decode()
    assert "over the 1 MB limit" in text and "import_stackexchange" in text
    assert not Job.objects.exists() and queued == []
    assert uploaded_folders(settings) == []


def test_upload_over_the_limit_is_refused_by_the_api(owner_client, queued, settings):
    settings.TAXONOMIST_MAX_UPLOAD_BYTES = 1_000_000
    big = HEAD + b" " * 2_000_000 + END
    response = owner_client.post(f"/api/studies/{owner_client.study.slug}/imports/", {"files": upload("Posts.xml", big)})
    assert response.status_code == 413
    assert "over the 1 MB limit" in response.json()["files"][0]
    assert not Job.objects.exists() and queued == []


def test_import_job_start_checks_the_size_itself(settings):
    """Whatever the upload handlers did, the service refuses a file over the limit."""
    settings.TAXONOMIST_MAX_UPLOAD_BYTES = 1_000
    with pytest.raises(ValidationError) as caught:
        import_job_start(study=StudyFactory(), uploads=[upload("Posts.xml", HEAD + b" " * 2_000 + END)])
    assert "over the" in str(caught.value.message_dict["files"])
    assert not Job.objects.exists()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"<!DOCTYPE html>\n<html><body>Not found</body></html>\n", "notes-Posts.xml, line 1: not a Stack Exchange dump"),
        (b'{"posts": []}\n', "notes-Posts.xml, line 1: not a Stack Exchange Posts.xml, Comments.xml or Users.xml dump"),
        (b"", "The submitted file is empty"),  # the form's own check, before the parser's
        ('\ufeff<?xml version="1.0"?>\n<badges>\n</badges>\n'.encode(), "notes-Posts.xml, line 2: this is a Badges.xml dump"),
    ],
    ids=["html", "json", "empty", "badges-dump"],
)
def test_upload_of_a_non_dump_is_refused_at_once(owner_client, queued, settings, data, message,
                                                django_capture_on_commit_callbacks):
    study = owner_client.study
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = owner_client.post(f"/studies/{study.slug}/imports/", {
            "files": [upload(SAMPLE_POSTS.name, SAMPLE_POSTS.read_bytes()), upload("notes-Posts.xml", data)],
        })
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Job.objects.exists() and callbacks == [] and queued == []
    assert uploaded_folders(settings) == []


def test_upload_api_refuses_a_non_dump(owner_client, queued, settings):
    response = owner_client.post(
        f"/api/studies/{owner_client.study.slug}/imports/", {"files": upload("notes-Posts.xml", b'{"posts": []}\n')}
    )
    assert response.status_code == 400
    assert "notes-Posts.xml, line 1: not a Stack Exchange" in response.json()["files"][0]
    assert not Job.objects.exists() and queued == []
    assert uploaded_folders(settings) == []


def test_upload_with_an_invalid_tag_is_refused(owner_client, queued):
    study = owner_client.study
    response = owner_client.post(f"/studies/{study.slug}/imports/", {
        "files": upload(SAMPLE_POSTS.name, SAMPLE_POSTS.read_bytes()), "only_tags": "<script>",
    })
    assert response.status_code == 200
    assert "is not a Stack Exchange tag" in response.content.decode()
    assert not Job.objects.exists() and queued == []


def test_only_owners_upload(client, queued):
    rater = UserFactory()
    study = StudyFactory()
    MembershipFactory(study=study, user=rater, is_rater=True)
    client.force_login(rater)
    response = client.post(f"/studies/{study.slug}/imports/", {"files": upload("Posts.xml", SAMPLE_POSTS.read_bytes())})
    assert response.status_code in (403, 404)
    assert not Job.objects.exists() and queued == []


def test_study_totals_count_by_kind():
    study = StudyFactory()
    question = PostFactory(study=study)
    AnswerFactory(question=question)
    AnswerFactory(question=question)
    CommentFactory(study=study)
    PostFactory()  # another study
    assert study_totals(study=study) == {"questions": 1, "answers": 2, "comments": 1}


def test_a_filtered_run_that_keeps_nothing_still_reports_progress(tmp_path):
    """On a huge dump a tag filter keeps few rows; the progress bar must move anyway."""
    rows = "".join(
        f'  <row Id="{i}" PostTypeId="1" Title="t{i}" Body="&lt;p&gt;b&lt;/p&gt;" Tags="&lt;java&gt;" />\n'
        for i in range(1, 50_001)
    )
    path = tmp_path / "stackoverflow.com-Posts.xml"
    path.write_text(f'<?xml version="1.0" encoding="utf-8"?>\n<posts>\n{rows}</posts>\n', encoding="utf-8")
    calls = []
    summary = import_run(
        study=StudyFactory(),
        files=[import_file_describe(path=str(path))],
        only_tags=["python"],
        progress=lambda **fields: calls.append(fields),
    )
    assert summary["questions"] == 0 and summary["rows_read"] == 50_000
    reading = [c for c in calls if c.get("phase", "").startswith("reading ")]
    assert len(reading) >= 3, calls
    read = [c["bytes_read"] for c in reading]
    assert read == sorted(read) and 0 < read[0] < read[-1] < path.stat().st_size
