"""A model version whose weights file was replaced on disk is an integrity incident:
the version is suspended (once, with an audit event naming both hashes), its decisions
are still accepted but enter as "needs review", and an alert counter rises."""

from __future__ import annotations

from prometheus_client import REGISTRY

from compliance.models import AuditEvent, Decision, ModelVersion
from compliance.registry import loading
from tests import factories

URL = "/api/v1/decisions/"
METRIC = "inspectoscope_model_weights_integrity_failures_total"


def _failures() -> float:
    return REGISTRY.get_sample_value(METRIC) or 0.0


def _replace_weights(mv: ModelVersion) -> None:
    with open(mv.weights.path, "wb") as fh:
        fh.write(b"not the weights that were registered")
    loading._cache.clear()  # a new process: nothing loaded yet


def test_replaced_weights_suspend_the_version_and_flag_its_decisions(world, api_as):
    mv = world.model_version
    _replace_weights(mv)
    before = _failures()
    api = api_as("client")

    first = api.post(URL, factories.decision_payload(mv), format="json")
    assert first.status_code == 201, first.content
    assert first.json()["prediction_consistent"] is None
    decision = Decision.objects.get(pk=first.json()["id"])
    assert decision.status == Decision.Status.NEEDS_REVIEW

    events = AuditEvent.objects.filter(action="model_version.integrity_failed")
    assert events.count() == 1
    event = events.get()
    assert event.organization_id == world.org.pk
    assert event.object_id == str(mv.pk)
    assert event.payload["expected_sha256"] == mv.weights_sha256
    assert event.payload["found_sha256"] != mv.weights_sha256
    assert len(event.payload["found_sha256"]) == 64

    mv.refresh_from_db()
    assert mv.integrity_suspended_at is not None
    assert mv.weights_sha256 in mv.integrity_suspended_reason
    assert _failures() > before

    second = api.post(URL, factories.decision_payload(mv), format="json")
    assert second.status_code == 201, second.content
    assert Decision.objects.get(pk=second.json()["id"]).status == "needs_review"
    assert events.count() == 1

    shown = api_as("officer").get(f"/api/v1/model-versions/{mv.pk}/")
    assert shown.status_code == 200, shown.content
    assert shown.json()["integrity_suspended_at"] is not None
    assert shown.json()["integrity_suspended_reason"] == mv.integrity_suspended_reason


def test_intact_weights_leave_the_version_unsuspended(world, api_as):
    loading._cache.clear()
    mv = world.model_version
    response = api_as("client").post(URL, factories.decision_payload(mv), format="json")
    assert response.status_code == 201, response.content
    assert Decision.objects.get(pk=response.json()["id"]).status == "unreviewed"
    assert not AuditEvent.objects.filter(
        action="model_version.integrity_failed"
    ).exists()
    mv.refresh_from_db()
    assert mv.integrity_suspended_at is None
    shown = api_as("officer").get(f"/api/v1/model-versions/{mv.pk}/").json()
    assert shown["integrity_suspended_at"] is None
