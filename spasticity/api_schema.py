"""What every API operation shares, documented in one place (spec section 5; issue 9, "the API
contract is exact"): ``complete_schema``, a drf-spectacular postprocessing hook.

Each view documents its own success response. The errors below come from the machinery every
view shares (authentication, ``RolePermission``, ``get_object``, the serializers, pagination,
``spasticity.api_errors``), so the hook adds them to each operation that can give them, deciding
from the operation itself:

* 400 ``{"field": ["message", …]}`` (or ``{"detail"}`` for a body that is not JSON): the
  operation takes a body or query parameters;
* 401 without a valid token and 403 when the role may not do it: the operation needs sign-in;
* 404: the path names a record, the list has pages (``?page=`` past the end), or the operation
  takes ``?format=`` (DRF answers 404 for a format it does not have);
* 409 ``{"version": [message]}``: the body carries the ``version`` the client read, of a record
  that already exists, and someone saved the record since;
* 413 and 415: a body that is too large, or of a media type the API does not read.

An operation that documents a status itself (the token endpoint's 400 and 429) keeps its own.

The hook also states three things that hold for every operation:

* bodies are JSON (spec section 5). The form parsers stay, for the browsable API and for
  form-posting clients, but form encodings cannot carry the nested objects and lists most
  resources take, so they are not part of the contract;
* an optional query parameter sent empty (``?patient=``) is the same as leaving it out (as
  django-filter and DRF's serializers read it), except ``page`` and ``page_size``;
* a time of day (``planned_start_time``) is a clinic-local ``HH:MM[:SS]``: drf-spectacular calls
  it ``format: time``, which JSON Schema defines as RFC 3339's time *with* a UTC offset.
"""

from __future__ import annotations

from typing import Any

DETAIL = "ErrorDetail"
FIELD_ERRORS = "FieldErrors"
STALE_VERSION = "StaleVersion"

ERROR_SCHEMAS: dict[str, dict[str, Any]] = {
    DETAIL: {
        "type": "object",
        "properties": {"detail": {"type": "string"}},
        "required": ["detail"],
    },
    FIELD_ERRORS: {
        "type": "object",
        "description": (
            'Messages by field: `{"field": ["message", …]}`; `non_field_errors` for the record as a whole. '
            'A nested field gives its own errors, as an object (`{"reviews": {"0": {"reviewed_on": […]}}}`) '
            "or a list with one entry per item."
        ),
        "additionalProperties": {
            "anyOf": [
                {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "object"}]}},
                {"type": "object"},
            ]
        },
    },
    STALE_VERSION: {
        "type": "object",
        "properties": {"version": {"type": "array", "items": {"type": "string"}}},
        "required": ["version"],
    },
}

LOCAL_TIME = {
    "type": "string",
    "format": "partial-time",
    "pattern": r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?$",
}

BODY_METHODS = {"post", "put", "patch"}
JSON = "application/json"
PAGE_PARAMETERS = {"page", "page_size"}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _response(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _request_properties(operation: dict[str, Any], schemas: dict[str, Any]) -> set[str]:
    """The top-level fields of the operation's JSON body (none when it takes no body)."""
    content = operation.get("requestBody", {}).get("content", {})
    schema = content.get("application/json", {}).get("schema", {})
    if "$ref" in schema:
        schema = schemas.get(schema["$ref"].rsplit("/", 1)[-1], {})
    return set(schema.get("properties", {}))


def operation_errors(path: str, method: str, operation: dict[str, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    """The error responses ``operation`` can give, by status code (see the module docstring)."""
    parameters = operation.get("parameters", [])
    query = {p["name"] for p in parameters if p.get("in") == "query"}
    takes_body = method in BODY_METHODS and "requestBody" in operation
    names_a_record = "{" in path
    errors: dict[str, Any] = {}
    if takes_body or query:
        errors["400"] = _response(
            "The request is not valid: messages by field, or a detail when the body could not be read.",
            {"anyOf": [_ref(FIELD_ERRORS), _ref(DETAIL)]},
        )
    if operation.get("security"):
        errors["401"] = _response("No valid token (or signed-in session) was sent.", _ref(DETAIL))
        errors["403"] = _response("The user's role does not allow this.", _ref(DETAIL))
    if names_a_record or "page" in query or "format" in query:
        errors["404"] = _response("No such record (or no such page).", _ref(DETAIL))
    if names_a_record and takes_body and "version" in _request_properties(operation, schemas):
        errors["409"] = _response(
            "The version sent is stale: someone saved the record since it was read. Nothing was saved.",
            _ref(STALE_VERSION),
        )
    if takes_body:
        errors["413"] = _response("The body is larger than the server accepts.", _ref(DETAIL))
        errors["415"] = _response("The body's media type is not one the API reads.", _ref(DETAIL))
    return errors


def document_requests(operation: dict[str, Any]) -> None:
    """JSON bodies only; an optional query parameter may be sent empty (see the module docstring)."""
    content = operation.get("requestBody", {}).get("content", {})
    if JSON in content:
        operation["requestBody"]["content"] = {JSON: content[JSON]}
    for parameter in operation.get("parameters", []):
        optional = not parameter.get("required", False)
        if parameter.get("in") == "query" and optional and parameter["name"] not in PAGE_PARAMETERS:
            parameter["allowEmptyValue"] = True


def document_local_times(node: Any) -> None:
    """Replace every ``format: time`` in ``node`` (the whole schema, walked) by ``LOCAL_TIME``."""
    if isinstance(node, dict):
        if node.get("type") == "string" and node.get("format") == "time":
            node.update(LOCAL_TIME)
        for value in node.values():
            document_local_times(value)
    elif isinstance(node, list):
        for item in node:
            document_local_times(item)


def complete_schema(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: what every operation shares (see the module docstring)."""
    document_local_times(result)
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas.update(ERROR_SCHEMAS)
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            document_requests(operation)
            for status, response in operation_errors(path, method, operation, schemas).items():
                operation["responses"].setdefault(status, response)
    return result
