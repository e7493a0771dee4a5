"""Classifier API routes, included under /api/ by annotator/api_urls.py."""

from django.urls import path

from . import apis

urlpatterns = [
    path("studies/<slug:slug>/classifier/models/", apis.ClassifierModelListCreateApi.as_view(),
         name="api-classifier-models"),
]
