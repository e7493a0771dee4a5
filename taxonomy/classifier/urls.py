"""Classifier pages, included under /studies/<slug>/ by annotator/urls.py."""

from django.urls import path

from . import views

app_name = "classifier"
urlpatterns = [
    path("classifier/", views.classifier_home, name="home"),
]
