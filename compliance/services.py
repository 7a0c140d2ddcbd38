"""Every write of the compliance domain. Each runs in a transaction and appends its
audit event in that same transaction (Zulip's actions, HackSoft's services)."""

from __future__ import annotations

import hashlib
import math
from datetime import UTC, datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone

import explain
from compliance.audit import actor_label, audit_event_append, canonical_json
from compliance.errors import Conflict, ValidationFailed
from compliance.explanations import explanation_request, explanation_request_check
from compliance.models import (
    AISystem,
    ApiKey,
    ClientSystem,
    Decision,
    Membership,
    ModelVersion,
    Organization,
)
from compliance.prediction import SCORE_TOLERANCE, score_reproduce
from compliance.principals import Principal
from compliance.rowfetch import fetch_joined

SYSTEM_ACTOR = "system"


# --- organisations, people, client systems and keys -------------------------------------


@transaction.atomic
def organization_create(
    *, name: str, slug: str, jurisdiction: str, actor: str = SYSTEM_ACTOR
) -> Organization:
    org = Organization.objects.create(name=name, slug=slug, jurisdiction=jurisdiction)
    audit_event_append(
        actor=actor,
        organization=org,
        action="organization.created",
        object_type="organization",
        object_id=org.pk,
        payload={"name": name, "slug": slug, "jurisdiction": jurisdiction},
    )
    return org


@transaction.atomic
def membership_create(
    *,
    organization: Organization,
    username: str,
    password: str,
    role: str,
    email: str = "",
    actor: str = SYSTEM_ACTOR,
) -> Membership:
    user = get_user_model().objects.create_user(
        username=username, password=password, email=email
    )
    membership = Membership.objects.create(
        user=user, organization=organization, role=role
    )
    audit_event_append(
        actor=actor,
        organization=organization,
        action="membership.created",
        object_type="membership",
        object_id=membership.pk,
        payload={"username": username, "role": role},
    )
    return membership


@transaction.atomic
def client_system_create(
    *, organization: Organization, name: str, actor: str = SYSTEM_ACTOR
) -> ClientSystem:
    if ClientSystem.objects.filter(organization=organization, name=name).exists():
        raise Conflict(
            f"A client system named '{name}' already exists in {organization.slug}."
        )
    cs = ClientSystem.objects.create(organization=organization, name=name)
    audit_event_append(
        actor=actor,
        organization=organization,
        action="client_system.created",
        object_type="client_system",
        object_id=cs.pk,
        payload={"name": name},
    )
    return cs


@transaction.atomic
def api_key_create(
    *,
    client_system: ClientSystem,
    name: str,
    expires_at: datetime | None = None,
    actor: str = SYSTEM_ACTOR,
) -> tuple[ApiKey, str]:
    """Create a key; returns the row and the key itself, which is never stored."""
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationFailed(
            "The expiry must be in the future.",
            {"expires_at": ["Must be in the future."]},
        )
    api_key, key = ApiKey.objects.create_key(
        client_system=client_system, name=name[:50], expiry_date=expires_at
    )
    audit_event_append(
        actor=actor,
        organization=client_system.organization,
        action="api_key.created",
        object_type="api_key",
        object_id=api_key.prefix,
        payload={
            "client_system": client_system.pk,
            "name": api_key.name,
            "expires_at": expires_at.isoformat() if expires_at else None,
        },
    )
    return api_key, key


@transaction.atomic
def api_key_revoke(*, api_key: ApiKey, actor: str = SYSTEM_ACTOR) -> ApiKey:
    api_key = ApiKey.objects.select_for_update().get(pk=api_key.pk)
    if api_key.revoked:
        return api_key
    api_key.revoked = True
    api_key.revoked_at = timezone.now()
    api_key.save(update_fields=["revoked", "revoked_at"])
    audit_event_append(
        actor=actor,
        organization=api_key.client_system.organization,
        action="api_key.revoked",
        object_type="api_key",
        object_id=api_key.prefix,
        payload={"client_system": api_key.client_system_id},
    )
    return api_key


# --- AI systems and model versions ------------------------------------------------------

AI_SYSTEM_FIELDS = (
    "name",
    "provider",
    "intended_purpose",
    "annex_iii_category",
    "deployer",
    "instructions_for_use",
    "known_limitations",
)


@transaction.atomic
def ai_system_register(
    *,
    principal: Principal,
    explain_on_receipt: bool = False,
    default_explanation_methods: list[str] | None = None,
    **fields: Any,
) -> AISystem:
    """Register an AI system; optionally explain every decision it sends on receipt."""
    organization = principal.organization
    methods = list(default_explanation_methods or [])
    if methods:
        explanation_request_check(methods, {})
    if AISystem.objects.filter(organization=organization, name=fields["name"]).exists():
        raise Conflict(
            f"An AI system named '{fields['name']}' already exists.",
            {
                "name": [
                    "An AI system with this name already exists in your organisation."
                ]
            },
        )
    ai_system = AISystem.objects.create(
        organization=organization,
        explain_on_receipt=explain_on_receipt,
        default_explanation_methods=methods,
        **{k: fields.get(k, "") for k in AI_SYSTEM_FIELDS},
    )
    audit_event_append(
        actor=principal.actor,
        organization=organization,
        action="ai_system.registered",
        object_type="ai_system",
        object_id=ai_system.pk,
        payload={
            **{k: getattr(ai_system, k) for k in AI_SYSTEM_FIELDS},
            "explain_on_receipt": explain_on_receipt,
            "default_explanation_methods": methods,
        },
    )
    return ai_system


