"""Explanation jobs in process: request, claim with a lease, store, fail, sweep."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.db import transaction
from django.utils import timezone

from compliance import explanations, services
from compliance.audit import audit_chain_verify
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


# --- audit events of lease reclaims and exhausted attempts ------------------------------


def _expire(job, *, by=timedelta(seconds=1)):
    ExplanationJob.objects.filter(pk=job.pk).update(lease_until=timezone.now() - by)
    job.refresh_from_db()
    return job


def test_the_sweeper_records_one_reclaim_event_per_expired_lease(explained_world):
    jobs = [
        explanations.explanation_request(
            actor="t", decision=_decision(explained_world, income=500.0 + i)
        )[0]
        for i in range(3)
    ]
    token, claimed = explanations.explanation_jobs_claim(worker="lost", limit=2)
    expired = [_expire(job) for job in claimed]
    sweep_at = timezone.now()
    explanations.explanation_jobs_sweep()
    events = AuditEvent.objects.filter(action__endswith="lease_reclaimed")
    assert sorted(int(e.object_id) for e in events) == sorted(j.pk for j in expired)
    for event in events:
        job = next(j for j in expired if j.pk == int(event.object_id))
        assert event.action == "explanation.lease_reclaimed"
        assert (event.actor, event.object_type) == ("system", "explanation_job")
        assert event.organization_id == explained_world.org.pk
        assert event.payload == {
            "kind": "explanation",
            "decision": job.decision_id,
            "attempts": 1,
            "lease_until": job.lease_until.isoformat(timespec="microseconds"),
            "worker": "lost",
            "lease_token": token,
        }
        assert event.at >= sweep_at
    statuses = dict(ExplanationJob.objects.values_list("pk", "status"))
    assert {statuses[j.pk] for j in jobs} == {Status.QUEUED}
    assert audit_chain_verify().ok


def test_a_sweep_with_nothing_to_reclaim_appends_no_event(explained_world):
    explanations.explanation_request(
        actor="t", decision=_decision(explained_world, income=700.0)
    )
    explanations.explanation_request(
        actor="t", decision=_decision(explained_world, income=900.0)
    )
    explanations.explanation_jobs_claim(worker="alive", limit=1)  # lease still valid
    before = AuditEvent.objects.count()
    with mock.patch.object(explanations, "explanation_wake", return_value=True):
        result = explanations.explanation_jobs_sweep()
    assert result["reclaimed"] == 0 and AuditEvent.objects.count() == before
    assert ExplanationJob.objects.filter(status=Status.RUNNING).count() == 1


def test_a_job_swept_twice_gets_one_reclaim_event_per_expiry(explained_world):
    job, _ = explanations.explanation_request(
        actor="t", decision=_decision(explained_world)
    )
    explanations.explanation_jobs_claim(worker="first", limit=1)
    _expire(job)
    explanations.explanation_jobs_sweep()
    explanations.explanation_jobs_sweep()  # already queued: nothing more to record
    assert AuditEvent.objects.filter(action="explanation.lease_reclaimed").count() == 1
    explanations.explanation_jobs_claim(worker="second", limit=1)
    _expire(job)
    explanations.explanation_jobs_sweep()
    events = AuditEvent.objects.filter(
        action="explanation.lease_reclaimed", object_id=str(job.pk)
    ).order_by("sequence")
    assert [(e.payload["worker"], e.payload["attempts"]) for e in events] == [
        ("first", 1),
        ("second", 2),
    ]


def test_the_sweep_reclaims_in_batches_each_with_its_events(
    explained_world, monkeypatch
):
    monkeypatch.setattr(explanations, "SWEEP_BATCH", 2)
    for i in range(5):
        explanations.explanation_request(
            actor="t", decision=_decision(explained_world, income=600.0 + i)
        )
    _, claimed = explanations.explanation_jobs_claim(worker="lost", limit=10)
    for job in claimed:
        _expire(job)
    assert explanations.explanation_jobs_sweep()["reclaimed"] == 5
    assert AuditEvent.objects.filter(action="explanation.lease_reclaimed").count() == 5
    assert not ExplanationJob.objects.filter(status=Status.RUNNING).exists()
    assert audit_chain_verify().ok


def test_a_reclaim_whose_event_cannot_be_written_is_rolled_back(explained_world):
    job, _ = explanations.explanation_request(
        actor="t", decision=_decision(explained_world)
    )
    explanations.explanation_jobs_claim(worker="lost", limit=1)
    _expire(job)
    before = AuditEvent.objects.count()
    with (
        mock.patch.object(
            explanations, "audit_events_append", side_effect=RuntimeError("disk full")
        ),
        pytest.raises(RuntimeError),
    ):
        explanations.explanation_jobs_sweep()
    job.refresh_from_db()
    assert job.status == Status.RUNNING and job.worker == "lost"
    assert AuditEvent.objects.count() == before


def test_a_claim_that_takes_over_an_expired_lease_records_the_reclaim(
    explained_world,
):
    job, _ = explanations.explanation_request(
        actor="t", decision=_decision(explained_world)
    )
    token, _ = explanations.explanation_jobs_claim(worker="lost", limit=1)
    expired_until = _expire(job).lease_until
    _, taken = explanations.explanation_jobs_claim(worker="rescuer", limit=1)
    assert [j.pk for j in taken] == [job.pk]
    event = AuditEvent.objects.get(action="explanation.lease_reclaimed")
    assert event.actor == "worker:rescuer" and event.object_id == str(job.pk)
    assert event.payload == {
        "kind": "explanation",
        "decision": job.decision_id,
        "attempts": 1,
        "lease_until": expired_until.isoformat(timespec="microseconds"),
        "worker": "lost",
        "lease_token": token,
    }
    # a claim of queued jobs only is not an event
    before = AuditEvent.objects.count()
    explanations.explanation_request(
        actor="t", decision=_decision(explained_world, income=800.0)
    )
    requested = AuditEvent.objects.count()
    assert requested > before
    explanations.explanation_jobs_claim(worker="plain", limit=1)
    assert AuditEvent.objects.count() == requested


def test_a_job_that_exhausts_its_attempts_records_one_failure_event(
    explained_world, settings
):
    settings.EXPLANATION_MAX_ATTEMPTS = 2
    job, _ = explanations.explanation_request(
        actor="t", decision=_decision(explained_world)
    )
    for _ in range(2):
        explanations.explanation_jobs_claim(worker="doomed", limit=1)
        _expire(job)
        explanations.explanation_jobs_sweep()
    _, claimed = explanations.explanation_jobs_claim(worker="last", limit=1)
    assert claimed == []
    job.refresh_from_db()
    assert job.status == Status.FAILED
    failed = AuditEvent.objects.filter(action="explanation.failed")
    assert failed.count() == 1
    event = failed.get()
    assert (event.actor, event.object_type, event.object_id) == (
        "worker:last",
        "explanation_job",
        str(job.pk),
    )
    assert event.organization_id == explained_world.org.pk
    assert event.payload == {
        "decision": job.decision_id,
        "error": job.error,
        "reason": "attempts_exhausted",
        "attempts": 2,
    }
    assert "Gave up after 2 attempts" in event.payload["error"]
    assert AuditEvent.objects.filter(action="explanation.lease_reclaimed").count() == 2
    explanations.explanation_jobs_claim(worker="later", limit=1)  # failed: not claimed
    assert failed.count() == 1
    assert audit_chain_verify().ok


def test_a_batch_costs_the_same_queries_for_2_jobs_as_for_8(explained_world):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries_for(n: int) -> int:
        for _ in range(n):
            explanations.explanation_request(
                actor="t", decision=_decision(explained_world)
            )
        with CaptureQueriesContext(connection) as captured:
            assert explanations.explanation_batch_process(worker="w", limit=n) == n
        return len(captured)

    assert queries_for(2) == queries_for(8)  # nothing is looked up per job
