"""Taxonomist: the Django project and its core apps (studies, corpus, jobs)."""

from .celery import app as celery_app

__all__ = ["celery_app"]
