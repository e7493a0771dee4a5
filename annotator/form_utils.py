"""Helpers shared by the pages' views (the API side has ``api_utils``)."""

from django.core.exceptions import ValidationError


def form_errors_add(form, exc: ValidationError) -> None:
    """Put a service's ValidationError on the form: per field where the field exists,
    at the top of the form otherwise."""
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc.messages)
        return
    for field, errors in exc.message_dict.items():
        form.add_error(field if field in form.fields else None, errors)
