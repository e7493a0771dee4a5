"""Writes for draws: start one (a background job), redistribute a draw that
is not frozen yet (pilot share, raters), and start labelling, which freezes it.

The job reads every stratum's members in one snapshot, calls the pure draw
(``draw.py``), and writes the strata figures, the items and the assignments
in one transaction: a draw is either all there or not there.
"""

from __future__ import annotations

import time
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, Q
from django.utils import timezone

from annotator.dbstats import table_statistics_refresh
from annotator.jobs.models import Job, JobKind
from annotator.jobs.services import job_create, job_fail, job_progress, job_succeed
from annotator.selection.models import QuestionSet, QuestionSetMember
from annotator.studies.models import Study

from .design import DrawDesign, assignment_errors, design_resolve, seed_new, study_raters
from .draw import Draw, StratumDraw, StratumSpec, balanced_assignment, pilot_split, stratified_draw
from .models import (Assignment, DrawStatus, ItemPart, RaterTally, SampleDraw, SampleItem, SampleStratum,
                     StratumMode, StratumPopulation)
from .sample_size import sample_size
from .snapshot import ids_digest, ids_pack

WRITE_BATCH = 5000


def _who(draw: SampleDraw) -> str:
    by = f" by {draw.created_by.username}" if draw.created_by else ""
    return f"version {draw.version}{by}, started {timezone.localtime(draw.created_at):%Y-%m-%d %H:%M}"


@transaction.atomic
def sample_draw_start(*, study: Study, design: DrawDesign, user=None, expected_version: int | None = None
                      ) -> SampleDraw:
    """Record the draw (next version) and queue its job. One draw per study is
    drawn at a time; ``expected_version`` (the latest version the owner saw)
    stops a second owner from unknowingly drawing over a draw just made."""
    resolved = design_resolve(study=study, design=design)
    Study.objects.select_for_update().filter(pk=study.pk).first()  # serialises draws of one study
    running = SampleDraw.objects.filter(study=study, status=DrawStatus.PENDING).select_related("created_by").first()
    if running:
        raise ValidationError(f"Another draw is in progress ({_who(running)}); wait for it to finish.")
    latest = SampleDraw.objects.filter(study=study).select_related("created_by").order_by("-version").first()
    latest_version = latest.version if latest else 0
    if expected_version is not None and expected_version != latest_version:
        raise ValidationError(f"A new draw was made since you opened this form ({_who(latest)}). "
                              "Look at it first; start again if you still want another version.")
    seed = design.seed if design.seed is not None else seed_new()
    try:
        with transaction.atomic():
            draw = SampleDraw.objects.create(
                study=study, version=latest_version + 1, seed=seed, confidence=design.confidence,
                margin=design.margin, proportion=design.proportion, rounding=design.rounding,
                pilot_share=design.pilot_share, raters_per_item=design.raters_per_item,
                rater_ids=[u.pk for u in resolved.raters], created_by=user,
            )
    except IntegrityError:  # the database's own guard, if two requests got past the lock
        raise ValidationError("Another owner started a draw at the same moment; theirs goes first.") from None
    SampleStratum.objects.bulk_create(
        SampleStratum(draw=draw, position=i, question_set=qs, name=qs.name, mode=choice.mode,
                      override_n=choice.n if choice.mode == StratumMode.OVERRIDE else None,
                      override_reason=choice.reason.strip() if choice.mode == StratumMode.OVERRIDE else "")
        for i, (choice, qs) in enumerate(zip(design.strata, resolved.sets, strict=True))
    )
    draw.job = job_create(study=study, kind=JobKind.SAMPLE_DRAW, created_by=user, seed=seed,
                          params={"draw": draw.pk, "version": draw.version, "step": "draw", **design.as_params(),
                                  "seed": seed})
    draw.save(update_fields=["job"])
    return draw


