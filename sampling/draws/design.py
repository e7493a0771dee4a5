"""What an owner asks for when drawing: the strata (question sets, in order),
how each is sized, the sample-size parameters, the pilot share and who rates.

``design_resolve`` checks a design against the study and returns the sets and
raters it names, or raises ``ValidationError`` with a message per field that
a form or an API can show as is. The preview and the draw both use it.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError

from sampling.question_sets.models import QuestionSet

from .models import StratumMode
from .sample_size import ROUNDINGS, SampleSizeInputError, sample_size

MAX_SEED = 2**63 - 1
# A census above this many posts gets a warning with the figure.
LARGE_CENSUS = 10_000


def seed_new() -> int:
    """A fresh seed short enough to read out and type back in."""
    return secrets.randbelow(10**9)


@dataclass(frozen=True)
class StratumChoice:
    question_set_id: int
    mode: str = StratumMode.CALCULATED
    n: int | None = None  # only for an override
    reason: str = ""  # required for an override


@dataclass(frozen=True)
class DrawDesign:
    strata: tuple[StratumChoice, ...]
    confidence: float = 0.95
    margin: float = 0.05
    proportion: float = 0.5
    rounding: str = "ceil"
    seed: int | None = None  # None: a fresh one is chosen and recorded
    pilot_share: float = 0.3
    raters_per_item: int = 2
    rater_ids: tuple[int, ...] | None = None  # None: every rater of the study

    def as_params(self) -> dict:
        return {
            "strata": [{"question_set": s.question_set_id, "mode": s.mode, "n": s.n, "reason": s.reason}
                       for s in self.strata],
            "confidence": self.confidence, "margin": self.margin, "proportion": self.proportion,
            "rounding": self.rounding, "seed": self.seed, "pilot_share": self.pilot_share,
            "raters_per_item": self.raters_per_item, "rater_ids": list(self.rater_ids or []),
        }


@dataclass(frozen=True)
class ResolvedDesign:
    design: DrawDesign
    sets: tuple[QuestionSet, ...]  # in stratum order
    raters: tuple = field(default=())  # users, ordered by username


def study_raters(*, study) -> list:
    User = get_user_model()
    return list(User.objects.filter(memberships__study=study, memberships__is_rater=True).order_by("username"))


def assignment_errors(*, raters_per_item: int, pilot_share: float, rater_count: int) -> dict[str, str]:
    errors = {}
    if not 0 <= pilot_share <= 1:
        errors["pilot_share"] = "The pilot share must be between 0 and 1 (0.3 sets 30 % aside for the pilot)."
    if raters_per_item < 1:
        errors["raters_per_item"] = "Each reliability item needs at least one rater."
    elif pilot_share < 1 and raters_per_item > rater_count:
        errors["raters_per_item"] = (
            f"Each reliability item should go to {raters_per_item} raters but "
            f"{'only ' + str(rater_count) if rater_count else 'no'} rater{'' if rater_count == 1 else 's'} "
            "will rate: add raters under Members, or lower the raters per item."
        )
    return errors


def design_resolve(*, study, design: DrawDesign) -> ResolvedDesign:
    errors: dict[str, list[str]] = {}

    def add(name: str, message: str) -> None:
        errors.setdefault(name, []).append(message)

    try:
        sample_size(population=1000, confidence=design.confidence, margin=design.margin,
                    proportion=design.proportion, rounding=design.rounding)
    except SampleSizeInputError as exc:
        add(exc.field if exc.field in ("confidence", "margin", "proportion", "rounding") else "__all__", str(exc))
    if design.rounding not in ROUNDINGS and "rounding" not in errors:
        add("rounding", f"Rounding must be one of {', '.join(ROUNDINGS)}.")
    if design.seed is not None and not (0 <= design.seed <= MAX_SEED):
        add("seed", "The seed must be a whole number from 0 to 9,223,372,036,854,775,807.")

    if not design.strata:
        add("strata", "Choose at least one question set as a stratum.")
    ids = [s.question_set_id for s in design.strata]
    if len(set(ids)) != len(ids):
        add("strata", "A question set can be one stratum only once.")
    by_id = {qs.pk: qs for qs in QuestionSet.objects.filter(study=study, pk__in=ids)}
    for choice in design.strata:
        qs = by_id.get(choice.question_set_id)
        if qs is None:
            add("strata", f"No question set {choice.question_set_id} in this study.")
            continue
        if choice.mode not in StratumMode.values:
            add("strata", f"“{qs.name}”: the size must be one of {', '.join(StratumMode.values)}.")
        if qs.member_count is None:
            add("strata", f"“{qs.name}” has not been evaluated yet: evaluate it first.")
        elif qs.member_count == 0:
            add("strata", f"“{qs.name}” is empty: there is nothing to draw from it.")
        if choice.mode == StratumMode.OVERRIDE:
            if choice.n is None or choice.n < 1:
                add("strata", f"“{qs.name}”: give the n you want (at least 1).")
            elif qs.member_count is not None and choice.n > qs.member_count:
                add("strata", f"“{qs.name}”: n = {choice.n:,} is larger than the set's {qs.member_count:,} "
                              "posts; take a census instead.")
            if not choice.reason.strip():
                add("strata", f"“{qs.name}”: say why n is set by hand (the reason is kept with the draw).")

    raters = study_raters(study=study)
    if design.rater_ids is not None:
        chosen = set(design.rater_ids)
        unknown = chosen - {u.pk for u in raters}
        if unknown:
            add("rater_ids", "Only raters of this study can be assigned items "
                             f"(not user{'s' if len(unknown) > 1 else ''} {', '.join(map(str, sorted(unknown)))}).")
        raters = [u for u in raters if u.pk in chosen]
    for name, message in assignment_errors(raters_per_item=design.raters_per_item, pilot_share=design.pilot_share,
                                           rater_count=len(raters)).items():
        add(name, message)
    if errors:
        raise ValidationError(errors)
    return ResolvedDesign(design=design, sets=tuple(by_id[i] for i in ids), raters=tuple(raters))

