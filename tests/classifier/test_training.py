"""Training a classifier on final labels: the training data, cross-validated figures that are high
where the words say the category and near chance where the labels are shuffled, and bad input."""

import random

import numpy as np
import pytest
from django.core.exceptions import ValidationError

from annotator.jobs.models import Job
from annotator.jobs.runner import job_run
from sampling.draws.sight import sight_for
from taxonomy.classifier.features import body_split, post_documents
from taxonomy.classifier.models import ClassifierModel
from taxonomy.classifier.selectors import training_data
from taxonomy.classifier.services import classifier_train_start, pipeline_load
from taxonomy.review.arbitration.models import FinalLabel, FinalLabelCategory
from taxonomy.tree.models import Category


def train(corpus, *, level="leaf", queued=None, **kwargs) -> ClassifierModel:
    model = classifier_train_start(study=corpus["study"], user=corpus["owner"], level=level, seed=3, **kwargs)
    job_run(job_id=model.job_id)
    job = Job.objects.get(pk=model.job_id)
    assert job.status == "succeeded", job.error
    return ClassifierModel.objects.get(pk=model.pk)


def test_code_is_split_out_of_the_text():
    text, code = body_split("<p>Use <code>tf.lite.TFLiteConverter</code> here.</p><pre><code>x = 1\n"
                            "</code></pre><p>then it fails</p>")
    assert text == "Use here. then it fails" and "tf.lite.TFLiteConverter" in code and "x = 1" in code
    documents = post_documents("Title", "<p>only prose</p>", "|a|b|")
    assert documents.text == "Title\nonly prose" and documents.code == "__nocode__" and documents.tags == "a b"


def test_training_data_maps_final_labels_to_the_level_and_says_what_it_leaves_out(corpus):
    sight = sight_for(study=corpus["study"], user=corpus["owner"])
    leaf = training_data(study=corpus["study"], sight=sight, level="leaf")
    assert len(leaf.categories) == 6 and len(leaf.posts) == 48 and not leaf.problems
    root = training_data(study=corpus["study"], sight=sight, level="root")
    assert [c["path"] for c in root.categories] == ["Server", "Mobile", "Browser"]
    assert all(c["posts"] == 16 for c in root.categories)
    inner = training_data(study=corpus["study"], sight=sight, level="inner")
    assert len(inner.categories) == 6  # a two-level tree: one below the root is the leaf
    FinalLabel.objects.filter(item=corpus["coded"][0]).update(kind="false_positive")
    FinalLabelCategory.objects.filter(final__item=corpus["coded"][0]).delete()
    again = training_data(study=corpus["study"], sight=sight, level="leaf")
    assert again.excluded["false_positive"] == 1 and len(again.posts) == 47


def test_a_model_records_everything_and_its_figures_are_high_on_words_that_say_the_category(corpus, queued):
    model = train(corpus, params={"folds": 4}, keywords={str(corpus["leaves"]["Quantization"].pk): "int8, tflite"})
    assert model.seed == 3 and model.level == "leaf" and model.params["folds"] == 4 and model.params["C"] == 4.0
    assert model.taxonomy_version == 0 and len(model.training_items) == 48
    assert model.keywords == {str(corpus["leaves"]["Quantization"].pk): ["int8", "tflite"]}
    job = Job.objects.get(pk=model.job_id)  # progress: one step per fold, then the final fit
    assert job.rows_total == 5 and job.rows_read == 5 and job.result["model"] == model.pk
    report = model.cv_report
    assert report["folds"] == 4 and sum(report["fold_sizes"]) == 48
    assert report["stratified_on"] == "label combination"
    assert report["model"]["macro"]["f1"]["mean"] > 0.8 and report["model"]["micro"]["f1"]["min"] > 0.7
    assert len(report["model"]["per_category"]) == 6 and len(report["confusion_matrix"]) == 6
    assert sum(report["confusion"]["tp"]) + sum(report["confusion"]["fn"]) == 48
    assert 0 <= report["baseline"]["macro"]["f1"]["mean"] <= 1
    pipeline = pipeline_load(model)
    assert pipeline.predict_proba(np.array([["docker container port", "__nocode__", "tensorflow",
                                             "docker container port"]], dtype=object)).shape == (1, 6)


