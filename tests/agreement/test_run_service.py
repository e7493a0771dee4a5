"""Agreement runs as background jobs: triples from labels, stored names and
taxonomy version, scopes, bad input and the job end to end."""

import os
import time

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from annotator.jobs.models import Job, JobKind, JobStatus
from annotator.jobs.runner import job_run
from sampling.draws.models import Assignment, SampleItem, SampleStratum
from taxonomy.labelling.models import Label, LabelCategory
from taxonomy.review.agreement import selectors
from taxonomy.review.agreement.models import AgreementRun, RunStatus
from taxonomy.review.agreement.services import (
    agreement_run_compute,
    agreement_run_start,
)
from taxonomy.tree.models import ChangeAction
from taxonomy.tree.selectors import taxonomy_version
from taxonomy.tree.services import (
    category_add,
    category_change_record,
    category_snapshot,
)
from tests.factories import StudyFactory, labelling_draw

from .conftest import ALICE, BOB, give_label, label_items

pytestmark = pytest.mark.django_db


def run_job(run: AgreementRun) -> AgreementRun:
    job_run(job_id=run.job_id)
    run.refresh_from_db()
    return run


def test_triples_come_from_categories_and_special_labels_with_multi_label(world):
    c = world.categories
    label_items(world, {world.alice: [("Export", "Quantization"), "false_positive", "pending", None, None, None],
                        world.bob: ["Export", "unclear", "pending", None, None, None]})
    data = selectors.agreement_scope_labels(study=world.study, scope="draw", draw=world.draw)
    first, second, third = (item.pk for item in world.items()[:3])
    assert sorted(data.triples, key=str) == sorted([
        (first, "alice", c["Export"].pk), (first, "alice", c["Quantization"].pk), (first, "bob", c["Export"].pk),
        (second, "alice", "false_positive"), (second, "bob", "unclear"),
        (third, "alice", "pending"), (third, "bob", "pending"),
    ], key=str)
    assert (data.items_in_scope, data.items_labelled, data.items_unlabelled) == (6, 3, 3)
    assert data.answers["alice"][first] == frozenset({c["Export"].pk, c["Quantization"].pk})


def test_pilot_items_and_other_studies_labels_are_not_read(world):
    label_items(world, {world.alice: ALICE, world.bob: BOB})
    pilot = SampleItem.objects.filter(draw=world.draw, part="pilot").first()
    odd = Assignment.objects.create(draw=world.draw, item=pilot, rater=world.alice)  # not in a real draw
    from taxonomy.labelling.models import RaterTally
    from taxonomy.labelling.services import rater_tallies_make

    RaterTally.objects.filter(draw=world.draw).delete()  # the tallies count it as the labelling start would
    rater_tallies_make(draw=world.draw)
    give_label(odd, kind="unclear")
    data = selectors.agreement_scope_labels(study=world.study, scope="draw", draw=world.draw)
    assert pilot.pk not in {item for item, _, _ in data.triples}
    assert data.items_in_scope == 6 and len(data.triples) == 12


def test_job_computes_and_stores_the_figures_names_and_taxonomy_version(world, queued,
                                                                        django_capture_on_commit_callbacks):
    label_items(world, {world.alice: ALICE, world.bob: BOB})
    with django_capture_on_commit_callbacks(execute=True):
        run = agreement_run_start(study=world.study, scope="draw", draw=world.draw, resamples=200, seed=7,
                                  user=world.owner)
    assert queued == [run.job_id] and run.status == RunStatus.QUEUED
    job = Job.objects.get(pk=run.job_id)
    assert job.kind == JobKind.AGREEMENT and job.params["run"] == run.pk and job.seed == 7
    run = run_job(run)
    assert run.status == RunStatus.DONE and run.finished_at and run.message == ""
    assert run.result["cohen_kappa"] == pytest.approx(17 / 23)
    assert run.result["percent_agreement"] == pytest.approx(5 / 6)
    low, high = run.result["confidence_intervals"]["cohen_kappa"]
    assert low <= 17 / 23 <= high and run.result["confidence_intervals"]["resamples"] == 200
    assert (run.items, run.items_in_scope, run.items_unlabelled, run.raters, run.labels) == (6, 6, 0, 2, 3)
    assert run.taxonomy_version == taxonomy_version(study=world.study) > 0
    assert run.draws == [{"id": world.draw.pk, "version": world.draw.version}]
    export = str(world.categories["Export"].pk)
    assert run.label_names[export] == "Server › Export"
    assert run.label_names["false_positive"] == "False positive"
    rows = {row["name"]: row for row in run.result["per_category"]}
    assert set(rows) == {"Server › Export", "Server › Quantization", "False positive"}
    assert rows["False positive"]["special"] and rows["False positive"]["cohen_kappa"] == pytest.approx(1.0)
    # the one disagreement: alice Export, bob Quantization on item 2
    assert run.result["confusion"] == [{"a": {"key": export, "name": "Server › Export", "special": False},
                                        "b": {"key": str(world.categories["Quantization"].pk),
                                              "name": "Server › Quantization", "special": False},
                                        "count": 1}]
    assert Job.objects.get(pk=run.job_id).status == JobStatus.SUCCEEDED


