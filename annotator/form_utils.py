"""Helpers shared by the pages' views (the API side has ``api_utils``)."""

from django.core.exceptions import ValidationError

# What the database stores for a whole number: a larger one names nothing.
QUERY_ID_MAX = 2**63 - 1


def query_id(value) -> int | None:
    """A whole number from a query string (an id, a version), or None when the value is none:
    ASCII digits only ("²".isdigit() holds, and int() refuses it) and no larger than the
    database stores."""
    value = str(value or "").strip()
    if not (value.isascii() and value.isdigit()) or len(value) > 19 or int(value) > QUERY_ID_MAX:
        return None
    return int(value)


def form_errors_add(form, exc: ValidationError) -> None:
    """Put a service's ValidationError on the form: per field where the field exists,
    at the top of the form otherwise."""
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc.messages)
        return
    for field, errors in exc.message_dict.items():
        form.add_error(field if field in form.fields else None, errors)
