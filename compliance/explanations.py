"""Explanation jobs: request, claim with a lease, explain in batches, store, sweep.

The ``ExplanationJob`` table is the source of truth. A Celery message only wakes a
worker, which claims up to N queued jobs of one model version (``SKIP LOCKED`` on
PostgreSQL; on SQLite the IMMEDIATE transaction serialises claimers), explains them
with one ``explain_batch`` call per request shape, and stores the results only while
its lease token is still the job's. A lost message is re-sent by the sweeper; a
killed worker's jobs are reclaimed when their lease expires.
"""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from collections import defaultdict
from datetime import UTC, timedelta
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import (
    DatabaseError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    connection,
    transaction,
)
from django.db.models import F, Q
from django.utils import timezone

import explain
from compliance.audit import audit_event_append, audit_events_append, canonical_json
from compliance.errors import Conflict, ValidationFailed
from compliance.models import Decision, Explanation, ExplanationJob, Organization
from compliance.prediction import model_version_load

logger = logging.getLogger(__name__)
Status = ExplanationJob.Status

PROCESS_TASK = "workers.tasks.explanations_process"
SWEEP_BATCH = 500  # expired leases reclaimed per transaction (and per audit append)
_broker_down_until = 0.0
BROKER_BACKOFF_SECONDS = 5.0


# --- requesting ------------------------------------------------------------------------


def _request_sha256(methods: list[str], parameters: dict[str, Any]) -> str:
    return hashlib.sha256(
        canonical_json({"methods": methods, "parameters": parameters}).encode()
    ).hexdigest()


def explanation_request_check(
    methods: Any, parameters: Any, feature_schema: Any = None
) -> tuple[list[str], dict]:
    """Validate methods and parameters now, so a bad request is a 400, not a failed job.

    With the model version's schema, also check that the baselines asked for exist.
    """
    if parameters is None:
        parameters = {}
    try:
        _, per_method, _ = explain.resolve_request(methods, parameters)
        if feature_schema is not None:
            explain.baselines_check(
                explain.parse_feature_schema(feature_schema), per_method
            )
    except explain.UnknownMethod as exc:
        raise ValidationFailed(str(exc), {"methods": [str(exc)]}) from exc
    except explain.BadParameter as exc:
        field = "methods" if str(exc).startswith("methods") else "parameters"
        raise ValidationFailed(str(exc), {field: [str(exc)]}) from exc
    return list(methods), dict(parameters)


def explanation_request(
    *,
    actor: str,
    decision: Decision,
    methods: list[str] | None = None,
    parameters: dict[str, Any] | None = None,
) -> tuple[ExplanationJob, bool]:
    """Queue an explanation job; the same request again returns the same job.

    Returns ``(job, created)``. A failed job asked for again is queued again.
    """
    mv = decision.model_version
    methods, parameters = explanation_request_check(
        [explain.METHODS[0]] if methods is None else methods,
        parameters,
        mv.feature_schema,
    )
    if not mv.is_active:
        raise Conflict(
            "The decision's model version is retired; it is no longer explained.",
            {"model_version": ["This model version is retired."]},
        )
    request_sha = _request_sha256(methods, parameters)
    with transaction.atomic():
        job = (
            ExplanationJob.objects.select_for_update()
            .filter(decision=decision, request_sha256=request_sha)
            .first()
        )
        if job is not None:
            if job.status == Status.FAILED:
                job.status, job.attempts, job.error, job.progress = (
                    Status.QUEUED,
                    0,
                    "",
                    0.0,
                )
                job.save(update_fields=["status", "attempts", "error", "progress"])
                audit_event_append(
                    actor=actor,
                    organization=decision.organization,
                    action="explanation.requeued",
                    object_type="explanation_job",
                    object_id=job.pk,
                    payload={"decision": decision.pk},
                )
                _wake_on_commit(mv.pk)
            return job, False
        try:
            with transaction.atomic():
                job = ExplanationJob.objects.create(
                    organization=decision.organization,
                    decision=decision,
                    model_version=mv,
                    methods=methods,
                    parameters=parameters,
                    request_sha256=request_sha,
                )
        except IntegrityError:  # a concurrent identical request won
            return ExplanationJob.objects.get(
                decision=decision, request_sha256=request_sha
            ), False
        audit_event_append(
            actor=actor,
            organization=decision.organization,
            action="explanation.requested",
            object_type="explanation_job",
            object_id=job.pk,
            payload={
                "decision": decision.pk,
                "methods": methods,
                "request_sha256": request_sha,
            },
        )
        _wake_on_commit(mv.pk)
    return job, True


def _wake_on_commit(model_version_id: int) -> None:
    transaction.on_commit(lambda: explanation_wake(model_version_id))


