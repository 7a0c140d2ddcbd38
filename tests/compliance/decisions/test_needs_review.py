"""Decisions a person must look at enter the queue as "needs review" on their own: a
reported score the model does not reproduce, an explanation whose quality fails, or
one that shows a protected attribute's influence."""

from __future__ import annotations

from unittest import mock

from django.utils import timezone

from compliance import decisions as intake
from compliance import explanations
from compliance.jobs import jobs_process
from compliance.models import AuditEvent, Decision, ExplanationRun
from compliance.principals import SYSTEM_OPERATOR, Principal
from tests import factories


def _submit(world, **overrides):
    payload = factories.decision_payload(world.model_version, **overrides)
    payload["decided_at"] = timezone.now()
    principal = Principal(
        organization=world.org, role="client", client_system=world.client_system
    )
    return intake.decision_submit(
        principal=principal, submission=intake.Submission.from_validated(payload)
    ).decision


def test_a_reproduced_score_enters_as_unreviewed(world):
    decision = _submit(world)
    assert decision.prediction_consistent is True
    assert decision.status == Decision.Status.UNREVIEWED


def test_a_score_not_reproduced_enters_as_needs_review(world):
    payload = factories.decision_payload(world.model_version)
    wrong = round(1.0 - payload["score"], 6)
    decision = _submit(world, score=wrong)
    assert decision.prediction_consistent is False
    stored = Decision.objects.get(pk=decision.pk)
    assert stored.status == Decision.Status.NEEDS_REVIEW
    event = AuditEvent.objects.get(action="decision.submitted", object_id=decision.pk)
    assert event.payload["status"] == "needs_review"


def _explain(decision):
    explanations.explanation_request(
        principal=SYSTEM_OPERATOR, decision=decision, methods=["integrated_gradients"]
    )
    jobs_process(kind="explanation", worker="w", limit=5)


def test_an_explanation_whose_quality_fails_moves_it_to_needs_review(world):
    decision = _submit(world)
    with mock.patch("explain.engine.top_k_agreement", return_value={"min": -1.0}):
        explanations.explanation_request(
            principal=SYSTEM_OPERATOR,
            decision=decision,
            methods=["integrated_gradients"],
            parameters={
                "integrated_gradients": {
                    "tolerance": 0.0,
                    "n_steps": 2,
                    "max_n_steps": 2,
                },
                "quality": {"sensitivity": False},
            },
        )
        jobs_process(kind="explanation", worker="w", limit=5)
    run = ExplanationRun.objects.get(decision=decision)
    assert run.needs_review
    decision.refresh_from_db()
    assert decision.status == Decision.Status.NEEDS_REVIEW


def test_protected_attribute_influence_moves_it_to_needs_review(world):
    decision = _submit(world)
    warning = {
        "code": "protected_attribute_influence",
        "feature": "age",
        "share": 0.4,
    }
    with mock.patch("explain.engine.merge_warnings", return_value=[warning]):
        _explain(decision)
    run = ExplanationRun.objects.get(decision=decision)
    assert run.warnings == [warning] and not run.needs_review
    decision.refresh_from_db()
    assert decision.status == Decision.Status.NEEDS_REVIEW
    stored = AuditEvent.objects.get(action="explanation.stored")
    assert stored.payload["protected_influence"] is True


def test_a_clean_explanation_leaves_it_unreviewed(world):
    decision = _submit(world)
    with mock.patch("explain.engine.merge_warnings", return_value=[]):
        _explain(decision)
    run = ExplanationRun.objects.get(decision=decision)
    assert not run.needs_review and run.warnings == []
    decision.refresh_from_db()
    assert decision.status == Decision.Status.UNREVIEWED
