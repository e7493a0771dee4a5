"""API routes, included under /api/ by annotator/api_urls.py."""

from django.urls import path

from . import apis

urlpatterns = [
    path("studies/<slug:slug>/draws/<int:version>/arbitration/", apis.ArbitrationStartApi.as_view(),
         name="api-arbitration-start"),
    path("studies/<slug:slug>/arbitration/queue/", apis.ArbitrationQueueApi.as_view(), name="api-arbitration-queue"),
    path("studies/<slug:slug>/arbitration/pending/", apis.PendingQueueApi.as_view(), name="api-pending-queue"),
    path("studies/<slug:slug>/arbitration/pending/resolve/", apis.PendingResolveApi.as_view(),
         name="api-pending-resolve"),
    path("studies/<slug:slug>/arbitration/items/<int:item_id>/", apis.ArbitrationItemApi.as_view(),
         name="api-arbitration-item"),
    path("studies/<slug:slug>/arbitration/pilot/", apis.PilotDecisionListApi.as_view(), name="api-pilot-decisions"),
    path("studies/<slug:slug>/arbitration/pilot/<int:item_id>/", apis.PilotDecisionItemApi.as_view(),
         name="api-pilot-decision"),
    path("studies/<slug:slug>/final-labels/", apis.FinalLabelListApi.as_view(), name="api-final-labels"),
]
