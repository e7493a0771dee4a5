"""Estimates over the unsampled posts of a question set: the adjusted shares and their intervals
(coverage checked on synthetic classifier outputs), batches, predictions kept with their model's
taxonomy version, and the downloads."""

import csv
import io

import numpy as np
import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from annotator.jobs.models import Job
from annotator.jobs.runner import job_run
from taxonomy.classifier import services
from taxonomy.classifier.estimate import adjusted_shares, wilson
from taxonomy.classifier.models import ClassifierEstimate, ClassifierModel, ClassifierPrediction
from taxonomy.classifier.services import classifier_estimate_start, classifier_train_start
from taxonomy.tree.services import category_add


def trained(corpus, level="root") -> ClassifierModel:
    model = classifier_train_start(study=corpus["study"], user=corpus["owner"], level=level, seed=3,
                                   params={"folds": 4})
    job_run(job_id=model.job_id)
    return ClassifierModel.objects.get(pk=model.pk)


def run_estimate(corpus, model) -> ClassifierEstimate:
    estimate = classifier_estimate_start(study=corpus["study"], user=corpus["owner"], model=model,
                                         question_set_id=corpus["question_set"].pk, seed=11)
    job_run(job_id=estimate.job_id)
    job = Job.objects.get(pk=estimate.job_id)
    assert job.status == "succeeded", job.error
    return ClassifierEstimate.objects.get(pk=estimate.pk)


def test_the_interval_covers_the_true_share_in_at_least_90_percent_of_repetitions():
    """Synthetic classifier outputs with known TPR/FPR: a validation sample of 300 posts and
    20,000 unsampled posts, true shares 30 % and 8 %."""
    share, tpr, fpr = np.array([0.3, 0.08]), np.array([0.8, 0.7]), np.array([0.1, 0.05])
    covered = np.zeros(2)
    repetitions = 100
    for seed in range(repetitions):
        rng = np.random.default_rng(seed)
        truth = rng.random((300, 2)) < share
        predicted = np.where(truth, rng.random((300, 2)) < tpr, rng.random((300, 2)) < fpr)
        unsampled = rng.random((20_000, 2)) < share
        guessed = np.where(unsampled, rng.random((20_000, 2)) < tpr, rng.random((20_000, 2)) < fpr)
        shares = adjusted_shares(predicted_counts=guessed.sum(axis=0), total=20_000, cv_truth=truth,
                                 cv_predicted=predicted, seed=seed, replicates=300)
        covered += [s.low <= share[j] <= s.high for j, s in enumerate(shares)]
        # the uncorrected share is biased: (0.3·0.8 + 0.7·0.1) = 0.31, (0.08·0.7 + 0.92·0.05) = 0.102
    assert (covered / repetitions >= 0.9).all(), covered


def test_the_correction_removes_the_classifiers_bias():
    rng = np.random.default_rng(1)
    truth = rng.random((2000, 1)) < 0.2
    predicted = np.where(truth, rng.random((2000, 1)) < 0.6, rng.random((2000, 1)) < 0.2)
    [share] = adjusted_shares(predicted_counts=[0.2 * 0.6 * 10_000 + 0.8 * 0.2 * 10_000], total=10_000,
                              cv_truth=truth, cv_predicted=predicted, seed=1, replicates=200)
    assert abs(share.observed - 0.28) < 1e-9 and abs(share.estimate - 0.2) < 0.05 and share.adjusted
    assert share.low < share.estimate < share.high
    [flat] = adjusted_shares(predicted_counts=[50], total=100, cv_truth=truth, cv_predicted=truth & False,
                             seed=1, replicates=50)
    assert not flat.adjusted and flat.estimate == 0.5  # nothing to divide by: the observed share, flagged


def test_wilson_interval():
    low, high = wilson(10, 100)
    assert round(low, 4) == 0.0552 and round(high, 4) == 0.1744
    assert wilson(0, 0) == (0.0, 1.0)


