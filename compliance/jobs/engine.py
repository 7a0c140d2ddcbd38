"""One lease protocol for every kind of job: create, claim, renew, complete, fail,
release, sweep. Each transition and its audit event are one transaction.

A worker owns a job by the token it got at claim time; only the holder of the token
can renew, complete, fail or release it. A lease that runs out (the worker died) is
taken over by the next claim or by the sweeper, and the late worker's writes find no
row with its token: they change nothing. Attempts, lease length and back-off are
settings, the same for every kind (``JOB_MAX_ATTEMPTS``, ``JOB_LEASE_SECONDS``,
``JOB_BACKOFF_SECONDS``).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import (
    DatabaseError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    connection,
    transaction,
)
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from compliance.audit import audit_events_append
from compliance.jobs.fairness import organizations_in_turn, served_mark
from compliance.jobs.handlers import (
    AuditEntry,
    JobDone,
    JobFailed,
    JobRetry,
    Outcome,
    handler_for,
)
from compliance.jobs.publish import backoff_reset, job_wake, job_wake_on_commit
from compliance.models import Decision, Job, Organization

logger = logging.getLogger(__name__)
Status = Job.Status
OBJECT_TYPE = "job"
SWEEP_BATCH = 500  # expired leases reclaimed per transaction (and per audit append)
TRANSIENT = (OperationalError, InterfaceError)
try:  # errors psycopg raises itself (a handler that talks to the driver directly)
    import psycopg

    _DRIVER_TRANSIENT: tuple[type[BaseException], ...] = (
        psycopg.OperationalError,
        psycopg.InterfaceError,
    )
except ImportError:  # pragma: no cover (SQLite-only installation)
    _DRIVER_TRANSIENT = ()
ORG_TRIES = 50  # organisations a claim tries when others hold their jobs (SKIP LOCKED)


class JobTimeLimitExceeded(Exception):  # noqa: N818 (named for what happened)
    """The worker ran out of time on a lease (``workers/`` turns its runtime's time
    limit into this)."""


@dataclass
class Lease:
    """Jobs one worker claimed together, and the token that proves it holds them."""

    kind: str
    token: str
    worker: str
    jobs: list[Job] = field(default_factory=list)
    exhausted: int = 0  # jobs the claim failed instead (out of attempts)

    @property
    def actor(self) -> str:
        return f"worker:{self.worker}"[:200]


def _lease_seconds() -> timedelta:
    return timedelta(seconds=settings.JOB_LEASE_SECONDS)


def _backoff(attempts: int) -> timedelta:
    base = float(settings.JOB_BACKOFF_SECONDS)
    return timedelta(seconds=min(base * 2 ** max(attempts - 1, 0), 300.0))


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat(timespec="microseconds") if value else None


def _event(job: Job, action: str, actor: str, **payload: Any) -> AuditEntry:
    return {
        "actor": actor,
        "organization": job.organization,
        "action": f"{job.kind}.{action}",
        "object_type": OBJECT_TYPE,
        "object_id": job.pk,
        "payload": {"decision": job.decision_id, **payload},
    }


def _reclaimed_payload(job: Job) -> dict[str, Any]:
    return {
        "kind": job.kind,
        "attempts": job.attempts,
        "lease_until": _iso(job.lease_until),
        "worker": job.worker,
        "lease_token": job.lease_token,
    }


def _locked(queryset: QuerySet[Job]) -> QuerySet[Job]:
    """Lock the rows, skipping those another claimer holds (PostgreSQL); on SQLite the
    IMMEDIATE transaction already serialises writers."""
    if connection.features.has_select_for_update_skip_locked:
        return queryset.select_for_update(skip_locked=True, of=("self",))
    return queryset


# --- create -----------------------------------------------------------------------------


def job_create(
    *,
    kind: str,
    decision: Decision | None,
    request_sha256: str,
    requested_by: str,
    payload: dict[str, Any] | None = None,
    batch_key: str = "",
    organization: Organization | None = None,
) -> tuple[Job, bool]:
    """Queue a job; the same request (decision + request hash) returns the same job.

    Returns ``(job, created)``. A failed job asked for again is queued again. Runs in
    the caller's transaction when there is one; the wake-up is sent after commit. A
    job about no decision (``decision=None``) names its ``organization``.
    """
    if decision is not None:
        organization = decision.organization
    if organization is None:
        raise ValueError("A job about no decision needs its organization.")
    with transaction.atomic():
        job = (
            Job.objects.select_for_update()
            .filter(
                decision=decision,
                organization=organization,
                request_sha256=request_sha256,
            )
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
                job.available_at = None
                job.save(
                    update_fields=[
                        "status",
                        "attempts",
                        "error",
                        "progress",
                        "available_at",
                    ]
                )
                audit_events_append([_event(job, "requeued", requested_by)])
                job_wake_on_commit(kind, batch_key)
            return job, False
        try:
            with transaction.atomic():
                job = Job.objects.create(
                    kind=kind,
                    organization=organization,
                    decision=decision,
                    batch_key=batch_key,
                    payload=payload or {},
                    request_sha256=request_sha256,
                    requested_by=requested_by[:200],
                )
        except IntegrityError:  # a concurrent identical request won
            return Job.objects.get(
                decision=decision, request_sha256=request_sha256
            ), False
        audit_events_append(
            [
                _event(
                    job,
                    "requested",
                    requested_by,
                    request_sha256=request_sha256,
                    **({"methods": job.methods} if job.methods else {}),
                )
            ]
        )
        job_wake_on_commit(kind, batch_key)
    return job, True


@dataclass(frozen=True)
class JobSpec:
    """A job to queue with ``jobs_enqueue``: about no decision, not before
    ``available_at`` (None: now)."""

    organization: Organization
    request_sha256: str
    payload: dict[str, Any]
    requested_by: str
    available_at: datetime | None = None


def jobs_enqueue(*, kind: str, specs: Sequence[JobSpec]) -> list[Job]:
    """Queue many jobs in one insert, for kinds whose own table records each request
    (webhook deliveries: the delivery row is the record; no ``requested`` event per
    job). Runs in the caller's transaction; the wake is sent after commit."""
    if not specs:
        return []
    jobs = Job.objects.bulk_create(
        [
            Job(
                kind=kind,
                organization=spec.organization,
                decision=None,
                payload=spec.payload,
                request_sha256=spec.request_sha256,
                requested_by=spec.requested_by[:200],
                available_at=spec.available_at,
            )
            for spec in specs
        ]
    )
    job_wake_on_commit(kind)
    return jobs


