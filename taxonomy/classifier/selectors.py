"""Reads of the classifier: who may use it, its models and estimates, the training data.

**Who.** A model learns from final labels, and its figures (per category counts, confusion)
are derived from them: a member sees the classifier pages only when every label of the study is
visible to them (``Sight.sees_all``: nobody who rates, or only views, while a round runs on a
draw they may not see). Owners and arbitrators among them train models and run estimates;
viewers and raters read them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, QuerySet
from django.http import Http404

from annotator.studies.models import Study
from annotator.studies.selectors import StudyAccess, study_get_for_user
from sampling.draws.models import SampleItem
from sampling.draws.sight import Sight, final_label_visible_q, sight_for
from taxonomy.review.arbitration.models import FinalKind, FinalLabel, FinalLabelCategory
from taxonomy.tree.paths import INNER, LEAF, ROOT, TreeShape, tree_shape
from taxonomy.tree.selectors import taxonomy_version

from .features import DEFAULT_PARAMS
from .models import ClassifierEstimate, ClassifierModel, ClassifierPrediction

MIN_TRAINING_POSTS = 10
NOT_NOW = ("The classifier learns from final labels and shows figures derived from them: it opens to you "
           "once no round you rate on (or cannot see) is running.")


@dataclass(frozen=True)
class ClassifierAccess:
    access: StudyAccess
    sight: Sight

    @property
    def study(self) -> Study:
        return self.access.study

    @property
    def can_train(self) -> bool:
        return self.sight.approver and self.sight.sees_all


def classifier_access(*, slug: str, user, train: bool = False) -> ClassifierAccess:
    """The study and the caller's sight; 404 for a non-member and for a member who may not see
    every label now (missing and forbidden alike), PermissionDenied when ``train`` and the member
    sees it all but is not an owner or arbitrator."""
    access = study_get_for_user(slug=slug, user=user)
    sight = sight_for(study=access.study, user=user)
    if not sight.sees_all:
        raise Http404(NOT_NOW)
    result = ClassifierAccess(access=access, sight=sight)
    if train and not result.can_train:
        raise PermissionDenied("Only owners and arbitrators train models and run estimates.")
    return result


def model_list(*, study: Study) -> QuerySet[ClassifierModel]:
    return ClassifierModel.objects.filter(study=study).select_related("job").defer("pipeline", "training_items")


def model_get(*, study: Study, model_id, with_pipeline: bool = False) -> ClassifierModel:
    queryset = ClassifierModel.objects.filter(study=study).select_related("job")
    if not with_pipeline:
        queryset = queryset.defer("pipeline")
    model = queryset.filter(pk=int(model_id) if str(model_id).isdigit() else 0).first()
    if model is None:
        raise Http404("No such model.")
    return model


def estimate_list(*, study: Study, model: ClassifierModel | None = None) -> QuerySet[ClassifierEstimate]:
    queryset = ClassifierEstimate.objects.filter(study=study).select_related("job", "model")
    return queryset.filter(model=model) if model is not None else queryset


def estimate_get(*, study: Study, estimate_id) -> ClassifierEstimate:
    estimate = estimate_list(study=study).filter(pk=int(estimate_id) if str(estimate_id).isdigit() else 0).first()
    if estimate is None:
        raise Http404("No such estimate.")
    return estimate


def estimate_finished_get(*, study: Study, estimate_id) -> ClassifierEstimate:
    """An estimate whose job has finished; 404 before (nothing to download yet)."""
    estimate = estimate_get(study=study, estimate_id=estimate_id)
    if estimate.finished_at is None:
        raise Http404("This estimate is not finished: it has nothing to download yet.")
    return estimate


def prediction_rows(*, estimate: ClassifierEstimate, chunk: int = 5000):
    """(post id, site, id on the site, category ids, scores) of every prediction, in post order, in chunks."""
    last = 0
    while True:
        rows = list(ClassifierPrediction.objects.filter(estimate=estimate, post_id__gt=last).order_by("post_id")
                    .values_list("post_id", "post__site", "post__so_id", "category_ids", "scores")[:chunk])
        if not rows:
            return
        yield from rows
        last = rows[-1][0]


def model_is_outdated(*, model: ClassifierModel, version: int) -> bool:
    return model.taxonomy_version != version


# -- training data ------------------------------------------------------------------------


def level_category(shape: TreeShape, category_id: int, level: str) -> int | None:
    """The category a final label's category counts as at ``level``: its root; the ancestor one
    below its root (itself when it is there) for ``inner``; itself when a leaf for ``leaf``."""
    if category_id not in shape:
        return None
    if level == ROOT:
        return shape.root_id(category_id)
    if level == LEAF:
        return category_id if shape.is_leaf(category_id) else None
    chain = shape.chain(category_id)  # from the category up to its root
    if len(chain) < 2:
        return None
    return chain[-2]


@dataclass
class TrainingData:
    level: str
    folds: int
    version: int
    posts: list[int] = field(default_factory=list)
    labels: list[list[int]] = field(default_factory=list)  # category ids per post (kept categories only)
    categories: list[dict] = field(default_factory=list)  # [{id, path, posts}] kept, in order
    too_few: list[dict] = field(default_factory=list)  # [{id, path, posts, needed}]
    excluded: dict = field(default_factory=dict)
    sample_counts: dict = field(default_factory=dict)  # category id → posts of the sample at this level
    sample_posts: int = 0  # posts with a category at this level (the sample shares' denominator)
    post_categories: dict = field(default_factory=dict)  # post id → its categories at this level (any count)

    @property
    def problems(self) -> list[str]:
        """Why this cannot be trained on (empty when it can)."""
        out = []
        if len(self.categories) < 2:
            have = ", ".join(f"{c['path']} ({c['posts']})" for c in self.too_few) or "none"
            out.append(f"Training needs at least two categories at the {self.level} level with at least "
                       f"{self.folds} labelled posts each (one per cross-validation fold); "
                       f"{len(self.categories)} {'has' if len(self.categories) == 1 else 'have'} that many. "
                       f"Categories with too few: {have}.")
        if len(self.posts) < max(MIN_TRAINING_POSTS, 2 * self.folds):
            out.append(f"Training needs at least {max(MIN_TRAINING_POSTS, 2 * self.folds)} labelled posts; "
                       f"the {self.level} level has {len(self.posts)}.")
        return out


def training_data(*, study: Study, sight: Sight, level: str, folds: int = DEFAULT_PARAMS["folds"]) -> TrainingData:
    """The posts a model at ``level`` learns from: every final label with categories (the sight's),
    each category mapped to ``level``; False positive and Unclear final labels, and sampled posts
    still undecided or in the Pending queue (they have no final label), are not trained on."""
    if level not in (ROOT, INNER, LEAF):
        raise ValidationError({"level": f"Unknown level “{level}”: one of root, inner, leaf."})
    shape = tree_shape(study=study)
    data = TrainingData(level=level, folds=folds, version=taxonomy_version(study=study))
    finals = FinalLabel.objects.filter(final_label_visible_q(sight), item__draw__study=study)
    kinds = dict(finals.order_by().values("kind").annotate(n=Count("id")).values_list("kind", "n"))
    per_post: dict[int, set[int]] = {}
    for post_id, category_id in (FinalLabelCategory.objects.filter(final__in=finals.filter(kind=FinalKind.CATEGORIES))
                                 .values_list("final__item__post_id", "category_id")):
        mapped = level_category(shape, category_id, level)
        per_post.setdefault(post_id, set())
        if mapped is not None:
            per_post[post_id].add(mapped)
    none_at_level = sum(1 for cats in per_post.values() if not cats)
    per_post = {post: cats for post, cats in per_post.items() if cats}
    counts: dict[int, int] = {}
    for cats in per_post.values():
        for c in cats:
            counts[c] = counts.get(c, 0) + 1
    data.sample_counts, data.sample_posts, data.post_categories = dict(counts), len(per_post), per_post
    kept = [c for c in shape.live_order() + sorted(set(counts) - set(shape.live_order())) if counts.get(c)]
    for c in kept:
        entry = {"id": c, "path": shape.path(c), "posts": counts[c]}
        if counts[c] >= folds:
            data.categories.append(entry)
        else:
            data.too_few.append({**entry, "needed": folds})
    keep = {c["id"] for c in data.categories}
    only_too_few = 0
    for post in sorted(per_post):
        cats = [c for c in (entry["id"] for entry in data.categories) if c in per_post[post]]
        if cats:
            data.posts.append(post)
            data.labels.append(cats)
        elif not per_post[post] & keep:
            only_too_few += 1
    undecided = (SampleItem.objects.filter(draw__study=study, final_label__isnull=True)
                 .values("post_id").distinct().count())
    data.excluded = {"false_positive": kinds.get(FinalKind.FALSE_POSITIVE, 0),
                     "unclear": kinds.get(FinalKind.UNCLEAR, 0),
                     "no_category_at_level": none_at_level,
                     "only_categories_with_too_few_posts": only_too_few,
                     "undecided_or_pending": undecided}
    return data


# -- downloads ------------------------------------------------------------------------------

ESTIMATE_COLUMNS = ["category_id", "category_path", "model_id", "taxonomy_version", "question_set", "posts_predicted",
                    "posts_predicted_in_category", "observed_share", "estimated_share", "ci95_low", "ci95_high",
                    "cv_tpr", "cv_fpr", "adjusted", "sample_posts", "sample_in_category", "sample_share",
                    "sample_ci95_low", "sample_ci95_high", "sample_scope", "whole_set_posts",
                    "whole_set_coded", "whole_set_share", "whole_set_ci95_low", "whole_set_ci95_high", "method"]
PREDICTION_COLUMNS = ["post_id", "site", "site_post_id", "model_id", "taxonomy_version", "categories",
                      "category_paths"]


def estimate_csv_rows(*, estimate: ClassifierEstimate):
    """One row per category; the method (with its references) in every row's last column."""
    def rounded(value):
        return "" if value is None else round(value, 6)

    for share in estimate.shares:
        sample, whole = share["sample"], share.get("whole", {})
        yield [share["id"], share["path"], estimate.model_id, estimate.taxonomy_version, estimate.question_set_name,
               estimate.predicted, share["predicted"], round(share["observed"], 6), round(share["estimate"], 6),
               round(share["low"], 6), round(share["high"], 6), round(share["tpr"], 6), round(share["fpr"], 6),
               "yes" if share["adjusted"] else "no (TPR - FPR too small)", sample["n"], sample["count"],
               rounded(sample["share"]), round(sample["low"], 6), round(sample["high"], 6), sample.get("scope", ""),
               whole.get("posts", ""), whole.get("coded", ""), rounded(whole.get("estimate")),
               rounded(whole.get("low")), rounded(whole.get("high")), estimate.method]


def prediction_csv_header(*, estimate: ClassifierEstimate) -> list[str]:
    return PREDICTION_COLUMNS + [f"score {c['path']}" for c in estimate.model.categories]


def prediction_csv_rows(*, estimate: ClassifierEstimate):
    paths = {c["id"]: c["path"] for c in estimate.model.categories}
    for post_id, site, so_id, category_ids, scores in prediction_rows(estimate=estimate):
        yield [post_id, site, so_id, estimate.model_id, estimate.taxonomy_version,
               " ".join(str(c) for c in category_ids), " | ".join(paths.get(c, str(c)) for c in category_ids),
               *scores]


# -- the cross-validated report, laid out for a page ----------------------------------------


def model_report(*, model: ClassifierModel) -> dict | None:
    """Per category rows (posts, P/R/F1 of the model and the baseline, its 2×2 confusion), the
    micro/macro rows and the category × category matrix; ``None`` before training."""
    report = model.cv_report
    if not report:
        return None
    confusion = report["confusion"]
    rows = []
    for j, category in enumerate(model.categories):
        rows.append({"category": category, "model": report["model"]["per_category"][j],
                     "baseline": report["baseline"]["per_category"][j],
                     "tp": confusion["tp"][j], "fp": confusion["fp"][j], "fn": confusion["fn"][j],
                     "tn": confusion["tn"][j]})
    matrix = [{"category": category, "cells": report["confusion_matrix"][j]}
              for j, category in enumerate(model.categories)]
    overall = [{"name": name, "model": report["model"][name], "baseline": report["baseline"][name]}
               for name in ("micro", "macro")]
    paths = {str(c["id"]): c["path"] for c in model.categories}
    keywords = [{"path": paths.get(key, key), "words": words} for key, words in model.keywords.items()]
    return {"rows": rows, "overall": overall, "matrix": matrix, "folds": report["folds"], "keywords": keywords,
            "stratified_on": report["stratified_on"], "fold_sizes": report["fold_sizes"],
            "baseline_keywords": report.get("baseline_keywords", "")}
