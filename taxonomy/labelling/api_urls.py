"""API routes, included under /api/ by annotator/api_urls.py."""

from django.urls import path

from . import apis

urlpatterns = [
    path("studies/<slug:slug>/labelling/next/", apis.LabellingNextApi.as_view(), name="api-labelling-next"),
    path("studies/<slug:slug>/labelling/items/<int:item_id>/", apis.LabellingItemApi.as_view(),
         name="api-labelling-item"),
    path("studies/<slug:slug>/labelling/labels/", apis.LabelListApi.as_view(), name="api-labelling-labels"),
    path("studies/<slug:slug>/labelling/keys/", apis.LabellingHotkeysApi.as_view(), name="api-labelling-hotkeys"),
    path("studies/<slug:slug>/labelling/progress/", apis.LabellingProgressApi.as_view(),
         name="api-labelling-progress"),
]