# --- claim ------------------------------------------------------------------------------


def _claimable(kind: str, now: datetime) -> Q:
    queued = Q(status=Status.QUEUED) & (
        Q(available_at__isnull=True) | Q(available_at__lte=now)
    )
    expired = Q(status=Status.RUNNING, lease_until__lt=now)
    return Q(kind=kind) & (queued | expired)


def _batch_lock(kind: str, now: datetime, limit: int) -> list[Job]:
    """Lock up to ``limit`` claimable jobs of one organisation and one batch key: the
    organisations in their fair turn (``fairness``), within one the oldest job's batch
    key. An organisation whose jobs other claimers hold (SKIP LOCKED) is passed over."""
    claimable = _claimable(kind, now)
    for organization_id in organizations_in_turn(kind, claimable, now)[:ORG_TRIES]:
        mine = Job.objects.filter(claimable, organization_id=organization_id)
        first = _locked(mine).order_by("created_at", "id").first()
        if first is None:
            continue
        return list(
            _locked(mine.filter(batch_key=first.batch_key)).order_by(
                "created_at", "id"
            )[:limit]
        )
    return []


def jobs_claim(*, kind: str, worker: str, limit: int) -> Lease:
    """Lease up to ``limit`` claimable jobs of ``kind`` of one organisation that share
    one batch key, organisations taking turns fairly (``compliance.jobs.fairness``).
    Jobs out of attempts fail instead; expired leases taken over are recorded. An empty
    lease means there was nothing to do (or every organisation with work is at its
    ``JOB_ORG_MAX_LEASES``)."""
    now = timezone.now()
    lease = Lease(kind=kind, token=uuid.uuid4().hex, worker=worker[:200])
    limit = handler_for(kind).batch_limit(limit)
    try:
        claimed = _claim(lease, now, limit)
        if not claimed:
            return lease
        lease.jobs = list(
            Job.objects.filter(pk__in=claimed, lease_token=lease.token)
            .select_related(
                "organization",
                "decision",
                "decision__organization",
                "decision__ai_system",
                "decision__model_version",
                "decision__model_version__ai_system",
            )
            .order_by("created_at", "id")
        )
    except TRANSIENT:
        # the commit may have reached the database before the connection broke: the
        # token is known, so the lease is given back once the database answers again
        _orphan(lease)
        raise
    if lease.jobs:
        served_mark(kind, lease.jobs[0].organization_id)
    return lease


