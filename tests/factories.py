"""Test data built through the services, so audit events exist as in production."""

from __future__ import annotations

import itertools
from typing import Any

import torch

import explain
from compliance.models import AISystem, ClientSystem, ModelVersion, Organization
from compliance.principals import ADMIN, Principal
from compliance.registry import services as registry
from compliance.tenancy import services as tenancy
from tests.schemas import TINY_BASELINE, TINY_SCHEMA, VALID_FEATURES

_counter = itertools.count(1)


def tiny_weights(schema: dict[str, Any] = TINY_SCHEMA, seed: int = 0) -> bytes:
    torch.manual_seed(seed)
    model = explain.build_model(
        "logistic_regression", explain.parse_feature_schema(schema)
    )
    return explain.model_to_safetensors(model)


def tiny_score(features: dict[str, Any], weights: bytes | None = None) -> float:
    schema = explain.parse_feature_schema(TINY_SCHEMA)
    data = weights or tiny_weights()
    model = explain.load_model(
        architecture="logistic_regression",
        schema=schema,
        hyperparameters={},
        weights=data,
        expected_sha256=None,
    )
    return float(explain.predict_proba(model, schema.encode([features]))[0])


def make_org(slug: str | None = None) -> Organization:
    n = next(_counter)
    slug = slug or f"org-{n}"
    return tenancy.organization_create(name=f"Org {slug}", slug=slug, jurisdiction="EU")


def make_member(org: Organization, role: str, username: str | None = None) -> Any:
    n = next(_counter)
    return tenancy.membership_create(
        organization=org,
        username=username or f"{org.slug}-{role}-{n}",
        password="pw-123456789",
        role=role,
    ).user


def make_client(org: Organization, name: str | None = None) -> tuple[ClientSystem, str]:
    client = tenancy.client_system_create(
        organization=org, name=name or f"client-{next(_counter)}"
    )
    _, key = tenancy.api_key_create(client_system=client, name="test key")
    return client, key


def make_ai_system(org: Organization, name: str | None = None) -> AISystem:
    return registry.ai_system_register(
        principal=Principal(organization=org, role=ADMIN),
        name=name or f"Credit scoring {next(_counter)}",
        provider="Acme",
        intended_purpose="Creditworthiness of natural persons",
        annex_iii_category="5(b)",
        # tests review without a preliminary view unless they turn blind-first on
        blind_first_review=False,
    )


def make_model_version(ai_system: AISystem, version: str | None = None) -> ModelVersion:
    return registry.model_version_register(
        principal=Principal(organization=ai_system.organization, role=ADMIN),
        ai_system=ai_system,
        version=version or f"1.{next(_counter)}",
        architecture="logistic_regression",
        hyperparameters={},
        feature_schema={**TINY_SCHEMA, "baseline": TINY_BASELINE},
        class_labels=["good", "bad"],
        favourable_class="good",
        decision_threshold=0.5,
        weights=tiny_weights(),
    )


def decision_payload(model_version: ModelVersion, **overrides: Any) -> dict[str, Any]:
    features = dict(overrides.pop("features", VALID_FEATURES))
    score = tiny_score(features)
    payload = {
        "model_version": model_version.pk,
        "external_id": f"loan-{next(_counter):06d}",
        "subject_ref": "applicant-8f3a",
        "features": features,
        "score": score,
        "outcome": "bad" if score >= 0.5 else "good",
        "decided_at": "2026-11-20T10:15:00Z",
    }
    payload.update(overrides)
    return payload


# --- two-factor authentication (issue 13): real TOTP devices and tokens ---


def totp_device(user: Any) -> Any:
    """The user's confirmed TOTP device (created when missing)."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    return device or TOTPDevice.objects.create(
        user=user, name="authenticator", confirmed=True
    )


def totp_token(device: Any) -> str:
    """The code an authenticator app shows now, computed from the device's key; a
    later step when the current one was used already (devices refuse replays)."""
    import time

    from django_otp.oath import TOTP

    device.refresh_from_db()
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time()
    if totp.t() <= device.last_t:  # within the device's tolerance of one step
        totp.time = time.time() + device.step * (device.last_t + 1 - totp.t())
    return f"{totp.token():0{device.digits}d}"


def two_factor_verify_session(client: Any, user: Any) -> None:
    """Mark a test client's signed-in session as past the second step (as if the
    person had entered a token), for people who must use two-factor authentication."""
    from django_otp import DEVICE_ID_SESSION_KEY

    from compliance.web.two_factor import two_factor_required

    if not two_factor_required(user):
        return
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = totp_device(user).persistent_id
    session.save()
