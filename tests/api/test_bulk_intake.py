"""POST /api/v1/decisions/bulk/: each decision answered on its own, in input order,
idempotent per external_id like single submissions."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from compliance.models import AuditEvent, Decision
from tests import factories

URL = "/api/v1/decisions/bulk/"


def _api(key: str) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    return api


def _payload(world: Any, **overrides: Any) -> dict[str, Any]:
    body = factories.decision_payload(world.model_version, **overrides)
    return body


@pytest.mark.django_db
def test_each_item_is_answered_in_order(world: Any) -> None:
    api = _api(world.client_key)
    first = _payload(world)
    replay_of_existing = {
        **_payload(world),
        "external_id": world.decision.external_id,
    }
    conflicting = {**replay_of_existing, "subject_ref": "someone-else"}
    invalid = {**_payload(world), "outcome": "maybe"}
    malformed = {"external_id": 5}
    response = api.post(
        URL,
        {"decisions": [first, conflicting, invalid, malformed, first]},
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    statuses = [r["status"] for r in body["results"]]
    assert statuses == [201, 409, 400, 400, 200]
    assert [r["index"] for r in body["results"]] == [0, 1, 2, 3, 4]
    assert body["results"][0]["decision"]["external_id"] == first["external_id"]
    assert body["results"][4]["decision"]["id"] == body["results"][0]["decision"]["id"]
    assert body["results"][2]["error"]["errors"]["outcome"]
    assert "model_version" in body["results"][3]["error"]["errors"]
    assert (body["stored"], body["replayed"], body["failed"]) == (1, 1, 3)
    stored = Decision.objects.get(pk=body["results"][0]["decision"]["id"])
    assert (
        AuditEvent.objects.filter(
            action="decision.submitted", object_id=str(stored.pk)
        ).count()
        == 1
    )
    # sending the request again replays what was stored
    again = api.post(URL, {"decisions": [first]}, format="json").json()
    assert again["results"][0]["status"] == 200


@pytest.mark.django_db
def test_the_envelope_is_checked(world: Any) -> None:
    api = _api(world.client_key)
    empty = api.post(URL, {"decisions": []}, format="json").json()
    assert empty == {"results": [], "stored": 0, "replayed": 0, "failed": 0}
    too_many = api.post(URL, {"decisions": [{}] * 1001}, format="json")
    assert too_many.status_code in (400, 413)
    unknown = api.post(URL, {"decisions": [_payload(world)], "x": 1}, format="json")
    assert unknown.status_code == 400 and unknown.json()["errors"]["x"]
    listed = api.post(URL, [_payload(world)], format="json")
    assert listed.status_code == 400 and listed.json()["errors"]["decisions"]


@pytest.mark.django_db
def test_only_client_systems_submit(world: Any) -> None:
    people = Client()
    people.force_login(world.officer)
    response = people.post(
        URL, {"decisions": [_payload(world)]}, content_type="application/json"
    )
    assert response.status_code == 403


@pytest.mark.django_db
def test_a_large_request_is_stored_in_batches_with_every_rule_kept(world: Any) -> None:
    """250 items over three chunks: twins across chunks, an unknown model version, a
    retired one's replay; one audit event per stored decision; scores reproduced."""
    api = _api(world.client_key)
    items = [_payload(world) for _ in range(250)]
    items[120] = dict(items[3])  # the same decision again, in the next chunk: a replay
    items[130] = {**items[4], "subject_ref": "someone-else"}  # its id, other payload
    items[140] = {**_payload(world), "model_version": 10**9}
    items[150] = {**_payload(world), "features": {"income": -1}}
    body = api.post(URL, {"decisions": items}, format="json").json()
    statuses = [r["status"] for r in body["results"]]
    assert statuses[120] == 200 and statuses[130] == 409
    assert statuses[140] == 400 and statuses[150] == 400
    assert statuses.count(201) == 246
    assert (
        body["results"][120]["decision"]["id"] == body["results"][3]["decision"]["id"]
    )
    created = Decision.objects.filter(
        pk__in=[r["decision"]["id"] for r in body["results"] if r["status"] == 201]
    )
    assert created.count() == 246
    assert all(d.prediction_consistent for d in created)
    events = AuditEvent.objects.filter(
        action="decision.submitted",
        object_id__in=[str(d.pk) for d in created],
    )
    assert events.count() == 246