def explanation_wake(model_version_id: int | None = None) -> bool:
    """Send a wake-up message; never raise. Returns whether it was sent.

    With the broker away the job stays queued in the database and the sweeper sends
    the message later; for a few seconds after a failure no publish is tried, so web
    requests do not wait on a dead broker.
    """
    global _broker_down_until
    if time.monotonic() < _broker_down_until:
        return False
    from workers.celery import app

    try:
        app.send_task(
            PROCESS_TASK,
            kwargs={"model_version_id": model_version_id},
            queue="attributions",
            retry=False,
        )
        return True
    except Exception as exc:  # the broker client raises many kinds; all mean "not sent"
        _broker_down_until = time.monotonic() + BROKER_BACKOFF_SECONDS
        logger.warning(
            "Could not publish a wake-up for model version %s (%s); the job stays "
            "queued and the sweeper will wake a worker.",
            model_version_id,
            exc,
        )
        return False


# --- claiming, processing, storing ------------------------------------------------------


def _claimable(now: Any) -> Q:
    due = Q(status=Status.QUEUED) | Q(status=Status.RUNNING, lease_until__lt=now)
    return due & Q(kind=ExplanationJob.Kind.EXPLANATION)


def explanation_jobs_claim(
    *, worker: str, limit: int
) -> tuple[str, list[ExplanationJob]]:
    """Lease up to ``limit`` claimable jobs of one model version. Returns (token, jobs)."""
    now = timezone.now()
    token = uuid.uuid4().hex
    with transaction.atomic():
        first = (
            ExplanationJob.objects.filter(_claimable(now))
            .order_by("created_at", "id")
            .values_list("model_version_id", flat=True)
            .first()
        )
        if first is None:
            return token, []
        candidates = ExplanationJob.objects.filter(
            _claimable(now), model_version_id=first
        )
        if connection.features.has_select_for_update_skip_locked:
            candidates = candidates.select_for_update(skip_locked=True, of=("self",))
        jobs = list(candidates.order_by("created_at", "id")[:limit])
        exhausted = [
            j.pk for j in jobs if j.attempts >= settings.EXPLANATION_MAX_ATTEMPTS
        ]
        exhausted_error = (
            f"Gave up after {settings.EXPLANATION_MAX_ATTEMPTS} attempts: the "
            "worker was lost or failed each time (see the worker logs)."
        )
        if exhausted:
            ExplanationJob.objects.filter(pk__in=exhausted).update(
                status=Status.FAILED,
                finished_at=now,
                lease_token="",
                lease_until=None,
                error=exhausted_error,
            )
        claimed = [j.pk for j in jobs if j.pk not in set(exhausted)]
        _claim_audit(jobs, set(exhausted), exhausted_error, worker=worker)
        ExplanationJob.objects.filter(pk__in=claimed).update(
            status=Status.RUNNING,
            lease_token=token,
            worker=worker[:200],
            progress=0.05,
            lease_until=now + timedelta(seconds=settings.EXPLANATION_LEASE_SECONDS),
            started_at=now,
            attempts=F("attempts") + 1,
        )
    return token, list(
        ExplanationJob.objects.filter(pk__in=claimed, lease_token=token)
        .select_related(
            "decision", "organization", "model_version", "model_version__ai_system"
        )
        .order_by("created_at", "id")
    )


def _claim_audit(
    jobs: list[ExplanationJob], exhausted: set[int], error: str, *, worker: str
) -> None:
    """Record, in the claim's transaction, the jobs it failed for exhausted attempts and
    the expired leases it took over from a lost worker (a plain queued claim is not an
    event: ``explanation.stored`` or ``explanation.failed`` follows it)."""
    events = [
        (job, "explanation.failed")
        if job.pk in exhausted
        else (job, "explanation.lease_reclaimed")
        for job in jobs
        if job.pk in exhausted or job.status == Status.RUNNING
    ]
    if not events:
        return
    actor = f"worker:{worker}"[:200]
    organizations = Organization.objects.in_bulk(
        {job.organization_id for job, _ in events}
    )
    audit_events_append(
        [
            {
                "actor": actor,
                "organization": organizations[job.organization_id],
                "action": action,
                "object_type": "explanation_job",
                "object_id": job.pk,
                "payload": (
                    {
                        "decision": job.decision_id,
                        "error": error[:500],
                        "reason": "attempts_exhausted",
                        "attempts": job.attempts,
                    }
                    if action == "explanation.failed"
                    else lease_reclaimed_payload(job)
                ),
            }
            for job, action in events
        ]
    )


def lease_reclaimed_payload(job: ExplanationJob) -> dict[str, Any]:
    return {
        "kind": job.kind,
        "decision": job.decision_id,
        "attempts": job.attempts,
        "lease_until": (
            job.lease_until.astimezone(UTC).isoformat(timespec="microseconds")
            if job.lease_until
            else None
        ),
        "worker": job.worker,
        "lease_token": job.lease_token,
    }


