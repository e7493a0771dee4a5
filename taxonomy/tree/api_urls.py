"""API routes, included under /api/ by annotator/api_urls.py."""

from django.urls import path

from . import apis

PREFIX = "studies/<slug:slug>/categories/"

urlpatterns = [
    path(PREFIX, apis.CategoryListCreateApi.as_view(), name="api-categories"),
    path(f"{PREFIX}search/", apis.CategorySearchApi.as_view(), name="api-category-search"),
    path(f"{PREFIX}<int:category_id>/", apis.CategoryDetailApi.as_view(), name="api-category"),
    path(f"{PREFIX}<int:category_id>/move/", apis.CategoryMoveApi.as_view(), name="api-category-move"),
    path(f"{PREFIX}<int:category_id>/merge/", apis.CategoryMergeApi.as_view(), name="api-category-merge"),
    path(f"{PREFIX}<int:category_id>/split/", apis.CategorySplitApi.as_view(), name="api-category-split"),
    path(f"{PREFIX}<int:category_id>/retire/", apis.CategoryRetireApi.as_view(), name="api-category-retire"),
    path(f"{PREFIX}<int:category_id>/restore/", apis.CategoryRestoreApi.as_view(), name="api-category-restore"),
    path(f"{PREFIX}<int:category_id>/approve/", apis.CategoryApproveApi.as_view(), name="api-category-approve"),
    path(f"{PREFIX}<int:category_id>/reject/", apis.CategoryRejectApi.as_view(), name="api-category-reject"),
    path("studies/<slug:slug>/taxonomy/changes/", apis.TaxonomyChangeListApi.as_view(), name="api-taxonomy-changes"),
]
