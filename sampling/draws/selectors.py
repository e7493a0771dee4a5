"""Reads for draws: the design preview, the design table, the items, the
per-rater progress and what changed in the sets since a draw."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db.models import Count, Exists, OuterRef, QuerySet
from django.http import Http404
from django.utils import timezone

from annotator.corpus.models import Post
from annotator.csv_output import row_batches
from sampling.question_sets.models import QuestionSetMember
from sampling.question_sets.selectors import question_set_change_after

from .design import LARGE_CENSUS, DrawDesign, ResolvedDesign, StratumChoice, design_resolve
from .draw import Key, Keys, StratumSpec, key_order, pilot_round, pilot_split, stratified_draw
from .models import (Assignment, DrawStatus, ItemPart, SampleDraw, SampleItem, SampleStratum, StratumMode,
                     StratumPopulation)
from .sample_size import SampleSize, sample_size
from .snapshot import ids_unpack, keys_unpack_by_site


@dataclass(frozen=True)
class PreviewRow:
    name: str
    question_set_id: int
    set_size: int
    overlap_removed: int
    population: int
    mode: str
    n_exact: float | None
    n: int | None
    error: str = ""
    warning: str = ""

    @property
    def census(self) -> bool:
        return self.mode == StratumMode.CENSUS


@dataclass(frozen=True)
class DesignPreview:
    rows: tuple[PreviewRow, ...]
    sample_size: int
    pilot: int
    reliability: int
    raters: int
    raters_per_item: int

    @property
    def per_rater(self) -> float:
        return self.reliability * self.raters_per_item / self.raters if self.raters else 0.0

    @property
    def errors(self) -> list[str]:
        return [row.error for row in self.rows if row.error]

    @property
    def drawable(self) -> bool:
        return not self.errors


def draw_design_check(*, study, design: DrawDesign, drawable: bool = False) -> tuple[ResolvedDesign, DesignPreview]:
    """The one check of a design, shown by the preview (page and API) and required by the
    start: ``design_resolve`` (a design the study does not allow raises ``ValidationError``
    per field), then the design table, whose rows say why a stratum cannot be drawn (no
    posts left after the overlap, an n above its N). With ``drawable`` such a row raises
    too (under ``strata``, naming the stratum): a draw that would fail is never started."""
    resolved = design_resolve(study=study, design=design)
    preview = draw_design_preview(resolved=resolved)
    if drawable and preview.errors:
        raise ValidationError({"strata": preview.errors})
    return resolved, preview


def sample_size_get(**arguments) -> SampleSize:
    """``sample_size`` (pure, sample_size.py) for a page or the API: an input out of range is a
    ``ValidationError`` with its sentence (the API's one exception handler answers 400)."""
    try:
        return sample_size(**arguments)
    except ValueError as exc:
        raise ValidationError(str(exc)) from None


def draw_design_preview(*, resolved: ResolvedDesign) -> DesignPreview:
    """The design table before drawing: N after overlap (counted in the
    database, never loading the members), n exact and n per stratum."""
    design = resolved.design
    rows, earlier = [], []
    for choice, qs in zip(design.strata, resolved.sets, strict=True):
        members = QuestionSetMember.objects.filter(question_set=qs)
        set_size = members.count()
        # NOT EXISTS, an anti-join: PostgreSQL runs "NOT IN (subquery)" row by row once
        # the subquery outgrows work_mem (minutes for strata of a million posts).
        in_earlier = QuestionSetMember.objects.filter(question_set__in=earlier, post_id=OuterRef("post_id"))
        population = members.exclude(Exists(in_earlier)).count() if earlier else set_size
        earlier.append(qs)
        n_exact = n = None
        error = warning = ""
        if population == 0:
            error = (f"“{qs.name}” has no posts left: all {set_size:,} are counted in earlier strata. "
                     "Remove it or put it first." if set_size else f"“{qs.name}” is empty.")
        elif choice.mode == StratumMode.CENSUS:
            n = population
            if population > LARGE_CENSUS:
                warning = (f"A census of {population:,} posts: every one of them will be in the sample "
                           "(drawn in the background; labelling them all is a long task).")
        elif choice.mode == StratumMode.OVERRIDE:
            n = choice.n
            if n is not None and n > population:
                error = f"“{qs.name}”: n = {n:,} is larger than N = {population:,}; take a census instead."
        else:
            size = sample_size(population=population, confidence=design.confidence, margin=design.margin,
                               proportion=design.proportion, rounding=design.rounding)
            n_exact, n = size.exact, size.n
        rows.append(PreviewRow(name=qs.name, question_set_id=qs.pk, set_size=set_size,
                               overlap_removed=set_size - population, population=population, mode=choice.mode,
                               n_exact=n_exact, n=n, error=error, warning=warning))
    total = sum(r.n or 0 for r in rows if not r.error)
    pilot = sum(pilot_round(design.pilot_share, r.n or 0) for r in rows if not r.error)
    return DesignPreview(rows=tuple(rows), sample_size=total, pilot=pilot, reliability=total - pilot,
                         raters=len(resolved.raters), raters_per_item=design.raters_per_item)


def draw_list(*, study) -> QuerySet[SampleDraw]:
    return SampleDraw.objects.filter(study=study).select_related("created_by", "job").order_by("-version")


def draw_get(*, study, version: int) -> SampleDraw:
    draw = (SampleDraw.objects.filter(study=study, version=version)
            .select_related("created_by", "labelling_started_by", "job").first())
    if draw is None:
        raise Http404("No such draw.")
    return draw


def draw_latest_version(*, study) -> int:
    return SampleDraw.objects.filter(study=study).order_by("-version").values_list("version", flat=True).first() or 0


def draw_strata(*, draw: SampleDraw) -> list[SampleStratum]:
    return list(draw.strata.select_related("question_set"))


@dataclass(frozen=True)
class StratumDrift:
    name: str
    message: str


def draw_drift(*, draw: SampleDraw, strata: list[SampleStratum]) -> list[StratumDrift]:
    """What happened to each stratum's set since the draw. The draw itself
    does not change: it keeps its own snapshot of every population."""
    if draw.drawn_at is None:
        return []
    out = []
    for stratum in strata:
        qs = stratum.question_set
        if qs is None:
            out.append(StratumDrift(stratum.name, "its question set has been deleted since the draw"))
        elif qs.member_count == 0:
            out.append(StratumDrift(stratum.name, f"its question set is empty now (it had {stratum.set_size:,} "
                                                  "posts when drawn)"))
        elif qs.evaluated_at and qs.evaluated_at > draw.drawn_at and qs.member_count != stratum.set_size:
            out.append(StratumDrift(stratum.name, f"its question set has {qs.member_count:,} posts now, "
                                                  f"{stratum.set_size:,} when drawn"))
        elif change := question_set_change_after(question_set=qs, moment=draw.drawn_at):
            # A rule edited (its evaluation may still run), or members swapped without the count moving.
            when = timezone.localtime(change.at).strftime("%Y-%m-%d %H:%M")
            out.append(StratumDrift(stratum.name, f"its question set changed on {when} ({change.what}), "
                                                  "after the draw"))
    return out


def _snapshot(stratum: SampleStratum) -> bytes | None:
    try:
        return stratum.population_snapshot.ids
    except StratumPopulation.DoesNotExist:
        return None


def _snapshot_keys(draw: SampleDraw, stratum: SampleStratum) -> Keys:
    """The stratum's recorded population as the draw's algorithm keys it: site → ids on the site, or database ids."""
    blob = _snapshot(stratum)
    return ids_unpack(blob) if draw.algorithm == 1 else keys_unpack_by_site(blob)


def draw_reproduces(*, draw: SampleDraw) -> bool | None:
    """Draw again from the recorded populations with the recorded seed, by the
    algorithm the draw was made with, split the pilot again, and compare both with
    the stored items. ``None`` while there is nothing to compare."""
    if draw.status not in (DrawStatus.READY, DrawStatus.LABELLING):
        return None
    strata = list(draw.strata.select_related("population_snapshot").order_by("position"))
    specs = [StratumSpec(s.name, _snapshot_keys(draw, s), None if s.mode == StratumMode.CENSUS else s.n)
             for s in strata]
    try:
        again = stratified_draw(strata=specs, seed=draw.seed)
    except ValueError:  # the recorded populations no longer hold the recorded n
        return False
    split = pilot_split(draw=again, share=draw.pilot_share, seed=draw.seed)
    stored: dict[int, list[Key]] = {}
    pilot: dict[int, list[Key]] = {}
    for stratum_id, part, post_id, site, so_id in draw.items.values_list(
            "stratum_id", "part", "post_id", "post__site", "post__so_id"):
        key = post_id if draw.algorithm == 1 else (site, so_id)
        stored.setdefault(stratum_id, []).append(key)
        if part == ItemPart.PILOT:
            pilot.setdefault(stratum_id, []).append(key)
    return all(tuple(key_order(stored.get(s.pk, []))) == d.drawn
               and tuple(key_order(pilot.get(s.pk, []))) == split.pilot[s.name]
               for s, d in zip(strata, again.strata, strict=True))


def _identities(draw: SampleDraw, snapshot: bytes | None):
    """A recorded population's (site, id on the site) pairs, in key order."""
    if draw.algorithm == 1:  # database ids: their posts' identities, in algorithm 2's order
        ids, keys = ids_unpack(snapshot), []
        for start in range(0, len(ids), 5000):
            keys.extend(Post.objects.filter(pk__in=ids[start:start + 5000]).values_list("site", "so_id"))
        yield from key_order(keys)
        return
    for site, ids in keys_unpack_by_site(snapshot).items():
        for so_id in ids.tolist():
            yield site, so_id


DRAW_POPULATION_HEADER = ("position", "stratum", "site", "post_id")


def draw_population_rows(*, draw: SampleDraw):
    """(stratum position, stratum, site, id on the site) of every member of every
    stratum's set when drawn, stratum by stratum, each in (site, id) order: the
    list a reader draws the sample again from. A post in several strata is in
    each (the overlap rule applies when drawing). Streamed."""
    for stratum in draw.strata.order_by("position"):
        snapshot = StratumPopulation.objects.filter(stratum=stratum).values_list("ids", flat=True).first()
        for site, so_id in _identities(draw, snapshot):
            yield stratum.position, stratum.name, site, so_id


def draw_items(*, draw: SampleDraw, stratum_id: int | None = None, part: str | None = None) -> QuerySet[SampleItem]:
    items = draw.items.select_related("post", "stratum").order_by("stratum__position", "post__so_id")
    if stratum_id:
        items = items.filter(stratum_id=stratum_id)
    if part in ItemPart.values:
        items = items.filter(part=part)
    return items


@dataclass(frozen=True)
class RaterWorkload:
    rater_id: int
    username: str
    assigned: int
    by_stratum: dict[int, int]  # stratum id → assigned


def draw_rater_workload(*, draw: SampleDraw, membership) -> list[RaterWorkload]:
    """Reliability items assigned per rater and stratum (the draw's design), counted in
    the database (a census can assign millions of items): every rater's for an owner
    (who makes the design), else the member's own. How many each has labelled is the
    labelling step's to tell, under its blindness rule."""
    assignments = Assignment.objects.filter(draw=draw)
    if not membership.is_owner:
        assignments = assignments.filter(rater_id=membership.user_id)
    rows = (assignments.values("rater_id", "rater__username", "item__stratum_id")
            .annotate(assigned=Count("id")).order_by("rater__username"))
    raters: dict[int, dict] = {}
    for row in rows:
        entry = raters.setdefault(row["rater_id"], {"username": row["rater__username"], "by_stratum": {}})
        entry["by_stratum"][row["item__stratum_id"]] = row["assigned"]
    return [RaterWorkload(rater_id=pk, username=e["username"], assigned=sum(e["by_stratum"].values()),
                          by_stratum=e["by_stratum"])
            for pk, e in raters.items()]


def draw_item_assignees(*, items) -> dict[int, list[str]]:
    """Who rates each of these items (for one page of the item list)."""
    out: dict[int, list[str]] = {}
    for item_id, username in (Assignment.objects.filter(item__in=[i.pk for i in items])
                              .order_by("rater__username").values_list("item_id", "rater__username")):
        out.setdefault(item_id, []).append(username)
    return out


def design_from_draw(*, draw: SampleDraw) -> DrawDesign:
    """The design of an earlier draw, to start a new version from it."""
    strata = tuple(StratumChoice(question_set_id=s.question_set_id, mode=s.mode, n=s.override_n,
                                 reason=s.override_reason)
                   for s in draw.strata.order_by("position") if s.question_set_id)
    return DrawDesign(strata=strata, confidence=draw.confidence, margin=draw.margin, proportion=draw.proportion,
                      rounding=draw.rounding, seed=draw.seed, pilot_share=draw.pilot_share,
                      raters_per_item=draw.raters_per_item, rater_ids=tuple(draw.rater_ids) or None)


DRAW_ITEM_HEADER = ("stratum", "part", "site", "post_id", "url", "title", "raters")
ITEM_ROWS_CHUNK = 2000


def draw_item_rows(*, draw: SampleDraw):
    """(stratum, part, site, post id, url, title, raters) for every item (``DRAW_ITEM_HEADER``),
    streamed: items a chunk at a time, each chunk's raters in one query."""
    items = (draw.items.order_by("stratum__position", "post__so_id")
             .values_list("id", "stratum__name", "part", "post__site", "post__so_id", "post__title"))
    for chunk in row_batches(items.iterator(chunk_size=ITEM_ROWS_CHUNK), ITEM_ROWS_CHUNK):
        raters: dict[int, list[str]] = {}
        for item_id, username in (Assignment.objects.filter(item_id__in=[row[0] for row in chunk])
                                  .values_list("item_id", "rater__username")):
            raters.setdefault(item_id, []).append(username)
        for item_id, stratum, part, site, so_id, title in chunk:
            # names in code point order: the same file from every database, whatever its collation
            yield (stratum, part, site, so_id, f"https://{site}/questions/{so_id}", title,
                   " ".join(sorted(raters.get(item_id, []))))


def draw_rater_names(*, draw: SampleDraw) -> list[str]:
    """The usernames of the draw's raters, in its order (``user <id>`` for one since deleted)."""
    names = dict(get_user_model().objects.filter(pk__in=draw.rater_ids).values_list("pk", "username"))
    return [names.get(pk, f"user {pk}") for pk in draw.rater_ids]


def draw_stratum_at(*, draw: SampleDraw, position: int) -> SampleStratum | None:
    """The draw's stratum at ``position`` (0 = first), or None."""
    return draw.strata.filter(position=position).first()
