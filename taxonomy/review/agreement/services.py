"""Writes for agreement: start a run (a background job) and compute it.

The job reads the scope's submitted reliability labels, hands the triples to
the pure engine (``statistics.py``), and stores the report together with the
taxonomy version and the category names of that moment, in one atomic write:
a run is either finished with its figures or not finished.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from annotator.jobs.models import Job, JobKind, JobStatus
from annotator.jobs.services import job_create, job_fail, job_progress, job_succeed
from annotator.studies.models import Study
from sampling.draws.design import seed_new
from sampling.draws.models import DrawStatus, SampleDraw, SampleStratum
from taxonomy.tree.selectors import taxonomy_version

from .models import AgreementRun, AgreementScope, RunStatus
from .selectors import (
    SPECIAL_KINDS,
    ScopeLabels,
    agreement_label_names,
    agreement_labelling_draws,
    agreement_scope_check_visible,
    agreement_scope_labels,
)
from .statistics import (
    AgreementReport,
    PairConfusion,
    RatingTable,
    agreement_report,
    pairwise_confusion,
)

DEFAULT_RESAMPLES = 1000
MAX_RESAMPLES = 10_000
DEFAULT_CONFIDENCE = 0.95
MAX_SEED = 2**63 - 1


def agreement_parameters_check(*, resamples: int, seed: int | None, confidence: float) -> dict[str, Any]:
    errors = {}
    if not 0 <= resamples <= MAX_RESAMPLES:
        errors["resamples"] = f"Resamples must be between 0 (no interval) and {MAX_RESAMPLES:,}."
    if seed is not None and not 0 <= seed <= MAX_SEED:
        errors["seed"] = "The seed must be a whole number ≥ 0."
    if not 0.5 <= confidence < 1:
        errors["confidence"] = "The confidence level must be at least 0.5 and below 1 (e.g. 0.95)."
    if errors:
        raise ValidationError(errors)
    return {"resamples": resamples, "seed": seed if seed is not None else seed_new(), "confidence": confidence}


def _scope_check(*, study: Study, scope: str, draw: SampleDraw | None, stratum: SampleStratum | None
                 ) -> tuple[SampleDraw | None, SampleStratum | None]:
    if scope not in AgreementScope.values:
        raise ValidationError({"scope": f"Unknown scope {scope!r}: use draw, stratum or study."})
    if scope == AgreementScope.STUDY:
        if not agreement_labelling_draws(study=study):
            raise ValidationError({"scope": "No draw of this study is in labelling: there are no labels to compare."})
        return None, None
    if scope == AgreementScope.STRATUM:
        if stratum is None:
            raise ValidationError({"stratum": "Choose the stratum."})
        if draw is not None and stratum.draw_id != draw.pk:
            raise ValidationError({"stratum": f"“{stratum.name}” is not a stratum of draw v{draw.version}."})
        draw = stratum.draw
    elif draw is None:
        raise ValidationError({"draw": "Choose the draw."})
    if draw.study_id != study.pk:
        raise ValidationError({"draw": "That draw is not in this study."})
    if draw.status != DrawStatus.LABELLING:
        raise ValidationError({"draw": f"Labelling has not started on draw v{draw.version}: "
                                       "there are no reliability labels to compare."})
    return draw, stratum if scope == AgreementScope.STRATUM else None


@transaction.atomic
def agreement_run_start(*, study: Study, scope: str, draw: SampleDraw | None = None,
                        stratum: SampleStratum | None = None, resamples: int = DEFAULT_RESAMPLES,
                        seed: int | None = None, confidence: float = DEFAULT_CONFIDENCE, user=None) -> AgreementRun:
    """Record the run and queue its job (after commit). A seed left out is
    drawn fresh and recorded, so that every interval can be reproduced."""
    draw, stratum = _scope_check(study=study, scope=scope, draw=draw, stratum=stratum)
    agreement_scope_check_visible(study=study, user=user, draw=draw)
    parameters = agreement_parameters_check(resamples=resamples, seed=seed, confidence=confidence)
    run = AgreementRun.objects.create(study=study, scope=scope, draw=draw, stratum=stratum, parameters=parameters,
                                      created_by=user)
    run.job = job_create(study=study, kind=JobKind.AGREEMENT, created_by=user, seed=parameters["seed"],
                         params={"run": run.pk, "scope": scope, "draw": draw.version if draw else None,
                                 "stratum": stratum.name if stratum else None, **parameters})
    run.save(update_fields=["job"])
    return run


# -- the job ------------------------------------------------------------------------------


def agreement_run_job_execute(*, job: Job) -> AgreementRun | None:
    run = AgreementRun.objects.filter(pk=job.params.get("run"), study=job.study).select_related("study").first()
    if run is None:
        job_fail(job=job, error="The agreement run was deleted before it was computed.")
        return None
    started = time.monotonic()
    run = agreement_run_compute(run=run, job=job)  # a failure is recorded by the runner, the run follows
    # Only the run's id: /api/jobs/ answers every member of the study, and counts of labels must not reach
    # a rater during labelling (the figures are behind agreement_access).
    job_succeed(job=job, result={"run": run.pk, "seconds": round(time.monotonic() - started, 3)})
    return run


def agreement_run_job_ended(*, job: Job) -> None:
    """A run follows its job: one whose job ended without success (an error, a
    cancel, a worker that stopped) fails with the job's reason."""
    if job.status == JobStatus.SUCCEEDED:
        return
    AgreementRun.objects.filter(job=job).exclude(status__in=[RunStatus.DONE, RunStatus.FAILED]).update(
        status=RunStatus.FAILED, finished_at=timezone.now(), error=job.error)


