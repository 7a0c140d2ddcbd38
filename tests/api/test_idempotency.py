from __future__ import annotations

from compliance.models import AuditEvent, Decision
from tests import factories

URL = "/api/v1/decisions/"


def test_the_same_submission_again_returns_the_original_with_200(world, api_as):
    api = api_as("client")
    payload = factories.decision_payload(world.model_version)
    first = api.post(URL, payload, format="json")
    counts = (Decision.objects.count(), AuditEvent.objects.count())
    again = api.post(URL, payload, format="json")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert (Decision.objects.count(), AuditEvent.objects.count()) == counts


def test_an_equivalent_timestamp_spelling_is_the_same_submission(world, api_as):
    api = api_as("client")
    payload = factories.decision_payload(
        world.model_version, decided_at="2026-11-20T10:15:00Z"
    )
    first = api.post(URL, payload, format="json")
    payload["decided_at"] = "2026-11-20T11:15:00+01:00"
    again = api.post(URL, payload, format="json")
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]


def test_the_same_external_id_with_a_different_payload_is_a_409(world, api_as):
    api = api_as("client")
    payload = factories.decision_payload(world.model_version)
    first = api.post(URL, payload, format="json")
    counts = (Decision.objects.count(), AuditEvent.objects.count())
    changed = dict(payload, subject_ref="applicant-other")
    conflict = api.post(URL, changed, format="json")
    assert conflict.status_code == 409
    body = conflict.json()
    assert body["code"] == "conflict"
    assert "external_id" in body["errors"]
    assert (Decision.objects.count(), AuditEvent.objects.count()) == counts
    stored = Decision.objects.get(pk=first.json()["id"])
    assert stored.subject_ref == payload["subject_ref"]


def test_external_ids_are_scoped_per_client_system(world, api_as):
    from rest_framework.test import APIClient

    payload = factories.decision_payload(world.model_version)
    assert api_as("client").post(URL, payload, format="json").status_code == 201
    _, second_key = factories.make_client(world.org, "second-engine")
    second = APIClient()
    second.credentials(HTTP_AUTHORIZATION=f"Api-Key {second_key}")
    assert second.post(URL, payload, format="json").status_code == 201


def test_a_replay_after_the_model_version_retired_still_returns_the_original(
    world, api_as
):
    api = api_as("client")
    payload = factories.decision_payload(world.model_version)
    first = api.post(URL, payload, format="json")
    world.model_version.is_active = False
    world.model_version.save(update_fields=["is_active"])
    again = api.post(URL, payload, format="json")
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]


def test_an_integrity_error_that_is_no_replay_is_not_masked(world):
    from unittest import mock

    import pytest
    from django.db import IntegrityError

    from compliance import decisions as intake
    from compliance.principals import Principal

    principal = Principal(
        organization=world.org, role="client", client_system=world.client_system
    )
    from django.utils import timezone

    payload = factories.decision_payload(world.model_version)
    payload["decided_at"] = (
        timezone.now()
    )  # the serializer's output, as the view passes
    before = Decision.objects.count()
    with (
        mock.patch.object(
            intake.services,
            "audit_events_append",
            side_effect=IntegrityError("duplicate key: uniq_audit_hash"),
        ),
        pytest.raises(IntegrityError, match="uniq_audit_hash"),
    ):
        intake.decision_submit(
            principal=principal, submission=intake.Submission.from_validated(payload)
        )
    assert Decision.objects.count() == before  # rolled back with the failed append
