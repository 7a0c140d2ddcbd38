"""Every endpoint × method × persona is asserted allowed or denied.

Other organisations' objects answer 404 (existence does not leak); lists show only
the caller's own organisation.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from compliance.models import (
    AISystem,
    AuditEvent,
    Decision,
    Job,
    ModelVersion,
)
from tests import factories
from tests.conftest import PERSONAS

A, C, OFF, U, D, X = PERSONAS  # anonymous, client, officer, auditor, admin, other org


def _ai_system_body(world: Any) -> dict[str, Any]:
    return {
        "name": f"New system {AISystem.objects.count()}",
        "provider": "Acme",
        "intended_purpose": "Scoring",
        "annex_iii_category": "5(b)",
    }


def _model_version_body(world: Any) -> dict[str, Any]:
    return {
        "ai_system": world.ai_system.pk,
        "version": f"9.{ModelVersion.objects.count()}",
        "architecture": "logistic_regression",
        "feature_schema": json.dumps(factories.TINY_SCHEMA),
        "class_labels": json.dumps(["good", "bad"]),
        "favourable_class": "good",
        "decision_threshold": "0.5",
        "weights": SimpleUploadedFile("m.safetensors", factories.tiny_weights()),
    }


def _decision_body(world: Any) -> dict[str, Any]:
    return factories.decision_payload(world.model_version)


# (method, url builder, body builder or None, multipart?, {persona: expected status})
MATRIX: list[tuple[str, Any, Any, bool, dict[str, int]]] = [
    (
        "get",
        lambda w: "/api/v1/ai-systems/",
        None,
        False,
        {A: 401, C: 200, OFF: 200, U: 200, D: 200, X: 200},
    ),
    (
        "post",
        lambda w: "/api/v1/ai-systems/",
        _ai_system_body,
        False,
        {A: 401, C: 403, OFF: 403, U: 403, D: 201, X: 403},
    ),
    (
        "get",
        lambda w: f"/api/v1/ai-systems/{w.ai_system.pk}/",
        None,
        False,
        {A: 401, C: 200, OFF: 200, U: 200, D: 200, X: 404},
    ),
    (
        "get",
        lambda w: "/api/v1/model-versions/",
        None,
        False,
        {A: 401, C: 200, OFF: 200, U: 200, D: 200, X: 200},
    ),
    (
        "post",
        lambda w: "/api/v1/model-versions/",
        _model_version_body,
        True,
        {A: 401, C: 403, OFF: 403, U: 403, D: 201, X: 403},
    ),
    (
        "get",
        lambda w: f"/api/v1/model-versions/{w.model_version.pk}/",
        None,
        False,
        {A: 401, C: 200, OFF: 200, U: 200, D: 200, X: 404},
    ),
    (
        "get",
        lambda w: "/api/v1/decisions/",
        None,
        False,
        {A: 401, C: 200, OFF: 200, U: 200, D: 200, X: 200},
    ),
    (
        "post",
        lambda w: "/api/v1/decisions/",
        _decision_body,
        False,
        {A: 401, C: 201, OFF: 403, U: 403, D: 403, X: 403},
    ),
    (
        "post",
        lambda w: f"/api/v1/decisions/{w.decision.pk}/explanations/",
        lambda w: {"methods": ["saliency"]},
        False,
        {A: 401, C: 202, OFF: 202, U: 403, D: 202, X: 404},
    ),
    (
        "get",
        lambda w: f"/api/v1/decisions/{w.decision.pk}/explanations/",
        None,
        False,
        {A: 401, C: 200, OFF: 200, U: 200, D: 200, X: 404},
    ),
    (
        "post",
        lambda w: f"/api/v1/decisions/{w.decision.pk}/dossiers/",
        None,
        False,
        # allowed roles reach the completeness check: no explanation yet -> 400
        {A: 401, C: 400, OFF: 400, U: 403, D: 400, X: 404},
    ),
    (
        "get",
        lambda w: "/api/v1/dossiers/",
        None,
        False,
        {A: 401, C: 200, OFF: 200, U: 200, D: 200, X: 200},
    ),
    (
        "get",
        lambda w: f"/api/v1/dossiers/{w.dossier.pk}/",
        None,
        False,
        {A: 401, C: 200, OFF: 200, U: 200, D: 200, X: 404},
    ),
    (
        "get",
        lambda w: f"/api/v1/dossiers/{w.dossier.pk}/pdf/",
        None,
        False,
        {A: 401, C: 200, OFF: 200, U: 200, D: 200, X: 404},
    ),
    (
        "post",
        lambda w: "/api/v1/dossiers/verify/",
        lambda w: {"sha256": "ab" * 32},
        False,
        {A: 401, C: 200, OFF: 200, U: 200, D: 200, X: 200},
    ),
    (
        "get",
        lambda w: f"/api/v1/jobs/{w.job.pk}/",
        None,
        False,
        {A: 401, C: 200, OFF: 200, U: 200, D: 200, X: 404},
    ),
    (
        "get",
        lambda w: f"/api/v1/decisions/{w.decision.pk}/",
        None,
        False,
        {A: 401, C: 200, OFF: 200, U: 200, D: 200, X: 404},
    ),
]

CASES = [
    pytest.param(
        method, url, body, multipart, persona, expected, id=f"{method}-{i}-{persona}"
    )
    for i, (method, url, body, multipart, expectations) in enumerate(MATRIX)
    for persona, expected in expectations.items()
]


def _row_counts() -> tuple[int, ...]:
    models = (Decision, ModelVersion, AISystem, Job, AuditEvent)
    return tuple(model.objects.count() for model in models)


def test_every_case_names_every_persona():
    for _, _, _, _, expectations in MATRIX:
        assert set(expectations) == set(PERSONAS)


@pytest.mark.parametrize(
    ("method", "url", "body", "multipart", "persona", "expected"), CASES
)
def test_role_matrix(
    world_with_job, api_as, method, url, body, multipart, persona, expected
):
    api = api_as(persona)
    kwargs: dict[str, Any] = {}
    if body is not None:
        kwargs = {
            "data": body(world_with_job),
            "format": "multipart" if multipart else "json",
        }
    counts = _row_counts()
    response = getattr(api, method)(url(world_with_job), **kwargs)
    assert response.status_code == expected, response.content
    if expected >= 400:
        body_json = response.json()
        assert set(body_json) == {"code", "detail", "errors"}
        assert counts == _row_counts()  # denied writes change nothing
    if expected == 401:
        assert response["WWW-Authenticate"] == "Api-Key"


@pytest.mark.parametrize(
    "url", ["/api/v1/ai-systems/", "/api/v1/model-versions/", "/api/v1/decisions/"]
)
def test_lists_show_only_the_callers_organisation(world, api_as, url):
    ours = api_as("officer").get(url).json()["results"]
    theirs = api_as("other_org").get(url).json()["results"]
    assert ours and theirs
    assert not {r["id"] for r in ours} & {r["id"] for r in theirs}


def test_it_answers_404_for_another_orgs_decision_to_a_client_system(world):
    from rest_framework.test import APIClient

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {world.other_client_key}")
    assert api.get(f"/api/v1/decisions/{world.decision.pk}/").status_code == 404


def test_a_client_cannot_submit_to_another_orgs_model_version(world, api_as):
    payload = factories.decision_payload(world.other_model_version)
    before = Decision.objects.count()
    response = api_as("client").post("/api/v1/decisions/", payload, format="json")
    assert response.status_code == 400
    assert "model_version" in response.json()["errors"]
    assert Decision.objects.count() == before


def test_an_admin_cannot_register_a_version_for_another_orgs_ai_system(world, api_as):
    body = _model_version_body(world)
    body["ai_system"] = world.other_model_version.ai_system.pk
    response = api_as("admin").post("/api/v1/model-versions/", body, format="multipart")
    assert response.status_code == 400
    assert response.json()["errors"] == {"ai_system": ["Unknown AI system."]}


def test_a_user_without_a_membership_is_refused(world):
    from django.contrib.auth import get_user_model
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_login(get_user_model().objects.create_user("drifter", password="x"))
    response = api.get("/api/v1/decisions/")
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_unsupported_methods_answer_405(world, api_as, method):
    response = getattr(api_as("admin"), method)(
        f"/api/v1/decisions/{world.decision.pk}/"
    )
    assert response.status_code == 405
    assert Decision.objects.filter(pk=world.decision.pk).exists()
