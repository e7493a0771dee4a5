"""Classifier pages: the models of a study, their cross-validated figures, the estimates."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from annotator.studies.selectors import study_get_for_user


@login_required
def classifier_home(request, slug):
    access = study_get_for_user(slug=slug, user=request.user)
    return render(request, "taxonomy/classifier/classifier.html", {"access": access, "study": access.study})