def _model_version_check(
    *,
    architecture: str,
    hyperparameters: dict[str, Any],
    feature_schema: Any,
    class_labels: Any,
    favourable_class: str,
    decision_threshold: float,
    weights: bytes,
) -> None:
    errors: dict[str, list[str]] = {}
    schema = None
    try:
        schema = explain.parse_feature_schema(feature_schema)
    except explain.SchemaError as exc:
        for path, messages in exc.errors.items():
            errors[f"feature_schema.{path}"] = messages
    if architecture not in explain.ARCHITECTURES:
        errors["architecture"] = [
            f"Unknown architecture; known: {', '.join(sorted(explain.ARCHITECTURES))}."
        ]
    if (
        not isinstance(class_labels, list)
        or len(class_labels) != 2
        or not all(isinstance(c, str) and c.strip() for c in class_labels)
        or class_labels[0] == class_labels[1]
    ):
        errors["class_labels"] = [
            "Must be two distinct labels [negative, positive]; the model scores the positive one."
        ]
    elif favourable_class not in class_labels:
        errors["favourable_class"] = ["Must be one of class_labels."]
    if not (
        isinstance(decision_threshold, (int, float))
        and math.isfinite(decision_threshold)
        and 0 < decision_threshold < 1
    ):
        errors["decision_threshold"] = ["Must be a number strictly between 0 and 1."]
    if not isinstance(hyperparameters, dict):
        errors["hyperparameters"] = ["Must be a JSON object."]
    if (
        schema is not None
        and "architecture" not in errors
        and "hyperparameters" not in errors
    ):
        try:
            explain.load_model(
                architecture=architecture,
                schema=schema,
                hyperparameters=hyperparameters,
                weights=weights,
                expected_sha256=None,
            )
        except explain.ModelLoadError as exc:
            errors["weights"] = [str(exc)]
    if errors:
        raise ValidationFailed("The model version is invalid; see errors.", errors)


def model_version_register(
    *,
    principal: Principal,
    ai_system: AISystem,
    version: str,
    architecture: str,
    hyperparameters: dict[str, Any],
    feature_schema: Any,
    class_labels: Any,
    favourable_class: str,
    decision_threshold: float,
    weights: bytes,
    training_data_summary: str = "",
    performance_metrics: dict[str, Any] | None = None,
) -> ModelVersion:
    """Validate the schema and weights (safetensors only), store them, audit it."""
    if ai_system.organization_id != principal.organization.pk:
        raise ValidationFailed(
            "Unknown AI system.", {"ai_system": ["Unknown AI system."]}
        )
    _model_version_check(
        architecture=architecture,
        hyperparameters=hyperparameters,
        feature_schema=feature_schema,
        class_labels=class_labels,
        favourable_class=favourable_class,
        decision_threshold=decision_threshold,
        weights=weights,
    )
    sha = explain.sha256_hex(weights)
    with transaction.atomic():
        if ModelVersion.objects.filter(ai_system=ai_system, version=version).exists():
            raise Conflict(
                f"Version '{version}' of this AI system already exists; model versions are immutable.",
                {
                    "version": [
                        "This version already exists; register a new version instead."
                    ]
                },
            )
        mv = ModelVersion(
            ai_system=ai_system,
            version=version,
            architecture=architecture,
            hyperparameters=hyperparameters,
            weights_sha256=sha,
            feature_schema=feature_schema,
            class_labels=class_labels,
            favourable_class=favourable_class,
            decision_threshold=float(decision_threshold),
            training_data_summary=training_data_summary,
            performance_metrics=performance_metrics or {},
        )
        mv.weights.save(f"{sha}.safetensors", ContentFile(weights), save=False)
        mv.save()
        audit_event_append(
            actor=principal.actor,
            organization=principal.organization,
            action="model_version.registered",
            object_type="model_version",
            object_id=mv.pk,
            payload={
                "ai_system": ai_system.pk,
                "version": version,
                "architecture": architecture,
                "weights_sha256": sha,
                "feature_schema_sha256": hashlib.sha256(
                    canonical_json(feature_schema).encode()
                ).hexdigest(),
                "class_labels": class_labels,
                "favourable_class": favourable_class,
            },
        )
    return mv


# --- decisions --------------------------------------------------------------------------

FUTURE_SKEW = timedelta(minutes=5)