def explanation_batch_process(*, worker: str, limit: int) -> int:
    """Claim, explain and store one batch. Returns the number of jobs claimed (0: idle)."""
    token, jobs = explanation_jobs_claim(worker=worker, limit=limit)
    if not jobs:
        return 0
    try:
        return _batch_explain(jobs, token=token, worker=worker)
    except (OperationalError, InterfaceError, SoftTimeLimitExceeded):
        # transient (or out of time): give the jobs back now, not when the lease expires
        try:
            explanation_jobs_release(token=token)
        except DatabaseError:
            logger.warning(
                "Could not release jobs of lease %s; the sweeper will.", token
            )
        raise


def _batch_explain(jobs: list[ExplanationJob], *, token: str, worker: str) -> int:
    mv = jobs[0].model_version
    try:
        model, schema = model_version_load(mv, device=explain.default_device())
    except (explain.ModelLoadError, explain.SchemaError, OSError) as exc:
        _jobs_fail(jobs, token, f"The model version could not be loaded: {exc}")
        return len(jobs)
    by_request: dict[str, list[ExplanationJob]] = defaultdict(list)
    for job in jobs:
        by_request[job.request_sha256].append(job)
    for group in by_request.values():
        pks = [j.pk for j in group]

        def progress(fraction: float, _pks: list[int] = pks) -> None:
            # progress also renews the lease: a long batch is alive, not lost
            ExplanationJob.objects.filter(pk__in=_pks, lease_token=token).update(
                progress=round(0.05 + 0.9 * fraction, 3),
                lease_until=timezone.now()
                + timedelta(seconds=settings.EXPLANATION_LEASE_SECONDS),
            )

        try:
            results = explain.explain_batch(
                model,
                [j.decision.features for j in group],
                schema=schema,
                class_labels=mv.class_labels,
                favourable_class=mv.favourable_class,
                threshold=mv.decision_threshold,
                methods=group[0].methods,
                parameters=group[0].parameters,
                weights_sha256=mv.weights_sha256,
                progress=progress,
            )
        except explain.ExplainError as exc:
            _jobs_fail(group, token, f"The explanation could not be computed: {exc}")
            continue
        except (OperationalError, InterfaceError, SoftTimeLimitExceeded):
            raise  # transient or the time limit: the caller gives the jobs back
        except Exception as exc:  # a bug or resource error must not strand the batch
            logger.exception("Explaining %s jobs failed unexpectedly.", len(group))
            _jobs_fail(
                group,
                token,
                f"Unexpected error while explaining: {type(exc).__name__}: {exc}",
            )
            continue
        _results_store(group, results, token=token, worker=worker)
    return len(jobs)


def _jobs_fail(jobs: list[ExplanationJob], token: str, message: str) -> None:
    # every job row is locked before the audit chain's lock is taken, the order the
    # sweeper uses too: taking a row after the chain's lock could deadlock with it
    with transaction.atomic():
        failed = [
            job
            for job in jobs
            if ExplanationJob.objects.filter(pk=job.pk, lease_token=token).update(
                status=Status.FAILED,
                error=message[:2000],
                finished_at=timezone.now(),
                lease_token="",
                lease_until=None,
            )
        ]
        audit_events_append(
            [
                {
                    "actor": "worker",
                    "organization": job.organization,
                    "action": "explanation.failed",
                    "object_type": "explanation_job",
                    "object_id": job.pk,
                    "payload": {"decision": job.decision_id, "error": message[:500]},
                }
                for job in failed
            ]
        )


def _results_store(
    jobs: list[ExplanationJob],
    results: list[explain.RowExplanation],
    *,
    token: str,
    worker: str,
) -> None:
    """Store a batch's results in one transaction, only for jobs whose lease is ours.

    The unique (job, method) constraint makes a second store of the same job fail
    rather than duplicate; the lease check makes a reclaimed job's late results vanish.
    """
    now = timezone.now()
    with transaction.atomic():
        held = set(
            ExplanationJob.objects.select_for_update()
            .filter(
                pk__in=[j.pk for j in jobs], lease_token=token, status=Status.RUNNING
            )
            .values_list("pk", flat=True)
        )
        lost = [j.pk for j in jobs if j.pk not in held]
        if lost:
            logger.warning("Lease lost on jobs %s; their results are discarded.", lost)
        kept = [(j, r) for j, r in zip(jobs, results, strict=True) if j.pk in held]
        if not kept:
            return
        Explanation.objects.bulk_create(
            [
                _explanation_row(job, result, method)
                for job, result in kept
                for method in result.methods
            ]
        )
        ExplanationJob.objects.filter(pk__in=held, lease_token=token).update(
            status=Status.DONE,
            progress=1.0,
            finished_at=now,
            lease_token="",
            lease_until=None,
        )
        flagged = [job.decision_id for job, result in kept if result.needs_review]
        if flagged:
            Decision.objects.filter(
                pk__in=flagged, status=Decision.Status.UNREVIEWED
            ).update(status=Decision.Status.NEEDS_REVIEW)
        audit_events_append(
            [
                {
                    "actor": f"worker:{worker}"[:200],
                    "organization": job.organization,  # selected with the claim
                    "action": "explanation.stored",
                    "object_type": "decision",
                    "object_id": job.decision_id,
                    "payload": {
                        "job": job.pk,
                        "methods": job.methods,
                        "needs_review": result.needs_review,
                        "input_sha256": next(iter(result.methods.values())).manifest[
                            "input_sha256"
                        ],
                    },
                }
                for job, result in kept
            ]
        )


