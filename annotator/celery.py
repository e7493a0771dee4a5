import os

from celery import Celery

from annotator.jobs.worker import JobSweepStep

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "annotator.settings")

app = Celery("annotator")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# Every worker sweeps the jobs: fails those whose worker stopped, re-queues lost ones.
app.steps["worker"].add(JobSweepStep)
