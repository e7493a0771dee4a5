"""Train a classifier on the final labels and estimate category shares over a question set.

Both run as jobs (``classifier_train``, ``classifier_estimate``): the start services check what
is asked and refuse bad input at once (a ValidationError with the count needed), then queue the
job; the job services do the work with progress, and stop at the next progress report when
cancelled. Methods: taxonomy/classifier/features.py, training.py and estimate.py.
"""

from __future__ import annotations

import io
import random
from collections.abc import Iterator

import joblib
import numpy as np
from django.core.exceptions import ValidationError
from django.db import reset_queries, transaction
from django.utils import timezone

from annotator.corpus.models import Post
from annotator.jobs.models import Job, JobKind, JobStatus
from annotator.jobs.services import (
    ProgressReporter,
    job_create,
    job_fail,
    job_progress,
    job_succeed,
)
from annotator.studies.models import Study
from sampling.draws.models import SampleItem
from sampling.draws.sight import sight_for
from sampling.question_sets.models import QuestionSet, QuestionSetMember
from taxonomy.tree.paths import INNER, LEAF, PATH_SEPARATOR, ROOT

from . import estimate as estimating
from .features import (
    DEFAULT_PARAMS,
    documents_matrix,
    pipeline_build,
    pipeline_scores,
    post_documents,
    scores_decide,
)
from .models import ClassifierEstimate, ClassifierModel, ClassifierPrediction
from .selectors import TrainingData, training_data
from .training import cross_validate

BATCH = 5000
MAX_KEYWORDS = 200


def params_clean(params: dict | None) -> dict:
    """DEFAULT_PARAMS completed by ``params``: unknown names and bad values refused."""
    params = dict(params or {})
    unknown = sorted(set(params) - set(DEFAULT_PARAMS))
    if unknown:
        raise ValidationError({"params": f"Unknown parameter(s): {', '.join(unknown)}."})
    out = dict(DEFAULT_PARAMS)
    for name, value in params.items():
        default = DEFAULT_PARAMS[name]
        try:
            if isinstance(default, bool):
                value = value if isinstance(value, bool) else str(value).lower() in ("1", "true", "on", "yes")
            elif isinstance(default, int):
                value = int(value)
            elif isinstance(default, float):
                value = float(value)
            elif default is None or isinstance(default, str):
                value = None if value in ("", None, "none") else str(value)
        except (TypeError, ValueError):
            raise ValidationError({"params": f"{name}: not a valid value ({value!r})."}) from None
        out[name] = value
    if not 2 <= out["folds"] <= 20:
        raise ValidationError({"params": "folds: between 2 and 20."})
    if out["C"] <= 0 or not 0 < out["threshold"] < 1 or out["keyword_weight"] < 0:
        raise ValidationError({"params": "C must be positive, threshold between 0 and 1, keyword_weight ≥ 0."})
    if out["class_weight"] not in (None, "balanced"):
        raise ValidationError({"params": "class_weight: balanced or none."})
    if out["min_df"] < 1 or out["word_ngram_max"] < 1 or not 1 <= out["char_ngram_min"] <= out["char_ngram_max"]:
        raise ValidationError({"params": "min_df ≥ 1, word_ngram_max ≥ 1, 1 ≤ char_ngram_min ≤ char_ngram_max."})
    return out


def keywords_clean(keywords, data: TrainingData) -> dict[str, list[str]]:
    """{category id (text): [words]} for the categories the model will predict. Accepts a dict of
    id → list or text (comma- or line-separated)."""
    if not keywords:
        return {}
    if not isinstance(keywords, dict):
        raise ValidationError({"keywords": "A mapping of category id to a keyword list."})
    known = {str(c["id"]): c["path"] for c in data.categories}
    names = {}  # a category may be named by its path or, when unambiguous, its own name
    for c in data.categories:
        names[c["path"].lower()] = str(c["id"])
        names.setdefault(c["path"].rsplit(PATH_SEPARATOR, 1)[-1].lower(), str(c["id"]))
    out = {}
    for key, words in keywords.items():
        key = str(key) if str(key) in known else names.get(str(key).strip().lower(), str(key))
        if isinstance(words, str):
            words = [w for line in words.splitlines() for w in line.split(",")]
        words = [str(w).strip() for w in words if str(w).strip()]
        if not words:
            continue
        if str(key) not in known:
            raise ValidationError({"keywords": f"“{key}” is not a category the model predicts at this level."})
        if len(words) > MAX_KEYWORDS:
            raise ValidationError({"keywords": f"At most {MAX_KEYWORDS} keywords per category."})
        out[str(key)] = words
    return out


