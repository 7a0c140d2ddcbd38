"""Idempotent seeding of the demo organisations, people, client systems and models.

Only for local demos: refuses to run unless DEBUG is on or ``allow_production`` is set.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django_otp.plugins.otp_totp.models import TOTPDevice

from compliance.models import (
    AISystem,
    ApiKey,
    ClientSystem,
    Membership,
    ModelVersion,
    Organization,
)
from compliance.principals import ADMIN, SYSTEM, Operator, Principal
from compliance.registry.services import ai_system_register, model_version_register
from compliance.tenancy import services

DEMO_ORGS: list[dict[str, Any]] = [
    {
        "slug": "demo-bank",
        "name": "Demo Bank AG",
        "jurisdiction": "EU+US",
        "client_system": "loan-engine",
        # the monitoring demo's other officers (compliance.management.demo_oversight)
        "extra_officers": ["demo-bank-officer-quick", "demo-bank-officer-slow"],
        # printed on the notices to the people decided about (fictional)
        "notice": {
            "postal_address": "Beispielstraße 1\n60311 Frankfurt am Main",
            "contact": "decisions@demo-bank.example, +49 69 1234 5678",
            "contest_days": 30,
            "regulator": (
                "Der Hessische Beauftragte für Datenschutz und Informationsfreiheit, "
                "Gustav-Stresemann-Ring 1, 65189 Wiesbaden"
            ),
            "credit_agency": (
                "Consumer Financial Protection Bureau, 1700 G Street NW, "
                "Washington, DC 20552"
            ),
        },
    },
    {
        "slug": "demo-clinic",
        "name": "Demo Clinic",
        "jurisdiction": "EU",
        "client_system": "triage-service",
        "notice": {
            "postal_address": "Musterweg 5\n10115 Berlin",
            "contact": "patient-office@demo-clinic.example, +49 30 9876 5432",
            "contest_days": 30,
            "regulator": (
                "Berliner Beauftragte für Datenschutz und Informationsfreiheit, "
                "Alt-Moabit 59-61, 10555 Berlin"
            ),
        },
    },
]
ROLES = [Membership.Role.OFFICER, Membership.Role.AUDITOR, Membership.Role.ADMIN]
OPERATOR = Operator(role=SYSTEM, label="seed_demo")
DEMO_EXPLANATION_METHODS = ["integrated_gradients", "deeplift", "kernel_shap"]


@dataclass
class SeedReport:
    logins: list[tuple[str, str, str, str]] = field(
        default_factory=list
    )  # user, password, role, org
    keys: dict[str, str] = field(default_factory=dict)  # org slug -> API key
    # username -> otpauth:// URI of the demo login's TOTP device (admins, superuser)
    two_factor: dict[str, str] = field(default_factory=dict)
    model_versions: dict[str, int] = field(
        default_factory=dict
    )  # org slug -> model version id
    created: list[str] = field(default_factory=list)


def _key_store(data_dir: Path) -> dict[str, str]:
    path = data_dir / "demo_keys.json"
    return json.loads(path.read_text()) if path.exists() else {}


def _key_store_write(data_dir: Path, keys: dict[str, str]) -> None:
    path = data_dir / "demo_keys.json"
    path.write_text(json.dumps(keys, indent=2))
    os.chmod(path, 0o600)


def _key_usable(key: str | None) -> bool:
    if not key:
        return False
    api_key = ApiKey.objects.filter(prefix=key.partition(".")[0], revoked=False).first()
    return bool(api_key and api_key.is_valid(key) and not api_key.has_expired)


def demo_seed(*, data_dir: Path, password: str, models_dir: Path | None) -> SeedReport:
    report = SeedReport()
    keys = _key_store(data_dir)
    user_model = get_user_model()
    for spec in DEMO_ORGS:
        org = Organization.objects.filter(slug=spec["slug"]).first()
        if org is None:
            org = services.organization_create(
                name=spec["name"],
                slug=spec["slug"],
                jurisdiction=spec["jurisdiction"],
                operator=OPERATOR,
            )
            report.created.append(f"organisation {org.slug}")
        if not org.postal_address:  # new, or seeded before notices existed
            services.organization_update(
                organization=org, operator=OPERATOR, **spec["notice"]
            )
        for role in ROLES:
            username = f"{spec['slug']}-{role.value}"
            if not user_model.objects.filter(username=username).exists():
                services.membership_create(
                    organization=org,
                    username=username,
                    password=password,
                    role=role.value,
                    operator=OPERATOR,
                )
                report.created.append(f"user {username}")
            report.logins.append((username, password, role.label, org.slug))
            if role == Membership.Role.ADMIN:
                report.two_factor[username] = _totp_uri(username)
        for username in spec.get("extra_officers", []):
            if not user_model.objects.filter(username=username).exists():
                services.membership_create(
                    organization=org,
                    username=username,
                    password=password,
                    role=Membership.Role.OFFICER.value,
                    operator=OPERATOR,
                )
                report.created.append(f"user {username}")
            report.logins.append(
                (username, password, Membership.Role.OFFICER.label, org.slug)
            )
        client = ClientSystem.objects.filter(
            organization=org, name=spec["client_system"]
        ).first()
        if client is None:
            client = services.client_system_create(
                organization=org, name=spec["client_system"], operator=OPERATOR
            )
            report.created.append(f"client system {client.name}")
        if not _key_usable(keys.get(org.slug)):
            _, keys[org.slug] = services.api_key_create(
                client_system=client, name="demo key", operator=OPERATOR
            )
            report.created.append(f"API key for {client.name}")
        report.keys[org.slug] = keys[org.slug]
    if not user_model.objects.filter(username="platform-admin").exists():
        user_model.objects.create_superuser("platform-admin", password=password)
        report.created.append("superuser platform-admin")
    report.logins.append(
        ("platform-admin", password, "Platform superuser (Django admin)", "-")
    )
    report.two_factor["platform-admin"] = _totp_uri("platform-admin")
    _key_store_write(data_dir, keys)
    if models_dir is not None:
        for manifest in sorted(models_dir.glob("*.json")):
            slug, mv_id = _register_demo_model(manifest, report)
            report.model_versions[slug] = mv_id
    return report


def _register_demo_model(manifest_path: Path, report: SeedReport) -> tuple[str, int]:
    manifest: dict[str, Any] = json.loads(manifest_path.read_text())
    org = Organization.objects.get(slug=manifest["organization"])
    admin_principal = Principal(organization=org, role=ADMIN)
    with transaction.atomic():
        ai_fields = manifest["ai_system"]
        ai_system = AISystem.objects.filter(
            organization=org, name=ai_fields["name"]
        ).first()
        if ai_system is None:
            ai_system = ai_system_register(
                principal=admin_principal,
                explain_on_receipt=True,
                default_explanation_methods=DEMO_EXPLANATION_METHODS,
                **ai_fields,
            )
            report.created.append(f"AI system {ai_system.name}")
    mv_fields = dict(manifest["model_version"])
    existing = ModelVersion.objects.filter(
        ai_system=ai_system, version=mv_fields["version"]
    ).first()
    if existing is not None:
        return org.slug, existing.pk
    weights = (manifest_path.parent / manifest["weights_file"]).read_bytes()
    mv = model_version_register(
        principal=admin_principal, ai_system=ai_system, weights=weights, **mv_fields
    )
    report.created.append(f"model version {ai_system.name} {mv.version}")
    return org.slug, mv.pk


def _totp_uri(username: str) -> str:
    """The demo login's confirmed TOTP device (created once; admins and superusers
    must sign in with a token): its otpauth:// URI, for an authenticator app or
    ``oathtool --totp -b <secret>``."""
    user = get_user_model().objects.get(username=username)
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is None:
        device = TOTPDevice.objects.create(
            user=user, name="demo authenticator", confirmed=True
        )
    return str(device.config_url)
