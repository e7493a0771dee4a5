"""API routes, included under /api/ by annotator/api_urls.py."""

from django.urls import path

from . import apis

urlpatterns = [
    path("studies/<slug:slug>/results/", apis.ResultsApi.as_view(), name="api-results"),
    path("studies/<slug:slug>/results/taxonomy.csv", apis.TaxonomyCsvApi.as_view(), name="api-results-taxonomy-csv"),
]