def _claim(lease: Lease, now: datetime, limit: int) -> list[int]:
    """The claim's transaction; returns the primary keys leased."""
    with transaction.atomic():
        jobs = _batch_lock(lease.kind, now, limit)
        if not jobs:
            return []
        exhausted = [j for j in jobs if j.attempts >= settings.JOB_MAX_ATTEMPTS]
        taken_over = [
            j for j in jobs if j.status == Status.RUNNING and j not in exhausted
        ]
        claimed = [j.pk for j in jobs if j not in exhausted]
        lease.exhausted = len(exhausted)
        events = [
            _event(j, "lease_reclaimed", lease.actor, **_reclaimed_payload(j))
            for j in taken_over
        ]
        if exhausted:
            error = (
                f"Gave up after {settings.JOB_MAX_ATTEMPTS} attempts: the worker was "
                "lost or failed each time (see the worker logs)."
            )
            Job.objects.filter(pk__in=[j.pk for j in exhausted]).update(
                status=Status.FAILED,
                finished_at=now,
                lease_token="",
                lease_until=None,
                error=error,
            )
            events += [
                _event(
                    j,
                    "failed",
                    lease.actor,
                    reason="attempts_exhausted",
                    error=error,
                    attempts=j.attempts,
                )
                for j in exhausted
            ]
        Job.objects.filter(pk__in=claimed).update(
            status=Status.RUNNING,
            lease_token=lease.token,
            worker=lease.worker,
            progress=0.05,
            lease_until=now + _lease_seconds(),
            started_at=now,
            available_at=None,
            attempts=F("attempts") + 1,
        )
        _organizations_attach(jobs)
        audit_events_append(events)
    return claimed


def _organizations_attach(jobs: Sequence[Job]) -> None:
    """Fetch the jobs' organisations in one query (audit events name them)."""
    organizations = Organization.objects.in_bulk({j.organization_id for j in jobs})
    for job in jobs:
        job.organization = organizations[job.organization_id]


# --- renew, complete, fail, release -----------------------------------------------------


def _held(lease: Lease, jobs: Sequence[Job] | None = None) -> QuerySet[Job]:
    """The jobs of the lease (or ``jobs`` of it) this worker still holds. Without
    ``jobs``, by the token alone: a claim whose answer the connection lost still names
    what it leased."""
    held = Job.objects.filter(
        kind=lease.kind, lease_token=lease.token, status=Status.RUNNING
    )
    if jobs is None:
        return held
    return held.filter(pk__in=[j.pk for j in jobs])


def lease_renew(lease: Lease, jobs: Sequence[Job], fraction: float) -> int:
    """Record progress and extend the lease: long work is alive, not lost. Returns how
    many of ``jobs`` this worker still holds."""
    return _held(lease, jobs).update(
        progress=round(0.05 + 0.9 * min(max(fraction, 0.0), 1.0), 3),
        lease_until=timezone.now() + _lease_seconds(),
    )


def lease_complete(lease: Lease, outcomes: Sequence[tuple[Job, Outcome]]) -> int:
    """Store the results and record the failures of jobs this worker still holds, in
    one transaction; a job whose lease was taken over writes nothing. Returns the
    number of jobs completed (done or failed)."""
    handler = handler_for(lease.kind)
    now = timezone.now()
    try:
        with transaction.atomic():
            # every job row is locked before the audit chain's lock is taken, the order
            # the sweeper uses too: taking a row after the chain's lock could deadlock
            held = set(
                _held(lease, [job for job, _ in outcomes])
                .select_for_update()
                .values_list("pk", flat=True)
            )
            lost = [job.pk for job, _ in outcomes if job.pk not in held]
            if lost:
                logger.warning(
                    "Lease lost on %s jobs %s; their results are discarded.",
                    lease.kind,
                    lost,
                )
            done = [
                (job, o.result)
                for job, o in outcomes
                if job.pk in held and isinstance(o, JobDone)
            ]
            failed = [
                (job, o)
                for job, o in outcomes
                if job.pk in held and isinstance(o, JobFailed)
            ]
            events = handler.store(done, actor=lease.actor) if done else []
            if done:
                Job.objects.filter(pk__in=[j.pk for j, _ in done]).update(
                    status=Status.DONE,
                    progress=1.0,
                    finished_at=now,
                    lease_token="",
                    lease_until=None,
                )
            events += _failures_record(failed, lease.actor, now)
            audit_events_append(events)
    except JobRetry as exc:
        lease_release(lease, reason=str(exc) or "retry")
        return 0
    return len(done) + len(failed)