@transaction.atomic
def sample_draw_redistribute_start(*, draw: SampleDraw, pilot_share: float, raters_per_item: int,
                                   rater_ids: list[int] | None = None, user=None) -> SampleDraw:
    """Split the same posts again (another pilot share) and/or give the
    reliability items to other raters. Refused once labelling has started."""
    draw = SampleDraw.objects.select_for_update().get(pk=draw.pk)
    _refuse_if_frozen(draw)
    if draw.status != DrawStatus.READY:
        raise ValidationError(f"Version {draw.version} is {draw.get_status_display().lower()}; "
                              "only a drawn sample can be split again.")
    raters = study_raters(study=draw.study)
    if rater_ids is not None:
        unknown = set(rater_ids) - {u.pk for u in raters}
        if unknown:
            raise ValidationError({"rater_ids": "Only raters of this study can be assigned items."})
        raters = [u for u in raters if u.pk in set(rater_ids)]
    errors = assignment_errors(raters_per_item=raters_per_item, pilot_share=pilot_share, rater_count=len(raters))
    if errors:
        raise ValidationError(errors)
    draw.status, draw.pilot_share, draw.raters_per_item = DrawStatus.PENDING, pilot_share, raters_per_item
    draw.rater_ids = [u.pk for u in raters]
    try:
        with transaction.atomic():
            draw.save(update_fields=["status", "pilot_share", "raters_per_item", "rater_ids"])
    except IntegrityError:
        raise ValidationError("Another draw of this study is in progress; wait for it to finish.") from None
    draw.job = job_create(study=draw.study, kind=JobKind.SAMPLE_DRAW, created_by=user, seed=draw.seed,
                          params={"draw": draw.pk, "version": draw.version, "step": "redistribute",
                                  "pilot_share": pilot_share, "raters_per_item": raters_per_item,
                                  "rater_ids": draw.rater_ids})
    draw.save(update_fields=["job"])
    return draw


def _refuse_if_frozen(draw: SampleDraw) -> None:
    if draw.is_frozen:
        raise ValidationError(
            f"Labelling started on version {draw.version} on "
            f"{timezone.localtime(draw.labelling_started_at):%Y-%m-%d %H:%M}: the draw is frozen. "
            "Start a new version to draw differently; this one stays readable.")


@transaction.atomic
def sample_draw_labelling_start(*, draw: SampleDraw, user=None) -> SampleDraw:
    """Freeze the draw: from now on its items, parts and assignments never change."""
    draw = SampleDraw.objects.select_for_update().get(pk=draw.pk)
    if draw.is_frozen:
        return draw
    if draw.status != DrawStatus.READY:
        raise ValidationError(f"Version {draw.version} is {draw.get_status_display().lower()}: "
                              "labelling starts on a drawn sample.")
    draw.status, draw.labelling_started_at, draw.labelling_started_by = DrawStatus.LABELLING, timezone.now(), user
    draw.save(update_fields=["status", "labelling_started_at", "labelling_started_by"])
    # Counted once here (0, as labels are taken only from now on); label_submit keeps them.
    RaterTally.objects.bulk_create(
        RaterTally(draw=draw, rater_id=row["rater_id"], submitted=row["submitted"])
        for row in Assignment.objects.filter(draw=draw).values("rater_id").annotate(
            submitted=Count("id", filter=Q(submitted_at__isnull=False))).order_by())
    return draw


# -- the job -------------------------------------------------------------------------


def sample_draw_job_execute(*, job: Job) -> dict[str, Any] | None:
    draw = SampleDraw.objects.filter(pk=job.params.get("draw"), study=job.study).first()
    if draw is None:
        job_fail(job=job, error="The draw was deleted before it could be made.")
        return None
    step = job.params.get("step", "draw")
    started = time.monotonic()
    try:
        result = _draw_make(draw=draw, job=job) if step == "draw" else _draw_redistribute(draw=draw, job=job)
    except (ValueError, ValidationError) as exc:
        message = " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
        # A failed first draw stays as a failed version; a failed redistribution leaves the draw as it was.
        SampleDraw.objects.filter(pk=draw.pk, status=DrawStatus.PENDING).update(
            status=DrawStatus.FAILED if step == "draw" else DrawStatus.READY,
            error=message if step == "draw" else "")
        job_fail(job=job, error=message)
        return None
    except Exception:
        SampleDraw.objects.filter(pk=draw.pk, status=DrawStatus.PENDING).update(
            status=DrawStatus.FAILED if step == "draw" else DrawStatus.READY,
            error="Internal error while drawing; the job shows the details." if step == "draw" else "")
        raise
    result["seconds"] = round(time.monotonic() - started, 3)
    job_succeed(job=job, result=result)
    return result


