"""The exact contract (issue 17): what the generated schema leaves loose, made exact in
one place: the types of the JSON payloads, the response headers, a summary, a plain
description and a tag per operation. Applied by ``schema.add_error_responses``."""

from __future__ import annotations

from typing import Any

FEATURE_VALUE = {
    "description": "A feature's value: a number, a category (string) or a flag.",
    "anyOf": [{"type": "number"}, {"type": "string"}, {"type": "boolean"}],
}
SCALAR_OR_NULL = {
    "anyOf": [
        {"type": "number"},
        {"type": "string"},
        {"type": "boolean"},
        {"type": "null"},
    ]
}
NUMBER_OR_NULL = {"type": ["number", "null"]}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


COMPONENTS: dict[str, dict[str, Any]] = {
    "FeatureValue": FEATURE_VALUE,
    "FeatureValues": {
        "type": "object",
        "description": "Feature name to value, as the feature schema declares them.",
        "additionalProperties": _ref("FeatureValue"),
    },
    "Reason": {
        "type": "object",
        "description": "A principal reason: a feature that weighed against the outcome.",
        "required": ["feature", "attribution"],
        "properties": {
            "feature": {"type": "string"},
            "label": {"type": "string"},
            "text": {"type": "string", "description": "The reason in plain words."},
            "attribution": {"type": "number"},
        },
        "additionalProperties": SCALAR_OR_NULL,
    },
    "ExplanationWarning": {
        "type": "object",
        "required": ["code"],
        "properties": {
            "code": {"type": "string"},
            "feature": {"type": "string"},
            "share": {"type": "number"},
            "rank": {"type": "integer"},
        },
        "additionalProperties": SCALAR_OR_NULL,
    },
    "Quality": {
        "type": "object",
        "description": "Quality figures of the attributions (null where not computed).",
        "properties": {
            "completeness_gap": NUMBER_OR_NULL,
            "completeness_gap_relative": NUMBER_OR_NULL,
            "completeness_flagged": {"type": ["boolean", "null"]},
            "infidelity": NUMBER_OR_NULL,
            "sensitivity_max": NUMBER_OR_NULL,
            "efficiency_gap": NUMBER_OR_NULL,
        },
        "additionalProperties": SCALAR_OR_NULL,
    },
    "Agreement": {
        "type": "object",
        "description": "Rank agreement of the run's methods (Spearman), pairwise.",
        "properties": {
            "min": NUMBER_OR_NULL,
            "mean": NUMBER_OR_NULL,
            "pairs": {"type": "object", "additionalProperties": NUMBER_OR_NULL},
        },
        "additionalProperties": True,
    },
    "Parameters": {
        "type": "object",
        "description": "The method's parameters as run (n_steps, samples, baseline...).",
        "additionalProperties": True,
    },
    "Manifest": {
        "type": "object",
        "description": "What reproduces the explanation: versions, device, seed, hashes.",
        "properties": {
            "python": {"type": "string"},
            "torch": {"type": "string"},
            "captum": {"type": "string"},
            "device": {"type": "string"},
            "dtype": {"type": "string"},
            "seed": {"type": "integer"},
            "weights_sha256": {"type": "string"},
            "input_sha256": {"type": "string"},
            "output_units": {"type": "string"},
            "method": {"type": "string"},
            "parameters": _ref("Parameters"),
        },
        "additionalProperties": True,
    },
    "WebhookEvent": {
        "type": "object",
        "description": "The document a webhook delivery sends.",
        "required": ["id", "type", "created_at", "organization", "data"],
        "properties": {
            "id": {"type": "string", "description": "Event id: drop repeats by it."},
            "type": {"type": "string"},
            "created_at": {"type": "string", "format": "date-time"},
            "organization": {"type": "string"},
            "data": {"type": "object", "additionalProperties": True},
        },
    },
}

