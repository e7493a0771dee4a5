"""Classifier API routes, included under /api/ by annotator/api_urls.py."""

from django.urls import path

from . import apis, similarity_apis

urlpatterns = [
    path("studies/<slug:slug>/classifier/models/", apis.ClassifierModelListCreateApi.as_view(),
         name="api-classifier-models"),
    path("studies/<slug:slug>/classifier/models/<int:model_id>/", apis.ClassifierModelDetailApi.as_view(),
         name="api-classifier-model"),
    path("studies/<slug:slug>/classifier/models/<int:model_id>/estimates/",
         apis.ClassifierEstimateListCreateApi.as_view(), name="api-classifier-model-estimates"),
    path("studies/<slug:slug>/classifier/estimates/<int:estimate_id>/", apis.ClassifierEstimateDetailApi.as_view(),
         name="api-classifier-estimate"),
    path("studies/<slug:slug>/classifier/estimates/<int:estimate_id>/estimates.csv",
         apis.ClassifierEstimateCsvApi.as_view(), name="api-classifier-estimate-csv"),
    path("studies/<slug:slug>/classifier/estimates/<int:estimate_id>/predictions.csv",
         apis.ClassifierPredictionsCsvApi.as_view(), name="api-classifier-predictions-csv"),
    # similar coded posts (similarity_apis)
    path("studies/<slug:slug>/classifier/similar-posts/<int:item_id>/", similarity_apis.SimilarPostsApi.as_view(),
         name="api-similar-posts"),
    path("studies/<slug:slug>/classifier/similar-posts/accuracy/", similarity_apis.NeighbourAccuracyApi.as_view(),
         name="api-neighbour-accuracy"),
    path("studies/<slug:slug>/classifier/similar-posts/settings/", similarity_apis.SimilaritySettingsApi.as_view(),
         name="api-similarity-settings"),
    path("studies/<slug:slug>/classifier/pending-clusters/", similarity_apis.PendingClustersApi.as_view(),
         name="api-pending-clusters"),
]