def _progress(job: Job | None, **fields) -> None:
    if job is not None:
        job_progress(job=job, **fields)


def agreement_run_compute(*, run: AgreementRun, job: Job | None = None) -> AgreementRun:
    """Read the labels, compute, store. A run that has already finished is
    left as it is (a job delivered twice computes once)."""
    if run.is_finished:
        return run
    AgreementRun.objects.filter(pk=run.pk, status=RunStatus.QUEUED).update(status=RunStatus.RUNNING)
    _progress(job, phase="reading the labels", rows_total=3, rows_read=0)
    version = taxonomy_version(study=run.study)
    data = agreement_scope_labels(study=run.study, scope=run.scope, draw=run.draw, stratum=run.stratum)
    keys = sorted({str(label) for _, _, label in data.triples})
    names = agreement_label_names(study=run.study, keys=keys)
    message = _no_coefficient_message(data)
    result: dict[str, Any] = {}
    if not message:
        resamples = run.resamples
        _progress(job, phase=f"computing the coefficients and {resamples:,} bootstrap resamples", rows_read=1)
        table = RatingTable.from_triples(data.triples)
        report = agreement_report(table=table, resamples=resamples, seed=int(run.seed or 0), level=run.confidence)
        result = agreement_result(report=report, names=names)
        result["confusion_matrix"] = agreement_confusion_matrix(pairs=pairwise_confusion(table=table), names=names)
    result["rater_summary"] = _rater_summary(data, names)
    result["input"] = {"labels_read": data.labels_read, "empty_labels": data.empty_labels,
                       "triples": len(data.triples)}
    _progress(job, phase="storing the result", rows_read=2)
    with transaction.atomic():
        locked = AgreementRun.objects.select_for_update().get(pk=run.pk)
        if locked.is_finished:
            return locked
        locked.status, locked.finished_at, locked.message = RunStatus.DONE, timezone.now(), message
        locked.taxonomy_version, locked.label_names = version, names
        locked.draws = [{"id": d.pk, "version": d.version} for d in data.draws]
        locked.items, locked.items_in_scope, locked.items_unlabelled = (
            data.items_labelled, data.items_in_scope, data.items_unlabelled)
        locked.raters, locked.labels, locked.result = len(data.raters), len(keys), result
        locked.save()
    return locked


