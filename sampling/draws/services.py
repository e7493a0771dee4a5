"""Writes for draws: start one (a background job), redistribute a draw that
is not frozen yet (pilot share, raters), and start labelling, which freezes it.

The job reads every stratum's members in one snapshot, keyed as the draw's
algorithm says ((site, id on the site) for version 2), calls the pure draw
(``draw.py``) on those keys, maps the drawn keys back to posts and raters'
usernames back to users, and writes the strata figures, the items and the
assignments in one transaction: a draw is either all there or not there.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.contrib.auth import get_user_model
from django.contrib.postgres.aggregates import ArrayAgg
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from annotator.dbstats import table_statistics_refresh
from annotator.jobs.models import Job, JobKind, JobStatus
from annotator.jobs.services import (
    job_create,
    job_fail,
    job_progress,
    job_reap_if_stale,
    job_succeed,
)
from annotator.studies.models import Study
from sampling.question_sets.models import QuestionSet, QuestionSetMember

from .design import DrawDesign, assignment_errors, seed_new, study_raters
from .draw import (
    ALGORITHM,
    Draw,
    Key,
    Keys,
    StratumDraw,
    StratumSpec,
    balanced_assignment,
    key_order,
    pilot_split,
    stratified_draw,
)
from .models import (
    Assignment,
    DrawStatus,
    ItemPart,
    SampleDraw,
    SampleItem,
    SampleStratum,
    StratumMode,
    StratumPopulation,
)
from .sample_size import sample_size
from .selectors import draw_design_check
from .snapshot import ids_digest, ids_pack, keys_digest, keys_pack

WRITE_BATCH = 5000


def _who(draw: SampleDraw) -> str:
    by = f" by {draw.created_by.username}" if draw.created_by else ""
    return f"version {draw.version}{by}, started {timezone.localtime(draw.created_at):%Y-%m-%d %H:%M}"


@transaction.atomic
def sample_draw_start(*, study: Study, design: DrawDesign, user=None, expected_version: int | None = None
                      ) -> SampleDraw:
    """Record the draw (next version) and queue its job. One draw per study is
    drawn at a time; ``expected_version`` (the latest version the owner saw)
    stops a second owner from unknowingly drawing over a draw just made. A design the
    preview says cannot be drawn is refused here, before any version is used."""
    resolved, _ = draw_design_check(study=study, design=design, drawable=True)
    Study.objects.select_for_update().filter(pk=study.pk).first()  # serialises draws of one study
    running = _draw_pending(study=study)
    if running:
        raise ValidationError(f"Another draw is in progress ({_who(running)}); wait for it to finish "
                              "or cancel it on its page.")
    latest = SampleDraw.objects.filter(study=study).select_related("created_by").order_by("-version").first()
    latest_version = latest.version if latest else 0
    if expected_version is not None and expected_version != latest_version:
        raise ValidationError(f"A new draw was made since you opened this form ({_who(latest)}). "
                              "Look at it first; start again if you still want another version.")
    seed = design.seed if design.seed is not None else seed_new()
    try:
        with transaction.atomic():
            draw = SampleDraw.objects.create(
                study=study, version=latest_version + 1, seed=seed, algorithm=ALGORITHM, confidence=design.confidence,
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
                                  "seed": seed, "algorithm": draw.algorithm})
    draw.save(update_fields=["job"])
    return draw


@transaction.atomic
def sample_draw_redistribute_start(*, draw: SampleDraw, pilot_share: float, raters_per_item: int,
                                   rater_ids: list[int] | None = None, user=None) -> SampleDraw:
    """Split the same posts again (another pilot share) and/or give the
    reliability items to other raters. Refused once labelling has started."""
    _draw_pending(study=draw.study)  # releases a draw whose worker stopped
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


def _draw_pending(*, study: Study) -> SampleDraw | None:
    """The study's draw being drawn, if any. One whose job's worker stopped is
    released here (failed with its job), so that it holds the study no longer."""
    pending = SampleDraw.objects.filter(study=study, status=DrawStatus.PENDING).select_related(
        "created_by", "job").first()
    if pending is not None and pending.job is not None and job_reap_if_stale(job=pending.job):
        return None
    return pending


def _refuse_if_frozen(draw: SampleDraw) -> None:
    if draw.is_frozen:
        raise ValidationError(
            f"Labelling started on version {draw.version} on "
            f"{timezone.localtime(draw.labelling_started_at):%Y-%m-%d %H:%M}: the draw is frozen. "
            "Start a new version to draw differently; this one stays readable.")


# What later steps make for a draw when its labelling starts (labelling: the raters' tallies), in
# the same transaction. They register from their AppConfig.ready: this step imports none of them.
_labelling_started: list[Callable[[SampleDraw], None]] = []


def labelling_started_register(made: Callable[[SampleDraw], None]) -> None:
    if made not in _labelling_started:
        _labelling_started.append(made)


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
    for made in _labelling_started:
        made(draw)
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
        job_fail(job=job, error=" ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc))
        return None
    result["seconds"] = round(time.monotonic() - started, 3)
    job_succeed(job=job, result=result)
    return result


def sample_draw_job_ended(*, job: Job) -> None:
    """A draw follows its job: when the job ends without success (an error, a
    crash, a cancel, a worker that stopped), a first draw becomes a failed
    version with the job's reason, and a redistribution leaves the draw as it
    was. Either way the study may draw again."""
    if job.status == JobStatus.SUCCEEDED:
        return
    redistribution = job.params.get("step") == "redistribute"
    SampleDraw.objects.filter(pk=job.params.get("draw"), job=job, status=DrawStatus.PENDING).update(
        status=DrawStatus.READY if redistribution else DrawStatus.FAILED,
        error="" if redistribution else job.error)


@dataclass(frozen=True)
class _Members:
    """A stratum's set members as the draw's algorithm keys them, and the post of each
    key. Algorithm 2: by column, site → ids on the site (``keys``), and per site the
    sorted ids with their posts' database ids (``posts``). Algorithm 1: the database
    ids themselves."""

    algorithm: int
    keys: Keys
    posts: dict[str, tuple[np.ndarray, np.ndarray]]

    def post_ids(self, keys: Sequence[Key]) -> list[int]:
        """The database id of the post of each key, in the same order."""
        if self.algorithm == 1:
            return [int(key) for key in keys]
        by_site: dict[str, list[int]] = {}
        for site, number in keys:
            by_site.setdefault(site, []).append(number)
        found = {}
        for site, numbers in by_site.items():
            ids, posts = self.posts[site]
            found[site] = iter(posts[np.searchsorted(ids, numbers)].tolist())
        return [next(found[site]) for site, _ in keys]

    def digest_and_pack(self) -> tuple[str, bytes]:
        if self.algorithm == 1:
            return ids_digest(self.keys), ids_pack(self.keys)
        return keys_digest(self.keys), keys_pack(self.keys)


def _rows_in_chunks(queryset, size: int = 100_000):
    """The queryset's rows (a ``values_list``), a list at a time: a million rows never
    stand in memory as a million tuples at once."""
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        while rows := cursor.fetchmany(size):
            yield rows


def _member_columns(members) -> list[tuple[int, str, np.ndarray, np.ndarray]]:
    """(set id, site, ids on the site, post ids) for every set and site of these members."""
    columns = members.values_list("question_set_id", "post__site", "post__so_id", "post_id")
    if connection.vendor == "postgresql":
        # Grouped in the database, a few rows of long arrays: 1.7 s instead of 4.3 s for the
        # million members of benchmarks/draw_bench.py, whose rows took as long to convert as to join.
        grouped = columns.values_list("question_set_id", "post__site").annotate(
            ids=ArrayAgg("post__so_id"), posts=ArrayAgg("post_id")).order_by()
        return [(set_id, site, np.array(ids, dtype=np.int64), np.array(posts, dtype=np.int64))
                for set_id, site, ids, posts in grouped]
    code: dict[str, int] = {}
    chunks = []
    for rows in _rows_in_chunks(columns):
        set_column, sites, so_ids, post_ids = zip(*rows)
        if len(names := set(sites)) == 1:
            site_codes = np.full(len(rows), code.setdefault(names.pop(), len(code)), dtype=np.int32)
        else:
            site_codes = np.fromiter((code.setdefault(site, len(code)) for site in sites), dtype=np.int32,
                                     count=len(rows))
        chunks.append((np.array(set_column, dtype=np.int64), site_codes, np.array(so_ids, dtype=np.int64),
                       np.array(post_ids, dtype=np.int64)))
    if not chunks:
        return []
    set_column, site_codes, so_ids, post_ids = (np.concatenate(column) for column in zip(*chunks))
    out = []
    for set_id in np.unique(set_column).tolist():
        for site, number in code.items():
            rows = (set_column == set_id) & (site_codes == number)
            if rows.any():
                out.append((set_id, site, so_ids[rows], post_ids[rows]))
    return out


def _members_read(set_ids: list[int], algorithm: int) -> dict[int, _Members]:
    """The members of these sets, in one pass over their posts (one join, not one per set)."""
    members = QuestionSetMember.objects.filter(question_set_id__in=set_ids).order_by()
    if algorithm == 1:
        rows = np.array(list(members.values_list("question_set_id", "post_id")), dtype=np.int64).reshape(-1, 2)
        return {pk: _Members(algorithm, rows[rows[:, 0] == pk, 1], {}) for pk in set_ids}
    posts: dict[int, dict[str, tuple[np.ndarray, np.ndarray]]] = {pk: {} for pk in set_ids}
    for set_id, site, ids, pks in _member_columns(members):
        order = np.argsort(ids, kind="stable")
        posts[set_id][site] = (ids[order], pks[order])
    return {pk: _Members(algorithm, {site: ids for site, (ids, _) in by_site.items()}, by_site)
            for pk, by_site in posts.items()}


def _populations(strata: list[SampleStratum], algorithm: int) -> list[_Members]:
    """Every stratum's members, keyed as the draw's algorithm says, read in one
    consistent snapshot of the database."""
    nested = connection.in_atomic_block  # (tests run inside a transaction already)
    with transaction.atomic():
        if connection.vendor == "postgresql" and not nested:
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        sets = QuestionSet.objects.in_bulk([s.question_set_id for s in strata if s.question_set_id])
        for stratum in strata:
            qs = sets.get(stratum.question_set_id)
            if qs is None:
                raise ValidationError(f"The question set of stratum “{stratum.name}” was deleted before the draw.")
            if qs.member_count is None:
                raise ValidationError(f"“{qs.name}” has not been evaluated: evaluate it, then draw.")
        members = _members_read(list(sets), algorithm)
    for stratum in strata:
        if not len(members[stratum.question_set_id].keys):
            name = sets[stratum.question_set_id].name
            raise ValidationError(f"“{name}” is empty now (it was emptied after the design was made): "
                                  "nothing to draw from it.")
    return [members[stratum.question_set_id] for stratum in strata]


def _draw_make(*, draw: SampleDraw, job: Job) -> dict[str, Any]:
    strata = list(draw.strata.order_by("position"))
    job_progress(job=job, phase="reading the populations", rows_total=len(strata))
    populations = _populations(strata, draw.algorithm)
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
    for stratum, members in zip(strata, populations, strict=True):
        specs.append(StratumSpec(stratum.name, members.keys, n=stratum.override_n
                                 if stratum.mode == StratumMode.OVERRIDE else None, size_for=sizer(stratum)))
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
        snapshots = []
        for stratum, members, result in zip(strata, populations, drawn.strata, strict=True):
            stratum.set_size = result.population + result.overlap_removed
            stratum.overlap_removed = result.overlap_removed
            stratum.population = result.population
            stratum.n = result.n
            stratum.n_exact = (None if stratum.mode != StratumMode.CALCULATED else
                               sample_size(population=result.population, confidence=draw.confidence,
                                           margin=draw.margin, proportion=draw.proportion,
                                           rounding=draw.rounding).exact)
            stratum.drawn = len(result.drawn)
            stratum.population_digest, packed = members.digest_and_pack()
            snapshots.append(StratumPopulation(stratum=stratum, ids=packed))
        SampleStratum.objects.bulk_update(strata, ["set_size", "overlap_removed", "population", "n", "n_exact",
                                                   "drawn", "population_digest"])
        StratumPopulation.objects.bulk_create(snapshots)
        item_of = _items_write(draw=draw, strata=strata, drawn=drawn, populations=populations)
        summary = _split_and_assign(draw=locked, strata=strata, drawn=drawn, item_of=item_of)
        locked.status, locked.drawn_at, locked.error = DrawStatus.READY, timezone.now(), ""
        locked.save(update_fields=["status", "drawn_at", "error", "sample_size", "pilot_size"])
    table_statistics_refresh(SampleItem, Assignment)
    return {"version": draw.version, "seed": draw.seed, **summary,
            "strata": [{"name": s.name, "set_size": s.set_size, "overlap_removed": s.overlap_removed,
                        "population": s.population, "n_exact": s.n_exact, "n": s.n, "census": s.census,
                        "drawn": s.drawn, "pilot": s.pilot} for s in strata]}


def _items_write(*, draw: SampleDraw, strata: list[SampleStratum], drawn: Draw, populations: list[_Members]
                 ) -> dict[Key, int]:
    """Insert the items (parts are set by the split) and return key → item id."""
    post_ids = [members.post_ids(result.drawn) for members, result in zip(populations, drawn.strata, strict=True)]
    rows = (SampleItem(draw=draw, stratum=stratum, post_id=post_id, part=ItemPart.RELIABILITY)
            for stratum, ids in zip(strata, post_ids, strict=True) for post_id in ids)
    batch = []
    for row in rows:
        batch.append(row)
        if len(batch) >= WRITE_BATCH:
            SampleItem.objects.bulk_create(batch)
            batch = []
    if batch:
        SampleItem.objects.bulk_create(batch)
    item_by_post = dict(SampleItem.objects.filter(draw=draw).values_list("post_id", "id"))
    return {key: item_by_post[post_id] for result, ids in zip(drawn.strata, post_ids, strict=True)
            for key, post_id in zip(result.drawn, ids, strict=True)}


def _split_and_assign(*, draw: SampleDraw, strata: list[SampleStratum], drawn: Draw,
                      item_of: dict[Key, int]) -> dict[str, Any]:
    """Pilot split per stratum and balanced assignment of the reliability part;
    replaces any earlier split and assignment of this (unfrozen) draw. Algorithm
    2 assigns the items by their keys to the raters by username; algorithm 1
    assigned item ids to user ids (in the order the draw recorded them)."""
    split = pilot_split(draw=drawn, share=draw.pilot_share, seed=draw.seed)
    pilot_items = [item_of[key] for keys in split.pilot.values() for key in keys]
    SampleItem.objects.filter(draw=draw).update(part=ItemPart.RELIABILITY)
    for start in range(0, len(pilot_items), WRITE_BATCH):
        SampleItem.objects.filter(pk__in=pilot_items[start:start + WRITE_BATCH]).update(part=ItemPart.PILOT)
    Assignment.objects.filter(draw=draw).delete()
    if draw.algorithm == 1:
        groups = [[item_of[key] for key in split.reliability[s.name]] for s in strata]
        raters, item_id, rater_id = list(draw.rater_ids), (lambda item: item), (lambda rater: rater)
    else:
        groups = [split.reliability[s.name] for s in strata]
        by_name = dict(get_user_model().objects.filter(pk__in=draw.rater_ids).values_list("username", "pk"))
        raters, item_id, rater_id = list(by_name), item_of.__getitem__, by_name.__getitem__
    assignment = (balanced_assignment(groups=groups, raters=raters, per_item=draw.raters_per_item,
                                      seed=draw.seed, algorithm=draw.algorithm) if any(groups) else {})
    batch = []
    for item, item_raters in assignment.items():
        batch.extend(Assignment(draw=draw, item_id=item_id(item), rater_id=rater_id(rater)) for rater in item_raters)
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
    by_stratum: dict[int, list[Key]] = {s.pk: [] for s in strata}
    item_of: dict[Key, int] = {}
    for item_id, stratum_id, post_id, site, so_id in draw.items.values_list(
            "id", "stratum_id", "post_id", "post__site", "post__so_id"):
        key = post_id if draw.algorithm == 1 else (site, so_id)
        by_stratum[stratum_id].append(key)
        item_of[key] = item_id
    drawn = Draw(seed=draw.seed, strata=tuple(
        StratumDraw(name=s.name, population=s.population, overlap_removed=s.overlap_removed, census=s.census,
                    n=s.n or 0, drawn=tuple(key_order(by_stratum[s.pk]))) for s in strata))
    with transaction.atomic():
        locked = SampleDraw.objects.select_for_update().get(pk=draw.pk)
        if locked.status != DrawStatus.PENDING:
            raise ValidationError(f"Version {draw.version} changed while waiting; nothing was redistributed.")
        summary = _split_and_assign(draw=locked, strata=strata, drawn=drawn, item_of=item_of)
        locked.status = DrawStatus.READY
        locked.save(update_fields=["status", "sample_size", "pilot_size"])
    return {"version": draw.version, "seed": draw.seed, **summary}
