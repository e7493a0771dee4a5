"""Classifier pages, included under /studies/<slug>/ by annotator/urls.py."""

from django.urls import path

from . import similarity_views, views

app_name = "classifier"
urlpatterns = [
    path("classifier/", views.classifier_home, name="home"),
    # similar coded posts (similarity_views)
    path("classifier/similar-posts/<int:item_id>/", similarity_views.similar, name="similar"),
    path("classifier/pending-clusters/", similarity_views.pending_clusters, name="pending_clusters"),
    path("classifier/similar-posts/accuracy/", similarity_views.neighbour_accuracy, name="neighbour_accuracy"),
    path("classifier/similar-posts/settings/", similarity_views.similarity_settings, name="similarity_settings"),
]
