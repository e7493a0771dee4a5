"""The errors every API operation may answer, written into the OpenAPI schema by one
drf-spectacular postprocessing hook (``SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"]``).

Views document their successes and the errors particular to them (a 409 with the standing
decision, a 413); the errors that come from the shared machinery — annotator/errors.py's
exception handler, authentication, the URL's objects, pagination — are the same for all, so
they are added here, where they happen:

- 400 (field name → messages): an operation with a body or a query parameter, and any write
  (the services refuse); a read whose service refuses some states says so itself
  (``responses={..., 400: None}``: the shape is filled in here);
- 401: an operation that needs a signed-in user;
- 403: any write (CSRF under session authentication, the services' ``PermissionDenied``);
- 404: an operation whose path names something (a study, an item, ...), or a page of a list
  (``?page=`` past the end);
- 503: all of them (the database, or the job queue, is unavailable).
"""

from __future__ import annotations

ERROR = {
    "type": "object",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
}
VALIDATION_ERROR = {
    "type": "object",
    "description": "Field name → its messages (a list, or an object for a nested field); `detail` or "
                   "`non_field_errors` for the request as a whole.",
    "additionalProperties": True,
}
DESCRIPTIONS = {
    "400": "The request is refused: the messages say why, by field.",
    "401": "No valid credentials (token or session).",
    "403": "Not allowed (CSRF under session authentication, or the action is not the caller's to take).",
    "404": "No such object, or not visible to the caller (both answer alike); or no such page.",
    "409": "Someone else decided first: theirs stands.",
    "429": "Too many failed sign-ins: wait, or ask an administrator to unlock.",
    "503": "The database or the job queue is unavailable: try again.",
}


def _error(code: str, component: str) -> dict:
    return {"description": DESCRIPTIONS[code],
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{component}"}}}}


def _codes(path: str, method: str, operation: dict) -> dict[str, str]:
    parameters = operation.get("parameters", [])
    queried = any(p["in"] == "query" and p["name"] != "page" for p in parameters)
    paginated = any(p["in"] == "query" and p["name"] == "page" for p in parameters)
    write = method != "get"
    codes = {"503": "Error"}
    if write or queried or "requestBody" in operation:
        codes["400"] = "ValidationError"
    if {} not in operation.get("security", [{}]):
        codes["401"] = "Error"
    if write:
        codes["403"] = "Error"
    if any(p["in"] == "path" for p in parameters) or paginated:
        codes["404"] = "Error"
    return codes


def error_responses(result, generator, request, public, **kwargs):
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas["Error"] = ERROR
    schemas["ValidationError"] = VALIDATION_ERROR
    for path, operations in result["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            codes = _codes(path, method, operation)
            codes.update({code: "ValidationError" if code == "400" else "Error"
                          for code in responses if code in DESCRIPTIONS and code not in codes})
            for code, component in codes.items():
                if not responses.get(code, {}).get("content"):
                    responses[code] = _error(code, component)
    return result