def _training_data_checked(*, study: Study, user, level: str, folds: int) -> TrainingData:
    data = training_data(study=study, sight=sight_for(study=study, user=user), level=level, folds=folds)
    if data.problems:
        raise ValidationError({"level": data.problems})
    return data


@transaction.atomic
def classifier_train_start(*, study: Study, user, level: str, params: dict | None = None,
                           keywords: dict | None = None, seed: int | None = None) -> ClassifierModel:
    """Check the training data (at least two categories and enough labelled posts, or a
    ValidationError saying how many are needed), then record the model and queue its training."""
    if level not in (ROOT, INNER, LEAF):
        raise ValidationError({"level": f"Unknown level “{level}”: one of root, inner, leaf."})
    params = params_clean(params)
    data = _training_data_checked(study=study, user=user, level=level, folds=params["folds"])
    keywords = keywords_clean(keywords, data)
    seed = int(seed) if seed not in (None, "") else random.SystemRandom().randrange(2**31)
    model = ClassifierModel.objects.create(study=study, level=level, seed=seed, params=params, keywords=keywords,
                                           taxonomy_version=data.version, created_by=user)
    model.job = job_create(study=study, kind=JobKind.CLASSIFIER_TRAIN, params={"model": model.pk}, seed=seed,
                           created_by=user)
    model.save(update_fields=["job"])
    return model


def posts_documents(post_ids: list[int]) -> np.ndarray:
    """The documents matrix of these posts, in this order."""
    found = {}
    for start in range(0, len(post_ids), BATCH):
        for pk, title, body, tags in Post.objects.filter(pk__in=post_ids[start:start + BATCH]).values_list(
                "pk", "title", "body", "tags"):
            found[pk] = post_documents(title, body, tags)
    return documents_matrix([found[pk] for pk in post_ids])


def _pipeline_dump(pipeline) -> bytes:
    buffer = io.BytesIO()
    joblib.dump(pipeline, buffer, compress=3)
    return buffer.getvalue()


def pipeline_load(model: ClassifierModel):
    return joblib.load(io.BytesIO(bytes(model.pipeline)))


def classifier_train_execute(*, job: Job) -> None:
    model = ClassifierModel.objects.filter(pk=job.params.get("model")).first()
    if model is None:
        job_fail(job=job, error="The model to train is gone.")
        return
    job_progress(job=job, phase="reading the final labels")
    try:
        data = _training_data_checked(study=job.study, user=job.created_by, level=model.level,
                                      folds=model.params["folds"])
    except ValidationError as exc:
        job_fail(job=job, error=" ".join(exc.messages))
        return
    category_ids = [c["id"] for c in data.categories]
    keywords = [model.keywords.get(str(c), []) for c in category_ids]
    labels = np.zeros((len(data.posts), len(category_ids)), dtype=bool)
    column = {c: j for j, c in enumerate(category_ids)}
    for i, cats in enumerate(data.labels):
        labels[i, [column[c] for c in cats]] = True
    job_progress(job=job, phase="reading the posts", rows_total=model.params["folds"] + 1)
    matrix = posts_documents(data.posts)

    def fold_done(done: int, total: int) -> None:
        job_progress(job=job, phase=f"cross-validation: fold {done} of {total} done", rows_read=done)

    report = cross_validate(matrix=matrix, labels=labels, params=model.params, keywords=keywords, seed=model.seed,
                            progress=fold_done)
    job_progress(job=job, phase="fitting the model on every labelled post")
    pipeline = pipeline_build(params=model.params, keywords=keywords, seed=model.seed)
    pipeline.fit(matrix, labels.astype(int))
    report["baseline_keywords"] = "user's lists" if all(keywords) else (
        "user's lists where given, else the top terms learnt per category in each training fold")
    model.categories, model.too_few, model.excluded = data.categories, data.too_few, data.excluded
    model.training_items = [[post, cats] for post, cats in zip(data.posts, data.labels)]
    model.taxonomy_version = data.version
    model.cv_report = report
    model.pipeline = _pipeline_dump(pipeline)
    model.trained_at = timezone.now()
    job_progress(job=job, phase="saving the model", rows_read=model.params["folds"] + 1)
    with transaction.atomic():
        model.save()
        job_succeed(job=job, result={"model": model.pk, "posts": len(data.posts),
                                     "macro_f1": report["model"]["macro"]["f1"]["mean"]})