def _populations(strata: list[SampleStratum]) -> list[list[int]]:
    """Every stratum's members, read in one consistent snapshot of the database."""
    nested = connection.in_atomic_block  # (tests run inside a transaction already)
    with transaction.atomic():
        if connection.vendor == "postgresql" and not nested:
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        out = []
        for stratum in strata:
            qs = QuestionSet.objects.filter(pk=stratum.question_set_id).first() if stratum.question_set_id else None
            if qs is None:
                raise ValidationError(f"The question set of stratum “{stratum.name}” was deleted before the draw.")
            if qs.member_count is None:
                raise ValidationError(f"“{qs.name}” has not been evaluated: evaluate it, then draw.")
            ids = list(QuestionSetMember.objects.filter(question_set=qs).values_list("post_id", flat=True))
            if not ids:
                raise ValidationError(f"“{qs.name}” is empty now (it was emptied after the design was made): "
                                      "nothing to draw from it.")
            out.append(ids)
    return out


def _draw_make(*, draw: SampleDraw, job: Job) -> dict[str, Any]:
    strata = list(draw.strata.order_by("position"))
    job_progress(job=job, phase="reading the populations", rows_total=len(strata))
    populations = _populations(strata)
    job_progress(job=job, phase="drawing", rows_read=len(strata))

    def sizer(stratum: SampleStratum):
        if stratum.mode == StratumMode.CENSUS:
            return None
        if stratum.mode == StratumMode.OVERRIDE:
            return None  # n is given
        # An empty population (every post in an earlier stratum) is reported below, by name.
        return lambda population: population and sample_size(
            population=population, confidence=draw.confidence, margin=draw.margin, proportion=draw.proportion,
            rounding=draw.rounding).n

    specs = []
    for stratum, ids in zip(strata, populations, strict=True):
        specs.append(StratumSpec(stratum.name, ids, n=stratum.override_n if stratum.mode == StratumMode.OVERRIDE
                                 else None, size_for=sizer(stratum)))
    drawn = stratified_draw(strata=specs, seed=draw.seed)
    for stratum, result in zip(strata, drawn.strata, strict=True):
        if result.population == 0:
            raise ValidationError(f"“{stratum.name}” has no posts left: all {result.overlap_removed:,} are counted "
                                  "in earlier strata. Remove it or put it first.")
    job_progress(job=job, phase="writing the sample")
    with transaction.atomic():
        locked = SampleDraw.objects.select_for_update().get(pk=draw.pk)
        if locked.status != DrawStatus.PENDING:
            raise ValidationError(f"Version {draw.version} is no longer waiting to be drawn.")
        for stratum, ids, result in zip(strata, populations, drawn.strata, strict=True):
            stratum.set_size = result.population + result.overlap_removed
            stratum.overlap_removed = result.overlap_removed
            stratum.population = result.population
            stratum.n = result.n
            stratum.n_exact = (None if stratum.mode != StratumMode.CALCULATED else
                               sample_size(population=result.population, confidence=draw.confidence,
                                           margin=draw.margin, proportion=draw.proportion,
                                           rounding=draw.rounding).exact)
            stratum.drawn = len(result.drawn)
            stratum.population_digest = ids_digest(ids)
        SampleStratum.objects.bulk_update(strata, ["set_size", "overlap_removed", "population", "n", "n_exact",
                                                   "drawn", "population_digest"])
        StratumPopulation.objects.bulk_create(StratumPopulation(stratum=stratum, ids=ids_pack(ids))
                                              for stratum, ids in zip(strata, populations, strict=True))
        item_ids = _items_write(draw=draw, strata=strata, drawn=drawn)
        summary = _split_and_assign(draw=locked, strata=strata, drawn=drawn, item_ids=item_ids)
        locked.status, locked.drawn_at, locked.error = DrawStatus.READY, timezone.now(), ""
        locked.save(update_fields=["status", "drawn_at", "error", "sample_size", "pilot_size"])
    table_statistics_refresh(SampleItem, Assignment)
    return {"version": draw.version, "seed": draw.seed, **summary,
            "strata": [{"name": s.name, "set_size": s.set_size, "overlap_removed": s.overlap_removed,
                        "population": s.population, "n_exact": s.n_exact, "n": s.n, "census": s.census,
                        "drawn": s.drawn, "pilot": s.pilot} for s in strata]}


