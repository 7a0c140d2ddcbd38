"""OpenAPI post-processing: every operation documents the error bodies it can return."""

from __future__ import annotations

from typing import Any

ERROR_STATUSES = {
    "400": "Invalid input",
    "401": "Missing, invalid, expired or revoked credentials",
    "403": "Your role may not do this",
    "404": "Not found (or another organisation's object)",
    "405": "Method not allowed",
    "413": "Body too large",
    "415": "Unsupported media type",
    "429": "Rate limit exceeded (see Retry-After)",
}
ID_FILTERS = {"ai_system", "model_version", "decision"}
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
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = (
        ERROR_SCHEMA
    )
    for path, operations in result.get("paths", {}).items():
        if not path.startswith("/api/v1/"):
            continue
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                # id filters implemented as methods come out untyped
                if parameter.get("in") == "query" and parameter["name"] in ID_FILTERS:
                    parameter["schema"] = {"type": "integer"}
            responses = operation.setdefault("responses", {})
            for status, description in ERROR_STATUSES.items():
                responses.setdefault(
                    status,
                    {
                        "description": description,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/Error"}
                            }
                        },
                    },
                )
    return result
