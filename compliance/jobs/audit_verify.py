"""Checking an organisation's audit chain is a job: a long walk that does not belong in
a web request, run by a worker for the caller's organisation only.

The result (``audit.ChainVerification`` as a dict: only that organisation's chain and
count) is kept in the job's payload, and the verification is itself an audit event.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence
from typing import Any

from compliance.audit import audit_chain_verify
from compliance.jobs.engine import job_create
from compliance.jobs.handlers import AuditEntry, JobDone, Outcome, Progress
from compliance.models import Job
from compliance.policy import require
from compliance.principals import Principal

KIND = Job.Kind.AUDIT_VERIFY.value
_OPEN = (Job.Status.QUEUED, Job.Status.RUNNING)


class AuditVerifyHandler:
    kind = KIND

    def batch_limit(self, requested: int) -> int:
        return 1

    def run(self, jobs: Sequence[Job], progress: Progress) -> list[Outcome]:
        return [
            JobDone(
                dataclasses.asdict(audit_chain_verify(organization=job.organization))
            )
            for job in jobs
        ]

    def store(self, done: Sequence[tuple[Job, Any]], *, actor: str) -> list[AuditEntry]:
        events: list[AuditEntry] = []
        for job, result in done:
            job.payload = {**job.payload, "result": result}
            Job.objects.filter(pk=job.pk).update(payload=job.payload)
            events.append(
                {
                    "actor": actor,
                    "organization": job.organization,
                    "action": f"{KIND}.done",
                    "object_type": "job",
                    "object_id": job.pk,
                    "payload": {
                        "ok": result["ok"],
                        "events_checked": result["events_checked"],
                        "first_broken_sequence": result["first_broken_sequence"],
                        "anchors_checked": result["anchors_checked"],
                    },
                }
            )
        return events


def audit_verify_request(*, principal: Principal) -> Job:
    """Queue a check of the caller's organisation's chain (one at a time: an open one
    is returned)."""
    require(principal, "audit.verify")
    open_job = (
        Job.objects.filter(
            organization=principal.organization, kind=KIND, status__in=_OPEN
        )
        .order_by("-id")
        .first()
    )
    if open_job is not None:
        return open_job
    job, _ = job_create(
        kind=KIND,
        decision=None,
        organization=principal.organization,
        request_sha256=uuid.uuid4().hex,
        requested_by=principal.actor,
    )
    return job


def audit_verify_job(*, principal: Principal, pk: Any) -> Job | None:
    """One of the caller's organisation's chain checks (None: not theirs, or none)."""
    require(principal, "audit.verify")
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        return None
    return Job.objects.filter(
        organization=principal.organization, kind=KIND, pk=pk
    ).first()