def _explanation_row(
    job: ExplanationJob, result: explain.RowExplanation, method: str
) -> Explanation:
    m = result.methods[method]
    return Explanation(
        job=job,
        decision_id=job.decision_id,
        method=method,
        parameters=m.parameters,
        attributions=m.attributions,
        output=m.output,
        baseline_output=m.baseline_output,
        output_units=result.output_units,
        prediction=result.prediction,
        baseline=m.baseline,
        baseline_kind=m.baseline_kind,
        convergence_delta=m.convergence_delta,
        n_steps=m.n_steps,
        reasons=result.reasons,
        counterfactual=result.counterfactual,
        counterfactual_note=result.counterfactual_note or "",
        quality=m.quality,
        agreement=result.agreement,
        warnings=result.warnings,
        needs_review=result.needs_review,
        needs_review_reasons=result.needs_review_reasons,
        manifest=m.manifest,
    )


def explanation_jobs_release(*, token: str) -> int:
    """Give claimed jobs back to the queue (after a transient error)."""
    return ExplanationJob.objects.filter(
        lease_token=token, status=Status.RUNNING
    ).update(status=Status.QUEUED, lease_token="", lease_until=None, progress=0.0)


# --- sweeping ---------------------------------------------------------------------------


def _expired_leases_reclaim(now: Any) -> int:
    """Requeue up to ``SWEEP_BATCH`` jobs (of either kind) whose lease expired before
    ``now``, with one ``<kind>.lease_reclaimed`` event each in the same transaction.

    The rows are locked (``SKIP LOCKED``: a claimer holding one is taking it over
    itself; on SQLite the IMMEDIATE transaction serialises writers), so the events
    name exactly the jobs the update requeues.
    """
    with transaction.atomic():
        expired = ExplanationJob.objects.filter(
            status=Status.RUNNING, lease_until__lt=now
        )
        if connection.features.has_select_for_update_skip_locked:
            expired = expired.select_for_update(skip_locked=True, of=("self",))
        jobs = list(expired.select_related("organization").order_by("id")[:SWEEP_BATCH])
        if not jobs:
            return 0
        ExplanationJob.objects.filter(
            pk__in=[j.pk for j in jobs], status=Status.RUNNING, lease_until__lt=now
        ).update(status=Status.QUEUED, lease_token="", lease_until=None, progress=0.0)
        audit_events_append(
            [
                {
                    "actor": "system",
                    "organization": job.organization,
                    "action": f"{job.kind}.lease_reclaimed",
                    "object_type": "explanation_job",
                    "object_id": job.pk,
                    "payload": lease_reclaimed_payload(job),
                }
                for job in jobs
            ]
        )
    return len(jobs)


def explanation_jobs_sweep() -> dict[str, int]:
    """Reclaim expired leases and re-wake model versions with queued jobs."""
    now = timezone.now()
    reclaimed = 0
    while True:
        batch = _expired_leases_reclaim(now)
        reclaimed += batch
        if batch < SWEEP_BATCH:
            break
    if reclaimed:
        logger.warning("Reclaimed %s explanation jobs whose lease expired.", reclaimed)
    versions = list(
        ExplanationJob.objects.filter(
            status=Status.QUEUED, kind=ExplanationJob.Kind.EXPLANATION
        )
        .values_list("model_version_id", flat=True)
        .distinct()
    )
    from compliance.dossiers import dossier_wake

    dossier_jobs = list(
        ExplanationJob.objects.filter(
            status=Status.QUEUED, kind=ExplanationJob.Kind.DOSSIER
        ).values_list("pk", flat=True)[:500]
    )
    for job_id in dossier_jobs:
        dossier_wake(job_id)
    global _broker_down_until
    _broker_down_until = 0.0  # the sweeper always tries
    woken = sum(1 for mv_id in versions if explanation_wake(mv_id))
    return {
        "dossier_jobs_woken": len(dossier_jobs),
        "reclaimed": reclaimed,
        "model_versions_woken": woken,
        "queued_versions": len(versions),
    }
