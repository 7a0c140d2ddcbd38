"""Explanation jobs in process: request, claim with a lease, store, fail, sweep."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.db import transaction
from django.utils import timezone

import explain
from compliance import decisions as intake
from compliance import explanations
from compliance.audit import audit_chain_verify
from compliance.errors import Conflict, ValidationFailed
from compliance.jobs import (
    JobDone,
    jobs_claim,
    jobs_process,
    jobs_sweep,
    lease_complete,
    publisher_register,
)
from compliance.jobs import engine as job_engine
from compliance.jobs import publish as job_publish
from compliance.models import AuditEvent, Decision, Explanation, ExplanationRun, Job
from compliance.principals import SYSTEM_OPERATOR, Principal
from compliance.registry import services as registry
from tests import factories

Status = Job.Status
BASELINE = {"income": 3000.0, "age": 40, "purpose": "other", "has_guarantor": False}


@pytest.fixture
def explained_world(world):
    """The persona world with a model version whose schema has a training baseline."""
    ai = factories.make_ai_system(world.org, "Explained scoring")
    schema = {**factories.TINY_SCHEMA, "baseline": BASELINE}
    mv = registry.model_version_register(
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
    return intake.decision_submit(
        principal=principal, submission=intake.Submission.from_validated(payload)
    )[0]


def _claim(*, worker, limit):
    lease = jobs_claim(kind="explanation", worker=worker, limit=limit)
    return lease.token, lease.jobs


def _process(*, worker, limit):
    return jobs_process(kind="explanation", worker=worker, limit=limit)


@pytest.fixture
def publisher():
    """A stand-in for the broker, registered on the publish port."""
    sent = mock.Mock()
    previous = publisher_register(sent)
    yield sent
    publisher_register(previous)


def test_the_same_request_returns_the_same_job(explained_world):
    decision = _decision(explained_world)
    first, created = explanations.explanation_request(
        principal=SYSTEM_OPERATOR, decision=decision, methods=["deeplift"]
    )
    again, created_again = explanations.explanation_request(
        principal=SYSTEM_OPERATOR, decision=decision, methods=["deeplift"]
    )
    assert (created, created_again) == (True, False) and first.pk == again.pk
    other, _ = explanations.explanation_request(
        principal=SYSTEM_OPERATOR, decision=decision, methods=["saliency"]
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
            principal=SYSTEM_OPERATOR,
            decision=decision,
            methods=methods,
            parameters=parameters,
        )
    assert field in info.value.errors
    assert not Job.objects.filter(decision=decision).exists()


def test_a_retired_model_version_is_refused(explained_world):
    decision = _decision(explained_world)
    explained_world.explained_mv.is_active = False
    explained_world.explained_mv.save(update_fields=["is_active"])
    decision.refresh_from_db()
    with pytest.raises(Conflict):
        explanations.explanation_request(principal=SYSTEM_OPERATOR, decision=decision)


def test_a_batch_is_claimed_explained_and_stored_once(explained_world):
    decisions = [_decision(explained_world, income=300.0 + 400 * i) for i in range(6)]
    jobs = [
        explanations.explanation_request(
            principal=SYSTEM_OPERATOR,
            decision=d,
            methods=["integrated_gradients", "deeplift"],
        )[0]
        for d in decisions
    ]
    assert _process(worker="w1", limit=10) == 6
    assert _process(worker="w1", limit=10) == 0
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
        explanations.explanation_request(
            principal=SYSTEM_OPERATOR, decision=_decision(explained_world)
        )
    token, claimed = _claim(worker="w", limit=3)
    assert len(claimed) == 3 and {j.decision.model_version_id for j in claimed} == {
        explained_world.explained_mv.pk
    }
    _, rest = _claim(worker="w2", limit=10)
    assert len(rest) == 2 and not {j.pk for j in rest} & {j.pk for j in claimed}


def test_results_of_a_lost_lease_are_discarded(explained_world):
    job, _ = explanations.explanation_request(
        principal=SYSTEM_OPERATOR,
        decision=_decision(explained_world),
        methods=["integrated_gradients", "deeplift"],
    )
    slow = jobs_claim(kind="explanation", worker="slow", limit=1)
    # the slow worker computes real results while its lease runs out
    outcomes = explanations.ExplanationHandler().run(slow.jobs, lambda _: None)
    assert isinstance(outcomes[0], JobDone) and set(outcomes[0].result.methods) == {
        "integrated_gradients",
        "deeplift",
    }
    Job.objects.filter(pk=job.pk).update(lease_until=timezone.now() - timedelta(1))
    assert jobs_sweep()["reclaimed"] == 1
    assert _process(worker="fast", limit=5) == 1
    events_before = AuditEvent.objects.count()
    # the slow worker finally stores: its token is no longer the job's
    assert lease_complete(slow, list(zip(slow.jobs, outcomes, strict=True))) == 0
    assert Explanation.objects.filter(job=job).count() == 2  # the fast worker's
    assert ExplanationRun.objects.filter(job=job).count() == 1
    assert AuditEvent.objects.count() == events_before
    assert not AuditEvent.objects.filter(actor="worker:slow").exists()
    job.refresh_from_db()
    assert job.status == Status.DONE and job.worker == "fast"


@pytest.mark.parametrize(
    ("error", "fragment"),
    [
        (explain.BadInput("Row 0: feature 'income': drifted"), "drifted"),
        (RuntimeError("CUDA out of memory"), "Unexpected error: RuntimeError"),
    ],
)
def test_an_error_fails_the_job_with_a_readable_message(
    explained_world, error, fragment
):
    decision = _decision(explained_world)
    job, _ = explanations.explanation_request(
        principal=SYSTEM_OPERATOR, decision=decision, methods=["deeplift"]
    )
    with mock.patch("explain.explain_batch", side_effect=error):
        assert _process(worker="w", limit=5) == 1
    job.refresh_from_db()
    assert job.status == Status.FAILED and fragment in job.error
    assert AuditEvent.objects.filter(
        action="explanation.failed", object_id=str(job.pk)
    ).exists()
    again, created = explanations.explanation_request(
        principal=SYSTEM_OPERATOR, decision=decision, methods=["deeplift"]
    )
    assert not created and again.pk == job.pk and again.status == Status.QUEUED


def test_a_job_that_keeps_losing_its_worker_fails_after_max_attempts(
    explained_world, settings
):
    settings.JOB_MAX_ATTEMPTS = 2
    job, _ = explanations.explanation_request(
        principal=SYSTEM_OPERATOR, decision=_decision(explained_world)
    )
    for _ in range(2):
        _claim(worker="doomed", limit=1)
        Job.objects.filter(pk=job.pk).update(lease_until=timezone.now() - timedelta(1))
    _claim(worker="doomed", limit=1)
    job.refresh_from_db()
    assert job.status == Status.FAILED and "Gave up after 2 attempts" in job.error


def test_a_flagged_explanation_moves_the_decision_to_needs_review(explained_world):
    decision = _decision(explained_world, income=400.0)
    explanations.explanation_request(
        principal=SYSTEM_OPERATOR,
        decision=decision,
        methods=["integrated_gradients"],
        parameters={
            "integrated_gradients": {"tolerance": 0.0, "n_steps": 2, "max_n_steps": 2},
            "quality": {"sensitivity": False},
        },
    )
    with mock.patch("explain.engine.top_k_agreement", return_value={"min": -1.0}):
        _process(worker="w", limit=5)
    decision.refresh_from_db()
    assert decision.status == Decision.Status.NEEDS_REVIEW


def test_explain_on_receipt_queues_a_job_with_the_decision(
    explained_world, django_capture_on_commit_callbacks, publisher
):
    ai = explained_world.explained_mv.ai_system
    ai.explain_on_receipt, ai.default_explanation_methods = True, ["deeplift"]
    ai.save(update_fields=["explain_on_receipt", "default_explanation_methods"])
    with django_capture_on_commit_callbacks(execute=True):
        decision = _decision(explained_world)
    job = Job.objects.get(decision=decision)
    assert job.methods == ["deeplift"]
    publisher.assert_called_once_with(
        "explanation", f"model_version:{explained_world.explained_mv.pk}"
    )


def test_a_rolled_back_decision_leaves_no_job_and_sends_no_message(
    explained_world, django_capture_on_commit_callbacks, publisher
):
    ai = explained_world.explained_mv.ai_system
    ai.explain_on_receipt = True
    ai.save(update_fields=["explain_on_receipt"])
    before = (Decision.objects.count(), Job.objects.count())
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError), transaction.atomic():
            _decision(explained_world)
            raise RuntimeError("the client's transaction failed")
    assert (Decision.objects.count(), Job.objects.count()) == before
    assert callbacks == [] and not publisher.called


def test_the_sweeper_rewakes_queued_jobs(explained_world, publisher):
    explanations.explanation_request(
        principal=SYSTEM_OPERATOR, decision=_decision(explained_world)
    )
    publisher.reset_mock()
    result = jobs_sweep()
    assert result["woken"] == 1
    publisher.assert_called_once_with(
        "explanation", f"model_version:{explained_world.explained_mv.pk}"
    )
    # that wake is outstanding (no worker started): the next sweep sends nothing
    assert jobs_sweep()["woken"] == 0
    job_publish.job_wake_clear("explanation")  # a drain started, or the marker expired
    assert jobs_sweep()["woken"] == 1
    assert publisher.call_count == 2


def test_a_dead_broker_does_not_raise_and_backs_off(explained_world, monkeypatch):
    from workers.celery import app

    monkeypatch.setattr(job_publish, "_broker_down_until", 0.0)
    with mock.patch.object(
        app, "send_task", side_effect=ConnectionError("down")
    ) as send:
        assert job_publish.job_wake("explanation", "model_version:1") is False
        # backing off: not tried
        assert job_publish.job_wake("explanation", "model_version:1") is False
    assert send.call_count == 1


# --- audit events of lease reclaims and exhausted attempts ------------------------------


def _expire(job, *, by=timedelta(seconds=1)):
    Job.objects.filter(pk=job.pk).update(lease_until=timezone.now() - by)
    job.refresh_from_db()
    return job


def test_the_sweeper_records_one_reclaim_event_per_expired_lease(explained_world):
    jobs = [
        explanations.explanation_request(
            principal=SYSTEM_OPERATOR,
            decision=_decision(explained_world, income=500.0 + i),
        )[0]
        for i in range(3)
    ]
    token, claimed = _claim(worker="lost", limit=2)
    expired = [_expire(job) for job in claimed]
    sweep_at = timezone.now()
    jobs_sweep()
    events = AuditEvent.objects.filter(action__endswith="lease_reclaimed")
    assert sorted(int(e.object_id) for e in events) == sorted(j.pk for j in expired)
    for event in events:
        job = next(j for j in expired if j.pk == int(event.object_id))
        assert event.action == "explanation.lease_reclaimed"
        assert (event.actor, event.object_type) == ("system", "job")
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
    statuses = dict(Job.objects.values_list("pk", "status"))
    assert {statuses[j.pk] for j in jobs} == {Status.QUEUED}
    assert audit_chain_verify().ok


def test_a_sweep_with_nothing_to_reclaim_appends_no_event(explained_world, publisher):
    explanations.explanation_request(
        principal=SYSTEM_OPERATOR, decision=_decision(explained_world, income=700.0)
    )
    explanations.explanation_request(
        principal=SYSTEM_OPERATOR, decision=_decision(explained_world, income=900.0)
    )
    _claim(worker="alive", limit=1)  # lease still valid
    before = AuditEvent.objects.count()
    result = jobs_sweep()
    assert result["reclaimed"] == 0 and AuditEvent.objects.count() == before
    assert Job.objects.filter(status=Status.RUNNING).count() == 1


def test_a_job_swept_twice_gets_one_reclaim_event_per_expiry(explained_world):
    job, _ = explanations.explanation_request(
        principal=SYSTEM_OPERATOR, decision=_decision(explained_world)
    )
    _claim(worker="first", limit=1)
    _expire(job)
    jobs_sweep()
    jobs_sweep()  # already queued: nothing more to record
    assert AuditEvent.objects.filter(action="explanation.lease_reclaimed").count() == 1
    _claim(worker="second", limit=1)
    _expire(job)
    jobs_sweep()
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
    monkeypatch.setattr(job_engine, "SWEEP_BATCH", 2)
    for i in range(5):
        explanations.explanation_request(
            principal=SYSTEM_OPERATOR,
            decision=_decision(explained_world, income=600.0 + i),
        )
    _, claimed = _claim(worker="lost", limit=10)
    for job in claimed:
        _expire(job)
    assert jobs_sweep()["reclaimed"] == 5
    assert AuditEvent.objects.filter(action="explanation.lease_reclaimed").count() == 5
    assert not Job.objects.filter(status=Status.RUNNING).exists()
    assert audit_chain_verify().ok


def test_a_reclaim_whose_event_cannot_be_written_is_rolled_back(explained_world):
    job, _ = explanations.explanation_request(
        principal=SYSTEM_OPERATOR, decision=_decision(explained_world)
    )
    _claim(worker="lost", limit=1)
    _expire(job)
    before = AuditEvent.objects.count()
    with (
        mock.patch.object(
            job_engine, "audit_events_append", side_effect=RuntimeError("disk full")
        ),
        pytest.raises(RuntimeError),
    ):
        jobs_sweep()
    job.refresh_from_db()
    assert job.status == Status.RUNNING and job.worker == "lost"
    assert AuditEvent.objects.count() == before


def test_a_claim_that_takes_over_an_expired_lease_records_the_reclaim(
    explained_world,
):
    job, _ = explanations.explanation_request(
        principal=SYSTEM_OPERATOR, decision=_decision(explained_world)
    )
    token, _ = _claim(worker="lost", limit=1)
    expired_until = _expire(job).lease_until
    _, taken = _claim(worker="rescuer", limit=1)
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
        principal=SYSTEM_OPERATOR, decision=_decision(explained_world, income=800.0)
    )
    requested = AuditEvent.objects.count()
    assert requested > before
    _claim(worker="plain", limit=1)
    assert AuditEvent.objects.count() == requested


def test_a_job_that_exhausts_its_attempts_records_one_failure_event(
    explained_world, settings
):
    settings.JOB_MAX_ATTEMPTS = 2
    job, _ = explanations.explanation_request(
        principal=SYSTEM_OPERATOR, decision=_decision(explained_world)
    )
    for _ in range(2):
        _claim(worker="doomed", limit=1)
        _expire(job)
        jobs_sweep()
    _, claimed = _claim(worker="last", limit=1)
    assert claimed == []
    job.refresh_from_db()
    assert job.status == Status.FAILED
    failed = AuditEvent.objects.filter(action="explanation.failed")
    assert failed.count() == 1
    event = failed.get()
    assert (event.actor, event.object_type, event.object_id) == (
        "worker:last",
        "job",
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
    _claim(worker="later", limit=1)  # failed: not claimed
    assert failed.count() == 1
    assert audit_chain_verify().ok


def test_a_batch_costs_the_same_queries_for_2_jobs_as_for_8(explained_world):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries_for(n: int) -> int:
        for _ in range(n):
            explanations.explanation_request(
                principal=SYSTEM_OPERATOR, decision=_decision(explained_world)
            )
        with CaptureQueriesContext(connection) as captured:
            assert _process(worker="w", limit=n) == n
        return len(captured)

    assert queries_for(2) == queries_for(8)  # nothing is looked up per job


def test_each_method_row_carries_reasons_from_its_own_attributions(explained_world):
    """The saliency row used to carry the Integrated Gradients reasons (copied from the
    first method); the run's decision-level results are stored once."""
    decision = _decision(explained_world, income=400.0)
    job, _ = explanations.explanation_request(
        principal=SYSTEM_OPERATOR,
        decision=decision,
        methods=["integrated_gradients", "saliency", "kernel_shap"],
    )
    assert _process(worker="w", limit=5) == 1
    rows = {e.method: e for e in Explanation.objects.filter(job=job)}
    assert set(rows) == {"integrated_gradients", "saliency", "kernel_shap"}
    for method in ("integrated_gradients", "kernel_shap"):
        row = rows[method]
        assert row.reasons, method
        for reason in row.reasons:
            assert reason["attribution"] == pytest.approx(
                row.attributions[reason["feature"]]
            ), method
    # saliency's local slopes are never given as reasons (explain.METHOD_SPECS
    # drives_reasons), and nothing is copied into its row from the first method
    assert rows["saliency"].reasons == []
    run = ExplanationRun.objects.get(job=job)
    assert {row.run_id for row in rows.values()} == {run.pk}
    assert run.primary_method == "integrated_gradients"
    assert run.predicted_outcome in explained_world.explained_mv.class_labels


def test_jobs_failed_at_the_claim_count_so_a_drain_goes_on(explained_world, settings):
    """A claim that only finds jobs out of attempts fails them and reports them
    handled (it used to report 0, and the worker's drain stopped with work queued)."""
    settings.JOB_MAX_ATTEMPTS = 2
    doomed, _ = explanations.explanation_request(
        principal=SYSTEM_OPERATOR, decision=_decision(explained_world, income=510.0)
    )
    fresh, _ = explanations.explanation_request(
        principal=SYSTEM_OPERATOR, decision=_decision(explained_world, income=520.0)
    )
    Job.objects.filter(pk=doomed.pk).update(attempts=2)
    assert _process(worker="w", limit=1) == 1  # the doomed job, failed
    assert Job.objects.get(pk=doomed.pk).status == Status.FAILED
    assert _process(worker="w", limit=1) == 1  # the drain goes on to the fresh one
    assert Job.objects.get(pk=fresh.pk).status == Status.DONE
    assert _process(worker="w", limit=1) == 0
