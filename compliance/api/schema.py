"""OpenAPI post-processing: every operation documents the error bodies it can return."""

from __future__ import annotations

from typing import Any

import explain
from compliance.api.contract import (
    headers_declare,
    operations_describe,
    properties_type,
)
from compliance.api.fields import RejectUnknownFieldsMixin

ERROR_STATUSES = {
    "400": "Invalid input",
    "401": "Missing, invalid, expired or revoked credentials",
    "403": "Your role may not do this",
    "404": "Not found (or another organisation's object)",
    "405": "Method not allowed",
    "413": "Body too large",
    "415": "Unsupported media type",
    "429": "Rate limit exceeded (see Retry-After)",
    "503": "A dependency is away for a moment (see Retry-After)",
}
# blind-first review: these answer 403 with code blind_pending to a reviewer who has
# not recorded a preliminary view of the decision (compliance/reviews/selectors.py)
BLIND_PENDING_OPERATIONS = {
    ("/api/v1/decisions/{id}/explanations/", "get"),
    ("/api/v1/decisions/{id}/reviews/", "get"),
    ("/api/v1/dossiers/{id}/pdf/", "get"),
}
BLIND_PENDING_403 = (
    "Your role may not do this; or code blind_pending: the decision's AI system uses "
    "blind-first review and you (a reviewer) have not recorded your preliminary "
    "view of it yet"
)
ID_FILTERS = {"ai_system", "model_version", "decision"}
# drf-spectacular marks a body required only for a serializer with required fields;
# these operations describe theirs as raw schemas (views.VERIFY_REQUEST)
REQUIRED_BODIES = {
    ("/api/v1/dossiers/verify/", "post"),
    ("/api/v1/public/verify/", "post"),
    ("/api/v1/decisions/bulk/", "post"),
}
# the engine's JSON Schema of a feature schema, published as it validates (OpenAPI 3.1
# schemas are JSON Schema 2020-12; the dialect is the document's, so "$schema" goes)
FEATURE_SCHEMA_COMPONENT = {
    k: v for k, v in explain.FEATURE_SCHEMA_JSON_SCHEMA.items() if k != "$schema"
}
FEATURE_SCHEMA_REF = {"$ref": "#/components/schemas/FeatureSchema"}
ERROR_REF = {"$ref": "#/components/schemas/Error"}
ERROR_SCHEMA = {
    "type": "object",
    "required": ["code", "detail", "errors"],
    "properties": {
        "code": {"type": "string"},
        "detail": {"type": "string"},
        "errors": {
            "type": "object",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
        },
    },
}


def add_error_responses(
    result: dict[str, Any], generator: Any, request: Any, public: bool
) -> dict[str, Any]:
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas["Error"] = ERROR_SCHEMA
    schemas["FeatureSchema"] = FEATURE_SCHEMA_COMPONENT
    properties_type(schemas)
    for name in _closed_request_components():
        if name in schemas:
            schemas[name]["additionalProperties"] = False
    for path, operations in result.get("paths", {}).items():
        if not path.startswith("/api/v1/"):
            continue
        for method, operation in operations.items():
            if (path, method) in REQUIRED_BODIES:
                operation["requestBody"]["required"] = True
            for parameter in operation.get("parameters", []):
                # id filters implemented as methods come out untyped
                if parameter.get("in") == "query" and parameter["name"] in ID_FILTERS:
                    parameter["schema"] = {"type": "integer"}
            responses = operation.setdefault("responses", {})
            for status, description in ERROR_STATUSES.items():
                if status == "403" and (path, method) in BLIND_PENDING_OPERATIONS:
                    description = BLIND_PENDING_403
                responses.setdefault(status, {"description": description})
            for status, response in responses.items():
                # every error has the one envelope, whatever the view declared
                if status.startswith(("4", "5")) and not response.get("content"):
                    response["content"] = {"application/json": {"schema": ERROR_REF}}
            operations_describe(path, method, operation)
            headers_declare(path, method, responses)
    return result


def _closed_request_components() -> set[str]:
    """Request components of serializers that refuse unknown fields (400)."""
    names, todo = set(), list(RejectUnknownFieldsMixin.__subclasses__())
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        names.add(cls.__name__.removesuffix("Serializer") + "Request")
    return names
