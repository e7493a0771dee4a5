"""Uploads over ``TAXONOMIST_MAX_UPLOAD_BYTES`` are refused, with one message.

Twice: from the length a request declares, before its body is read
(``annotator.middleware.UploadLengthLimitMiddleware``, 413), and while an upload
streams in, counting what arrives (``SizeLimitedUploadHandler``; the view then
tells the user, see ``upload_refusal``)."""

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, StopUpload

# What a request may carry besides its files: form fields, multipart boundaries and headers.
FORM_ALLOWANCE_BYTES = 64 * 1024


def upload_too_large_message(size: int) -> str:
    limit = settings.TAXONOMIST_MAX_UPLOAD_BYTES
    return (
        f"The upload is {size / 1e6:.0f} MB, over the {limit / 1e6:.0f} MB limit "
        "(TAXONOMIST_MAX_UPLOAD_BYTES). Import large dumps with `manage.py import_stackexchange`."
    )


def declared_length_refusal(meta) -> str | None:
    """The refusal for a request whose Content-Length is over the limit, else None."""
    try:
        declared = int(meta.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None  # Django reads such a body as empty
    if declared > settings.TAXONOMIST_MAX_UPLOAD_BYTES + FORM_ALLOWANCE_BYTES:
        return upload_too_large_message(declared)
    return None


class SizeLimitedUploadHandler(FileUploadHandler):
    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        self.limit = settings.TAXONOMIST_MAX_UPLOAD_BYTES
        self.received = 0
        return None

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > self.limit:
            self.request.upload_refused = upload_too_large_message(self.received)
            # Django catches StopUpload only here, while receiving data (elsewhere it would be
            # a server error); what is left of the body is bounded by the declared length.
            raise StopUpload(connection_reset=False)
        return raw_data

    def file_complete(self, file_size):
        return None


def upload_refusal(request) -> str | None:
    return getattr(request, "upload_refused", None)