JSON_TEXT = "JSON text (a multipart form field): "
PROPERTY_TYPES: dict[tuple[str, str], dict[str, Any]] = {
    ("AISystemOutput", "default_explanation_methods"): {
        "type": "array",
        "items": {"type": "string"},
    },
    ("DecisionOutput", "features"): _ref("FeatureValues"),
    ("ExplanationOutput", "attributions"): {
        "type": "object",
        "description": "Feature name to attribution, in the output's units.",
        "additionalProperties": {"type": "number"},
    },
    ("ExplanationOutput", "baseline"): {
        "anyOf": [_ref("FeatureValues"), {"type": "null"}],
        "description": "The reference input (null for methods without one).",
    },
    ("ExplanationOutput", "reasons"): {"type": "array", "items": _ref("Reason")},
    ("ExplanationOutput", "quality"): _ref("Quality"),
    ("ExplanationOutput", "agreement"): {
        "anyOf": [_ref("Agreement"), {"type": "null"}]
    },
    ("ExplanationOutput", "warnings"): {
        "type": "array",
        "items": _ref("ExplanationWarning"),
    },
    ("ExplanationOutput", "manifest"): _ref("Manifest"),
    ("ExplanationOutput", "parameters"): _ref("Parameters"),
    ("ModelVersionInputRequest", "hyperparameters"): {
        "type": "string",
        "description": JSON_TEXT + "an object of the architecture's hyperparameters.",
    },
    ("ModelVersionInputRequest", "feature_schema"): {
        "type": "string",
        "description": JSON_TEXT + "the feature schema (components: FeatureSchema).",
    },
    ("ModelVersionInputRequest", "class_labels"): {
        "type": "string",
        "description": JSON_TEXT + '[negative, positive], e.g. ["good", "bad"].',
    },
    ("ModelVersionInputRequest", "performance_metrics"): {
        "type": "string",
        "description": JSON_TEXT + "an object of metric name to number.",
    },
    ("ModelVersionInputRequest", "training_distribution"): {
        "type": "string",
        "description": JSON_TEXT + "per-feature summaries of the training data.",
    },
    ("ModelVersionOutput", "hyperparameters"): {
        "type": "object",
        "additionalProperties": True,
    },
    ("ModelVersionOutput", "class_labels"): {
        "type": "array",
        "items": {"type": "string"},
        "description": "[negative, positive]: the model scores the positive class.",
    },
    ("ModelVersionOutput", "performance_metrics"): {
        "type": "object",
        "additionalProperties": {"type": "number"},
    },
    ("ModelVersionOutput", "proxy_analysis"): {
        "type": "object",
        "description": "Which features act as proxies of protected attributes.",
        "additionalProperties": True,
    },
    ("ModelVersionOutput", "training_distribution"): {
        "type": "object",
        "description": "Per-feature summaries of the training data (drift).",
        "additionalProperties": True,
    },
    ("NoticeOutput", "warnings"): {"type": "array", "items": {"type": "string"}},
    ("AuditEventOutput", "payload"): {
        "type": "object",
        "description": "What the event records (ids, hashes, counts; no secrets).",
        "additionalProperties": True,
    },
    ("WebhookDeliveryDetail", "body"): _ref("WebhookEvent"),
}

HEADER_REQUEST_ID = {
    "description": "The request's id (yours when you sent X-Request-ID), in the logs.",
    "schema": {"type": "string"},
}
HEADER_LOCATION = {
    "description": "Where the created resource (or the job to poll) is read.",
    "schema": {"type": "string", "format": "uri"},
}
HEADER_RETRY_AFTER = {
    "description": "Seconds to wait before trying again.",
    "schema": {"type": "integer"},
}
HEADER_SHA256 = {
    "description": "sha256 of the body (hex): compare it with the document's record.",
    "schema": {"type": "string"},
}

# path prefix (after /api/v1/) -> tag; nested resources by their last static part
NESTED_TAGS = {
    "explanations": "explanations",
    "reviews": "reviews",
    "dossiers": "dossiers",
    "notices": "notices",
    "contests": "contests",
}


