"""POST /api/v1/decisions/{id}/explanations/ within a cost budget; the AI system API
shows the budget."""

from __future__ import annotations

import pytest

import explain
from compliance.models import Job
from compliance.principals import SYSTEM_OPERATOR
from compliance.registry import services as registry


def _url(world) -> str:
    return f"/api/v1/decisions/{world.decision.pk}/explanations/"


def test_the_red_team_request_is_a_400_naming_the_steps(world, api_as):
    before = Job.objects.count()
    response = api_as("client").post(
        _url(world),
        {
            "methods": ["integrated_gradients"],
            "parameters": {
                "integrated_gradients": {
                    "n_steps": 4096,
                    "max_n_steps": 8192,
                    "tolerance": 0,
                }
            },
        },
        format="json",
    )
    assert response.status_code == 400, response.content
    message = response.json()["errors"]["parameters"][0]
    assert "integrated_gradients.n_steps must be at most 1024" in message
    assert Job.objects.count() == before


def test_a_request_over_the_ai_systems_budget_is_a_400_with_estimate_and_limit(
    world, api_as
):
    registry.ai_system_update(
        operator=SYSTEM_OPERATOR,
        ai_system=world.ai_system,
        explanation_cost_budget=12_000,
    )
    body = {
        "methods": ["integrated_gradients", "gradient_shap"],
        "parameters": {"gradient_shap": {"n_samples": 400}},
    }
    schema = explain.parse_feature_schema(world.model_version.feature_schema)
    estimate = explain.schema_cost(
        schema, *explain.resolve_request(body["methods"], body["parameters"])
    ).evaluations
    before = Job.objects.count()
    response = api_as("officer").post(_url(world), body, format="json")
    assert response.status_code == 400, response.content
    error = response.json()
    message = error["errors"]["parameters"][0]
    assert f"{estimate:,}" in message and "the limit is 12,000" in message
    # the counterfactual search (20,000) alone would not bring it under
    assert "parameters.counterfactual" in message
    assert "parameters.gradient_shap.n_samples" in message
    assert error["detail"] == message
    assert Job.objects.count() == before
    # without the counterfactual search and with fewer samples it fits
    body["parameters"] = {"gradient_shap": {"n_samples": 50}, "counterfactual": False}
    response = api_as("officer").post(_url(world), body, format="json")
    assert response.status_code == 202, response.content


@pytest.mark.parametrize("persona", ["client", "officer"])
def test_the_ai_system_api_shows_the_budget(world, api_as, settings, persona):
    url = f"/api/v1/ai-systems/{world.ai_system.pk}/"
    shown = api_as(persona).get(url).json()
    assert shown["explanation_cost_budget"] is None
    assert shown["explanation_cost_limit"] == settings.EXPLANATION_COST_BUDGET
    registry.ai_system_update(
        operator=SYSTEM_OPERATOR,
        ai_system=world.ai_system,
        explanation_cost_budget=40_000,
    )
    shown = api_as(persona).get(url).json()
    assert (shown["explanation_cost_budget"], shown["explanation_cost_limit"]) == (
        40_000,
        40_000,
    )


def _register_body(**extra):
    return {
        "name": "Budgeted scoring",
        "provider": "Acme",
        "intended_purpose": "Credit",
        **extra,
    }


def test_an_ai_system_is_registered_with_its_own_budget(world, api_as, settings):
    response = api_as("admin").post(
        "/api/v1/ai-systems/",
        _register_body(explanation_cost_budget=60_000),
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["explanation_cost_budget"] == 60_000
    assert response.json()["explanation_cost_limit"] == 60_000
    # without one: the platform default
    response = api_as("admin").post(
        "/api/v1/ai-systems/", _register_body(name="Default scoring"), format="json"
    )
    assert response.json()["explanation_cost_budget"] is None


@pytest.mark.parametrize("value", ["60000", 60000.5, True, 0, -5, 10**12], ids=str)
def test_a_budget_that_is_not_a_whole_number_in_range_is_a_400_naming_it(
    world, api_as, value
):
    response = api_as("admin").post(
        "/api/v1/ai-systems/",
        _register_body(explanation_cost_budget=value),
        format="json",
    )
    assert response.status_code == 400, response.content
    assert "explanation_cost_budget" in response.json()["errors"]
