"""API routes, included under /api/ by annotator/api_urls.py."""

from django.urls import path

from . import apis

urlpatterns = [
    path("studies/<slug:slug>/pilot/items/", apis.PilotItemListApi.as_view(), name="api-pilot-items"),
    path("studies/<slug:slug>/pilot/items/<int:item_id>/codes/", apis.PilotItemCodesApi.as_view(),
         name="api-pilot-item-codes"),
    path("studies/<slug:slug>/pilot/items/<int:item_id>/codes/<int:code_id>/", apis.PilotItemCodeDetailApi.as_view(),
         name="api-pilot-item-code"),
    path("studies/<slug:slug>/codes/", apis.CodeListApi.as_view(), name="api-codes"),
    path("studies/<slug:slug>/codes/group/", apis.CodeGroupApi.as_view(), name="api-codes-group"),
    path("studies/<slug:slug>/codes/<int:code_id>/", apis.CodeDetailApi.as_view(), name="api-code"),
]
