"""The job engine: one Job model, one lease protocol, one publish port.

Handlers (``compliance.explanations``, ``compliance.dossiers``) register what each kind
of job does; ``workers/`` registers how wake-up messages are sent and runs
``jobs_process`` and ``jobs_sweep``.
"""

from __future__ import annotations

from compliance.jobs.engine import (
    JobSpec,
    JobTimeLimitExceeded,
    Lease,
    job_create,
    jobs_claim,
    jobs_enqueue,
    jobs_process,
    jobs_sweep,
    lease_complete,
    lease_fail,
    lease_release,
    lease_renew,
    leases_orphaned,
    leases_orphaned_release,
    transient_cause,
)
from compliance.jobs.handlers import (
    JobDone,
    JobFailed,
    JobHandler,
    JobRetry,
    Outcome,
    handler_for,
    handler_register,
)
from compliance.jobs.publish import (
    job_wake,
    job_wake_clear,
    job_wake_on_commit,
    publisher_register,
)

__all__ = [
    "JobDone",
    "JobFailed",
    "JobHandler",
    "JobRetry",
    "JobSpec",
    "JobTimeLimitExceeded",
    "Lease",
    "Outcome",
    "handler_for",
    "handler_register",
    "job_create",
    "job_wake",
    "job_wake_clear",
    "job_wake_on_commit",
    "jobs_claim",
    "jobs_enqueue",
    "jobs_process",
    "jobs_sweep",
    "lease_complete",
    "lease_fail",
    "lease_release",
    "lease_renew",
    "leases_orphaned",
    "leases_orphaned_release",
    "publisher_register",
    "transient_cause",
]
