"""Job handlers: what each kind of job does. The engine leases jobs and records their
fate; a handler computes (outside any transaction) and stores (inside the engine's).

A handler receives typed jobs and returns a typed outcome per job: ``JobDone`` with its
result, or ``JobFailed`` with a reason and a message for people.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from compliance.models import Job

R = TypeVar("R")


@dataclass(frozen=True)
class JobDone(Generic[R]):
    result: R


@dataclass(frozen=True)
class JobFailed:
    reason: str  # machine-readable: incomplete, engine_error, unexpected_error, ...
    error: str  # for people: shown on the job and in the audit event


Outcome = JobDone[Any] | JobFailed
Progress = Callable[[float], None]
AuditEntry = dict[str, Any]  # keyword arguments of audit.audit_event_append


class JobRetry(Exception):  # noqa: N818 (a signal to the engine, not an error)
    """Raised by ``store``: the result is stale (e.g. a dossier version was taken);
    the engine rolls the store back and queues the job again."""


class JobHandler(Protocol):
    kind: str

    def batch_limit(self, requested: int) -> int:
        """How many jobs of one batch key this kind runs together."""
        ...

    def run(self, jobs: Sequence[Job], progress: Progress) -> Sequence[Outcome]:
        """Compute, outside any transaction; one outcome per job, in order."""
        ...

    def store(self, done: Sequence[tuple[Job, Any]], *, actor: str) -> list[AuditEntry]:
        """Write the results of jobs this worker still holds, inside the engine's
        transaction; return the audit events that record them."""
        ...


_handlers: dict[str, JobHandler] = {}


def handler_register(handler: JobHandler) -> None:
    _handlers[handler.kind] = handler


def handler_for(kind: str) -> JobHandler:
    try:
        return _handlers[kind]
    except KeyError:
        raise LookupError(f"No handler registered for {kind!r} jobs.") from None