def _items_write(*, draw: SampleDraw, strata: list[SampleStratum], drawn: Draw) -> dict[int, int]:
    """Insert the items (parts are set by the split) and return post id → item id."""
    rows = (SampleItem(draw=draw, stratum=stratum, post_id=pid, part=ItemPart.RELIABILITY)
            for stratum, result in zip(strata, drawn.strata, strict=True) for pid in result.drawn)
    batch = []
    for row in rows:
        batch.append(row)
        if len(batch) >= WRITE_BATCH:
            SampleItem.objects.bulk_create(batch)
            batch = []
    if batch:
        SampleItem.objects.bulk_create(batch)
    return dict(SampleItem.objects.filter(draw=draw).values_list("post_id", "id"))


def _split_and_assign(*, draw: SampleDraw, strata: list[SampleStratum], drawn: Draw,
                      item_ids: dict[int, int]) -> dict[str, Any]:
    """Pilot split per stratum and balanced assignment of the reliability part;
    replaces any earlier split and assignment of this (unfrozen) draw."""
    split = pilot_split(draw=drawn, share=draw.pilot_share, seed=draw.seed)
    pilot_items = [item_ids[pid] for ids in split.pilot.values() for pid in ids]
    SampleItem.objects.filter(draw=draw).update(part=ItemPart.RELIABILITY)
    for start in range(0, len(pilot_items), WRITE_BATCH):
        SampleItem.objects.filter(pk__in=pilot_items[start:start + WRITE_BATCH]).update(part=ItemPart.PILOT)
    Assignment.objects.filter(draw=draw).delete()
    groups = [[item_ids[pid] for pid in split.reliability[s.name]] for s in strata]
    assignment = (balanced_assignment(groups=groups, raters=draw.rater_ids, per_item=draw.raters_per_item,
                                      seed=draw.seed) if any(groups) else {})
    batch = []
    for item_id, raters in assignment.items():
        batch.extend(Assignment(draw=draw, item_id=item_id, rater_id=rater) for rater in raters)
        if len(batch) >= WRITE_BATCH:
            Assignment.objects.bulk_create(batch)
            batch = []
    if batch:
        Assignment.objects.bulk_create(batch)
    for stratum in strata:
        stratum.pilot = len(split.pilot[stratum.name])
    SampleStratum.objects.bulk_update(strata, ["pilot"])
    draw.sample_size = sum(len(s.drawn) for s in drawn.strata)
    draw.pilot_size = len(pilot_items)
    return {"sample_size": draw.sample_size, "pilot": draw.pilot_size,
            "reliability": draw.sample_size - draw.pilot_size, "assignments": sum(map(len, assignment.values())),
            "raters": len(draw.rater_ids), "raters_per_item": draw.raters_per_item}


def _draw_redistribute(*, draw: SampleDraw, job: Job) -> dict[str, Any]:
    strata = list(draw.strata.order_by("position"))
    job_progress(job=job, phase="splitting and assigning")
    by_stratum: dict[int, list[int]] = {s.pk: [] for s in strata}
    item_ids = {}
    for item_id, stratum_id, post_id in draw.items.values_list("id", "stratum_id", "post_id"):
        by_stratum[stratum_id].append(post_id)
        item_ids[post_id] = item_id
    drawn = Draw(seed=draw.seed, strata=tuple(
        StratumDraw(name=s.name, population=s.population, overlap_removed=s.overlap_removed, census=s.census,
                    n=s.n or 0, drawn=tuple(sorted(by_stratum[s.pk]))) for s in strata))
    with transaction.atomic():
        locked = SampleDraw.objects.select_for_update().get(pk=draw.pk)
        if locked.status != DrawStatus.PENDING:
            raise ValidationError(f"Version {draw.version} changed while waiting; nothing was redistributed.")
        summary = _split_and_assign(draw=locked, strata=strata, drawn=drawn, item_ids=item_ids)
        locked.status = DrawStatus.READY
        locked.save(update_fields=["status", "sample_size", "pilot_size"])
    return {"version": draw.version, "seed": draw.seed, **summary}
