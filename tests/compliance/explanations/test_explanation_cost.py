"""The cost budget of explanation requests: platform default, per AI system, enforced
before a job exists and again when it runs."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone

import explain
from compliance import decisions as intake
from compliance import explanations
from compliance.errors import ValidationFailed
from compliance.jobs import jobs_process
from compliance.models import AuditEvent, Decision, Explanation, Job
from compliance.principals import SYSTEM_OPERATOR, Principal
from compliance.registry import services as registry
from tests import factories

RED_TEAM = {"n_steps": 4096, "max_n_steps": 8192, "tolerance": 0}
WIDE_FEATURES = 300


def _wide_schema(n: int = WIDE_FEATURES) -> dict[str, Any]:
    features = [
        {
            "name": f"x{i}",
            "label": f"Feature {i}",
            "kind": "numeric",
            "min": 0,
            "max": 100,
            "actionable_direction": "any",
            "reason": f"Feature {i}",
        }
        for i in range(n)
    ]
    return {"features": features, "baseline": {f"x{i}": 50 for i in range(n)}}


def _register(ai, schema: dict[str, Any], version: str = "wide-1"):
    return registry.model_version_register(
        principal=Principal(organization=ai.organization, role="admin"),
        ai_system=ai,
        version=version,
        architecture="logistic_regression",
        hyperparameters={},
        feature_schema=schema,
        class_labels=["good", "bad"],
        favourable_class="good",
        decision_threshold=0.5,
        weights=factories.tiny_weights(schema),
    )


def _decision_of(world, mv, features: dict[str, Any]):
    payload = {
        "model_version": mv.pk,
        "external_id": f"wide-{Decision.objects.count()}",
        "subject_ref": "applicant-wide",
        "features": features,
        # not the wide model's score: the decision is flagged, which is fine here
        "score": 0.6,
        "outcome": "bad",
        "decided_at": timezone.now(),
    }
    principal = Principal(
        organization=world.org, role="client", client_system=world.client_system
    )
    return intake.decision_submit(
        principal=principal, submission=intake.Submission.from_validated(payload)
    )[0]


def _request(decision, methods, parameters=None):
    return explanations.explanation_request(
        principal=SYSTEM_OPERATOR,
        # as a request loads it: with the AI system's current budget
        decision=Decision.objects.get(pk=decision.pk),
        methods=methods,
        parameters=parameters,
    )


def _budget(world, value):
    return registry.ai_system_update(
        operator=SYSTEM_OPERATOR,
        ai_system=world.ai_system,
        explanation_cost_budget=value,
    )


@pytest.fixture
def wide_decision(world):
    mv = _register(world.ai_system, _wide_schema())
    return _decision_of(world, mv, {f"x{i}": 10 for i in range(WIDE_FEATURES)})


def test_the_red_team_request_is_refused_before_a_job_exists(world):
    with pytest.raises(ValidationFailed) as raised:
        _request(
            world.decision, ["integrated_gradients"], {"integrated_gradients": RED_TEAM}
        )
    assert "at most 1024" in raised.value.errors["parameters"][0]
    assert not Job.objects.filter(decision=world.decision).exists()


def test_a_request_over_the_default_budget_names_its_parameters_and_the_limit(
    wide_decision, settings
):
    # 400 permutations of 300 features, run 7 times (sensitivity): over 800,000
    heavy = {"shapley_sampling": {"n_samples": 400}}
    estimate = explain.schema_cost(
        explain.parse_feature_schema(wide_decision.model_version.feature_schema),
        *explain.resolve_request(["shapley_sampling"], heavy),
    ).evaluations
    assert estimate > 800_000
    with pytest.raises(ValidationFailed) as raised:
        _request(wide_decision, ["shapley_sampling"], heavy)
    message = raised.value.errors["parameters"][0]
    assert "parameters.shapley_sampling.n_samples" in message
    limit = settings.EXPLANATION_COST_BUDGET
    assert f"the limit is {limit:,}" in message and f"{estimate:,}" in message
    assert not Job.objects.filter(decision=wide_decision).exists()
    # the same request with fewer samples is accepted
    job, created = _request(
        wide_decision, ["shapley_sampling"], {"shapley_sampling": {"n_samples": 50}}
    )
    assert created and job.status == Job.Status.QUEUED


def test_the_job_payload_records_the_estimate_and_the_budget(world, settings):
    job, _ = _request(world.decision, ["integrated_gradients", "deeplift"])
    cost = job.payload["cost"]
    resolved = explain.resolve_request(["integrated_gradients", "deeplift"], {})
    schema = explain.parse_feature_schema(world.model_version.feature_schema)
    assert cost["evaluations"] == explain.schema_cost(schema, *resolved).evaluations
    assert cost["budget"] == settings.EXPLANATION_COST_BUDGET
    assert cost["parts"]["counterfactual"] == 20_000
    assert sum(cost["parts"].values()) == cost["evaluations"]
    # the estimate is not part of what makes two requests the same
    again, created = _request(world.decision, ["integrated_gradients", "deeplift"])
    assert again.pk == job.pk and not created


def test_an_ai_system_budget_replaces_the_default(world, settings):
    schema = explain.parse_feature_schema(world.model_version.feature_schema)
    ig = explain.schema_cost(
        schema, *explain.resolve_request(["integrated_gradients"], {})
    ).evaluations
    _budget(world, ig - 1)
    with pytest.raises(ValidationFailed, match=f"the limit is {ig - 1:,}"):
        _request(world.decision, ["integrated_gradients"])
    _budget(world, ig)
    _request(world.decision, ["integrated_gradients"])
    # above the platform default, up to the platform maximum
    settings.EXPLANATION_COST_BUDGET = 1_000
    _budget(world, None)
    with pytest.raises(ValidationFailed, match="the limit is 1,000"):
        _request(world.decision, ["deeplift"])
    _budget(world, 2_000_000)
    _request(world.decision, ["deeplift"])


def test_the_platform_maximum_caps_every_budget(world, settings):
    _budget(world, 2_000_000)
    settings.EXPLANATION_COST_BUDGET_MAX = 20_000
    world.ai_system.refresh_from_db()
    assert world.ai_system.explanation_cost_limit == 20_000
    with pytest.raises(ValidationFailed, match="the limit is 20,000"):
        _request(world.decision, ["integrated_gradients", "gradient_shap"])


@pytest.mark.parametrize("value", [0, -5, 5_000_001, True, 1000.0, "1000"])
def test_a_budget_must_be_a_whole_number_up_to_the_platform_maximum(world, value):
    with pytest.raises(ValidationFailed) as raised:
        _budget(world, value)
    assert "5,000,000" in raised.value.errors["explanation_cost_budget"][0]
    world.ai_system.refresh_from_db()
    assert world.ai_system.explanation_cost_budget is None


def test_registering_with_a_budget_is_audited(world):
    ai = registry.ai_system_register(
        principal=Principal(organization=world.org, role="admin"),
        name="Budgeted",
        provider="Acme",
        intended_purpose="Testing",
        explanation_cost_budget=40_000,
    )
    assert ai.explanation_cost_budget == 40_000 and ai.explanation_cost_limit == 40_000
    event = AuditEvent.objects.get(action="ai_system.registered", object_id=ai.pk)
    assert event.payload["explanation_cost_budget"] == 40_000
    with pytest.raises(ValidationFailed) as raised:
        registry.ai_system_register(
            principal=Principal(organization=world.org, role="admin"),
            name="Too much",
            provider="Acme",
            intended_purpose="Testing",
            explanation_cost_budget=10**9,
        )
    assert "explanation_cost_budget" in raised.value.errors


def test_a_changed_budget_is_audited_with_old_and_new(world):
    _budget(world, 60_000)
    _budget(world, None)
    events = AuditEvent.objects.filter(
        action="ai_system.updated", object_id=world.ai_system.pk
    ).order_by("id")
    assert [e.payload for e in events] == [
        {
            "old": {"explanation_cost_budget": None},
            "new": {"explanation_cost_budget": 60_000},
        },
        {
            "old": {"explanation_cost_budget": 60_000},
            "new": {"explanation_cost_budget": None},
        },
    ]


def test_a_queued_job_over_a_lowered_budget_fails_instead_of_running(world):
    job, _ = _request(world.decision, ["integrated_gradients"])
    _budget(world, 1_000)
    jobs_process(kind="explanation", worker="w", limit=5)
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED
    assert "the limit is 1,000" in job.error
    assert not Explanation.objects.filter(job=job).exists()


def test_explain_on_receipt_must_fit_the_budget(world):
    ai = registry.ai_system_update(
        operator=SYSTEM_OPERATOR, ai_system=world.ai_system, explain_on_receipt=True
    )
    # every decision would be refused: the budget cannot go below the receipt request
    with pytest.raises(ValidationFailed) as raised:
        _budget(world, 1_000)
    assert "on receipt" in raised.value.errors["explanation_cost_budget"][0]
    ai.refresh_from_db()
    assert ai.explanation_cost_budget is None


def test_a_model_version_too_costly_to_explain_on_receipt_is_refused(world):
    ai = registry.ai_system_register(
        principal=Principal(organization=world.org, role="admin"),
        name="Explained on receipt",
        provider="Acme",
        intended_purpose="Testing",
        explain_on_receipt=True,
        default_explanation_methods=["shapley_sampling"],
        explanation_cost_budget=30_000,
    )
    # 25 permutations of 300 features, 7 runs, and the counterfactual: over 70,000
    with pytest.raises(ValidationFailed) as raised:
        _register(ai, _wide_schema())
    assert "on receipt" in raised.value.errors["feature_schema"][0]
    assert not ai.model_versions.exists()
    _register(ai, {**factories.TINY_SCHEMA, "baseline": factories.TINY_BASELINE})


def test_a_platform_operator_sets_the_budget_in_the_admin(world, client):
    from django.contrib.auth import get_user_model

    root = get_user_model().objects.create_superuser("root", password="pw-123456789")
    client.login(username="root", password="pw-123456789")
    factories.two_factor_verify_session(client, root)  # superusers need two factors
    form = {
        "action": "update_ai_system",
        "_selected_action": [world.ai_system.pk],
        "provider": "Acme",
        "intended_purpose": "Creditworthiness of natural persons",
        "annex_iii_category": "5(b)",
        "four_eyes_overturn": "unknown",
        "blind_first_review": "false",  # as the form shows this system's value
        "apply": "1",
    }
    asked = {k: v for k, v in form.items() if k != "apply"}
    page = client.post("/admin/compliance/aisystem/", asked)
    assert b"explanation_cost_budget" in page.content
    client.post(
        "/admin/compliance/aisystem/", {**form, "explanation_cost_budget": "75000"}
    )
    world.ai_system.refresh_from_db()
    assert world.ai_system.explanation_cost_limit == 75_000
    event = AuditEvent.objects.get(action="ai_system.updated")
    assert event.payload == {
        "old": {"explanation_cost_budget": None},
        "new": {"explanation_cost_budget": 75_000},
    }
    assert event.actor.endswith(":root")
    # above the platform maximum: refused, nothing changes
    client.post(
        "/admin/compliance/aisystem/",
        {**form, "explanation_cost_budget": "999999999"},
    )
    world.ai_system.refresh_from_db()
    assert world.ai_system.explanation_cost_budget == 75_000


def test_every_method_at_its_defaults_fits_the_default_budget_on_the_widest_schema(
    settings,
):
    """What the demo, the web page and explain-on-receipt ask for always fits."""
    resolved = explain.resolve_request(list(explain.METHODS), None)
    widest = explain.request_cost(
        *resolved, n_features=explain.MAX_FEATURES
    ).evaluations
    assert widest <= settings.EXPLANATION_COST_BUDGET
    assert settings.EXPLANATION_COST_BUDGET <= settings.EXPLANATION_COST_BUDGET_MAX