def tag_for(path: str) -> str:
    parts = [p for p in path.removeprefix("/api/v1/").split("/") if p]
    if parts and parts[0] == "decisions" and len(parts) >= 3:
        return NESTED_TAGS.get(parts[2], "decisions")
    if parts and parts[0] == "public":
        return "verification"
    if parts[:2] == ["dossiers", "verify"]:
        return "verification"
    return parts[0] if parts else "api"


def properties_type(schemas: dict[str, Any]) -> None:
    for name, schema in COMPONENTS.items():
        schemas[name] = schema
    for (component, prop), schema in PROPERTY_TYPES.items():
        properties = schemas.get(component, {}).get("properties", {})
        if prop in properties:
            # the type from here; what the serializer said of the field (its own
            # description, readOnly) stays
            before = properties[prop]
            properties[prop] = {
                **schema,
                **{k: before[k] for k in ("description", "readOnly") if k in before},
            }


def headers_declare(path: str, method: str, responses: dict[str, Any]) -> None:
    for status, response in responses.items():
        if not isinstance(response, dict):
            continue
        headers = response.setdefault("headers", {})
        headers.setdefault("X-Request-ID", HEADER_REQUEST_ID)
        if status in ("201", "202"):
            headers.setdefault("Location", HEADER_LOCATION)
        if status in ("429", "503"):
            headers.setdefault("Retry-After", HEADER_RETRY_AFTER)
        content = response.get("content", {})
        if status == "200" and ("application/pdf" in content or "text/html" in content):
            headers.setdefault("X-Content-SHA256", HEADER_SHA256)


