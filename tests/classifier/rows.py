"""A trained classifier model and a finished estimate written straight into a study, for tests
that need the classifier's pages to show something (the accessibility crawl, the blindness
crawl) on a study too small to train on: the model learns from generated posts about
TOPIC_WORDS, one category per root of the study's tree."""

from __future__ import annotations

import random

import numpy as np
from django.utils import timezone

from annotator.corpus.models import Post
from taxonomy.classifier.estimate import METHOD, adjusted_shares, wilson
from taxonomy.classifier.features import DEFAULT_PARAMS, documents_matrix, pipeline_build, post_documents
from taxonomy.classifier.models import ClassifierEstimate, ClassifierModel, ClassifierPrediction
from taxonomy.classifier.services import _pipeline_dump
from taxonomy.classifier.training import cross_validate
from taxonomy.tree.models import Category
from taxonomy.tree.selectors import taxonomy_version
from tests.factories import TOPIC_WORDS, topic_text


def classifier_rows_make(*, study, user, question_set=None) -> tuple[ClassifierModel, ClassifierEstimate]:
    roots = list(Category.objects.filter(study=study, parent__isnull=True).order_by("position", "pk")[:3])
    assert len(roots) >= 2, "the study needs two root categories"
    rng = random.Random(1)
    topics = [(root, next(iter(leaves))) for root, leaves in TOPIC_WORDS.items()][:len(roots)]
    docs, labels = [], np.zeros((12 * len(roots), len(roots)), dtype=bool)
    for i in range(len(labels)):
        root, leaf = topics[i % len(roots)]
        docs.append(post_documents(*topic_text(root=root, leaf=leaf, rng=rng), "|tensorflow|"))
        labels[i, i % len(roots)] = True
    params = {**DEFAULT_PARAMS, "folds": 3}
    matrix = documents_matrix(docs)
    report = cross_validate(matrix=matrix, labels=labels, params=params, keywords=[], seed=1)
    pipeline = pipeline_build(params=params, seed=1).fit(matrix, labels.astype(int))
    posts = list(Post.objects.filter(study=study).order_by("pk").values_list("pk", flat=True))
    categories = [{"id": root.pk, "path": root.name, "posts": 12} for root in roots]
    model = ClassifierModel.objects.create(
        study=study, level="root", seed=1, params=params, taxonomy_version=taxonomy_version(study=study),
        categories=categories, too_few=[], excluded={"false_positive": 0, "unclear": 0, "no_category_at_level": 0,
                                                     "only_categories_with_too_few_posts": 0,
                                                     "undecided_or_pending": 0},
        training_items=[[posts[i % len(posts)], [roots[i % len(roots)].pk]] for i in range(len(labels))],
        cv_report=report, pipeline=_pipeline_dump(pipeline), trained_at=timezone.now(), created_by=user)
    shares = []
    for j, share in enumerate(adjusted_shares(predicted_counts=[len(posts) // len(roots)] * len(roots),
                                              total=len(posts), cv_truth=labels,
                                              cv_predicted=np.array([[c in row for c in range(len(roots))]
                                                                     for row in report["out_of_fold"]]),
                                              seed=1, replicates=50)):
        low, high = wilson(4, 12)
        shares.append({"id": roots[j].pk, "path": roots[j].name, "predicted": len(posts) // len(roots),
                       "observed": share.observed, "estimate": share.estimate, "low": share.low,
                       "high": share.high, "tpr": share.tpr, "fpr": share.fpr, "adjusted": share.adjusted,
                       "sample": {"count": 4, "n": 12, "share": 4 / 12, "low": low, "high": high, "in_set": False,
                                  "scope": "the study's whole sample (none of this set's)"},
                       "whole": {"posts": len(posts), "coded": 0, "estimate": share.estimate, "low": share.low,
                                 "high": share.high}})
    estimate = ClassifierEstimate.objects.create(
        study=study, model=model, question_set=question_set,
        question_set_name=question_set.name if question_set else "Deployment", seed=1,
        taxonomy_version=model.taxonomy_version, set_size=len(posts), predicted=len(posts), shares=shares,
        method=METHOD, created_by=user, finished_at=timezone.now())
    ClassifierPrediction.objects.bulk_create(
        ClassifierPrediction(estimate=estimate, post_id=pk, category_ids=[roots[i % len(roots)].pk],
                             scores=[0.9 if c == i % len(roots) else 0.1 for c in range(len(roots))])
        for i, pk in enumerate(posts))
    return model, estimate


def final_labels_make(*, study, categories, per_category: int, decided_by, first_so_id: int = 950_000):
    """A draw in arbitration whose ``per_category`` posts per category (generated TOPIC_WORDS text,
    one topic per category) carry a final label of that category: enough to train on."""
    from annotator.corpus.models import PostType
    from sampling.draws.models import SampleDraw, SampleItem, SampleStratum
    from taxonomy.review.arbitration.models import FinalLabel, FinalLabelCategory

    rng = random.Random(3)
    topics = [(root, leaf) for root, leaves in TOPIC_WORDS.items() for leaf in leaves]
    now = timezone.now()
    plan = [(c, topics[j % len(topics)]) for j, c in enumerate(categories) for _ in range(per_category)]
    posts = Post.objects.bulk_create(
        Post(study=study, site="stackoverflow.com", so_id=first_so_id + i, post_type=PostType.QUESTION,
             title=title, body=body, tags="|tensorflow|", creation_date=now, updated_at=now)
        for i, (_, (root, leaf)) in enumerate(plan) for title, body in [topic_text(root=root, leaf=leaf, rng=rng)])
    version = SampleDraw.objects.filter(study=study).count() + 1
    draw = SampleDraw.objects.create(study=study, version=version, status="labelling", seed=1, drawn_at=now,
                                     sample_size=len(posts), labelling_started_at=now, arbitration_started_at=now)
    stratum = SampleStratum.objects.create(draw=draw, position=0, name="Coded", mode="census", set_size=len(posts),
                                           population=len(posts), n=len(posts), drawn=len(posts))
    items = SampleItem.objects.bulk_create(SampleItem(draw=draw, stratum=stratum, post=p, part="reliability")
                                           for p in posts)
    for item, (category, _) in zip(items, plan, strict=True):
        final = FinalLabel.objects.create(item=item, kind="categories", method="arbitrated", decided_by=decided_by,
                                          decided_at=now, reason="generated")
        FinalLabelCategory.objects.create(final=final, category=category)
    return draw
