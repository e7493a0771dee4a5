"""The job progress fragment that pages poll (htmx), in one place."""

from django.shortcuts import render
from django_htmx.http import HTMX_STOP_POLLING  # 286: htmx stops polling on it

from .services import job_reap_if_stale


def job_progress_render(request, job, *, context: dict | None = None, refresh_when_done: bool = True):
    """``jobs/_progress.html`` for ``job``; once the job has ended, the status that
    stops the polling and (``refresh_when_done``) a full reload to show the results.
    A job whose worker stopped is failed here, as the page polls it."""
    job_reap_if_stale(job=job)
    response = render(request, "jobs/_progress.html",
                      {"job": job, "poll_url": request.get_full_path(), **(context or {})})
    if job.is_finished:
        response.status_code = HTMX_STOP_POLLING
        if refresh_when_done:
            response.headers["HX-Refresh"] = "true"
    return response
