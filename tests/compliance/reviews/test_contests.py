"""A contest reopens the case as contested, whatever its status, audited without the
person's words; an officer reviews it again like any open case."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from compliance.errors import PermissionDenied, ValidationFailed
from compliance.models import AuditEvent, Contest, Decision
from compliance.principals import Principal
from compliance.reviews import review_record
from compliance.reviews.contests import contest_submit

STATEMENT = "I repaid my last credit in full; the history you used is out of date."
GOOD = "Re-checked the credit history with the applicant's documents; it stands."


def _client_principal(world: Any) -> Principal:
    return Principal(
        organization=world.org, role="client", client_system=world.client_system
    )


def _officer(world: Any, user: Any = None) -> Principal:
    return Principal(organization=world.org, role="officer", user=user or world.officer)


def _final(world: Any) -> Decision:
    review_record(
        principal=_officer(world),
        decision=world.decision,
        action="uphold",
        justification=GOOD,
    )
    world.decision.refresh_from_db()
    assert world.decision.status == Decision.Status.FINAL
    return world.decision


@pytest.mark.django_db
def test_a_contest_reopens_a_final_decision(world: Any) -> None:
    decision = _final(world)
    contest = contest_submit(
        principal=_client_principal(world),
        decision=decision,
        statement=STATEMENT,
        reference="NOT-ABC",
    )
    decision.refresh_from_db()
    assert decision.status == Decision.Status.CONTESTED
    assert decision.final_outcome == decision.outcome  # stays until a new review
    assert contest.previous_status == "final"
    event = AuditEvent.objects.get(action="decision.contested")
    assert event.payload["previous_status"] == "final"
    assert (
        event.payload["statement_sha256"]
        == hashlib.sha256(STATEMENT.encode()).hexdigest()
    )
    assert STATEMENT not in str(event.payload)  # never the person's words


@pytest.mark.django_db
def test_a_second_contest_is_recorded_too(world: Any) -> None:
    for _ in range(2):
        contest_submit(
            principal=_client_principal(world),
            decision=world.decision,
            statement=STATEMENT,
        )
    assert Contest.objects.count() == 2
    assert list(Contest.objects.values_list("previous_status", flat=True)) == [
        "unreviewed",
        "contested",
    ]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("statement", "field"),
    [("   ", "statement"), ("x" * 5001, "statement"), ("a\u202eb", "statement")],
)
def test_bad_statements_are_refused(world: Any, statement: str, field: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        contest_submit(
            principal=_client_principal(world),
            decision=world.decision,
            statement=statement,
        )
    assert field in refused.value.errors
    assert not Contest.objects.exists()


@pytest.mark.django_db
def test_people_do_not_submit_contests(world: Any) -> None:
    with pytest.raises(PermissionDenied):
        contest_submit(
            principal=_officer(world), decision=world.decision, statement=STATEMENT
        )


@pytest.mark.django_db
def test_a_contested_case_is_reviewed_again(world: Any) -> None:
    decision = _final(world)
    contest_submit(
        principal=_client_principal(world), decision=decision, statement=STATEMENT
    )
    second = Principal(organization=world.org, role="admin", user=world.admin)
    review_record(
        principal=second,
        decision=decision,
        action="uphold",
        justification=GOOD,
    )
    decision.refresh_from_db()
    assert decision.status == Decision.Status.FINAL


@pytest.mark.django_db
def test_the_api_takes_a_contest_and_lists_it(world: Any) -> None:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {world.client_key}")
    url = f"/api/v1/decisions/{world.decision.pk}/contests/"
    response = api.post(url, {"statement": STATEMENT}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["decision_status"] == "contested"
    assert body["previous_status"] == "unreviewed"
    assert response["Location"].endswith(url)
    assert [c["statement"] for c in api.get(url).json()] == [STATEMENT]
    bad = api.post(url, {"statement": ""}, format="json")
    assert bad.status_code == 400 and "statement" in bad.json()["errors"]
    unknown = api.post(url, {"statement": STATEMENT, "x": 1}, format="json")
    assert unknown.status_code == 400
    other = APIClient()
    other.credentials(HTTP_AUTHORIZATION=f"Api-Key {world.other_client_key}")
    assert other.post(url, {"statement": STATEMENT}, format="json").status_code == 404


@pytest.mark.django_db
def test_the_queue_and_the_case_page_show_the_contest(world: Any) -> None:
    contest_submit(
        principal=_client_principal(world),
        decision=world.decision,
        statement=STATEMENT,
    )
    browser = Client()
    browser.force_login(world.officer)
    queue = browser.get("/cases/?status=contested").content.decode()
    assert world.decision.external_id in queue
    assert '<span class="flag">Contested</span>' in queue
    page = browser.get(f"/cases/{world.decision.pk}/").content.decode()
    assert "Contested" in page and STATEMENT.replace("'", "&#x27;") in page