def _failures_record(
    failed: Sequence[tuple[Job, JobFailed]], actor: str, now: datetime
) -> list[AuditEntry]:
    for job, outcome in failed:
        Job.objects.filter(pk=job.pk).update(
            status=Status.FAILED,
            error=outcome.error[:2000],
            finished_at=now,
            lease_token="",
            lease_until=None,
        )
    return [
        _event(
            job,
            "failed",
            actor,
            reason=outcome.reason,
            error=outcome.error[:500],
            attempts=job.attempts,
        )
        for job, outcome in failed
    ]


def lease_fail(lease: Lease, *, reason: str, error: str) -> int:
    """Fail every job of the lease this worker still holds (with one event each)."""
    return lease_complete(
        lease, [(job, JobFailed(reason, error)) for job in lease.jobs]
    )


def lease_release(lease: Lease, *, reason: str, backoff: bool = True) -> int:
    """Give the jobs back to the queue (after a transient error), to be claimed again
    after the back-off (``backoff=False``: at once); the attempt counts."""
    now = timezone.now()
    with transaction.atomic():
        jobs = list(_held(lease).select_for_update().select_related("organization"))
        for job in jobs:
            Job.objects.filter(pk=job.pk).update(
                status=Status.QUEUED,
                lease_token="",
                lease_until=None,
                progress=0.0,
                available_at=now + _backoff(job.attempts) if backoff else None,
            )
        audit_events_append(
            [_event(job, "released", lease.actor, reason=reason[:200]) for job in jobs]
        )
    return len(jobs)


# --- running a batch --------------------------------------------------------------------


def jobs_process(
    *,
    kind: str,
    worker: str,
    limit: int,
    time_limit_errors: tuple[type[BaseException], ...] = (),
) -> int:
    """Claim one batch of ``kind``, run its handler, record every outcome.

    Returns the number of jobs handled: claimed, or failed at the claim for running out
    of attempts (0: nothing to do). First gives back the leases a lost database
    connection stranded in this process (``leases_orphaned_release``). A transient
    database error (also one a handler wrapped in another exception) gives the jobs back
    for a retry, never fails them, and re-raises (the task retries with back-off); when
    the database is away the lease is remembered and given back when it answers again.
    ``time_limit_errors`` are the runtime's own time-limit exceptions (``workers/``
    passes Celery's): they fail the jobs with reason ``time_limit`` and a true message.
    """
    leases_orphaned_release()
    lease = jobs_claim(kind=kind, worker=worker, limit=limit)
    if not lease.jobs:
        return lease.exhausted
    handler = handler_for(kind)
    try:
        try:
            outcomes = handler.run(lease.jobs, lambda f: _renew_all(lease, f))
        except time_limit_errors as exc:
            raise JobTimeLimitExceeded(str(exc)) from exc
        lease_complete(lease, list(zip(lease.jobs, outcomes, strict=True)))
    except JobTimeLimitExceeded:
        _settle(
            lease,
            reason="time_limit",
            error=f"The work took longer than the time limit; the {kind} was not "
            "produced.",
        )
    except Exception as exc:
        cause = transient_cause(exc)
        if cause is None:  # a bug or a resource error must not strand the batch
            logger.exception("%s jobs failed unexpectedly.", kind)
            _settle(
                lease,
                reason="unexpected_error",
                error=f"Unexpected error: {type(exc).__name__}: {str(exc)[:500]}",
            )
        else:
            _give_back(lease)
            if cause is exc:
                raise
            raise OperationalError(str(cause)) from exc
    return len(lease.jobs) + lease.exhausted


def transient_cause(exc: BaseException) -> BaseException | None:
    """The transient database error (connection lost, server gone) ``exc`` is or was
    raised from, else None: such an error is retried, never a job's failure."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, TRANSIENT + _DRIVER_TRANSIENT):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def _settle(lease: Lease, *, reason: str, error: str) -> None:
    """Fail the lease's jobs; if the database is away meanwhile, give them back."""
    try:
        lease_fail(lease, reason=reason, error=error)
    except TRANSIENT:
        _give_back(lease)
        raise


def _give_back(lease: Lease) -> None:
    """Release the lease after a transient error, on a fresh connection; if the database
    does not answer, remember it for ``leases_orphaned_release``."""
    _connection_reset()
    try:
        lease_release(lease, reason="transient database error")
    except DatabaseError as exc:
        _orphan(lease)
        logger.warning(
            "Database away (%s): lease %s of %s %s jobs is given back when it answers "
            "again.",
            exc,
            lease.token,
            len(lease.jobs),
            lease.kind,
        )


