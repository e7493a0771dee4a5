"""Reads for agreement: who may see figures, the runs, and the submitted
reliability labels of a scope as ``(item, rater, label)`` triples.

Blindness: an agreement figure counts every rater's labels, so a run exists for
a reader only when the blindness rule (``taxonomy.labelling.visibility``) lets
them see every label it read: a run over a draw whose round is still running is
for the owners and arbitrators who do not rate in it. A member who is *only* a
rater does not get the agreement pages at all (404) while any draw of the study
is in labelling.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.http import Http404

from annotator.studies.models import Role, Study
from annotator.studies.selectors import StudyAccess, study_get_for_user
from sampling.draws.models import (
    DrawStatus,
    ItemPart,
    SampleDraw,
    SampleItem,
    SampleStratum,
)
from sampling.draws.sight import Sight, sight_for
from taxonomy.labelling.models import Label, LabelCategory, LabelKind
from taxonomy.tree.paths import tree_shape
from taxonomy.tree.selectors import taxonomy_version

from .models import AgreementRun, AgreementScope
from .statistics import COEFFICIENT_TITLES, SHARE_COEFFICIENTS

SPECIAL_KINDS = tuple(k for k in LabelKind.values if k != LabelKind.CATEGORIES)


def agreement_access(*, slug: str, user, role: str = Role.VIEWER) -> StudyAccess:
    """The study, for owners, arbitrators and viewers; for a member who only
    rates, also once no draw is in labelling any more. 404 otherwise."""
    access = study_get_for_user(slug=slug, user=user, role=role)
    membership = access.membership
    only_rater = membership.is_rater and not membership.is_owner and not membership.is_arbitrator
    if only_rater and SampleDraw.objects.filter(study=access.study, status=DrawStatus.LABELLING).exists():
        raise Http404("No such study.")
    return access


def _runs_visible_q(sight: Sight) -> Q:
    """Runs whose every label ``sight`` may see (the blindness rule): a run over a draw
    whose round the reader cannot see every label of does not exist for them; a
    whole-study run only for a reader who sees every label of the study."""
    if not sight.member:
        return Q(pk__in=[])
    if not sight.sealed:
        return Q()
    return Q(draw__isnull=False) & ~Q(draw_id__in=sorted(sight.sealed))


def agreement_run_list(*, study: Study, user, sight: Sight | None = None) -> QuerySet[AgreementRun]:
    """The runs ``user`` (or ``sight``, already read) may see."""
    sight = sight if sight is not None else sight_for(study=study, user=user)
    return (AgreementRun.objects.filter(_runs_visible_q(sight), study=study)
            .select_related("draw", "stratum", "job", "created_by")
            .defer("result", "label_names"))


def agreement_run_get(*, study: Study, run_id: int, user) -> AgreementRun:
    """The run, or 404 (missing, or computed over labels ``user`` may not see)."""
    run = (AgreementRun.objects.filter(_runs_visible_q(sight_for(study=study, user=user)), study=study, pk=run_id)
           .select_related("draw", "stratum", "job", "created_by").first())
    if run is None:
        raise Http404("No such agreement run.")
    return run


def agreement_scope_check_visible(*, study: Study, user, draw: SampleDraw | None) -> None:
    """Refuse a run over labels the starter may not see (an owner who rates in that round).
    ``user`` None is the code's own call (a command, a test), not a reader."""
    if user is None:
        return
    sight = sight_for(study=study, user=user)
    if not sight.sees_draw(draw.pk if draw is not None else None):
        raise ValidationError(
            "You rate in a labelling round this figure would read, and it is still running: until arbitration "
            "starts on it, its agreement is computed and read by owners and arbitrators who do not rate in it.")


def agreement_labelling_draws(*, study: Study) -> list[SampleDraw]:
    """The draws a whole-study run reads: every draw in labelling, oldest first."""
    return list(SampleDraw.objects.filter(study=study, status=DrawStatus.LABELLING).order_by("version"))


def agreement_strata(*, study: Study) -> list[SampleStratum]:
    """The strata of the draws in labelling (choices of a stratum run)."""
    return list(SampleStratum.objects.filter(draw__study=study, draw__status=DrawStatus.LABELLING)
                .select_related("draw").order_by("draw__version", "position"))


def agreement_taxonomy_changed(*, run: AgreementRun) -> int | None:
    """The current taxonomy version when the tree changed since the run, else ``None``."""
    if run.taxonomy_version is None:
        return None
    current = taxonomy_version(study=run.study)
    return current if current != run.taxonomy_version else None


# -- the input of a run ----------------------------------------------------------------


@dataclass
class ScopeLabels:
    """The submitted reliability labels of one scope, ready for the engine."""

    triples: list[tuple[int, str, int | str]]  # (item id, rater username, category id or special kind)
    draws: list[SampleDraw]
    items_in_scope: int
    items_labelled: int
    labels_read: int  # Label rows (one per item × rater)
    empty_labels: int = 0  # "categories" labels that name no category: no answer
    answers: dict[str, dict[int, frozenset]] = field(default_factory=dict)  # rater → item → label set

    @property
    def items_unlabelled(self) -> int:
        return self.items_in_scope - self.items_labelled

    @property
    def raters(self) -> list[str]:
        return sorted(self.answers)


