"""Explanation jobs in process: request, claim with a lease, store, fail, sweep."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.db import transaction
from django.utils import timezone

from compliance import explanations, services
from compliance.errors import Conflict, ValidationFailed
from compliance.models import AuditEvent, Decision, Explanation, ExplanationJob
from compliance.principals import Principal
from tests import factories

Status = ExplanationJob.Status
BASELINE = {"income": 3000.0, "age": 40, "purpose": "other", "has_guarantor": False}


@pytest.fixture
def explained_world(world):
    """The persona world with a model version whose schema has a training baseline."""
    ai = factories.make_ai_system(world.org, "Explained scoring")
    schema = {**factories.TINY_SCHEMA, "baseline": BASELINE}
    mv = services.model_version_register(
        principal=Principal(organization=world.org, role="admin"),
        ai_system=ai,
        version="1.0",
        architecture="logistic_regression",
        hyperparameters={},
        feature_schema=schema,
        class_labels=["good", "bad"],
        favourable_class="good",
        decision_threshold=0.5,
        weights=factories.tiny_weights(),
    )
    world.explained_mv = mv
    return world


def _decision(world, **features):
    payload = factories.decision_payload(
        world.explained_mv, features=dict(factories.VALID_FEATURES, **features)
    )
    payload["decided_at"] = timezone.now()
    principal = Principal(
        organization=world.org, role="client", client_system=world.client_system
    )
    return services.decision_submit(principal=principal, data=payload)[0]


def test_the_same_request_returns_the_same_job(explained_world):
    decision = _decision(explained_world)
    first, created = explanations.explanation_request(
        actor="t", decision=decision, methods=["deeplift"]
    )
    again, created_again = explanations.explanation_request(
        actor="t", decision=decision, methods=["deeplift"]
    )
    assert (created, created_again) == (True, False) and first.pk == again.pk
    other, _ = explanations.explanation_request(
        actor="t", decision=decision, methods=["saliency"]
    )
    assert other.pk != first.pk


@pytest.mark.parametrize(
    ("methods", "parameters", "field"),
    [
        (["lime"], {}, "methods"),
        ([], {}, "methods"),
        (
            ["integrated_gradients"],
            {"integrated_gradients": {"n_steps": 1}},
            "parameters",
        ),
        (["deeplift"], {"colour": 1}, "parameters"),
    ],
)
def test_bad_requests_raise_before_a_job_exists(
    explained_world, methods, parameters, field
):
    decision = _decision(explained_world)
    with pytest.raises(ValidationFailed) as info:
        explanations.explanation_request(
            actor="t",
            decision=decision,
            methods=methods,
            parameters=parameters,
        )
    assert field in info.value.errors
    assert not ExplanationJob.objects.filter(decision=decision).exists()


def test_a_retired_model_version_is_refused(explained_world):
    decision = _decision(explained_world)
    explained_world.explained_mv.is_active = False
    explained_world.explained_mv.save(update_fields=["is_active"])
    decision.refresh_from_db()
    with pytest.raises(Conflict):
        explanations.explanation_request(actor="t", decision=decision)


def test_a_batch_is_claimed_explained_and_stored_once(explained_world):
    decisions = [_decision(explained_world, income=300.0 + 400 * i) for i in range(6)]
    jobs = [
        explanations.explanation_request(
            actor="t", decision=d, methods=["integrated_gradients", "deeplift"]
        )[0]
        for d in decisions
    ]
    assert explanations.explanation_batch_process(worker="w1", limit=10) == 6
    assert explanations.explanation_batch_process(worker="w1", limit=10) == 0
    for job in jobs:
        job.refresh_from_db()
        assert (job.status, job.progress, job.attempts) == (Status.DONE, 1.0, 1)
        assert job.lease_token == "" and job.finished_at
    assert Explanation.objects.filter(job__in=jobs).count() == 12
    stored = AuditEvent.objects.filter(action="explanation.stored")
    assert sorted(int(e.object_id) for e in stored) == sorted(d.pk for d in decisions)
    poor = Explanation.objects.get(decision=decisions[0], method="integrated_gradients")
    assert set(poor.attributions) == {"income", "age", "purpose", "has_guarantor"}
    assert poor.manifest["input_sha256"] and poor.n_steps >= 50


def test_claims_take_one_model_version_at_a_time_and_respect_the_limit(explained_world):
    for _ in range(5):
        explanations.explanation_request(actor="t", decision=_decision(explained_world))
    token, claimed = explanations.explanation_jobs_claim(worker="w", limit=3)
    assert len(claimed) == 3 and {j.model_version_id for j in claimed} == {
        explained_world.explained_mv.pk
    }
    _, rest = explanations.explanation_jobs_claim(worker="w2", limit=10)
    assert len(rest) == 2 and not {j.pk for j in rest} & {j.pk for j in claimed}


def test_results_of_a_lost_lease_are_discarded(explained_world):
    job, _ = explanations.explanation_request(
        actor="t", decision=_decision(explained_world)
    )
    token, claimed = explanations.explanation_jobs_claim(worker="slow", limit=1)
    ExplanationJob.objects.filter(pk=job.pk).update(
        lease_until=timezone.now() - timedelta(1)
    )
    assert explanations.explanation_jobs_sweep()["reclaimed"] == 1
    assert explanations.explanation_batch_process(worker="fast", limit=5) == 1
    # the slow worker finally stores: its token is no longer the job's
    explanations._results_store(claimed, [mock.MagicMock()], token=token, worker="slow")
    assert Explanation.objects.filter(job=job).count() == 1


@pytest.mark.parametrize(
    ("error", "fragment"),
    [
        (explanations.explain.BadInput("Row 0: feature 'income': drifted"), "drifted"),
        (RuntimeError("CUDA out of memory"), "Unexpected error while explaining"),
    ],
)
def test_an_error_fails_the_job_with_a_readable_message(
    explained_world, error, fragment
):
    decision = _decision(explained_world)
    job, _ = explanations.explanation_request(
        actor="t", decision=decision, methods=["deeplift"]
    )
    with mock.patch("explain.explain_batch", side_effect=error):
        assert explanations.explanation_batch_process(worker="w", limit=5) == 1
    job.refresh_from_db()
    assert job.status == Status.FAILED and fragment in job.error
    assert AuditEvent.objects.filter(
        action="explanation.failed", object_id=str(job.pk)
    ).exists()
    again, created = explanations.explanation_request(
        actor="t", decision=decision, methods=["deeplift"]
    )
    assert not created and again.pk == job.pk and again.status == Status.QUEUED


def test_a_job_that_keeps_losing_its_worker_fails_after_max_attempts(
    explained_world, settings
):
    settings.EXPLANATION_MAX_ATTEMPTS = 2
    job, _ = explanations.explanation_request(
        actor="t", decision=_decision(explained_world)
    )
    for _ in range(2):
        explanations.explanation_jobs_claim(worker="doomed", limit=1)
        ExplanationJob.objects.filter(pk=job.pk).update(
            lease_until=timezone.now() - timedelta(1)
        )
    explanations.explanation_jobs_claim(worker="doomed", limit=1)
    job.refresh_from_db()
    assert job.status == Status.FAILED and "Gave up after 2 attempts" in job.error


def test_a_flagged_explanation_moves_the_decision_to_needs_review(explained_world):
    decision = _decision(explained_world, income=400.0)
    explanations.explanation_request(
        actor="t",
        decision=decision,
        methods=["integrated_gradients"],
        parameters={
            "integrated_gradients": {"tolerance": 0.0, "n_steps": 2, "max_n_steps": 2},
            "quality": {"sensitivity": False},
        },
    )
    with mock.patch("explain.engine.top_k_agreement", return_value={"min": -1.0}):
        explanations.explanation_batch_process(worker="w", limit=5)
    decision.refresh_from_db()
    assert decision.status == Decision.Status.NEEDS_REVIEW


def test_explain_on_receipt_queues_a_job_with_the_decision(
    explained_world, django_capture_on_commit_callbacks
):
    ai = explained_world.explained_mv.ai_system
    ai.explain_on_receipt, ai.default_explanation_methods = True, ["deeplift"]
    ai.save(update_fields=["explain_on_receipt", "default_explanation_methods"])
    with mock.patch.object(explanations, "explanation_wake") as wake:
        with django_capture_on_commit_callbacks(execute=True):
            decision = _decision(explained_world)
    job = ExplanationJob.objects.get(decision=decision)
    assert job.methods == ["deeplift"]
    wake.assert_called_once_with(explained_world.explained_mv.pk)


def test_a_rolled_back_decision_leaves_no_job_and_sends_no_message(
    explained_world, django_capture_on_commit_callbacks
):
    ai = explained_world.explained_mv.ai_system
    ai.explain_on_receipt = True
    ai.save(update_fields=["explain_on_receipt"])
    before = (Decision.objects.count(), ExplanationJob.objects.count())
    with mock.patch.object(explanations, "explanation_wake") as wake:
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            with pytest.raises(RuntimeError), transaction.atomic():
                _decision(explained_world)
                raise RuntimeError("the client's transaction failed")
    assert (Decision.objects.count(), ExplanationJob.objects.count()) == before
    assert callbacks == [] and not wake.called


def test_the_sweeper_rewakes_queued_jobs(explained_world):
    explanations.explanation_request(actor="t", decision=_decision(explained_world))
    with mock.patch.object(explanations, "explanation_wake", return_value=True) as wake:
        result = explanations.explanation_jobs_sweep()
    assert result["model_versions_woken"] == 1
    wake.assert_called_once_with(explained_world.explained_mv.pk)


def test_a_dead_broker_does_not_raise_and_backs_off(explained_world, monkeypatch):
    from workers.celery import app

    monkeypatch.setattr(explanations, "_broker_down_until", 0.0)
    with mock.patch.object(
        app, "send_task", side_effect=ConnectionError("down")
    ) as send:
        assert explanations.explanation_wake(1) is False
        assert explanations.explanation_wake(1) is False  # backing off: not tried
    assert send.call_count == 1
