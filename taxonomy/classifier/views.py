"""Classifier pages: the models of a study with their cross-validated figures, training, the
estimates over a question set with their intervals, and the downloads. Thin: the services and
selectors decide; who may see what is ``selectors.classifier_access``."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse

from annotator.studies.access import study_view, study_access
from annotator.csv_output import csv_response
from annotator.jobs.progress import job_progress_render
from sampling.question_sets.selectors import question_set_evaluated_list
from taxonomy.tree.selectors import taxonomy_version

from . import selectors, services
from .features import DEFAULT_PARAMS

LEVELS = [("leaf", "Leaves"), ("inner", "Inner categories (one below the root)"), ("root", "Root categories")]


def _home_context(request, allowed, *, form=None, errors=None) -> dict:
    study = allowed.study
    version = taxonomy_version(study=study)
    models = list(selectors.model_list(study=study))
    for model in models:
        model.outdated = selectors.model_is_outdated(model=model, version=version)
    return {"access": allowed.access, "study": study, "allowed": allowed, "models": models,
            "estimates": selectors.estimate_list(study=study)[:20], "levels": LEVELS,
            "defaults": DEFAULT_PARAMS, "form": form or {"level": "leaf", "folds": DEFAULT_PARAMS["folds"]},
            "errors": errors or [], "version": version}


@study_view()
def classifier_home(request, slug, *, access):
    """The models and estimates; to a member who may not see every label now, only why not."""
    try:
        allowed = study_access(request, slug, check=selectors.classifier_access)
    except Http404:
        return render(request, "taxonomy/classifier/classifier.html",
                      {"access": access, "study": access.study, "not_now": selectors.NOT_NOW})
    return render(request, "taxonomy/classifier/classifier.html", _home_context(request, allowed))


def keywords_parse(text: str) -> dict[str, str]:
    """``Category: word, word`` lines (the category by id, path or name) into a mapping."""
    out = {}
    for line in (text or "").splitlines():
        if ":" in line:
            name, words = line.rsplit(":", 1)
            if name.strip():
                out[name.strip()] = words
    return out


@study_view(check=selectors.classifier_access, train=True, methods=["POST"])
def classifier_train(request, slug, *, access):
    form = {key: request.POST.get(key, "") for key in ("level", "folds", "seed", "keywords", "C")}
    params = {name: form[name] for name in ("folds", "C") if form[name]}
    try:
        model = services.classifier_train_start(study=access.study, user=request.user, level=form["level"],
                                                params=params, keywords=keywords_parse(form["keywords"]),
                                                seed=form["seed"] or None)
    except ValidationError as exc:
        return render(request, "taxonomy/classifier/classifier.html",
                      _home_context(request, access, form=form, errors=exc.messages), status=400)
    return redirect(reverse("classifier:model", args=[slug, model.pk]))


@study_view(check=selectors.classifier_access)
def model_detail(request, slug, model_id, *, access):
    model = selectors.model_get(study=access.study, model_id=model_id)
    if request.htmx and model.job is not None:
        return job_progress_render(request, model.job)
    version = taxonomy_version(study=access.study)
    sets = question_set_evaluated_list(study=access.study)
    return render(request, "taxonomy/classifier/model.html", {
        "access": access.access, "study": access.study, "allowed": access, "model": model, "job": model.job,
        "report": selectors.model_report(model=model), "outdated": selectors.model_is_outdated(model=model,
                                                                                              version=version),
        "version": version, "sets": sets, "estimates": selectors.estimate_list(study=access.study, model=model),
    })


@study_view(check=selectors.classifier_access, train=True, methods=["POST"])
def estimate_start(request, slug, model_id, *, access):
    model = selectors.model_get(study=access.study, model_id=model_id)
    try:
        estimate = services.classifier_estimate_start(study=access.study, user=request.user, model=model,
                                                      question_set_id=request.POST.get("question_set", ""),
                                                      seed=request.POST.get("seed") or None)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect(reverse("classifier:model", args=[slug, model.pk]))
    return redirect(reverse("classifier:estimate", args=[slug, estimate.pk]))


@study_view(check=selectors.classifier_access)
def estimate_detail(request, slug, estimate_id, *, access):
    estimate = selectors.estimate_get(study=access.study, estimate_id=estimate_id)
    if request.htmx and estimate.job is not None:
        return job_progress_render(request, estimate.job)
    version = taxonomy_version(study=access.study)
    return render(request, "taxonomy/classifier/estimate.html", {
        "access": access.access, "study": access.study, "estimate": estimate, "job": estimate.job,
        "model": estimate.model, "outdated": selectors.model_is_outdated(model=estimate.model, version=version),
    })


@study_view(check=selectors.classifier_access)
def estimate_csv(request, slug, estimate_id, *, access):
    estimate = selectors.estimate_finished_get(study=access.study, estimate_id=estimate_id)
    return csv_response(request, header=selectors.ESTIMATE_COLUMNS,
                        rows=selectors.estimate_csv_rows(estimate=estimate),
                        filename=f"{slug}-estimate-{estimate.pk}.csv")


@study_view(check=selectors.classifier_access)
def predictions_csv(request, slug, estimate_id, *, access):
    estimate = selectors.estimate_finished_get(study=access.study, estimate_id=estimate_id)
    return csv_response(request, header=selectors.prediction_csv_header(estimate=estimate),
                        rows=selectors.prediction_csv_rows(estimate=estimate),
                        filename=f"{slug}-predictions-{estimate.pk}.csv")