# (path, method) -> (summary, description): what a client team reads in its generated
# client and the docs, instead of the views' internal docstrings
OPERATIONS: dict[tuple[str, str], tuple[str, str]] = {
    ("/api/v1/ai-systems/", "get"): (
        "List AI systems",
        "The AI systems of your organisation, with their purpose, Annex III category "
        "and review settings.",
    ),
    ("/api/v1/ai-systems/", "post"): (
        "Register an AI system",
        "Organisation admins register an AI system before its model versions.",
    ),
    ("/api/v1/ai-systems/{id}/", "get"): ("Read an AI system", "One AI system."),
    ("/api/v1/model-versions/", "get"): (
        "List model versions",
        "Model versions of your AI systems, with their feature schema and labels.",
    ),
    ("/api/v1/model-versions/", "post"): (
        "Register a model version",
        "Multipart: the JSON fields as text and the weights as a safetensors file "
        "(pickles are refused). The sha256 of the weights is recorded.",
    ),
    ("/api/v1/model-versions/{id}/", "get"): (
        "Read a model version",
        "One model version.",
    ),
    ("/api/v1/decisions/", "get"): (
        "List decisions",
        "Decisions newest first, filtered by AI system, model version, outcome, "
        "status, time, external_id or subject_ref. Page numbers (page, page_size) or "
        "a cursor that does not drift while decisions arrive (cursor=).",
    ),
    ("/api/v1/decisions/", "post"): (
        "Submit a decision",
        "201 with the stored decision; the same submission again is 200 (a replay); "
        "the same external_id with other content is 409.",
    ),
    ("/api/v1/decisions/bulk/", "post"): (
        "Submit up to 1,000 decisions",
        "Each item is answered on its own in input order (201, 200, 409 or 400 with "
        "its error); the valid ones are stored in chunks, one transaction each.",
    ),
    ("/api/v1/decisions/{id}/", "get"): (
        "Read a decision",
        "One decision with its status and final outcome after human review.",
    ),
    ("/api/v1/decisions/{id}/explanations/", "get"): (
        "List a decision's explanations",
        "The stored explanations, one per method, with reasons, quality figures and "
        "the counterfactual.",
    ),
    ("/api/v1/decisions/{id}/explanations/", "post"): (
        "Request explanations",
        "Queues a job computing the methods asked for; 202 with the job, whose "
        "Location you poll. The same request again returns the same job.",
    ),
    ("/api/v1/decisions/{id}/reviews/", "get"): (
        "List a decision's reviews",
        "Human reviews, oldest first, superseded ones included.",
    ),
    ("/api/v1/decisions/{id}/dossiers/", "post"): (
        "Issue a dossier",
        "Queues the explanation dossier (PDF) of the decision; 202 with the job to "
        "poll. Needs a stored explanation.",
    ),
    ("/api/v1/decisions/{id}/notices/", "post"): (
        "Issue a notice",
        "Queues the notice to the person the decision is about, in their language; "
        "202 with the job, or 200 with the unchanged notice.",
    ),
    ("/api/v1/decisions/{id}/contests/", "get"): (
        "List a decision's contests",
        "What the person contested, oldest first.",
    ),
    ("/api/v1/decisions/{id}/contests/", "post"): (
        "Contest a decision",
        "Forward what the person wrote; the case reopens for human review.",
    ),
    ("/api/v1/dossiers/", "get"): ("List dossiers", "Dossiers, newest version first."),
    ("/api/v1/dossiers/{id}/", "get"): ("Read a dossier", "One dossier's record."),
    ("/api/v1/dossiers/{id}/pdf/", "get"): (
        "Download a dossier",
        "The signed PDF as stored (application/pdf, or application/octet-stream when "
        "you ask for it); X-Content-SHA256 gives its hash. Each download is audited.",
    ),
    ("/api/v1/dossiers/verify/", "post"): (
        "Verify a document (your organisation)",
        "Send the PDF (multipart, field pdf) or its sha256 (JSON): which decision, "
        "version and issue time it belongs to, if it is one of yours.",
    ),
    ("/api/v1/public/verify/", "post"): (
        "Verify a document (anyone)",
        "No key needed: is this PDF (or sha256) a dossier or notice issued here, and "
        "is it the latest version. Nothing of the content is returned.",
    ),
    ("/api/v1/notices/", "get"): (
        "List notices",
        "Notices to the people decisions are about, filtered by decision and language.",
    ),
    ("/api/v1/notices/{id}/", "get"): ("Read a notice", "One notice's record."),
    ("/api/v1/notices/{id}/pdf/", "get"): (
        "Download a notice (PDF)",
        "The signed PDF as stored; each download is audited.",
    ),
    ("/api/v1/notices/{id}/html/", "get"): (
        "Download a notice (HTML)",
        "The self-contained HTML as stored; each download is audited.",
    ),
    ("/api/v1/jobs/", "get"): (
        "List jobs",
        "Background jobs newest first, with a cursor that does not drift.",
    ),
    ("/api/v1/jobs/{id}/", "get"): (
        "Read a job",
        "Poll it: status (queued, running, done, failed), progress, error.",
    ),
    ("/api/v1/audit-events/", "get"): (
        "List audit events",
        "Your organisation's hash-chained audit trail, newest first, with a cursor.",
    ),
    ("/api/v1/monitoring/oversight/", "get"): (
        "Oversight statistics",
        "Per AI system, reviewer and month: reviews, overrides with a 95 % interval, "
        "blind-first agreement, switches to the model, review times, late reviews.",
    ),
    ("/api/v1/monitoring/fairness/", "get"): (
        "Fairness statistics",
        "Per protected attribute and pair: favourable rates and adverse impact "
        "ratios with bootstrap intervals, reasons per group with chi-square.",
    ),
    ("/api/v1/monitoring/drift/", "get"): (
        "Drift statistics",
        "Per model version and month: PSI per feature, output mix, explanation drift.",
    ),
}


def operations_describe(path: str, method: str, operation: dict[str, Any]) -> None:
    summary, description = OPERATIONS.get((path, method), ("", ""))
    if summary:
        operation["summary"] = summary
        operation["description"] = description
    operation["tags"] = [tag_for(path)]
