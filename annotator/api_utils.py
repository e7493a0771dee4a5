"""Small glue shared by the DRF APIs: query strings, pagination. (Errors: ``annotator/errors.py``.)"""

from rest_framework.pagination import PageNumberPagination


def paginate(*, queryset, serializer_class, request, view):
    paginator = PageNumberPagination()
    page = paginator.paginate_queryset(queryset, request, view=view)
    return paginator.get_paginated_response(serializer_class(page, many=True).data)


def query_params(serializer_class, request) -> dict:
    """The query string, read by a serializer (the same one documents the parameters:
    ``extend_schema(parameters=[serializer_class])``). A malformed or out-of-range value, or a
    NUL byte (PostgreSQL refuses them in text), is a 400 naming the parameter; an empty value
    counts as absent."""
    query = serializer_class(data=request.query_params)
    query.is_valid(raise_exception=True)
    return query.validated_data