# -- estimates -------------------------------------------------------------------------------


def unsampled_members(*, question_set: QuestionSet):
    """The set's members drawn in no sample of the study (what an estimate predicts)."""
    sampled = SampleItem.objects.filter(draw__study_id=question_set.study_id).values("post_id")
    return QuestionSetMember.objects.filter(question_set=question_set).exclude(post_id__in=sampled)


@transaction.atomic
def classifier_estimate_start(*, study: Study, user, model: ClassifierModel, question_set_id,
                              seed: int | None = None) -> ClassifierEstimate:
    if not model.is_trained:
        raise ValidationError({"model": "This model is not trained (yet): estimate with a trained one."})
    question_set = QuestionSet.objects.filter(study=study, pk=int(question_set_id) if str(
        question_set_id).isdigit() else 0).first()
    if question_set is None:
        raise ValidationError({"question_set": "Choose one of the study's question sets."})
    if question_set.evaluated_at is None:
        raise ValidationError({"question_set": f"The set “{question_set.name}” is not evaluated yet."})
    seed = int(seed) if seed not in (None, "") else random.SystemRandom().randrange(2**31)
    estimate = ClassifierEstimate.objects.create(
        study=study, model=model, question_set=question_set, question_set_name=question_set.name, seed=seed,
        taxonomy_version=model.taxonomy_version, created_by=user, method=estimating.METHOD)
    estimate.job = job_create(study=study, kind=JobKind.CLASSIFIER_ESTIMATE, params={"estimate": estimate.pk},
                              seed=seed, created_by=user)
    estimate.save(update_fields=["job"])
    return estimate


def _member_batches(*, question_set: QuestionSet, batch: int = BATCH) -> Iterator[list[tuple]]:
    """(post id, title, body, tags) of the unsampled members, ``batch`` at a time, in post order
    (keyset pagination: constant memory, no long-held cursor)."""
    members = unsampled_members(question_set=question_set)
    last = 0
    while True:
        rows = list(members.filter(post_id__gt=last).order_by("post_id")
                    .values_list("post_id", "post__title", "post__body", "post__tags")[:batch])
        if not rows:
            return
        yield rows
        last = rows[-1][0]


def predictions_write(*, estimate: ClassifierEstimate, pipeline, threshold: float, category_ids: list[int],
                      rows: list[tuple]) -> np.ndarray:
    """Predict one batch, store its predictions; the batch's decisions (boolean n×k)."""
    matrix = documents_matrix([post_documents(title, body, tags) for _, title, body, tags in rows])
    scores = pipeline_scores(pipeline, matrix)
    decided = scores_decide(scores, threshold)
    ClassifierPrediction.objects.bulk_create(
        (ClassifierPrediction(estimate=estimate, post_id=row[0],
                              category_ids=[category_ids[j] for j in np.flatnonzero(decided[i])],
                              scores=[round(float(s), 4) for s in scores[i]]) for i, row in enumerate(rows)),
        batch_size=1000)
    return decided


def sample_shares(*, model: ClassifierModel, data: TrainingData, question_set: QuestionSet) -> tuple[list[dict], str]:
    """The hand-coded sample's share of each of the model's categories (at its level), Wilson
    interval: over the set's sampled members with a category at that level, or, when the set holds
    none, over the study's whole sample (the scope is returned with the shares)."""
    in_set = set(QuestionSetMember.objects.filter(question_set=question_set, post_id__in=list(
        data.post_categories)).values_list("post_id", flat=True))
    scope = "the sampled posts of this set" if in_set else "the study's whole sample (none of this set's)"
    posts = in_set or set(data.post_categories)
    out = []
    for category in model.categories:
        count = sum(1 for post in posts if category["id"] in data.post_categories[post])
        low, high = estimating.wilson(count, len(posts))
        out.append({"count": count, "n": len(posts), "in_set": bool(in_set),
                    "share": count / len(posts) if posts else None, "low": low, "high": high})
    return out, scope