def _scope_items(*, study: Study, scope: str, draw: SampleDraw | None, stratum: SampleStratum | None
                 ) -> tuple[dict, list[SampleDraw]]:
    """SampleItem lookups of the reliability items in the scope, and the draws they come from."""
    if scope == AgreementScope.STRATUM:
        return {"stratum": stratum, "part": ItemPart.RELIABILITY}, [draw]
    if scope == AgreementScope.DRAW:
        return {"draw": draw, "part": ItemPart.RELIABILITY}, [draw]
    draws = agreement_labelling_draws(study=study)
    return {"draw__in": draws, "part": ItemPart.RELIABILITY}, draws


def agreement_scope_labels(*, study: Study, scope: str, draw: SampleDraw | None = None,
                           stratum: SampleStratum | None = None) -> ScopeLabels:
    """Every submitted label on the scope's reliability items as triples: a
    label of kind "categories" gives one triple per category (multi-label),
    False positive / Unclear / Pending one triple with the kind as label."""
    lookups, draws = _scope_items(study=study, scope=scope, draw=draw, stratum=stratum)
    items_in_scope = SampleItem.objects.filter(**lookups).count()
    via_label = {f"assignment__item__{key}": value for key, value in lookups.items()}
    categories: dict[int, list[int]] = defaultdict(list)
    rows = (LabelCategory.objects.filter(**{f"label__{key}": value for key, value in via_label.items()})
            .values_list("label_id", "category_id").order_by("label_id", "category_id"))
    for label_id, category_id in rows.iterator(chunk_size=5000):
        categories[label_id].append(category_id)
    triples: list[tuple[int, str, int | str]] = []
    answers: dict[str, dict[int, frozenset]] = defaultdict(dict)
    labelled: set[int] = set()
    read = empty = 0
    labels = (Label.objects.filter(**via_label)
              .values_list("pk", "assignment__item_id", "assignment__rater__username", "kind")
              .order_by("assignment__item_id", "assignment__rater__username"))
    for label_id, item_id, rater, kind in labels.iterator(chunk_size=5000):
        read += 1
        values = categories.get(label_id, []) if kind == LabelKind.CATEGORIES else [kind]
        if not values:
            empty += 1
            continue
        labelled.add(item_id)
        answers[rater][item_id] = frozenset(values)
        triples.extend((item_id, rater, value) for value in values)
    return ScopeLabels(triples=triples, draws=draws, items_in_scope=items_in_scope, items_labelled=len(labelled),
                       labels_read=read, empty_labels=empty, answers=dict(answers))


def agreement_label_names(*, study: Study, keys) -> dict[str, str]:
    """Label key (category id as text, or the special kind) → its name now:
    the category's path from its root, or the verdict's name."""
    shape = tree_shape(study=study)
    names = {}
    for key in keys:
        if key in SPECIAL_KINDS:
            names[str(key)] = str(LabelKind(key).label)
        else:
            names[str(key)] = shape.path(int(key)) or f"category {key}"
    return names


def agreement_scope_objects(*, study: Study, draw_version: int | None, stratum_id: int | None
                            ) -> tuple[SampleDraw | None, SampleStratum | None]:
    """The draw (by version) and stratum (by id) an API caller named, or a
    ValidationError naming the one that is not in this study."""
    draw = stratum = None
    if draw_version is not None:
        draw = SampleDraw.objects.filter(study=study, version=draw_version).first()
        if draw is None:
            raise ValidationError({"draw": f"This study has no draw v{draw_version}."})
    if stratum_id is not None:
        stratum = (SampleStratum.objects.filter(draw__study=study, pk=stratum_id).select_related("draw")
                   .first())
        if stratum is None:
            raise ValidationError({"stratum": f"This study has no stratum {stratum_id}."})
    return draw, stratum


@dataclass(frozen=True)
class Coefficient:
    name: str
    title: str
    share: bool  # a proportion (shown in %), not a coefficient
    value: float | None
    low: float | None
    high: float | None
    items: int
    excluded: int
    reason: str
    note: str
    undefined_resamples: int




def agreement_run_coefficients(*, run: AgreementRun) -> list[Coefficient]:
    """The headline figures of a finished run, from its stored result, in the engine's order
    (a stored JSON object keeps no order: PostgreSQL's jsonb and a restored archive sort keys)."""
    order = {name: index for index, name in enumerate(COEFFICIENT_TITLES)}
    estimates = run.result.get("estimates") or {}
    out = []
    for name in sorted(estimates, key=lambda name: (order.get(name, len(order)), name)):
        estimate = estimates[name]
        interval = estimate.get("interval") or {}
        out.append(Coefficient(
            name=name, title=COEFFICIENT_TITLES.get(name, name), share=name in SHARE_COEFFICIENTS,
            value=estimate.get("value"), low=interval.get("low"), high=interval.get("high"),
            items=estimate.get("items", 0), excluded=estimate.get("excluded", 0), reason=estimate.get("reason", ""),
            note=estimate.get("note", ""), undefined_resamples=interval.get("undefined", 0)))
    return out
