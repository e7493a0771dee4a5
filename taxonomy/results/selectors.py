"""Reads of the results: which items a result covers (its scope), their final labels
(through the blindness rule), and the taxonomy's counts over them.

The scope of a study's results is every draw whose labelling has started (a draw
still being prepared is counted only when asked for by version), or one draw, or
one stratum of it. Items are sampled posts: a post drawn in two counted versions
is two items.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from itertools import groupby

from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef, QuerySet

from annotator.form_utils import query_id
from annotator.studies.models import Study
from sampling.draws.models import DrawStatus, SampleDraw, SampleItem, SampleStratum
from sampling.draws.sight import Sight, final_label_visible_q, sight_for
from taxonomy.labelling.models import LabelKind
from taxonomy.labelling.visibility import label_list_visible
from taxonomy.review.arbitration.models import FinalLabel
from taxonomy.tree.models import Category
from taxonomy.tree.paths import tree_shape
from taxonomy.tree.selectors import category_visible_q

from .counting import Decision, TaxonomyCounts, taxonomy_counts

DRAWN = (DrawStatus.READY, DrawStatus.LABELLING)


@dataclass(frozen=True)
class ResultsScope:
    study: Study
    draws: tuple[SampleDraw, ...]
    stratum_name: str | None = None
    explicit_draw: bool = False

    @property
    def description(self) -> str:
        versions = ", ".join(f"v{d.version}" for d in self.draws) or "none"
        what = (f"draw v{self.draws[0].version}" if self.explicit_draw and self.draws
                else f"the whole study (draws in labelling: {versions})")
        return f"{what}, stratum “{self.stratum_name}”" if self.stratum_name else what

    def items(self) -> QuerySet[SampleItem]:
        items = SampleItem.objects.filter(draw__in=[d.pk for d in self.draws])
        if self.stratum_name is not None:
            items = items.filter(stratum__name=self.stratum_name)
        return items


def results_scope_arguments(params) -> dict:
    """``draw_version`` and ``stratum_name`` from a query string (``draw``, ``stratum``)."""
    draw, stratum = (params.get("draw") or "").strip(), (params.get("stratum") or "").strip()
    if draw and query_id(draw) is None:
        raise ValidationError({"draw": "A draw is given by its version number (e.g. 1)."})
    if "\x00" in stratum:  # PostgreSQL refuses NUL in text
        raise ValidationError({"stratum": "A stratum name has no NUL character."})
    return {"draw_version": query_id(draw), "stratum_name": stratum or None}


def results_scope(*, study: Study, draw_version: int | None = None, stratum_name: str | None = None) -> ResultsScope:
    """The scope asked for, or a ValidationError naming what does not exist."""
    if draw_version is not None:
        draw = SampleDraw.objects.filter(study=study, version=draw_version, status__in=DRAWN).first()
        if draw is None:
            raise ValidationError({"draw": f"This study has no drawn version v{draw_version}."})
        draws, explicit = (draw,), True
    else:
        draws, explicit = tuple(SampleDraw.objects.filter(study=study, status=DrawStatus.LABELLING)
                                .order_by("version")), False
    if stratum_name is not None:
        stratum_name = stratum_name.strip()
        if not SampleStratum.objects.filter(draw__in=[d.pk for d in draws], name=stratum_name).exists():
            known = sorted(set(SampleStratum.objects.filter(draw__in=[d.pk for d in draws])
                               .values_list("name", flat=True)))
            raise ValidationError({"stratum": f"No stratum “{stratum_name}” in "
                                              f"{'draw v%d' % draw_version if explicit else 'the draws in labelling'}"
                                              f" (strata: {', '.join(known) or 'none'})."})
    return ResultsScope(study=study, draws=draws, stratum_name=stratum_name, explicit_draw=explicit)


def _decisions(*, scope: ResultsScope, sight: Sight) -> Iterator[Decision]:
    """The visible final labels of the scope's items, one per item, streamed."""
    rows = (FinalLabel.objects.filter(final_label_visible_q(sight), item__in=scope.items())
            .order_by("item_id").values_list("item_id", "kind", "categories__category_id")
            .iterator(chunk_size=5000))
    for item_id, group in groupby(rows, key=lambda row: row[0]):
        group = list(group)
        yield Decision(item_id=item_id, kind=group[0][1],
                       category_ids=frozenset(row[2] for row in group if row[2] is not None))


@dataclass(frozen=True)
class Results:
    scope: ResultsScope
    counts: TaxonomyCounts
    definitions: dict[int, str]


def results_get(*, study: Study, user=None, sight: Sight | None = None, draw_version: int | None = None,
                stratum_name: str | None = None) -> Results:
    """The taxonomy's final counts over the scope, as ``user`` (or ``sight``) may see them."""
    sight = sight if sight is not None else sight_for(study=study, user=user)
    scope = results_scope(study=study, draw_version=draw_version, stratum_name=stratum_name)
    categories = Category.objects.filter(category_visible_q(sight), study=study)
    shape = tree_shape(study=study, categories=categories)
    items = scope.items()
    undecided = items.filter(final_label__isnull=True)
    # Pending: a rater's Pending label, once labels are visible (the queue exists from arbitration on).
    pending_label = label_list_visible(study=study, user=None, sight=sight).filter(
        kind=LabelKind.PENDING, assignment__item=OuterRef("pk"), assignment__draw__arbitration_started_at__isnull=False)
    counts = taxonomy_counts(shape=shape, decisions=_decisions(scope=scope, sight=sight), items=items.count(),
                             undecided=undecided.count(), pending=undecided.filter(Exists(pending_label)).count())
    return Results(scope=scope, counts=counts,
                   definitions=dict(categories.values_list("pk", "definition")))


def results_undecided_items(*, scope: ResultsScope, limit: int = 50) -> list[SampleItem]:
    """The first items of the scope without a final label, to name them."""
    return list(scope.items().filter(final_label__isnull=True).select_related("post", "stratum", "draw")
                .order_by("draw__version", "stratum__position", "post__site", "post__so_id")[:limit])


def results_final_posts(study: Study, sight: Sight) -> dict[int, int]:
    """Category id → posts with a final label in it or below, over the study (the tree page's count)."""
    return {node.id: node.posts for node in results_get(study=study, sight=sight).counts.nodes}


def results_scope_choices(*, study: Study) -> tuple[list[SampleDraw], list[str]]:
    """What the results page offers to narrow its scope to: the drawn versions (by version) and
    the names of their strata (sorted, each once)."""
    draws = list(SampleDraw.objects.filter(study=study, status__in=DRAWN).order_by("version"))
    strata = sorted(set(SampleStratum.objects.filter(draw__in=draws).values_list("name", flat=True)))
    return draws, strata
