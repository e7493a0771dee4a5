"""Small glue shared by the DRF APIs: strict request bodies, query strings, pagination.
(Errors: ``annotator/errors.py``.)"""

from collections.abc import Mapping

from django.core.paginator import Page, Paginator
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db.models import Count, QuerySet, Window

from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.pagination import PageNumberPagination
from rest_framework.utils import html
from rest_framework.views import APIView


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# The JSON type each kind of field takes, and DRF's own message for a wrong one. DRF coerces
# by default: "name": 0 would be saved as "0", "n": "5" read as 5, "ok": "yes" as true.
JSON_TYPES = (
    (serializers.BooleanField, lambda v: isinstance(v, bool), "Must be a valid boolean."),
    (serializers.IntegerField, lambda v: isinstance(v, int) and not isinstance(v, bool),
     "A valid integer is required."),
    (serializers.FloatField, _is_number, "A valid number is required."),
    (serializers.CharField, lambda v: isinstance(v, str), "Not a valid string."),
    (serializers.DateField, lambda v: isinstance(v, str), "Not a valid string."),
    (serializers.DateTimeField, lambda v: isinstance(v, str), "Not a valid string."),
)


def _json_type_errors(field, value):
    """DRF-shaped errors when ``value`` is not of the JSON type ``field`` takes, else None."""
    if value is None:
        return None  # allow_null decides
    if isinstance(field, serializers.ListField):
        if not isinstance(value, list):
            return None  # DRF refuses it as not a list
        errors = {index: error for index, item in enumerate(value)
                  if (error := _json_type_errors(field.child, item))}
        return errors or None
    if isinstance(field, serializers.ChoiceField):
        kinds = {type(choice) for choice in field.choices}
        if all(issubclass(kind, str) for kind in kinds) and not isinstance(value, str):
            return ["Not a valid string."]
        return None
    for kind, accepts, message in JSON_TYPES:
        if isinstance(field, kind):
            return None if accepts(value) else [message]
    return None


# What the database stores for a whole number (SQLite and PostgreSQL's bigint): a larger one
# cannot name anything, and the driver would fail on it.
INTEGER_MIN, INTEGER_MAX = -(2**63), 2**63 - 1


def _integers_bounded(field) -> None:
    if isinstance(field, serializers.ListField):
        _integers_bounded(field.child)
    elif isinstance(field, serializers.IntegerField):
        if field.max_value is None:
            field.max_value = INTEGER_MAX
            field.validators.append(MaxValueValidator(INTEGER_MAX, field.error_messages["max_value"].format(
                max_value=INTEGER_MAX)))
        if field.min_value is None:
            field.min_value = INTEGER_MIN
            field.validators.append(MinValueValidator(INTEGER_MIN, field.error_messages["min_value"].format(
                min_value=INTEGER_MIN)))


class BoundedIntegers(serializers.Serializer):
    """Refuses a whole number beyond 64 bits, also in lists (the schema says so)."""

    def get_fields(self):
        fields = super().get_fields()
        for field in fields.values():
            _integers_bounded(field)
        return fields


class QueryParams(BoundedIntegers):
    """A query string's parameters (ids, versions, years: what the database stores), read by
    ``query_params``."""


class StrictInput(BoundedIntegers):
    """A request body's serializer that refuses a JSON value of the wrong type (a number for a
    string, a string for a number or a boolean) instead of converting it. Form data, where every
    value is text, is left to DRF's own conversion."""

    def to_internal_value(self, data):
        if isinstance(data, Mapping) and not html.is_html_input(data):
            errors = {name: error for name, field in self.fields.items()
                      if not field.read_only and name in data
                      and (error := _json_type_errors(field, data[name]))}
            if errors:
                raise serializers.ValidationError(errors)
        return super().to_internal_value(data)


class PageNumbers(PageNumberPagination):
    """DRF's page numbers, except that an empty ``page=`` is an invalid page (404, as ``page=x``
    is) rather than page 1: the schema says the parameter is an integer."""

    def get_page_number(self, request, paginator):
        if request.query_params.get(self.page_query_param, None) == "":
            raise NotFound(self.invalid_page_message.format(page_number="", message="That page number is empty."))
        return super().get_page_number(request, paginator)


class CountedWithPage(Paginator):
    """Django's paginator, reading a page and the number of rows in one query: each row of the
    page carries the total (``COUNT(*) OVER ()``), where counting apart scans every row a second
    time. A page with no rows (an empty list, a page past the end) is counted apart, as Django
    does, to tell a valid empty first page from an invalid page."""

    TOTAL = "page_rows_total"

    def page(self, number):
        try:
            first = (int(number) - 1) * self.per_page
        except (TypeError, ValueError):
            first = -1
        if not isinstance(self.object_list, QuerySet) or first < 0 or self.orphans:
            return super().page(number)  # Django's own refusal, or its own reading
        rows = list(self.object_list.annotate(**{self.TOTAL: Window(Count("*"))})[first:first + self.per_page])
        if not rows:
            return super().page(number)
        for row in rows:
            total = row.pop(self.TOTAL) if isinstance(row, dict) else getattr(row, self.TOTAL)
        self.__dict__["count"] = total  # Paginator.count is a cached property
        return Page(rows, int(number), self)


class PageNumbersCounted(PageNumbers):
    """``PageNumbers`` over ``CountedWithPage``: for the long lists a rater or arbitrator pages
    through (labels, final labels)."""

    django_paginator_class = CountedWithPage


class PaginatedApi(APIView):
    """An API whose GET answers one page of a list (``paginate``): the schema documents the page
    (``count``, ``next``, ``previous``, ``results``) and its ``page`` parameter."""

    pagination_class = PageNumbers


def paginate(*, queryset, serializer_class, request, view: PaginatedApi, complete=None):
    """One page of ``queryset`` written by ``serializer_class``; ``complete``, where given, is
    called with the page's rows (a list) and returns them as the serializer reads them (e.g.
    rows read with ``values()``, their related rows added with one query for the page).
    ``serializer_class=None``: ``complete`` returns the rows as the response writes them (plain
    values; the view's schema names the serializer that documents them, and a test holds the
    two equal): on a long list a rater pages through, a serializer per row cost as much as the
    rest of the request."""
    paginator = view.pagination_class()
    page = paginator.paginate_queryset(queryset, request, view=view)
    if complete is not None:
        page = complete(page)
    data = page if serializer_class is None else serializer_class(page, many=True).data
    return paginator.get_paginated_response(data)


def query_params(serializer_class: type[serializers.Serializer], request) -> dict:
    """The query string, read by a serializer (the same one documents the parameters:
    ``extend_schema(parameters=[serializer_class])``). A malformed or out-of-range value, or a
    NUL byte (PostgreSQL refuses them in text), is a 400 naming the parameter; so is an empty
    value of a number, a boolean or a choice (as the schema says). Read as a plain dict, not as
    a form: DRF would take an empty value for an absent one."""
    query = serializer_class(data=request.query_params.dict())
    query.is_valid(raise_exception=True)
    return query.validated_data


def prefers_minimal(request) -> bool:
    """The request's ``Prefer`` header asks for ``return=minimal`` (RFC 7240: comma-separated
    preferences, each possibly with ``;`` parameters; names are case-insensitive)."""
    preferences = request.headers.get("Prefer", "")
    return any(part.split(";", 1)[0].strip().lower().replace(" ", "") == "return=minimal"
               for part in preferences.split(","))