def test_the_same_seed_gives_the_same_intervals(world, queued):
    label_items(world, {world.alice: ALICE, world.bob: BOB})
    runs = [run_job(agreement_run_start(study=world.study, scope="draw", draw=world.draw, resamples=300, seed=11))
            for _ in range(2)]
    assert runs[0].result["confidence_intervals"] == runs[1].result["confidence_intervals"]
    fresh = agreement_run_start(study=world.study, scope="draw", draw=world.draw)
    assert fresh.seed is not None and fresh.resamples == 1000 and fresh.confidence == 0.95


def test_a_rename_after_the_run_leaves_the_stored_result_unchanged(world, queued):
    label_items(world, {world.alice: ALICE, world.bob: BOB})
    run = run_job(agreement_run_start(study=world.study, scope="draw", draw=world.draw, resamples=50, seed=1))
    stored = (run.result, run.label_names, run.taxonomy_version)
    export = world.categories["Export"]
    before = category_snapshot(export)
    export.name = "Model export"
    export.save()
    category_change_record(category=export, action=ChangeAction.RENAME, actor=world.owner, before=before)
    run.refresh_from_db()
    assert (run.result, run.label_names, run.taxonomy_version) == stored
    assert run.label_names[str(export.pk)] == "Server › Export"
    assert selectors.agreement_taxonomy_changed(run=run) == taxonomy_version(study=world.study) > run.taxonomy_version
    # a new run sees the new name
    again = run_job(agreement_run_start(study=world.study, scope="draw", draw=world.draw, resamples=0, seed=1))
    assert again.label_names[str(export.pk)] == "Server › Model export"
    assert selectors.agreement_taxonomy_changed(run=again) is None


def test_one_rater_finishes_with_a_message_and_no_coefficient(world, queued):
    label_items(world, {world.alice: ALICE})
    run = run_job(agreement_run_start(study=world.study, scope="draw", draw=world.draw, resamples=100))
    assert run.status == RunStatus.DONE
    assert "Only one rater (alice)" in run.message and "No coefficient" in run.message
    assert "cohen_kappa" not in run.result and "estimates" not in run.result
    assert (run.items, run.raters) == (6, 1)
    assert Job.objects.get(pk=run.job_id).status == JobStatus.SUCCEEDED


def test_no_labels_at_all_and_no_shared_item_give_messages(world, queued):
    run = run_job(agreement_run_start(study=world.study, scope="draw", draw=world.draw, resamples=10))
    assert run.status == RunStatus.DONE and "No reliability label" in run.message and run.items_unlabelled == 6
    # alice labels items 1-3, bob 4-6: two raters, no item in common
    label_items(world, {world.alice: ALICE[:3] + [None] * 3, world.bob: [None] * 3 + BOB[3:]})
    run = run_job(agreement_run_start(study=world.study, scope="draw", draw=world.draw, resamples=10))
    assert "no item has labels from two of them" in run.message and run.raters == 2


def test_items_with_zero_labels_are_ignored_and_counted(world, queued):
    label_items(world, {world.alice: ALICE[:4] + [None, None], world.bob: BOB[:4] + [None, None]})
    run = run_job(agreement_run_start(study=world.study, scope="draw", draw=world.draw, resamples=0))
    assert (run.items, run.items_in_scope, run.items_unlabelled) == (4, 6, 2)
    # items 1-4 only: alice E E Q Q, bob E Q Q Q → p_o 3/4, p_e (2·1 + 2·3)/16 = 1/2, κ = 1/2
    assert run.result["cohen_kappa"] == pytest.approx(0.5)
    assert run.result["estimates"]["cohen_kappa"]["interval"] is None  # resamples=0: no interval