def _no_coefficient_message(data: ScopeLabels) -> str:
    """Why no coefficient can be computed, or "" when they can."""
    if not data.triples:
        return ("No reliability label has been submitted in this scope yet: there is nothing to compare. "
                f"({data.items_in_scope:,} reliability items wait for labels.)")
    raters = data.raters
    if len(raters) == 1:
        return (f"Only one rater ({raters[0]}) has submitted labels in this scope: agreement needs the labels of "
                "at least two raters on the same items. No coefficient is computed; start a new run when "
                "another rater has labelled.")
    items = Counter(item for answers in data.answers.values() for item in answers)
    if not any(count >= 2 for count in items.values()):
        return (f"{len(raters)} raters have submitted labels, but no item has labels from two of them yet "
                f"({len(items):,} items labelled once): no coefficient can be computed.")
    return ""


def _rater_summary(data: ScopeLabels, names: dict[str, str]) -> list[dict[str, Any]]:
    """Per rater: items labelled, distinct answers, and a note for one who gave
    every item the same answer (their κ is then 0 or undefined, never NaN)."""
    out = []
    for rater in data.raters:
        answers = data.answers[rater]
        distinct = Counter(answers.values())
        row = {"rater": rater, "items": len(answers), "distinct_answers": len(distinct), "note": ""}
        if len(distinct) == 1 and len(answers) > 1:
            (only,) = distinct
            label = " + ".join(sorted(names.get(str(v), str(v)) for v in only))
            row["note"] = (f"gave every one of their {len(answers):,} items the same answer ({label}). Such a rater "
                           "carries no information beyond chance: Cohen's κ does not apply (0 by construction when "
                           "the other rater varies, 0/0 when every answer of both raters is the same).")
        out.append(row)
    return out


def agreement_result(*, report: AgreementReport, names: dict[str, str]) -> dict[str, Any]:
    """The engine's report as stored JSON, with names beside every label and
    the confusion as a ranked list of category pairs."""
    result = report.as_dict()

    def named(label) -> dict[str, Any]:
        key = str(label)
        return {"key": key, "name": names.get(key, key), "special": key in SPECIAL_KINDS}

    rows = []
    pairs: dict[tuple[str, str], int] = {}
    for row in result["per_category"]:
        label = named(row["label"])
        confused = [{**named(c["label"]), "count": c["count"]} for c in row["confused_with"]]
        rows.append({**row, **label, "confused_with": confused})
        for other in confused:
            pair = tuple(sorted((label["key"], other["key"])))
            pairs[pair] = other["count"]  # symmetric: both rows carry the same count
    result["per_category"] = rows
    result["confusion"] = [{"a": named(a), "b": named(b), "count": count}
                           for (a, b), count in sorted(pairs.items(), key=lambda p: (-p[1], p[0]))]
    return result


def agreement_confusion_matrix(*, pairs: tuple[PairConfusion, ...], names: dict[str, str]) -> dict[str, Any]:
    """The pairwise confusion matrices as stored JSON: ``sets`` lists every label set used
    (its keys, its name, whether it holds a verdict such as Unclear), categories by name and
    verdicts last; each pair's ``cells`` are ``[row, column, items]`` indexes into ``sets``,
    the row being rater ``a``'s answer and the column rater ``b``'s."""
    used = {tuple(str(label) for label in labels) for pair in pairs for cell in pair.cells for labels in cell[:2]}

    def name(keys: tuple[str, ...]) -> str:
        return " + ".join(sorted(names.get(key, key) for key in keys))

    ordered = sorted(used, key=lambda keys: (any(k in SPECIAL_KINDS for k in keys), name(keys).casefold(), keys))
    index = {keys: i for i, keys in enumerate(ordered)}

    def at(labels) -> int:
        return index[tuple(str(label) for label in labels)]

    return {
        "sets": [{"keys": list(keys), "name": name(keys), "special": any(k in SPECIAL_KINDS for k in keys)}
                 for keys in ordered],
        "pairs": [{"a": str(pair.a), "b": str(pair.b), "items": pair.items, "agreed": pair.agreed,
                   "cells": sorted([at(row), at(column), count] for row, column, count in pair.cells)}
                  for pair in pairs],
    }
