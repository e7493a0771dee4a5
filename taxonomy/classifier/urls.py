"""Classifier pages, included under /studies/<slug>/ by annotator/urls.py."""

from django.urls import path

from . import similarity_views, views

app_name = "classifier"
urlpatterns = [
    path("classifier/", views.classifier_home, name="home"),
    path("classifier/train/", views.classifier_train, name="train"),
    path("classifier/models/<int:model_id>/", views.model_detail, name="model"),
    path("classifier/models/<int:model_id>/estimate/", views.estimate_start, name="estimate_start"),
    path("classifier/estimates/<int:estimate_id>/", views.estimate_detail, name="estimate"),
    path("classifier/estimates/<int:estimate_id>/estimates.csv", views.estimate_csv, name="estimate_csv"),
    path("classifier/estimates/<int:estimate_id>/predictions.csv", views.predictions_csv, name="predictions_csv"),
    # similar coded posts (similarity_views)
    path("classifier/similar-posts/<int:item_id>/", similarity_views.similar, name="similar"),
    path("classifier/pending-clusters/", similarity_views.pending_clusters, name="pending_clusters"),
    path("classifier/similar-posts/accuracy/", similarity_views.neighbour_accuracy, name="neighbour_accuracy"),
    path("classifier/similar-posts/settings/", similarity_views.similarity_settings, name="similarity_settings"),
]
