"""The study archive: complete by construction, restored with every id, and the same
bytes again after a restore, in this database and in a fresh installation."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from datetime import timezone as dt_timezone
from pathlib import Path

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, models
from django.test.utils import CaptureQueriesContext, isolate_apps

from annotator.studies.models import Study
from sampling.draws.models import SampleDraw
from taxonomy.labelling.models import Label
from taxonomy.results.archive import (
    FORMAT,
    NOT_ARCHIVED,
    SECTIONS,
    VERSION,
    archive_coverage_problems,
    study_archive_check_allowed,
    study_archive_restore,
    study_archive_sizes,
    study_archive_write,
)
from taxonomy.review.arbitration.services import arbitration_start
from taxonomy.tree.models import Category
from taxonomy.tree.services import category_add
from tests.factories import (
    MembershipFactory,
    PostFactory,
    StudyFactory,
    UserFactory,
    labelling_draw,
)
from tests.taxonomy.results.archive_study import SLUG, rich_study_build, study_wipe

ROOT = Path(__file__).resolve().parents[3]

pytestmark = pytest.mark.django_db


def export(study, **kwargs) -> bytes:
    out = io.BytesIO()
    study_archive_write(study=study, out=out, **kwargs)
    return out.getvalue()


def without_volatile(data: bytes) -> bytes:
    """The archive with the values of the keys it lists as volatile replaced by null."""
    document = json.loads(data)
    for key in document["volatile"]:
        written = f'"{key}": {json.dumps(document[key])}'.encode()
        assert data.count(written) == 1
        data = data.replace(written, f'"{key}": null'.encode())
    return data


@pytest.fixture
def rich(queued):
    return rich_study_build()


# -- complete by construction --------------------------------------------------------------


def test_every_model_that_reaches_a_study_is_archived_or_excused():
    assert archive_coverage_problems() == []
    assert all(reason.strip() for reason in NOT_ARCHIVED.values())


@isolate_apps("annotator.studies")  # an app whose ready() does nothing
def test_a_new_model_pointing_into_a_study_is_caught_until_the_archive_covers_it():
    class Highlight(models.Model):  # reaches the study through a label
        label = models.ForeignKey(Label, on_delete=models.CASCADE)

        class Meta:
            app_label = "studies"

    class Note(models.Model):  # points at no study, only at a user
        user = models.ForeignKey(get_user_model(), on_delete=models.CASCADE)

        class Meta:
            app_label = "studies"

    every = [*apps.get_models(include_auto_created=True), Highlight, Note]
    problems = archive_coverage_problems(installed=every)
    assert len(problems) == 1
    assert problems[0].startswith("studies.Highlight reaches Study but is neither a section")


# -- the document ---------------------------------------------------------------------------


def test_the_archive_holds_every_section_with_ids_kept_and_users_by_name(rich):
    seen = []
    data = export(rich.study, progress=lambda section, rows: seen.append((section, rows)))
    document = json.loads(data)
    assert list(document)[:4] == ["format", "version", "volatile", "exported_at"]
    assert (document["format"], document["version"], document["volatile"]) == (FORMAT, VERSION, ["exported_at"])
    assert document["study"]["id"] == rich.study.pk and document["study"]["created_by"] == "owner"
    assert document["users"] == [{"username": n} for n in ("ana", "arb", "bo", "owner", "viewer")]
    sizes = study_archive_sizes(study=rich.study)
    for section in SECTIONS:
        rows = document[section.name]
        assert len(rows) == sizes[section.name] == document["counts"][section.name], section.name
        assert rows, f"the rich study has no {section.name}: the round trip would not test them"
        ids = [row["id"] if "id" in row else row["stratum"] for row in rows]
        assert ids == sorted(ids), section.name
    assert {m["user"] for m in document["memberships"]} == {"ana", "arb", "bo", "owner", "viewer"}
    assert document["draws"][0]["rater_ids"] == ["ana", "bo"]
    assert all("job" not in draw for draw in document["draws"])
    [merged] = [c for c in document["categories"] if c["merged_into"]]
    assert merged["status"] == "retired" and merged["name"] == "Slow inference"
    assert any(c["status"] == "proposed" and not c["joint"] and c["proposed_by"] == "bo"
               for c in document["categories"])
    assert "merge" in {change["action"] for change in document["category_changes"]}
    assert {final["method"] for final in document["final_labels"]} == {"agreed", "arbitrated", "from_pending", "pilot"}
    assert document["labels"][1]["note"] or any(label["note"] for label in document["labels"])
    # Progress counts rows as it goes and ends on all of them.
    assert seen[-1] == ("agreement_runs", sum(len(document[s.name]) for s in SECTIONS))
    assert [rows for _, rows in seen] == sorted(rows for _, rows in seen)


@pytest.mark.django_db(transaction=True)
def test_on_postgresql_the_archive_is_read_in_one_snapshot():
    """Outside a transaction the export opens its own, REPEATABLE READ on PostgreSQL (a
    label written meanwhile cannot name a category the file lacks); not on SQLite,
    whose transactions here take the write lock and would stop the raters."""
    study = StudyFactory()
    PostFactory(study=study)
    with CaptureQueriesContext(connection) as queries:
        data = export(study)
    assert json.loads(data)["counts"]["posts"] == 1
    snapshot = [q["sql"] for q in queries.captured_queries if "ISOLATION LEVEL" in q["sql"]]
    assert snapshot == (["SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"]
                        if connection.vendor == "postgresql" else [])
    if connection.vendor == "postgresql":
        # the first statement of the transaction, as PostgreSQL requires
        assert [q["sql"] for q in queries.captured_queries if q["sql"] != "BEGIN"][0] == snapshot[0]


def test_a_text_file_works_as_well_as_a_binary_one(rich):
    text = io.StringIO()
    study_archive_write(study=rich.study, out=text, exported_at=rich.study.created_at)
    data = export(rich.study, exported_at=rich.study.created_at)
    assert text.getvalue().encode("utf-8") == data


def test_times_are_written_in_utc_as_python_formats_them_on_either_database():
    """On PostgreSQL the database writes the times as text; it must be the text Python's
    ``isoformat`` gives in UTC, which is what SQLite's path writes: six digits of fraction,
    none when the microseconds are zero."""
    study = StudyFactory()
    times = [datetime(2025, 1, 31, 12, 0, tzinfo=UTC), datetime(2025, 1, 31, 12, 0, 0, 100000, tzinfo=UTC),
             datetime(2024, 2, 29, 23, 59, 59, 1, tzinfo=UTC),
             datetime(2000, 1, 1, 1, 30, 5, 123456, tzinfo=dt_timezone(timedelta(hours=2))),
             datetime(999, 3, 4, 5, 6, 7, tzinfo=UTC)]
    for when in times:
        PostFactory(study=study, creation_date=when, closed_date=None)
    rows = json.loads(export(study))["posts"]
    assert [row["creation_date"] for row in rows] == [when.astimezone(UTC).isoformat() for when in times]
    assert rows[0]["creation_date"] == "2025-01-31T12:00:00+00:00"
    assert rows[3]["creation_date"] == "1999-12-31T23:30:05.123456+00:00"
    assert {row["closed_date"] for row in rows} == {None}


# -- round trips ------------------------------------------------------------------------------


def test_restore_here_after_deleting_the_study_gives_the_same_bytes(rich):
    first = export(rich.study)
    study_id = rich.study.pk
    users = dict(get_user_model().objects.values_list("username", "pk"))
    study_wipe(rich.study)
    get_user_model().objects.filter(username="viewer").delete()  # a member who has left the installation
    assert not Category.objects.exists()

    study = study_archive_restore(fileobj=io.BytesIO(first))

    assert study.pk == study_id and study.slug == SLUG
    again = export(Study.objects.get(pk=study.pk))
    assert again != first  # exported_at
    assert without_volatile(again) == without_volatile(first)
    # Users are the same people, by username; one missing is created inactive, unable to log in.
    restored = {u.username: u for u in get_user_model().objects.all()}
    assert all(restored[name].pk == pk for name, pk in users.items() if name != "viewer")
    assert not restored["viewer"].is_active and not restored["viewer"].has_usable_password()
    # Jobs are not restored: the draws' and runs' job fields are empty.
    assert not SampleDraw.objects.filter(job__isnull=False).exists()
    # New rows get new ids after the restored ones (the sequences moved on).
    added = category_add(study=study, name="After the restore", actor=rich.owner)
    assert added.pk > max(row["id"] for row in json.loads(first)["categories"])


# The study's exports, as digests (run here and in the fresh installation's shell).
EXPORT_DIGESTS = """
import hashlib, io, json
from annotator.studies.models import Study
from sampling.draws.sight import sight_whole
from taxonomy.results.codebook import codebook_qdc
from taxonomy.results.figure import taxonomy_figure
from taxonomy.results.items_csv import items_csv_write
from taxonomy.results.report import methods_report, methods_report_markdown
from taxonomy.results.selectors import results_get
from taxonomy.results.taxonomy_csv import taxonomy_csv_write
study = Study.objects.get(slug="{slug}")
sight = sight_whole(study=study)
results = results_get(study=study, sight=sight)
files = {{}}
out = io.BytesIO(); taxonomy_csv_write(results=results, out=out); files["taxonomy.csv"] = out.getvalue()
out = io.BytesIO(); items_csv_write(study=study, out=out, user=None, sight=sight); files["items.csv"] = out.getvalue()
files["codebook.qdc"] = codebook_qdc(study=study, sight=sight)
files["taxonomy.svg"] = taxonomy_figure(results=results, fmt="svg")
report = methods_report_markdown(methods_report(study=study, user=None, sight=sight))
files["report.md"] = "\\n".join(l for l in report.splitlines() if not l.startswith("Volatile")).encode()
print(json.dumps({{name: hashlib.sha256(data).hexdigest() for name, data in files.items()}}, sort_keys=True))
"""


def _fresh_installation(tmp_path: Path):
    env = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "CELERY_BROKER_URL")}
    env.update(DATABASE_URL=f"sqlite:///{tmp_path / 'fresh.sqlite3'}", TAXONOMIST_DATA_DIR=str(tmp_path / "data"),
               DJANGO_SETTINGS_MODULE="annotator.settings")

    def manage(*args: str, check: bool = True) -> subprocess.CompletedProcess:
        done = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=600)
        if check:
            assert done.returncode == 0, done.stderr[-3000:]
        return done

    manage("migrate", "--noinput", "-v0", "--skip-checks")
    return manage


def test_restore_into_a_fresh_installation_gives_the_same_bytes(rich, tmp_path):
    first = export(rich.study)
    archive = tmp_path / "study.json"
    archive.write_bytes(first)
    manage = _fresh_installation(tmp_path)
    # Someone is there first, so that user ids differ from this database's.
    manage("shell", "-c", "from django.contrib.auth.models import User; "
                          "[User.objects.create(username=f'early{i}') for i in range(7)]")

    done = manage("import_study", str(archive), "--json")
    report = json.loads(done.stdout)
    assert report["study"] == SLUG and report["id"] == rich.study.pk
    assert report["counts"] == study_archive_sizes(study=rich.study)

    manage("export_study", "--study", SLUG, "--out", str(tmp_path / "again.json"))
    again = (tmp_path / "again.json").read_bytes()
    assert without_volatile(again) == without_volatile(first)
    # Every other export of the restored study is the same file as here (the report's volatile line aside).
    fresh = manage("shell", "-c", EXPORT_DIGESTS.format(slug=SLUG)).stdout.strip().splitlines()[-1]
    here = io.StringIO()
    with contextlib.redirect_stdout(here):
        exec(EXPORT_DIGESTS.format(slug=SLUG), {})
    assert json.loads(fresh) == json.loads(here.getvalue().strip().splitlines()[-1])

    refused = manage("import_study", str(archive), check=False)
    assert refused.returncode != 0
    assert refused.stderr.strip().splitlines() == [
        f"CommandError: Not restored: A study with the slug “{SLUG}” already exists here: the restore is refused "
        "(an archive is never renamed or merged). Restore it into a fresh installation."]
    users = manage("shell", "-c", "from django.contrib.auth.models import User; "
                                  "print(sorted((u.username, u.is_active, u.has_usable_password()) "
                                  "for u in User.objects.filter(username__in=['ana', 'owner'])))")
    assert users.stdout.strip().splitlines()[-1] == "[('ana', False, False), ('owner', False, False)]"


# -- the commands ------------------------------------------------------------------------------


def test_export_study_writes_to_standard_output_or_a_file_and_import_study_reports(rich, tmp_path, capfd):
    call_command("export_study", "--study", SLUG)
    printed = capfd.readouterr().out.encode()
    assert json.loads(printed)["counts"]["labels"] == Label.objects.count()
    out = tmp_path / "a.json"
    call_command("export_study", "--study", SLUG, "--out", str(out))
    assert without_volatile(out.read_bytes()) == without_volatile(printed)
    with pytest.raises(CommandError, match="No study with the slug 'nope'"):
        call_command("export_study", "--study", "nope")

    study_wipe(rich.study)
    stdout = io.StringIO()
    call_command("import_study", str(out), stdout=stdout)
    lines = stdout.getvalue().splitlines()
    assert lines[0] == f"Restored study '{SLUG}' (Deploying DL, “a study”):"
    assert "labels 30" in lines[1] and "posts 25" in lines[1]
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("import_study", str(tmp_path / "missing.json"))


# -- who may export ----------------------------------------------------------------------------


def test_only_an_owner_who_sees_every_label_may_export():
    study = StudyFactory()
    owner, rating_owner, rater, arbitrator, stranger = (UserFactory() for _ in range(5))
    MembershipFactory(study=study, user=owner, is_owner=True)
    MembershipFactory(study=study, user=rating_owner, is_owner=True, is_rater=True)
    MembershipFactory(study=study, user=rater, is_rater=True)
    MembershipFactory(study=study, user=arbitrator, is_arbitrator=True)
    draw = labelling_draw(study=study, raters=[rating_owner, rater], pilot=1, reliability=2)

    study_archive_check_allowed(study=study, user=owner)
    with pytest.raises(PermissionDenied, match="you rate on a draw whose reliability round still runs"):
        study_archive_check_allowed(study=study, user=rating_owner)
    for user in (rater, arbitrator):
        with pytest.raises(PermissionDenied, match="Only the study's owners may export its archive: it holds"):
            study_archive_check_allowed(study=study, user=user)
    with pytest.raises(PermissionDenied, match="Only the study's owners"):
        study_archive_check_allowed(study=study, user=stranger)

    arbitration_start(draw=draw, user=owner, allow_incomplete=True)
    study_archive_check_allowed(study=study, user=rating_owner)  # the round is over: every label is seen


def test_tallies_are_made_again_on_restore_also_from_an_archive_that_holds_them_in_the_old_shape(rich):
    """The raters' tallies are derived (labelled / assigned per rater and stratum): not written, made
    again from the restored assignments; an archive written before their shape changed (one row per
    draw and rater, no stratum, no assigned) still restores, its tally rows counted and skipped."""
    from django.db.models import Count, Q

    from sampling.draws.models import Assignment
    from taxonomy.labelling.models import RaterTally

    def tallies():
        return sorted(RaterTally.objects.filter(draw__study__slug=SLUG).values_list(
            "draw__version", "rater__username", "stratum__name", "assigned", "submitted"))

    def counted():
        return sorted(
            (row["draw__version"], row["rater__username"], row["item__stratum__name"], row["n"], row["done"])
            for row in Assignment.objects.filter(draw__study__slug=SLUG, draw__labelling_started_at__isnull=False)
            .values("draw__version", "rater__username", "item__stratum__name")
            .annotate(n=Count("id"), done=Count("id", filter=Q(submitted_at__isnull=False))).order_by())

    before = tallies()
    assert before and before == counted()
    document = json.loads(export(rich.study))
    assert "rater_tallies" not in document
    old_rows = [{"id": i + 1, "draw": draw, "rater": rater, "submitted": 0}
                for i, (draw, rater) in enumerate(sorted({(a["draw"], a["rater"]) for a in document["assignments"]}))]
    legacy = {}
    for key, value in document.items():
        legacy[key] = value
        if key == "assignments":
            legacy["rater_tallies"] = old_rows
    legacy["counts"]["rater_tallies"] = len(old_rows)
    study_wipe(rich.study)

    study_archive_restore(fileobj=io.BytesIO(json.dumps(legacy).encode()))

    assert tallies() == before == counted()
