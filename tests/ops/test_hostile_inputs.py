"""A catalogue of hostile inputs against every JSON write endpoint of the API.

Each must get a 4xx with a JSON error body ({code, detail, errors}) and write nothing.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from rest_framework.test import APIClient

from compliance.models import (
    AISystem,
    AuditEvent,
    Decision,
    Dossier,
    Job,
    ModelVersion,
)
from tests import factories

NESTED = "[" * 200 + "]" * 200
HUGE_STRING = "A" * 300_000


def _decision_bodies(world: Any) -> list[tuple[str, str | bytes, str]]:
    base = factories.decision_payload(world.model_version)
    bodies: list[tuple[str, str | bytes, str]] = []

    def variant(name: str, **changes: Any) -> None:
        bodies.append((name, json.dumps({**base, **changes}), "application/json"))

    for literal in ("NaN", "Infinity", "-Infinity", "1e400", "-1e999", "1" + "0" * 500):
        payload = json.dumps({**base, "score": "__X__"}).replace('"__X__"', literal)
        bodies.append((f"score {literal[:12]}", payload, "application/json"))
        payload = json.dumps(
            {**base, "features": {**base["features"], "income": "__X__"}}
        )
        bodies.append(
            (
                f"feature {literal[:12]}",
                payload.replace('"__X__"', literal),
                "application/json",
            )
        )
    variant(
        "deeply nested feature",
        features={**base["features"], "purpose": json.loads("[" * 30 + "]" * 30)},
    )
    bodies.append(("nesting 200 deep", NESTED, "application/json"))
    variant("huge external_id", external_id=HUGE_STRING)
    variant("huge subject_ref", subject_ref="é" * 1000)
    variant("NUL in subject_ref", subject_ref="applicant\u0000x")
    variant("lone surrogate", subject_ref="\ud800")
    variant(
        "RTL override in a category",
        features={**base["features"], "purpose": "car\u202e"},
    )
    variant("emoji category", features={**base["features"], "purpose": "🚗"})
    variant(
        "zero-width joiner feature name",
        features={**base["features"], "inc\u200dome": 1},
    )
    variant("unicode digits as score", score="٠٫٥")
    variant("boolean score", score=True)
    variant("list body", **{})
    bodies[-1] = ("list body", json.dumps([base]), "application/json")
    bodies.append(("empty body", "", "application/json"))
    bodies.append(("not json", "model_version=1", "application/json"))
    bodies.append(
        ("utf-16 body", json.dumps(base).encode("utf-16"), "application/json")
    )
    bodies.append(
        (
            "form encoded",
            "model_version=1&score=0.5",
            "application/x-www-form-urlencoded",
        )
    )
    bodies.append(("xml", "<decision/>", "application/xml"))
    bodies.append(("text", json.dumps(base), "text/plain"))
    bodies.append(("multipart without boundary", "x", "multipart/form-data"))
    return bodies


def _endpoints(world: Any) -> list[tuple[str, list[tuple[str, str | bytes, str]], str]]:
    d = world.decision.pk
    generic = [
        ("nesting 200 deep", NESTED, "application/json"),
        ("NaN literal", '{"methods": [NaN]}', "application/json"),
        ("huge string", json.dumps({"methods": [HUGE_STRING]}), "application/json"),
        ("lone surrogate", json.dumps({"methods": ["\ud800"]}), "application/json"),
        ("wrong content type", "<x/>", "application/xml"),
        ("not json", "{", "application/json"),
        ("list body", "[]", "application/json"),
        ("unknown field", json.dumps({"colour": "red"}), "application/json"),
    ]
    return [
        ("/api/v1/decisions/", _decision_bodies(world), "client"),
        (f"/api/v1/decisions/{d}/explanations/", generic, "client"),
        (
            "/api/v1/ai-systems/",
            generic
            + [
                (
                    "NUL in name",
                    json.dumps(
                        {"name": "a\u0000b", "provider": "p", "intended_purpose": "x"}
                    ),
                    "application/json",
                ),
                (
                    "huge purpose",
                    json.dumps(
                        {"name": "n", "provider": "p", "intended_purpose": HUGE_STRING}
                    ),
                    "application/json",
                ),
            ],
            "admin",
        ),
        (
            "/api/v1/dossiers/verify/",
            generic
            + [
                ("bad sha", json.dumps({"sha256": "zz" * 32}), "application/json"),
                ("both sha and nothing", json.dumps({}), "application/json"),
            ],
            "client",
        ),
    ]


def _counts() -> tuple[int, ...]:
    models = (Decision, AISystem, ModelVersion, Job, Dossier, AuditEvent)
    return tuple(m.objects.count() for m in models)


def test_hostile_inputs_get_json_4xx_and_write_nothing(world_with_job, capsys):
    world = world_with_job
    tried, failures = 0, []
    for url, bodies, persona in _endpoints(world):
        api = APIClient()
        if persona == "client":
            api.credentials(HTTP_AUTHORIZATION=f"Api-Key {world.client_key}")
        else:
            api.force_login(world.admin)
        for name, body, content_type in bodies:
            before = _counts()
            response = api.generic("POST", url, body, content_type=content_type)
            tried += 1
            ok = 400 <= response.status_code < 500
            try:
                parsed = response.json()
                ok = ok and set(parsed) == {"code", "detail", "errors"}
            except ValueError:
                ok = False
            if not ok or _counts() != before:
                failures.append(
                    f"{url} {name}: {response.status_code} {response.content[:120]!r}"
                )
    oversized = APIClient()
    oversized.credentials(HTTP_AUTHORIZATION=f"Api-Key {world.client_key}")
    before = _counts()
    response = oversized.generic(
        "POST",
        "/api/v1/decisions/",
        "x" * (1024 * 1024 + 1),
        content_type="application/json",
    )
    tried += 1
    if response.status_code != 413 or _counts() != before:
        failures.append(f"oversized body: {response.status_code}")
    print(
        f"\nHostile inputs: {tried} tried, {len(failures)} not answered with a JSON 4xx"
    )
    assert failures == []


@pytest.mark.parametrize("length", ["-5", "abc", "99999999999999999999"])
def test_bad_content_length_headers_are_answered(world, length):
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {world.client_key}")
    response = api.generic(
        "POST",
        "/api/v1/decisions/",
        "{}",
        content_type="application/json",
        CONTENT_LENGTH=length,
    )
    assert response.status_code in (400, 413) and response.json()["code"]
