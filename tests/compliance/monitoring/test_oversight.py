"""Oversight statistics (issue 16, first slice): the Wilson interval, and per AI
system, reviewer and month the reviews, overrides, blind-first agreement and the
switch to the model's answer, counted by the database."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone

from compliance.errors import PermissionDenied
from compliance.models import AISystem
from compliance.monitoring import oversight_by_reviewer_month, wilson_interval
from compliance.principals import Principal
from compliance.reviews import preliminary_view_record, review_record
from tests.conftest import _decision

GOOD = "Checked the application file against the model inputs; the outcome stands."


def test_wilson_interval_known_values() -> None:
    # Wilson (1927); the interval of 0/20 is not [0, 0] as the normal approximation
    # would give, and 10/20 is symmetric about one half
    low, high = wilson_interval(0, 20)  # type: ignore[misc]
    assert low == 0.0 and high == pytest.approx(0.16113, abs=1e-5)
    low, high = wilson_interval(10, 20)  # type: ignore[misc]
    assert low == pytest.approx(0.29930, abs=1e-5)
    assert high == pytest.approx(1 - low)
    low, high = wilson_interval(20, 20)  # type: ignore[misc]
    assert high == 1.0 and low == pytest.approx(0.83887, abs=1e-5)
    assert wilson_interval(0, 0) is None
    with pytest.raises(ValueError):
        wilson_interval(3, 2)


def _officer(world: Any, user: Any) -> Principal:
    return Principal(organization=world.org, role="officer", user=user)


@pytest.mark.django_db
def test_rows_per_reviewer_with_overrides_agreement_and_switches(world: Any) -> None:
    AISystem.objects.filter(pk=world.ai_system.pk).update(
        blind_first_review=True, four_eyes_overturn=False
    )
    world.decision.refresh_from_db()
    officer, admin = (
        _officer(world, world.officer),
        Principal(organization=world.org, role="admin", user=world.admin),
    )
    model = world.decision.outcome
    other = next(
        c for c in world.model_version.class_labels if c != world.decision.outcome
    )
    decisions = [world.decision] + [
        _decision(world.org, world.client_system, world.model_version) for _ in range(3)
    ]
    # the officer: blind views agree twice, disagree once and then upholds the model
    # (a switch), overturns once
    plan = [
        (model, "uphold"),
        (model, "uphold"),
        (other, "uphold"),
        (model, "overturn"),
    ]
    for decision, (blind, action) in zip(decisions, plan, strict=True):
        decision.refresh_from_db()
        preliminary_view_record(principal=officer, decision=decision, outcome=blind)
        review_record(
            principal=officer, decision=decision, action=action, justification=GOOD
        )
    # the admin: one blind view that disagrees and stands by it (no switch)
    extra = _decision(world.org, world.client_system, world.model_version)
    preliminary_view_record(principal=admin, decision=extra, outcome=other)
    review_record(
        principal=admin, decision=extra, action="overturn", justification=GOOD
    )
    rows = {r.reviewer: r for r in oversight_by_reviewer_month(principal=officer)}
    month = timezone.now().date().replace(day=1)
    mine = rows["acme-officer"]
    assert (mine.month, mine.ai_system) == (month, world.ai_system.pk)
    assert (mine.reviews, mine.overrides) == (4, 1)
    assert mine.override_rate == 0.25
    low, high = mine.override_interval  # type: ignore[misc]
    assert low < 0.25 < high
    assert (mine.preliminary_views, mine.agreed_with_model) == (4, 3)
    assert mine.switched_to_model == 1 and mine.switch_rate == 1.0
    theirs = rows["acme-admin"]
    assert (theirs.reviews, theirs.overrides, theirs.switched_to_model) == (1, 1, 0)
    assert theirs.switch_rate == 0.0
    # another organisation's reviewers are never counted
    other_org = Principal(organization=world.other_org, role="officer", user=None)
    assert oversight_by_reviewer_month(principal=other_org) == []


@pytest.mark.django_db
def test_client_systems_read_no_statistics(world: Any) -> None:
    client = Principal(
        organization=world.org, role="client", client_system=world.client_system
    )
    with pytest.raises(PermissionDenied):
        oversight_by_reviewer_month(principal=client)


@pytest.mark.django_db
def test_the_api_gives_the_figures_to_members_and_refuses_clients(world: Any) -> None:
    from django.test import Client
    from rest_framework.test import APIClient

    review_record(
        principal=_officer(world, world.officer),
        decision=world.decision,
        action="overturn",
        justification=GOOD,
    )
    browser = Client()
    browser.force_login(world.auditor)
    body = browser.get("/api/v1/monitoring/oversight/").json()
    assert [(r["reviewer"], r["reviews"], r["overrides"]) for r in body] == [
        ("acme-officer", 1, 1)
    ]
    low, high = body[0]["override_interval"]
    assert body[0]["override_rate"] == 1.0 and high == 1.0 and 0 < low < 1
    narrowed = browser.get(
        f"/api/v1/monitoring/oversight/?ai_system={world.ai_system.pk}"
        "&from=2000-01-01T00:00:00Z&to=2001-01-01T00:00:00Z"
    ).json()
    assert narrowed == []
    bad = browser.get("/api/v1/monitoring/oversight/?ai_system=999999&from=soon")
    assert bad.status_code == 400
    assert bad.json()["errors"]["from"]  # named as the client named it
    unknown = browser.get("/api/v1/monitoring/oversight/?ai_system=999999")
    assert unknown.status_code == 400
    assert unknown.json()["errors"] == {"ai_system": ["Unknown AI system."]}
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {world.client_key}")
    assert client.get("/api/v1/monitoring/oversight/").status_code == 403