def test_shuffled_labels_fall_to_chance(corpus, queued):
    categories = list(corpus["leaves"].values())
    links = list(FinalLabelCategory.objects.filter(final__item__in=corpus["coded"]).order_by("pk"))
    shuffled = [link.category for link in links]
    random.Random(5).shuffle(shuffled)
    for link, category in zip(links, shuffled):
        link.category = category
    FinalLabelCategory.objects.bulk_update(links, ["category"])
    model = train(corpus, params={"folds": 4})
    macro = model.cv_report["model"]["macro"]["f1"]["mean"]
    chance = 1 / len(categories)
    assert macro < 0.4 and abs(macro - chance) < 0.2, macro


def test_too_few_categories_or_posts_is_refused_with_the_count_needed(corpus, queued):
    # one category with one example: listed with the count needed, never silently dropped
    quant = corpus["leaves"]["Quantization"]
    links = FinalLabelCategory.objects.filter(category=quant).order_by("pk")
    FinalLabelCategory.objects.filter(pk__in=[link.pk for link in links[1:]]).update(
        category=corpus["leaves"]["Android build"])
    model = train(corpus, params={"folds": 4})
    assert [c["path"] for c in model.too_few] == ["Mobile › Quantization"]
    assert model.too_few[0]["posts"] == 1 and model.too_few[0]["needed"] == 4
    assert len(model.categories) == 5
    # fewer than two categories at the level
    mobile_only = Category.objects.get(study=corpus["study"], name="Mobile")
    FinalLabelCategory.objects.exclude(category__parent=mobile_only).delete()
    with pytest.raises(ValidationError) as error:
        classifier_train_start(study=corpus["study"], user=corpus["owner"], level="root")
    assert "at least two categories" in str(error.value) and "at least 5 labelled posts each" in str(error.value)
    android = corpus["leaves"]["Android build"]
    keep = list(FinalLabelCategory.objects.filter(category=android).values_list("pk", flat=True)[:6])
    FinalLabelCategory.objects.filter(pk__in=keep[:3]).update(category=quant)
    FinalLabelCategory.objects.filter(category=android).exclude(pk__in=keep).delete()
    with pytest.raises(ValidationError, match="at least 10 labelled posts; the leaf level has 7"):
        classifier_train_start(study=corpus["study"], user=corpus["owner"], level="leaf", params={"folds": 2})
    with pytest.raises(ValidationError, match="Unknown level"):
        classifier_train_start(study=corpus["study"], user=corpus["owner"], level="twig")
    with pytest.raises(ValidationError, match="Unknown parameter"):
        classifier_train_start(study=corpus["study"], user=corpus["owner"], level="leaf", params={"gamma": 1})
    assert ClassifierModel.objects.count() == 1


def test_a_cancelled_training_stops(corpus, queued):
    from annotator.jobs.services import job_cancel

    model = classifier_train_start(study=corpus["study"], user=corpus["owner"], level="root")
    job = Job.objects.get(pk=model.job_id)
    job_cancel(job=job, user=corpus["owner"])
    job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == "failed" and "Cancelled" in job.error
    assert not ClassifierModel.objects.get(pk=model.pk).is_trained


def test_a_label_counts_at_each_level_through_the_tree_paths():
    from taxonomy.classifier.selectors import level_category
    from taxonomy.tree.paths import CategoryRow, TreeShape

    # Server › Cloud › Docker, Server › Export, Mobile (a root with no child)
    shape = TreeShape([CategoryRow(1, None, "Server"), CategoryRow(2, 1, "Cloud"), CategoryRow(3, 2, "Docker"),
                       CategoryRow(4, 1, "Export"), CategoryRow(5, None, "Mobile")])
    assert [level_category(shape, 3, level) for level in ("root", "inner", "leaf")] == [1, 2, 3]
    assert [level_category(shape, 4, level) for level in ("root", "inner", "leaf")] == [1, 4, 4]
    assert [level_category(shape, 5, level) for level in ("root", "inner", "leaf")] == [5, None, 5]
    assert level_category(shape, 2, "leaf") is None and level_category(shape, 99, "root") is None
