"""Personas (healthchecks style): a full organisation and an outsider organisation."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.utils import timezone
from rest_framework.test import APIClient

from compliance import decisions as intake
from compliance.explanations import explanation_request
from compliance.models import Dossier, Notice
from compliance.principals import SYSTEM_OPERATOR, Principal
from demo.pki import pki_ensure
from demo.tsa import RunningTsa, tsa_start
from tests import factories


@dataclass
class World:
    org: Any
    officer: Any
    auditor: Any
    admin: Any
    client_system: Any
    client_key: str
    ai_system: Any
    model_version: Any
    decision: Any
    other_org: Any
    other_officer: Any
    other_client_key: str
    other_decision: Any
    other_model_version: Any
    job: Any = None
    dossier: Any = None
    notice: Any = None


def _decision(org: Any, client: Any, mv: Any) -> Any:
    payload = factories.decision_payload(mv)
    payload["decided_at"] = timezone.now()
    decision, _ = intake.decision_submit(
        principal=Principal(organization=org, role="client", client_system=client),
        submission=intake.Submission.from_validated(payload),
    )
    return decision


@pytest.fixture(autouse=True)
def _wakes_forgotten() -> Iterator[None]:
    """Wake markers live in the process-wide cache: no test inherits another's."""
    from compliance.jobs.publish import wakes_forget
    from workers.routes import KIND_TASKS

    wakes_forget(tuple(KIND_TASKS))
    yield
    wakes_forget(tuple(KIND_TASKS))


@pytest.fixture
def world(db: Any) -> World:
    org = factories.make_org("acme-bank")
    client, key = factories.make_client(org, "loan-engine")
    ai = factories.make_ai_system(org, "Credit scoring")
    mv = factories.make_model_version(ai, "1.0.0")
    other = factories.make_org("other-bank")
    other_client, other_key = factories.make_client(other, "other-engine")
    other_ai = factories.make_ai_system(other, "Other scoring")
    other_mv = factories.make_model_version(other_ai, "1.0.0")
    world = World(
        org=org,
        officer=factories.make_member(org, "officer", "acme-officer"),
        auditor=factories.make_member(org, "auditor", "acme-auditor"),
        admin=factories.make_member(org, "admin", "acme-admin"),
        client_system=client,
        client_key=key,
        ai_system=ai,
        model_version=mv,
        decision=_decision(org, client, mv),
        other_org=other,
        other_officer=factories.make_member(other, "officer", "other-officer"),
        other_client_key=other_key,
        other_decision=_decision(other, other_client, other_mv),
        other_model_version=other_mv,
    )
    return world


@pytest.fixture
def world_with_job(world: World) -> World:
    """The world with one queued explanation job of its decision."""
    world.job, _ = explanation_request(
        principal=SYSTEM_OPERATOR, decision=world.decision, methods=["deeplift"]
    )
    # a stored dossier row (its bytes need not be a rendered PDF for access checks)
    world.dossier = Dossier.objects.create(
        public_id="DOS-TEST00000001",
        decision=world.decision,
        organization=world.org,
        version=1,
        pdf=b"%PDF-1.7 test",
        sha256="ab" * 32,
        size_bytes=13,
        pages=1,
        issued_by="test",
        issued_at=timezone.now(),
    )
    # and a stored notice row (access checks only: its bytes need not be rendered)
    world.notice = Notice.objects.create(
        public_id="NOT-TEST00000001",
        decision=world.decision,
        organization=world.org,
        language="en",
        version=1,
        html="<p>notice</p>",
        html_sha256="cd" * 32,
        pdf=b"%PDF-1.7 test",
        sha256="ef" * 32,
        size_bytes=13,
        pages=1,
        content={},
        issued_by="test",
        issued_at=timezone.now(),
    )
    return world


PERSONAS = ["anonymous", "client", "officer", "auditor", "admin", "other_org"]


def client_for(world: World, persona: str) -> APIClient:
    api = APIClient()
    if persona == "client":
        api.credentials(HTTP_AUTHORIZATION=f"Api-Key {world.client_key}")
    elif persona in ("officer", "auditor", "admin"):
        api.force_login(getattr(world, persona))
    elif persona == "other_org":
        api.force_login(world.other_officer)
    return api


@pytest.fixture
def api_as(world: World) -> Any:
    return lambda persona: client_for(world, persona)


# --- signed dossiers: the test PKI and a local RFC 3161 TSA (issue 12 part 6) ---
@pytest.fixture(scope="session")
def tsa(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningTsa]:
    """A demo PKI in a temporary directory and its TSA serving on a free port, once
    per session: ``.url``, ``.tsa_cert_pem_path``, ``.root_ca_pem_path``,
    ``.pkcs12_path``, ``.pkcs12_password`` (``.pki`` for the rest)."""
    pki = pki_ensure(tmp_path_factory.mktemp("pki"), {"acme-bank": "Acme Bank"})
    running = tsa_start(pki)
    yield running
    running.stop()


@pytest.fixture(scope="session", autouse=True)
def dossier_signing(tsa: RunningTsa) -> Iterator[RunningTsa]:
    """Every dossier a test issues is signed with the test PKI and timestamped by the
    local TSA: in this process's settings and in the environment that worker
    subprocesses inherit."""
    values = {
        "DOSSIER_SIGNING_DIR": str(tsa.pki.signing_dir),
        "DOSSIER_SIGNING_PKCS12_FILE": str(tsa.pkcs12_path),
        "DOSSIER_SIGNING_PKCS12_PASSWORD_FILE": str(tsa.pkcs12_password_path),
        "TSA_URL": tsa.url,
        "TSA_CA_CERT_FILE": str(tsa.root_ca_pem_path),
    }
    saved_env = {name: os.environ.get(name) for name in values}
    saved_settings = {name: getattr(settings, name, None) for name in values}
    os.environ.update(values)
    for name, value in values.items():
        setattr(settings, name, Path(value) if name.endswith("_DIR") else value)
    yield tsa
    for name, old in saved_env.items():
        if old is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = old
    for name, old_setting in saved_settings.items():
        setattr(settings, name, old_setting)


# --- two-factor authentication (issue 13) ---
@pytest.fixture(autouse=True)
def _forced_logins_pass_two_factor(monkeypatch: pytest.MonkeyPatch) -> None:
    """``force_login`` stands for a completed sign-in: for people who must use two
    factors (organisation admins, superusers) that includes the token step. The real
    steps are tested in tests/compliance/test_two_factor.py and with ``Client.login``
    or the sign-in pages, which this leaves alone."""
    from django.test.client import ClientMixin

    original = ClientMixin.force_login

    def force_login(self: Any, user: Any, backend: Any = None) -> None:
        original(self, user, backend)
        factories.two_factor_verify_session(self, user)

    monkeypatch.setattr(ClientMixin, "force_login", force_login)


# --- end of two-factor authentication ---


@pytest.fixture(scope="session")
def demo_artefacts() -> dict[str, tuple[bytes, dict[str, Any]]]:
    """The demo models, trained once per session (dossier and notice tests)."""
    from demo.train import DEMOS, build_artefacts

    return {name: build_artefacts(definition) for name, definition in DEMOS.items()}
