"""The proxy analysis of a model version: measured at registration, stored and shown
read-only with the version, carried to the engine's protected-attribute warning and
named in the dossier (issue 14, item 5)."""

from __future__ import annotations

import io
import json
import random
from typing import Any

import pytest
import torch
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from pypdf import PdfReader

import explain
from compliance import decisions as intake
from compliance import dossiers, explanations
from compliance.jobs import jobs_process
from compliance.models import AuditEvent, ExplanationRun, ModelVersion
from compliance.principals import SYSTEM_OPERATOR, Principal
from compliance.registry import services as registry
from compliance.registry.loading import model_version_load
from compliance.reviews import review_record
from tests import factories

URL = "/api/v1/model-versions/"
BASELINE = {"income": 3000.0, "age": 40, "purpose": "other", "has_guarantor": False}


def _background(n: int = 60) -> list[dict[str, Any]]:
    # income follows age: a proxy of the protected attribute
    rng = random.Random(3)
    rows = []
    for _ in range(n):
        age = rng.randint(20, 80)
        rows.append(
            {
                "income": float(age * 100 + rng.randint(-200, 200)),
                "age": age,
                "purpose": rng.choice(["car", "education", "other"]),
                "has_guarantor": rng.random() < 0.5,
            }
        )
    return rows


SCHEMA = {**factories.TINY_SCHEMA, "baseline": BASELINE, "background": _background()}


def _income_only_weights() -> bytes:
    """A model that scores on income alone (a flagged proxy of age)."""
    model = explain.build_model(
        "logistic_regression", explain.parse_feature_schema(SCHEMA)
    )
    with torch.no_grad():
        model.linear.weight.zero_()
        model.linear.weight[0, 0] = -3.0
        model.linear.bias.zero_()
    return explain.model_to_safetensors(model)


def test_registration_stores_the_analysis_and_the_api_shows_it_read_only(world, api_as):
    body = {
        "ai_system": world.ai_system.pk,
        "version": "2.0.0",
        "architecture": "logistic_regression",
        "feature_schema": json.dumps(SCHEMA),
        "class_labels": json.dumps(["good", "bad"]),
        "favourable_class": "good",
        "decision_threshold": "0.5",
        "weights": SimpleUploadedFile("m.safetensors", _income_only_weights()),
    }
    response = api_as("admin").post(URL, body, format="multipart")
    assert response.status_code == 201, response.content
    analysis = response.json()["proxy_analysis"]
    assert analysis["status"] == "analysed" and analysis["rows"] == 60
    assert analysis["proxies"] == {"income": ["age"]}
    age = analysis["attributes"]["age"]
    assert age["proxies"] == ["income"]
    assert age["features"]["income"]["score"] >= analysis["threshold"]
    assert age["probe"]["metric"] == "r2" and age["probe"]["over_chance"] > 0.9
    mv = ModelVersion.objects.get(pk=response.json()["id"])
    assert mv.proxy_analysis == analysis
    event = AuditEvent.objects.get(
        action="model_version.registered", object_id=str(mv.pk)
    )
    assert event.payload["proxy_analysis"] == {
        "status": "analysed",
        "proxies": {"income": ["age"]},
    }
    # a client reads it; nothing can write it
    detail = api_as("client").get(f"{URL}{mv.pk}/").json()
    assert detail["proxy_analysis"] == analysis
    refused = api_as("admin").post(
        URL,
        {
            **body,
            "version": "2.0.1",
            "weights": SimpleUploadedFile("m.safetensors", _income_only_weights()),
            "proxy_analysis": json.dumps({"proxies": {}}),
        },
        format="multipart",
    )
    assert refused.status_code == 400
    assert "proxy_analysis" in refused.json()["errors"]


def test_the_openapi_schema_documents_the_analysis(api_as):
    schema = api_as("client").get("/api/schema/", {"format": "json"}).json()
    field = schema["components"]["schemas"]["ModelVersionOutput"]["properties"][
        "proxy_analysis"
    ]
    assert field["readOnly"] is True
    assert "protected attribute" in field["description"]


def test_a_version_without_background_rows_records_why_it_was_not_analysed(world):
    mv = factories.make_model_version(world.ai_system)
    assert mv.proxy_analysis["status"] == "not_analysed"
    assert "background" in mv.proxy_analysis["note"]
    _, schema = model_version_load(mv)
    assert schema.proxies == {}


@pytest.fixture
def proxied(world) -> Any:
    ai = factories.make_ai_system(world.org, "Proxied scoring")
    mv = registry.model_version_register(
        principal=Principal(organization=world.org, role="admin"),
        ai_system=ai,
        version="1.0",
        architecture="logistic_regression",
        hyperparameters={},
        feature_schema=SCHEMA,
        class_labels=["good", "bad"],
        favourable_class="good",
        decision_threshold=0.5,
        weights=_income_only_weights(),
    )
    model, schema = model_version_load(mv)
    features = dict(factories.VALID_FEATURES)
    score = float(explain.predict_proba(model, schema.encode([features]))[0])
    payload = factories.decision_payload(
        mv,
        features=features,
        score=score,
        outcome="bad" if score >= 0.5 else "good",
        decided_at=timezone.now(),
    )
    decision, _ = intake.decision_submit(
        principal=Principal(
            organization=world.org, role="client", client_system=world.client_system
        ),
        submission=intake.Submission.from_validated(payload),
    )
    explanations.explanation_request(
        principal=SYSTEM_OPERATOR, decision=decision, methods=["integrated_gradients"]
    )
    jobs_process(kind="explanation", worker="test", limit=10)
    decision.refresh_from_db()
    world.proxied_decision = decision
    return world


def test_the_explanation_job_warns_of_a_flagged_proxy(proxied):
    _, schema = model_version_load(proxied.proxied_decision.model_version)
    assert schema.proxies == {"income": ("age",)}
    run = ExplanationRun.objects.get(decision=proxied.proxied_decision)
    [warning] = run.warnings
    assert warning["code"] == "protected_attribute_influence"
    assert warning["feature"] == "income"
    assert warning["proxy_for"] == ["age"]
    assert warning["share"] == 1.0
    assert proxied.proxied_decision.status == "needs_review"


def test_the_dossier_names_the_proxies_and_the_decisions_warning(proxied):
    decision = proxied.proxied_decision
    review_record(
        principal=Principal(
            organization=proxied.org, role="officer", user=proxied.officer
        ),
        decision=decision,
        action="uphold",
        justification="Checked the inputs against the application file.",
    )
    dossier = dossiers.dossier_issue(
        decision=decision, principal=SYSTEM_OPERATOR, fetcher=dossiers.SafeFetcher()
    )
    reader = PdfReader(io.BytesIO(bytes(dossier.pdf)))
    flat = " ".join(" ".join(p.extract_text() for p in reader.pages).split())
    assert "Proxy analysis at registration (60 training rows)" in flat
    score = decision.model_version.proxy_analysis["attributes"]["age"]["features"][
        "income"
    ]["score"]
    assert f"Age Monthly income ({score})" in flat
    assert (
        'Warning: "income", a proxy of the protected attribute age, carries 1.0 of '
        "the attribution (rank 1)." in flat
    )
