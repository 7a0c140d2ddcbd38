"""``compliance.policy`` is the only place role rules live: its table answers, every
write service asks it (a denied principal writes nothing), and every action it names
is asked for somewhere."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from compliance import decisions as intake
from compliance import dossiers, policy
from compliance.errors import NotFound, PermissionDenied
from compliance.explanations import explanation_request
from compliance.principals import (
    ADMIN,
    AUDITOR,
    CLIENT,
    OFFICER,
    PLATFORM_ADMIN,
    SYSTEM,
    Operator,
    Principal,
)
from compliance.registry import services as registry
from compliance.reviews import preliminary_view_record, review_record
from compliance.reviews.assignment import case_assign, cases_assign_bulk
from compliance.tenancy import services as tenancy
from tests import factories

ROOT = Path(__file__).resolve().parents[2]
WRITE = re.compile(r"\s*(INSERT|UPDATE|DELETE)\b", re.IGNORECASE)


def test_the_table_answers_by_role():
    assert policy.can(_p(CLIENT), "decision.submit")
    assert not policy.can(_p(OFFICER), "decision.submit")
    assert policy.can(_p(AUDITOR), "audit.read")
    assert not policy.can(_p(AUDITOR), "review.record")
    assert not policy.can(_p(CLIENT), "case.read")
    assert policy.can(_p(OFFICER), "case.assign_self")
    assert not policy.can(_p(OFFICER), "case.assign")
    assert policy.can(_p(ADMIN), "case.assign")
    assert not policy.can(_p(AUDITOR), "case.assign_self")
    assert not policy.can(_p(CLIENT), "case.assign_self")
    assert not policy.can(_p(AUDITOR), "case.assignee")
    assert policy.can(_p(AUDITOR), "case.export")
    assert not policy.can(_p(CLIENT), "case.export")
    assert not policy.can(_p(CLIENT), "audit.export")
    assert policy.can(Operator(role=PLATFORM_ADMIN), "api_key.revoke")
    assert not policy.can(Operator(role="staff"), "api_key.revoke")
    assert not policy.can(None, "decision.read")
    with pytest.raises(KeyError):
        policy.can(_p(ADMIN), "no.such_action")


def test_another_organisations_object_is_not_found_not_forbidden(world):
    officer = Principal(organization=world.org, role=OFFICER, user=world.officer)
    assert policy.can(officer, "decision.read", world.decision)
    assert not policy.can(officer, "decision.read", world.other_decision)
    with pytest.raises(NotFound):
        policy.require(officer, "decision.read", world.other_decision)
    with pytest.raises(PermissionDenied):
        policy.require(
            Principal(organization=world.org, role=AUDITOR),
            "review.record",
            world.decision,
        )


def test_every_action_of_the_table_is_asked_for_in_the_code():
    """An action nobody asks for is a rule that protects nothing."""
    code = "\n".join(
        path.read_text()
        for path in (ROOT / "compliance").rglob("*.py")
        if path.name != "policy.py" and "migrations" not in path.parts
    )
    unasked = [action for action in policy.RULES if f'"{action}"' not in code]
    assert unasked == []


def _p(role: str, org: Any = None, **kwargs: Any) -> Principal:
    return Principal(organization=org, role=role, **kwargs)


def _write_services(world: Any) -> list[tuple[str, Callable[[Any], Any], Any]]:
    """(name, call with a principal, a principal the policy denies) per write service."""
    org, decision = world.org, world.decision
    auditor = Principal(organization=org, role=AUDITOR, user=world.auditor)
    officer = Principal(organization=org, role=OFFICER, user=world.officer)
    staff = Operator(role="staff")
    payload = factories.decision_payload(world.model_version)
    payload["decided_at"] = timezone.now()
    return [
        (
            "decision_submit",
            lambda p: intake.decision_submit(
                principal=p, submission=intake.Submission.from_validated(payload)
            ),
            officer,
        ),
        (
            "explanation_request",
            lambda p: explanation_request(principal=p, decision=decision),
            auditor,
        ),
        (
            "dossier_request",
            lambda p: dossiers.dossier_request(principal=p, decision=decision),
            auditor,
        ),
        (
            "review_record",
            lambda p: review_record(
                principal=p,
                decision=decision,
                action="uphold",
                justification="x" * 40,
            ),
            auditor,
        ),
        (
            "preliminary_view_record",
            lambda p: preliminary_view_record(
                principal=p, decision=decision, outcome=decision.outcome
            ),
            auditor,
        ),
        (
            "case_assign",
            lambda p: case_assign(principal=p, decision=decision, assignee=None),
            auditor,
        ),
        (
            "cases_assign_bulk (to someone else)",
            lambda p: cases_assign_bulk(
                principal=p, decisions=[decision], assignee=world.admin
            ),
            officer,
        ),
        (
            "ai_system_register",
            lambda p: registry.ai_system_register(
                principal=p, name="Denied", provider="x", intended_purpose="x"
            ),
            officer,
        ),
        (
            "model_version_register",
            lambda p: registry.model_version_register(
                principal=p,
                ai_system=world.ai_system,
                version="9.9",
                architecture="logistic_regression",
                hyperparameters={},
                feature_schema=factories.TINY_SCHEMA,
                class_labels=["good", "bad"],
                favourable_class="good",
                decision_threshold=0.5,
                weights=factories.tiny_weights(),
            ),
            officer,
        ),
        (
            "organization_create",
            lambda p: tenancy.organization_create(
                name="Denied", slug="denied", jurisdiction="EU", operator=p
            ),
            staff,
        ),
        (
            "membership_create",
            lambda p: tenancy.membership_create(
                organization=org,
                username="denied",
                password="pw-1234567",
                role=OFFICER,
                operator=p,
            ),
            staff,
        ),
        (
            "client_system_create",
            lambda p: tenancy.client_system_create(
                organization=org, name="denied", operator=p
            ),
            staff,
        ),
        (
            "api_key_create",
            lambda p: tenancy.api_key_create(
                client_system=world.client_system, name="denied", operator=p
            ),
            staff,
        ),
    ]


def test_every_write_service_refuses_a_principal_the_policy_denies(world):
    refused = []
    for name, call, denied in _write_services(world):
        with CaptureQueriesContext(connection) as queries:
            with pytest.raises(PermissionDenied):
                call(denied)
        writes = [q["sql"] for q in queries.captured_queries if WRITE.match(q["sql"])]
        assert writes == [], f"{name} wrote before asking the policy: {writes}"
        refused.append(name)
    assert len(refused) == 13


def test_the_system_operator_may_run_platform_work(world):
    system = Operator(role=SYSTEM, label="cli")
    org = tenancy.organization_create(
        name="Allowed", slug="allowed", jurisdiction="EU", operator=system
    )
    assert org.pk is not None