def classifier_estimate_execute(*, job: Job) -> None:
    estimate = ClassifierEstimate.objects.filter(pk=job.params.get("estimate")).select_related("model").first()
    if estimate is None or estimate.question_set_id is None:
        job_fail(job=job, error="The estimate's model or question set is gone.")
        return
    model = ClassifierModel.objects.get(pk=estimate.model_id)
    question_set = QuestionSet.objects.get(pk=estimate.question_set_id)
    job_progress(job=job, phase="loading the model")
    pipeline = pipeline_load(model)
    category_ids = [c["id"] for c in model.categories]
    members = QuestionSetMember.objects.filter(question_set=question_set)
    total = unsampled_members(question_set=question_set).count()
    set_size = members.count()
    estimate.predictions.all().delete()  # a job run again starts afresh
    job_progress(job=job, phase="predicting the unsampled posts", rows_total=total, rows_read=0)
    report = ProgressReporter(lambda **fields: job_progress(job=job, **fields))
    counts = np.zeros(len(category_ids), dtype=np.int64)
    done = 0
    for rows in _member_batches(question_set=question_set):
        decided = predictions_write(estimate=estimate, pipeline=pipeline, threshold=model.params["threshold"],
                                    category_ids=category_ids, rows=rows)
        counts += decided.sum(axis=0)
        done += len(rows)
        report(rows_read=done)
        reset_queries()  # with DEBUG on, Django keeps every statement: memory would grow with the set
    job_progress(job=job, phase="estimating the shares", rows_read=done)
    estimate.shares = shares_compute(model=model, counts=counts, total=done, seed=estimate.seed,
                                     user=job.created_by, question_set=question_set)
    estimate.set_size, estimate.sampled, estimate.predicted = set_size, set_size - done, done
    estimate.finished_at = timezone.now()
    with transaction.atomic():
        estimate.save()
        job_succeed(job=job, result={"estimate": estimate.pk, "predicted": done})


def classifier_estimate_ended(*, job: Job) -> None:
    """An estimate job that did not succeed (an error, a cancel, a worker that stopped) keeps no
    predictions: half an estimate is never offered for download."""
    if job.status != JobStatus.SUCCEEDED and job.params.get("estimate"):
        ClassifierPrediction.objects.filter(estimate_id=job.params["estimate"]).delete()


def shares_compute(*, model: ClassifierModel, counts, total: int, seed: int, user,
                   question_set: QuestionSet) -> list[dict]:
    """Per category: the model's raw share of the unsampled posts, the adjusted estimate with its
    bootstrap interval, the hand-coded sample's share with its Wilson interval, and the whole set's
    share: the sampled members' own final labels (known, no error) plus the unsampled estimate,
    weighted by their numbers (the interval follows the unsampled part's)."""
    column = {c["id"]: j for j, c in enumerate(model.categories)}
    truth = np.zeros((len(model.training_items), len(column)), dtype=bool)
    for i, (_, cats) in enumerate(model.training_items):
        truth[i, [column[c] for c in cats if c in column]] = True
    predicted = np.zeros_like(truth)
    for i, indexes in enumerate(model.cv_report.get("out_of_fold", [])):
        predicted[i, indexes] = True
    adjusted = estimating.adjusted_shares(predicted_counts=np.asarray(counts), total=total, cv_truth=truth,
                                          cv_predicted=predicted, seed=seed)
    data = training_data(study=model.study, sight=sight_for(study=model.study, user=user), level=model.level,
                         folds=model.params["folds"])
    sample, scope = sample_shares(model=model, data=data, question_set=question_set)
    out = []
    for j, (category, a) in enumerate(zip(model.categories, adjusted)):
        coded = sample[j]["n"] if sample[j]["in_set"] else 0
        known = sample[j]["count"] if sample[j]["in_set"] else 0
        whole_n = coded + total
        whole = [(known + share * total) / whole_n if whole_n else None for share in (a.estimate, a.low, a.high)]
        out.append({"id": category["id"], "path": category["path"], "predicted": int(counts[j]),
                    "observed": a.observed, "estimate": a.estimate, "low": a.low, "high": a.high,
                    "tpr": a.tpr, "fpr": a.fpr, "adjusted": a.adjusted, "sample": {**sample[j], "scope": scope},
                    "whole": {"posts": whole_n, "coded": coded, "estimate": whole[0], "low": whole[1],
                              "high": whole[2]}})
    return out
