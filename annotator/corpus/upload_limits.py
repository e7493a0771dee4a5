"""Refuse an upload over ``TAXONOMIST_MAX_UPLOAD_BYTES`` while it streams in,
before it fills the disk. The view then tells the user (see ``upload_refusal``)."""

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, StopUpload


class SizeLimitedUploadHandler(FileUploadHandler):
    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        self.limit = settings.TAXONOMIST_MAX_UPLOAD_BYTES
        self.received = 0
        # Refused at the first file chunk, not here: Django only catches StopUpload
        # raised while receiving data (here it would be a server error), and the
        # form fields before the file (CSRF token, tags) are still read.
        self.declared_too_large = bool(content_length and content_length > self.limit + 64 * 1024)
        self.declared_length = content_length  # not content_length: new_file() sets that per file
        return None

    def _refuse(self, size: int) -> None:
        self.request.upload_refused = (
            f"The upload is {size / 1e6:.0f} MB, over the {self.limit / 1e6:.0f} MB limit "
            "(TAXONOMIST_MAX_UPLOAD_BYTES). Import large dumps with `manage.py import_stackexchange`."
        )
        raise StopUpload(connection_reset=False)

    def receive_data_chunk(self, raw_data, start):
        if self.declared_too_large:
            self._refuse(self.declared_length)
        self.received += len(raw_data)
        if self.received > self.limit:
            self._refuse(self.received)
        return raw_data

    def file_complete(self, file_size):
        return None


def upload_refusal(request) -> str | None:
    return getattr(request, "upload_refused", None)