def _submission_sha256(data: dict[str, Any]) -> str:
    document = {
        "model_version": data["model_version"],
        "external_id": data["external_id"],
        "subject_ref": data["subject_ref"],
        "features": data["features"],
        "score": repr(float(data["score"])),
        "outcome": data["outcome"],
        "decided_at": data["decided_at"]
        .astimezone(UTC)
        .isoformat(timespec="microseconds"),
    }
    return hashlib.sha256(canonical_json(document).encode()).hexdigest()


def _decision_stored(client_system: ClientSystem, external_id: str) -> Decision | None:
    return Decision.objects.filter(
        client_system=client_system, external_id=external_id
    ).first()


def _decision_replay(existing: Decision, submission_sha: str) -> tuple[Decision, bool]:
    if existing.submission_sha256 != submission_sha:
        raise Conflict(
            "A different decision was already submitted with this external_id.",
            {
                "external_id": [
                    f"Already used by decision {existing.pk} with a different payload; "
                    "external_id must identify one decision."
                ]
            },
        )
    return existing, False


def decision_submit(
    *, principal: Principal, data: dict[str, Any]
) -> tuple[Decision, bool]:
    """Record a decision made by a client system's model.

    ``data`` holds the shape-checked submission (model_version as an id). Returns
    ``(decision, created)``; an identical resubmission returns the original with
    ``created=False``, a different payload under the same external_id raises Conflict.
    """
    client_system = principal.client_system
    if client_system is None:
        raise ValidationFailed("Only client systems submit decisions.")
    mv = fetch_joined(
        [(ModelVersion, None), (AISystem, "ai_system")],
        "t0.id = %s AND t1.organization_id = %s",
        [data["model_version"], principal.organization.pk],
    )
    if mv is None or not mv.is_active:
        # a replay answers with the original even if its model version has since
        # retired; any other submission to a retired or unknown version is refused
        existing = _decision_stored(client_system, data["external_id"])
        if existing is not None:
            try:
                return _decision_replay(existing, _submission_sha256(data))
            except ValueError:  # a payload that cannot even be hashed (NaN)
                pass
    if mv is None:
        raise ValidationFailed(
            "Unknown model version.", {"model_version": ["Unknown model version."]}
        )
    if not mv.is_active:
        raise ValidationFailed(
            "This model version is retired and accepts no new decisions.",
            {"model_version": ["This model version is retired."]},
        )
    errors: dict[str, list[str]] = {}
    schema = explain.parse_feature_schema(mv.feature_schema)
    for name, messages in explain.validate_feature_values(
        schema, data["features"]
    ).items():
        errors[f"features.{name}" if name else "features"] = messages
    if data["outcome"] not in mv.class_labels:
        errors["outcome"] = [
            f"Must be one of this model version's class labels: {', '.join(mv.class_labels)}."
        ]
    if data["decided_at"] > timezone.now() + FUTURE_SKEW:
        errors["decided_at"] = ["Cannot be in the future."]
    if errors:
        raise ValidationFailed(
            "The decision does not match the model version's schema; see errors.",
            errors,
        )

    submission_sha = _submission_sha256(data)
    reproduced = score_reproduce(mv, data["features"])
    consistent = (
        None
        if reproduced is None
        else abs(reproduced - float(data["score"])) <= SCORE_TOLERANCE
    )
    try:
        with transaction.atomic():
            decision = Decision.objects.create(
                organization=principal.organization,
                ai_system=mv.ai_system,
                model_version=mv,
                client_system=client_system,
                external_id=data["external_id"],
                subject_ref=data["subject_ref"],
                features=data["features"],
                score=float(data["score"]),
                outcome=data["outcome"],
                decided_at=data["decided_at"],
                prediction_consistent=consistent,
                reproduced_score=reproduced,
                submission_sha256=submission_sha,
            )
            audit_event_append(
                actor=principal.actor,
                organization=principal.organization,
                action="decision.submitted",
                object_type="decision",
                object_id=decision.pk,
                payload={
                    "external_id": decision.external_id,
                    "model_version": mv.pk,
                    "outcome": decision.outcome,
                    "submission_sha256": submission_sha,
                    "prediction_consistent": consistent,
                },
            )
            if mv.ai_system.explain_on_receipt:
                explanation_request(
                    actor=principal.actor,
                    decision=decision,
                    methods=mv.ai_system.default_explanation_methods or None,
                )
    except IntegrityError:
        # The external_id is taken (a replay, or a concurrent twin that won the race):
        # answer with the stored decision. Any other integrity error is not ours to mask.
        existing = _decision_stored(client_system, data["external_id"])
        if existing is None:
            raise
        return _decision_replay(existing, submission_sha)
    return decision, True


# --- sessions ---------------------------------------------------------------------------


@transaction.atomic
def login_record(*, user: Any) -> None:
    membership = (
        Membership.objects.select_related("organization").filter(user=user).first()
    )
    audit_event_append(
        actor=actor_label(user=user),
        organization=membership.organization if membership else None,
        action="user.login",
        object_type="user",
        object_id=user.pk,
        payload={},
    )
