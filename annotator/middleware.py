"""Project-wide middleware: the content security policy, and uploads refused by length."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string

from annotator.corpus.upload_limits import declared_length_refusal

POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; "
    "img-src 'self' https: data:; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)


class ContentSecurityPolicyMiddleware:
    """Defence in depth for post bodies: even if sanitising missed something,
    the browser runs no inline script and loads scripts only from our origin."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not request.path.startswith("/admin/") and not request.path.startswith("/api/docs"):
            response.headers.setdefault("Content-Security-Policy", POLICY)
        return response


class UploadLengthLimitMiddleware:
    """413 for a request that declares a body over the upload limit, before a byte of
    it is read: no URL takes more (the dump uploads are the largest bodies), and
    CsrfViewMiddleware would otherwise read the whole body of any POST for its token."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        refusal = declared_length_refusal(request.META)
        if refusal is None:
            return self.get_response(request)
        if request.path.startswith("/api/"):
            # Shaped as the import API's own refusal (the dumps are the only uploads).
            return JsonResponse({"files": [refusal]}, status=413)
        if request.headers.get("HX-Request"):
            # The form that sent it shows the reason (static/js/app.js).
            return HttpResponse(refusal, status=413, content_type="text/plain; charset=utf-8")
        # No session, user or CSRF token yet: the later middleware have not run.
        page = render_to_string("errors/upload_too_large.html", {"message": refusal, "back": request.path})
        return HttpResponse(page, status=413)