def _connection_reset() -> None:
    """Drop a connection an error left broken, so the next query opens a new one
    (Celery does so between tasks; a drain runs many batches in one task). Never inside
    a transaction, which the caller owns."""
    if connection.connection is None or connection.in_atomic_block:
        return
    try:
        connection.close_if_unusable_or_obsolete()
    except DatabaseError:
        logger.debug("Closing a broken connection failed.", exc_info=True)


# --- leases a lost database connection stranded -----------------------------------------

# token -> lease: leases this process could not give back while the database was away
_orphans: dict[str, Lease] = {}


def _orphan(lease: Lease) -> None:
    _orphans[lease.token] = lease


def leases_orphaned() -> list[Lease]:
    """The leases this process still has to give back (tests, logs)."""
    return list(_orphans.values())


def leases_orphaned_release() -> int:
    """Give back, at once (no back-off), the leases that a lost database connection
    stranded in this process, then wake their kinds: they run again now instead of
    after their lease (120 s, 300 s) runs out. Called before every claim (the first
    database operation after an outage); raises while the database is still away.
    Returns the number of jobs given back; a lease that completed or was taken over
    meanwhile gives back nothing."""
    if not _orphans:
        return 0
    _connection_reset()
    released, kinds = 0, set()
    for token, lease in list(_orphans.items()):
        released += lease_release(
            lease, reason="database connection lost", backoff=False
        )
        _orphans.pop(token, None)
        kinds.add(lease.kind)
    if released:
        logger.warning(
            "Gave back %s jobs whose lease a lost database connection stranded.",
            released,
        )
    for kind in sorted(kinds):
        job_wake(kind)
    return released


def _renew_all(lease: Lease, fraction: float) -> None:
    lease_renew(lease, lease.jobs, fraction)


# --- sweeping ---------------------------------------------------------------------------


def _expired_leases_reclaim(now: datetime) -> int:
    """Requeue up to ``SWEEP_BATCH`` jobs whose lease expired before ``now``, with one
    ``<kind>.lease_reclaimed`` event each in the same transaction."""
    with transaction.atomic():
        jobs = list(
            _locked(Job.objects.filter(status=Status.RUNNING, lease_until__lt=now))
            .select_related("organization")
            .order_by("id")[:SWEEP_BATCH]
        )
        if not jobs:
            return 0
        by_attempts: dict[int, list[int]] = {}
        for job in jobs:
            by_attempts.setdefault(job.attempts, []).append(job.pk)
        for attempts, pks in by_attempts.items():  # one update per back-off step
            Job.objects.filter(pk__in=pks).update(
                status=Status.QUEUED,
                lease_token="",
                lease_until=None,
                progress=0.0,
                available_at=now + _backoff(attempts),
            )
        audit_events_append(
            [
                _event(job, "lease_reclaimed", "system", **_reclaimed_payload(job))
                for job in jobs
            ]
        )
    return len(jobs)


def jobs_sweep() -> dict[str, int]:
    """Reclaim expired leases and wake a worker for every kind with queued jobs (a lost
    message or a killed worker never loses a job); wakes are coalesced per kind. Leases
    a lost connection stranded in this process are given back first."""
    leases_orphaned_release()
    now = timezone.now()
    reclaimed = 0
    while True:
        batch = _expired_leases_reclaim(now)
        reclaimed += batch
        if batch < SWEEP_BATCH:
            break
    if reclaimed:
        logger.warning("Reclaimed %s jobs whose lease expired.", reclaimed)
    # one wake per kind (a drain takes every batch key of its kind): at most as many
    # messages per sweep as there are kinds, fewer while a wake is still outstanding
    queued = Job.objects.filter(status=Status.QUEUED)
    kinds = sorted(set(queued.values_list("kind", flat=True).distinct().order_by()))
    waiting: dict[str, str] = {}
    for kind in kinds:  # a batch key as the hint; None when claimed meanwhile
        key = (
            queued.filter(kind=kind)
            .order_by("batch_key")
            .values_list("batch_key", flat=True)
            .first()
        )
        if key is not None:
            waiting[kind] = key
    backoff_reset()
    woken = sum(1 for kind, key in waiting.items() if job_wake(kind, key))
    return {"reclaimed": reclaimed, "queued_kinds": len(waiting), "woken": woken}
