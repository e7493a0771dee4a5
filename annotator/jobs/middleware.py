"""A job started while the job queue is unreachable: 503 with a message, on
every page and API that starts jobs (``JobQueueUnavailable`` from
``job_create``), never a traceback."""

from collections.abc import Callable

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from .services import JobQueueUnavailable

RETRY_AFTER_SECONDS = "30"


class JobQueueUnavailableMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, JobQueueUnavailable):
            return None
        if request.path.startswith("/api/"):
            response = JsonResponse({"detail": exception.message, "code": "job_queue_unavailable"}, status=503)
        elif getattr(request, "htmx", False):
            # htmx swaps no error response: reload the page, which shows the message.
            messages.error(request, exception.message)
            response = HttpResponse(exception.message, status=503, content_type="text/plain; charset=utf-8")
            response["HX-Refresh"] = "true"
        else:
            response = render(request, "jobs/queue_unavailable.html", {"message": exception.message}, status=503)
        response["Retry-After"] = RETRY_AFTER_SECONDS
        return response
