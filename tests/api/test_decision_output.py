"""The hand-written decision representation answers exactly as DRF's generic one would."""

from __future__ import annotations

from rest_framework import serializers

from compliance.api.serializers import DecisionOutputSerializer
from compliance.models import Decision
from tests import factories


def _generic(decision: Decision) -> dict:
    serializer = DecisionOutputSerializer(decision)
    return dict(serializers.ModelSerializer.to_representation(serializer, decision))


def test_it_matches_the_generic_representation_field_for_field(world, api_as):
    payload = factories.decision_payload(
        world.model_version, decided_at="2026-11-20T11:15:00.123456+01:00"
    )
    created = api_as("client").post("/api/v1/decisions/", payload, format="json")
    assert created.status_code == 201
    for decision in [Decision.objects.get(pk=created.json()["id"]), world.decision]:
        fast = DecisionOutputSerializer(decision).data
        assert dict(fast) == _generic(decision)
        assert list(fast) == DecisionOutputSerializer.Meta.fields
    assert created.json()["decided_at"] == "2026-11-20T10:15:00.123456Z"


def test_it_matches_when_nothing_could_be_reproduced(world):
    decision = world.decision
    decision.reproduced_score = None
    decision.prediction_consistent = None
    assert dict(DecisionOutputSerializer(decision).data) == _generic(decision)
    assert DecisionOutputSerializer(decision).data["reproduced_score"] is None


def test_a_list_uses_the_same_representation(world, api_as):
    listed = api_as("officer").get("/api/v1/decisions/").json()["results"]
    assert listed == [_generic(Decision.objects.get(pk=world.decision.pk))]


def test_a_blind_pending_row_differs_only_by_the_hidden_answer(world):
    from compliance.api.serializers import BLIND_FIELDS

    decision = Decision.objects.get(pk=world.decision.pk)
    decision.blind_pending = True  # as reviews.selectors.blind_pending_annotate sets it
    hidden = dict(DecisionOutputSerializer(decision).data)
    generic = _generic(decision)
    assert hidden["blind_pending"] is True and generic["blind_pending"] is True
    assert {k for k in hidden if hidden[k] != generic[k]} == {
        k for k in BLIND_FIELDS if generic[k] is not None
    }
    assert all(hidden[k] is None for k in BLIND_FIELDS)
