from django.urls import path

from . import apis

urlpatterns = [
    path("studies/<slug:slug>/agreement/", apis.AgreementRunListCreateApi.as_view(), name="api-agreement-runs"),
    path("studies/<slug:slug>/agreement/<int:run_id>/", apis.AgreementRunDetailApi.as_view(),
         name="api-agreement-run"),
    path("studies/<slug:slug>/agreement/<int:run_id>/run.csv", apis.AgreementRunCsvApi.as_view(),
         name="api-agreement-run-csv"),
]
