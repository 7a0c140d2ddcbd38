"""Transient database errors (the connection lost, the server away) never fail a job
and never lose one, for every kind; leases stranded while the database was away are
given back as soon as it answers again (issue 13, item 10)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from celery.exceptions import Retry
from django.db import OperationalError
from django.utils import timezone

from compliance.jobs import (
    engine,
    handler_for,
    job_create,
    jobs_process,
    leases_orphaned,
    leases_orphaned_release,
)
from compliance.jobs.fairness import served_forget
from compliance.jobs.handlers import JobDone
from compliance.models import AuditEvent, Job
from tests import factories

KINDS = list(Job.Kind.values)
LOST = "server closed the connection unexpectedly"


@pytest.fixture(autouse=True)
def _clean_slate() -> Iterator[None]:
    served_forget(KINDS)
    engine._orphans.clear()
    yield
    engine._orphans.clear()


def _queued(kind: str, n: int = 1) -> list[Job]:
    org = factories.make_org(f"transient-{kind}".replace("_", "-"))
    return [
        job_create(
            kind=kind,
            decision=None,
            organization=org,
            request_sha256=f"{index:064x}",
            requested_by="system",
        )[0]
        for index in range(n)
    ]


def _done_run(jobs: Any, progress: Any) -> list[JobDone[Any]]:
    return [JobDone({"fake": True}) for _ in jobs]


def _store_nothing(done: Any, *, actor: str) -> list[dict[str, Any]]:
    return []


class WrappedError(RuntimeError):
    """A handler (or a library under it) that wraps the driver's error in its own."""


@pytest.mark.parametrize("kind", KINDS)
def test_a_lost_connection_inside_a_handler_retries_the_job_for_every_kind(db, kind):
    (job,) = _queued(kind)
    handler = handler_for(kind)

    def run(jobs: Any, progress: Any) -> Any:
        try:
            raise OperationalError(LOST)
        except OperationalError as exc:
            raise WrappedError("rendering failed") from exc

    with mock.patch.object(handler, "run", side_effect=run):
        with pytest.raises(OperationalError):  # the task retries on it
            jobs_process(kind=kind, worker="w1", limit=4)
    job.refresh_from_db()
    assert job.status == Job.Status.QUEUED and not job.error  # not failed
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert f"{kind}.released" in actions and f"{kind}.failed" not in actions
    with (
        mock.patch.object(handler, "run", side_effect=_done_run),
        mock.patch.object(handler, "store", side_effect=_store_nothing),
    ):
        assert jobs_process(kind=kind, worker="w2", limit=4) == 1
    job.refresh_from_db()
    assert job.status == Job.Status.DONE and job.attempts == 2


@pytest.mark.parametrize("kind", KINDS)
def test_a_lease_the_database_could_not_take_back_is_given_back_when_it_returns(
    db, kind, settings
):
    settings.JOB_BACKOFF_SECONDS = 30  # a normal release would wait; this one must not
    (job,) = _queued(kind)
    handler = handler_for(kind)
    real_release = engine.lease_release
    calls = {"n": 0}

    def release_while_away(*args: Any, **kwargs: Any) -> int:
        calls["n"] += 1
        if calls["n"] == 1:  # the database is still away when the worker tries
            raise OperationalError("connection refused")
        return real_release(*args, **kwargs)

    woken: list[str] = []
    with (
        mock.patch.object(handler, "run", side_effect=OperationalError(LOST)),
        mock.patch.object(engine, "lease_release", side_effect=release_while_away),
        mock.patch.object(engine, "job_wake", side_effect=lambda k: woken.append(k)),
    ):
        with pytest.raises(OperationalError):
            jobs_process(kind=kind, worker="w1", limit=4)
        job.refresh_from_db()
        assert job.status == Job.Status.RUNNING  # stranded: today until the lease ends
        assert job.lease_until > timezone.now() + timedelta(seconds=60)
        assert [lease.token for lease in leases_orphaned()] == [job.lease_token]
        # the database answers again: the worker's next operation gives it back
        with (
            mock.patch.object(handler, "run", side_effect=_done_run),
            mock.patch.object(handler, "store", side_effect=_store_nothing),
        ):
            assert jobs_process(kind=kind, worker="w1", limit=4) == 1
    job.refresh_from_db()
    assert job.status == Job.Status.DONE and job.attempts == 2
    assert woken == [kind] and leases_orphaned() == []
    released = AuditEvent.objects.get(action=f"{kind}.released")
    assert released.payload["reason"] == "database connection lost"


