"""API routes, included under /api/ by annotator/api_urls.py."""

from django.urls import path

from . import apis

urlpatterns = [
    path("studies/<slug:slug>/results/", apis.ResultsApi.as_view(), name="api-results"),
    path("studies/<slug:slug>/results/taxonomy.csv", apis.TaxonomyCsvApi.as_view(), name="api-results-taxonomy-csv"),
    path("studies/<slug:slug>/results/figure", apis.TaxonomyFigureApi.as_view(), name="api-results-figure-query"),
    path("studies/<slug:slug>/results/figure.<str:fmt>", apis.TaxonomyFigureApi.as_view(), name="api-results-figure"),
    path("studies/<slug:slug>/results/saturation/", apis.SaturationApi.as_view(), name="api-results-saturation"),
    path("studies/<slug:slug>/results/saturation.csv", apis.SaturationCsvApi.as_view(),
         name="api-results-saturation-csv"),
    path("studies/<slug:slug>/results/saturation.<str:fmt>", apis.SaturationFigureApi.as_view(),
         name="api-results-saturation-figure"),
    path("studies/<slug:slug>/results/codebook.qdc", apis.CodebookApi.as_view(), name="api-results-codebook"),
    path("studies/<slug:slug>/results/report/", apis.ResultsReportApi.as_view(), name="api-results-report"),
    path("studies/<slug:slug>/results/report.md", apis.ResultsReportMarkdownApi.as_view(),
         name="api-results-report-md"),
    path("studies/<slug:slug>/results/exports/", apis.ExportStartApi.as_view(), name="api-results-exports"),
    path("studies/<slug:slug>/results/exports/<int:job_id>/file", apis.ExportFileApi.as_view(),
         name="api-results-export-file"),
]