def test_a_rater_with_one_category_only_gets_kappa_zero_or_undefined_with_the_reason(world, queued):
    label_items(world, {world.alice: ["Export"] * 6, world.bob: BOB})
    run = run_job(agreement_run_start(study=world.study, scope="draw", draw=world.draw, resamples=100, seed=3))
    # p_o = p_e whatever bob did: κ would be 0 by construction, so it is null with the reason
    assert run.result["cohen_kappa"] is None and "0 by construction" in run.result["reasons"]["cohen_kappa"]
    assert all(row["cohen_kappa"] is None and "0 by construction" in row["reasons"]["cohen_kappa"]
               for row in run.result["per_category"])
    notes = {row["rater"]: row["note"] for row in run.result["rater_summary"]}
    assert "same answer (Server › Export)" in notes["alice"] and notes["bob"] == ""
    AgreementRun.objects.all().delete()
    Label.objects.all().delete()
    label_items(world, {world.alice: ["Export"] * 6, world.bob: ["Export"] * 6})
    run = run_job(agreement_run_start(study=world.study, scope="draw", draw=world.draw, resamples=100, seed=3))
    assert run.result["cohen_kappa"] is None and "0/0" in run.result["reasons"]["cohen_kappa"]
    assert run.result["krippendorff_alpha"] is None
    export = run.result["per_category"][0]
    assert export["cohen_kappa"] is None and "expected agreement is 1" in export["reasons"]["cohen_kappa"]
    assert "NaN" not in str(run.result) and "nan" not in str(run.result)


def test_stratum_scope_counts_only_its_items(world, queued):
    items = world.items()
    second = SampleStratum.objects.create(draw=world.draw, position=1, name="Browser", mode="census")
    SampleItem.objects.filter(pk__in=[i.pk for i in items[3:]]).update(stratum=second)
    label_items(world, {world.alice: ALICE, world.bob: BOB})
    run = run_job(agreement_run_start(study=world.study, scope="stratum", stratum=second, resamples=0))
    assert run.draw_id == world.draw.pk and run.stratum_id == second.pk
    assert (run.items_in_scope, run.items) == (3, 3)
    # items 4-6: Q/Q, FP/FP, E/E → full agreement
    assert run.result["percent_agreement"] == 1.0 and run.result["cohen_kappa"] == pytest.approx(1.0)


def test_study_scope_reads_every_draw_in_labelling_and_records_which(world, queued):
    label_items(world, {world.alice: ALICE, world.bob: BOB})
    second = labelling_draw(study=world.study, raters=[world.alice, world.bob], pilot=0, reliability=2,
                            first_so_id=800_000)
    labelling_draw(study=world.study, raters=[world.alice, world.bob], pilot=0, reliability=2, status="ready",
                   first_so_id=700_000)
    label_items(world, {world.alice: ["Serving", "Serving"], world.bob: ["Serving", "Export"]}, draw=second)
    run = run_job(agreement_run_start(study=world.study, scope="study", resamples=0))
    assert run.draw_id is None and [d["version"] for d in run.draws] == [1, 2]
    assert (run.items_in_scope, run.items, run.labels) == (8, 8, 4)


@pytest.mark.parametrize("scope, kwargs, field", [
    ("draw", {}, "draw"),
    ("stratum", {}, "stratum"),
    ("galaxy", {}, "scope"),
    ("draw", {"resamples": -1}, "resamples"),
    ("draw", {"resamples": 10_001}, "resamples"),
    ("draw", {"confidence": 1.0}, "confidence"),
    ("draw", {"seed": -5}, "seed"),
])
def test_bad_input_is_refused_with_a_message(world, queued, scope, kwargs, field):
    if field not in ("draw", "stratum", "scope"):
        kwargs = {"draw": world.draw, **kwargs}
    with pytest.raises(ValidationError) as error:
        agreement_run_start(study=world.study, scope=scope, **kwargs)
    assert field in error.value.message_dict
    assert not AgreementRun.objects.exists() and queued == []


def test_a_draw_not_in_labelling_or_of_another_study_or_a_foreign_stratum_is_refused(world, queued):
    ready = labelling_draw(study=world.study, raters=[world.alice], pilot=0, reliability=1, status="ready",
                           first_so_id=700_000)
    with pytest.raises(ValidationError, match="Labelling has not started on draw v2"):
        agreement_run_start(study=world.study, scope="draw", draw=ready)
    with pytest.raises(ValidationError, match="not a stratum of draw v1"):
        agreement_run_start(study=world.study, scope="stratum", draw=world.draw, stratum=ready.strata.get())
    other = labelling_draw(study=StudyFactory(), raters=[world.alice], pilot=0, reliability=1)
    with pytest.raises(ValidationError, match="not in this study"):
        agreement_run_start(study=world.study, scope="draw", draw=other)
    world.draw.status = "ready"
    world.draw.save()
    with pytest.raises(ValidationError, match="No draw of this study is in labelling"):
        agreement_run_start(study=world.study, scope="study")