def test_an_estimate_predicts_the_unsampled_posts_in_batches_and_keeps_its_version(corpus, queued, monkeypatch):
    model = trained(corpus)
    monkeypatch.setattr(services, "BATCH", 25)  # 60 posts: three batches
    estimate = run_estimate(corpus, model)
    assert estimate.set_size == 108 and estimate.sampled == 48 and estimate.predicted == 60
    job = Job.objects.get(pk=estimate.job_id)  # progress in posts predicted
    assert job.rows_total == 60 and job.rows_read == 60 and job.percent == 100
    assert ClassifierPrediction.objects.filter(estimate=estimate).count() == 60
    sampled = {item.post_id for item in corpus["coded"]}
    assert not ClassifierPrediction.objects.filter(estimate=estimate, post_id__in=sampled).exists()
    shares = {s["path"]: s for s in estimate.shares}
    assert set(shares) == {"Server", "Mobile", "Browser"}
    for s in shares.values():  # the unsampled posts are a third per root, as is the sample
        assert s["low"] <= s["estimate"] <= s["high"] and abs(s["estimate"] - 1 / 3) < 0.15
        assert s["sample"]["count"] == 16 and s["sample"]["n"] == 48 and s["sample"]["low"] < 1 / 3 < s["sample"]["high"]
        whole = s["whole"]  # 48 coded members (16 in each root) and 60 estimated
        assert whole["posts"] == 108 and whole["coded"] == 48 and s["sample"]["scope"] == "the sampled posts of this set"
        assert abs(whole["estimate"] - (16 + s["estimate"] * 60) / 108) < 1e-9
        assert whole["low"] <= whole["estimate"] <= whole["high"]
    # the tree changes: the model and its estimate say so, and keep their version
    category_add(study=corpus["study"], name="Desktop", actor=corpus["owner"])
    assert ClassifierEstimate.objects.get(pk=estimate.pk).taxonomy_version == model.taxonomy_version


def test_estimate_bad_input(corpus, queued):
    untrained = classifier_train_start(study=corpus["study"], user=corpus["owner"], level="root")
    with pytest.raises(ValidationError, match="not trained"):
        classifier_estimate_start(study=corpus["study"], user=corpus["owner"], model=untrained,
                                  question_set_id=corpus["question_set"].pk)
    job_run(job_id=untrained.job_id)
    model = ClassifierModel.objects.get(pk=untrained.pk)
    with pytest.raises(ValidationError, match="question sets"):
        classifier_estimate_start(study=corpus["study"], user=corpus["owner"], model=model, question_set_id="x")


def test_downloads(corpus, queued, client):
    estimate = run_estimate(corpus, trained(corpus))
    client.force_login(corpus["viewer"])
    response = client.get(f"/studies/cls/classifier/estimates/{estimate.pk}/estimates.csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert len(rows) == 3 and {r["category_path"] for r in rows} == {"Server", "Mobile", "Browser"}
    assert "Rogan & Gladen 1978" in rows[0]["method"] and float(rows[0]["ci95_low"]) <= float(rows[0]["estimated_share"])
    response = client.get(f"/studies/cls/classifier/estimates/{estimate.pk}/predictions.csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert len(rows) == 60 and rows[0]["taxonomy_version"] == "0" and "score Server" in rows[0]
    assert all(r["categories"] for r in rows)


def test_a_cancelled_estimate_keeps_no_predictions(corpus, queued, monkeypatch, client):
    model = trained(corpus)
    estimate = classifier_estimate_start(study=corpus["study"], user=corpus["owner"], model=model,
                                         question_set_id=corpus["question_set"].pk, seed=1)
    monkeypatch.setattr(services, "BATCH", 25)
    write = services.predictions_write

    def write_then_cancel(**kwargs):
        Job.objects.filter(pk=estimate.job_id).update(cancel_requested_at=timezone.now(),
                                                      cancel_requested_by=corpus["owner"])
        return write(**kwargs)

    monkeypatch.setattr(services, "predictions_write", write_then_cancel)
    job_run(job_id=estimate.job_id)
    job = Job.objects.get(pk=estimate.job_id)
    assert job.status == "failed" and "Cancelled" in job.error
    assert not ClassifierPrediction.objects.filter(estimate=estimate).exists()
    assert ClassifierEstimate.objects.get(pk=estimate.pk).finished_at is None
    client.force_login(corpus["owner"])
    assert client.get(f"/studies/cls/classifier/estimates/{estimate.pk}/predictions.csv").status_code == 404