def test_a_claim_whose_answer_was_lost_is_given_back_by_its_token(db):
    kind = "audit_verify"
    (job,) = _queued(kind)
    real_claim = engine._claim

    def claim_then_lose_connection(*args: Any, **kwargs: Any) -> Any:
        real_claim(*args, **kwargs)  # committed, but the worker never hears so
        raise OperationalError(LOST)

    with mock.patch.object(engine, "_claim", side_effect=claim_then_lose_connection):
        with pytest.raises(OperationalError):
            jobs_process(kind=kind, worker="w1", limit=1)
    job.refresh_from_db()
    assert job.status == Job.Status.RUNNING and len(leases_orphaned()) == 1
    with mock.patch.object(engine, "job_wake"):
        assert leases_orphaned_release() == 1
    job.refresh_from_db()
    assert job.status == Job.Status.QUEUED and job.available_at is None


def test_a_lease_completed_before_the_connection_broke_gives_back_nothing(db):
    kind = "audit_verify"
    (job,) = _queued(kind)
    lease = engine.jobs_claim(kind=kind, worker="w1", limit=1)
    result = {
        "ok": True,
        "events_checked": 0,
        "first_broken_sequence": None,
        "anchors_checked": 0,
    }
    engine.lease_complete(lease, [(lease.jobs[0], JobDone(result))])
    engine._orphan(lease)  # e.g. the commit's answer was lost
    with mock.patch.object(engine, "job_wake"):
        assert leases_orphaned_release() == 0
    job.refresh_from_db()
    assert job.status == Job.Status.DONE  # never run twice


class FakeTask:
    def __init__(self, retries: int):
        self.request = mock.Mock(retries=retries)
        self.retried: list[int] = []

    def retry(self, *, exc: BaseException, countdown: int) -> Retry:
        self.retried.append(countdown)
        return Retry(exc=exc, when=countdown)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    "error",
    [OperationalError(LOST), WrappedError("wrapped")],
    ids=["operational", "wrapped"],
)
def test_every_task_retries_a_transient_error_within_ten_seconds(db, kind, error):
    from workers import tasks

    if isinstance(error, WrappedError):
        error.__cause__ = OperationalError(LOST)
    task = FakeTask(retries=12)  # a long outage: retried many times already
    with mock.patch.object(tasks, "jobs_process", side_effect=error):
        with pytest.raises(Retry):
            tasks._drain(task, kind, "", 1)
    assert task.retried == [10]
    assert [tasks.retry_countdown(n) for n in range(6)] == [1, 2, 4, 8, 10, 10]


def test_a_bug_is_not_retried(db):
    from workers import tasks

    task = FakeTask(retries=0)
    with mock.patch.object(tasks, "jobs_process", side_effect=ValueError("bug")):
        with pytest.raises(ValueError, match="bug"):
            tasks._drain(task, "dossier", "", 1)
    assert task.retried == []


def test_a_dossier_drain_starts_no_render_it_could_not_finish(db, settings):
    """A render may take DOSSIER_RENDER_TIMEOUT_SECONDS: the drain starts none later
    than that (plus a margin) before the task's soft time limit, and re-wakes."""
    from workers import tasks

    settings.DOSSIER_RENDER_TIMEOUT_SECONDS = 30
    assert tasks.dossier_drain_seconds() == 20.0
    assert (
        tasks.dossier_drain_seconds() + settings.DOSSIER_RENDER_TIMEOUT_SECONDS
        < tasks.DOSSIERS_SOFT_TIME_LIMIT
    )
    # the drain starts at 0; every later reading (the drain's, and any library's,
    # since time.monotonic is patched module-wide) is 25 s on
    clock = itertools.chain([0.0], itertools.repeat(25.0))
    with (
        mock.patch.object(tasks, "jobs_process", return_value=1) as process,
        mock.patch.object(tasks.time, "monotonic", side_effect=lambda: next(clock)),
        mock.patch.object(tasks, "job_wake") as wake,
    ):
        assert tasks.dossiers_process.run() == 1
    assert process.call_count == 1  # the second render would have started at 25 s
    wake.assert_called_once_with("dossier", "")
    settings.DOSSIER_RENDER_TIMEOUT_SECONDS = 120  # longer than the limit: one a drain
    assert tasks.dossier_drain_seconds() == 0.0