def test_a_job_delivered_twice_computes_once(world, queued):
    label_items(world, {world.alice: ALICE, world.bob: BOB})
    run = run_job(agreement_run_start(study=world.study, scope="draw", draw=world.draw, resamples=0))
    finished = run.finished_at
    job_run(job_id=run.job_id)  # the job is no longer queued: nothing happens
    assert agreement_run_compute(run=run) == run  # a finished run is left as it is
    run.refresh_from_db()
    assert run.finished_at == finished and run.status == RunStatus.DONE


def test_a_crash_fails_the_run_and_the_job(world, queued, monkeypatch):
    label_items(world, {world.alice: ALICE, world.bob: BOB})

    def broken(**kwargs):
        raise RuntimeError("engine exploded")

    monkeypatch.setattr("taxonomy.review.agreement.services.agreement_report", broken)
    run = run_job(agreement_run_start(study=world.study, scope="draw", draw=world.draw, resamples=0))
    assert run.status == RunStatus.FAILED and "engine exploded" in run.error and run.finished_at
    job = Job.objects.get(pk=run.job_id)
    assert job.status == JobStatus.FAILED and "engine exploded" in job.error


def test_scope_constraints_are_enforced_by_the_database(world):
    for fields in ({"scope": "draw"}, {"scope": "study", "draw": world.draw},
                   {"scope": "stratum", "draw": world.draw}, {"scope": "draw", "draw": world.draw,
                                                              "stratum": world.draw.strata.get()},
                   {"scope": "draw", "draw": world.draw, "status": "done", "finished_at": None}):
        with pytest.raises(IntegrityError), transaction.atomic():
            AgreementRun.objects.create(study=world.study, **fields)


# 10,000 items × 3 raters × 100 categories: the job takes ~3 s (SQLite) / ~5 s (PostgreSQL) with 1,000
# resamples, but building 30,000 labels through the factories takes ~40 s more, so the suite uses 2,000 items;
# AGREEMENT_SCALE_ITEMS=10000 runs the full size.
SCALE_ITEMS = int(os.environ.get("AGREEMENT_SCALE_ITEMS", "2000"))


def test_many_items_three_raters_hundred_categories_in_a_job(world, queued):
    """A large census: labels built with bulk inserts, computed by the job with 1,000 resamples."""
    root = category_add(study=world.study, name="Many", actor=world.owner)
    leaves = [category_add(study=world.study, name=f"c{i}", parent=root, actor=world.owner) for i in range(100)]
    carol = type(world.alice).objects.create(username="carol")
    draw = labelling_draw(study=world.study, raters=[world.alice, world.bob, carol], pilot=0,
                          reliability=SCALE_ITEMS, per_item=3, first_so_id=2_000_000)
    now = timezone.now()
    assignments = Assignment.objects.filter(draw=draw).order_by("item_id", "rater_id").values_list("pk", flat=True)
    Label.objects.bulk_create([Label(assignment_id=pk, kind="categories", submitted_at=now, updated_at=now)
                               for pk in assignments], batch_size=5000)
    labels = Label.objects.filter(assignment__draw=draw).order_by("assignment__item_id", "assignment__rater_id")
    rows = []
    for n, (label_id, item_id) in enumerate(labels.values_list("pk", "assignment__item_id")):
        # mostly the item's own category, every 7th answer another one, every 11th a second label
        rows.append(LabelCategory(label_id=label_id, category=leaves[(item_id + (n % 7 == 0)) % 100]))
        if n % 11 == 0:
            rows.append(LabelCategory(label_id=label_id, category=leaves[(item_id + 50) % 100]))
    LabelCategory.objects.bulk_create(rows, batch_size=5000)
    run = agreement_run_start(study=world.study, scope="draw", draw=draw, resamples=1000, seed=5)
    started = time.monotonic()
    run = run_job(run)
    seconds = time.monotonic() - started
    assert run.status == RunStatus.DONE, run.error
    assert (run.items, run.raters, run.labels) == (SCALE_ITEMS, 3, 100)
    assert 0 < run.result["fleiss_kappa"] < 1 and run.result["cohen_kappa"] is None  # three raters
    assert run.result["confidence_intervals"]["fleiss_kappa"] is not None
    assert len(run.result["per_category"]) == 100 and run.result["confusion"]
    assert seconds < 20, f"the job took {seconds:.1f} s"
