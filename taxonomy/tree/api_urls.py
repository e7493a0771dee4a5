"""API routes, included under /api/ by annotator/api_urls.py."""

from django.urls import path  # noqa: F401

urlpatterns: list = []
