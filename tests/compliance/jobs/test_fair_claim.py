"""Claims are fair across organisations: one organisation's flood does not delay
another organisation's job beyond the next claim (issue 13, item 3)."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator

import pytest
from django.db import connection, connections

from compliance.jobs import job_create, jobs_claim, lease_complete
from compliance.jobs.fairness import served_forget
from compliance.jobs.handlers import JobDone
from compliance.models import Job
from tests import factories

KIND = "audit_verify"  # one job per claim, no decision needed
CHECKED = {"ok": True, "events_checked": 0, "first_broken_sequence": None}
RESULT = {**CHECKED, "anchors_checked": 0}


@pytest.fixture(autouse=True)
def _served_forgotten() -> Iterator[None]:
    served_forget(tuple(Job.Kind.values))
    yield
    served_forget(tuple(Job.Kind.values))


def _queue(org, n: int, *, prefix: str, kind: str = KIND, batch_key: str = ""):
    return [
        job_create(
            kind=kind,
            decision=None,
            organization=org,
            request_sha256=f"{prefix}{index:060x}"[:64],
            requested_by="system",
            batch_key=batch_key,
        )[0]
        for index in range(n)
    ]


def _claims_until(job: Job, *, limit: int = 1, done: bool = True) -> int:
    """Claim (one worker after another) until ``job`` is claimed; the claim count."""
    for count in range(1, 200):
        lease = jobs_claim(kind=KIND, worker=f"w{count}", limit=limit)
        assert lease.jobs, "ran out of jobs before the job was claimed"
        if done:
            lease_complete(lease, [(j, JobDone(RESULT)) for j in lease.jobs])
        if any(j.pk == job.pk for j in lease.jobs):
            return count
    raise AssertionError("never claimed")


def test_a_flood_from_one_organisation_does_not_delay_anothers_job(db):
    flooder, other = factories.make_org("flood-bank"), factories.make_org("calm-bank")
    _queue(flooder, 50, prefix="a")
    (late,) = _queue(other, 1, prefix="b")
    # strict FIFO claimed it 51st; fair: right after the flooder's first job
    assert _claims_until(late) == 2


def test_one_worker_takes_organisations_in_turn(db):
    orgs = [factories.make_org(f"turn-{i}") for i in range(3)]
    for index, org in enumerate(orgs):
        _queue(org, 4, prefix=f"{index}")
    order = []
    for count in range(12):
        lease = jobs_claim(kind=KIND, worker=f"w{count}", limit=1)
        order.append(lease.jobs[0].organization_id)
        lease_complete(lease, [(j, JobDone(RESULT)) for j in lease.jobs])
    ids = [org.pk for org in orgs]
    assert order == ids * 4  # round robin, each organisation's jobs oldest first


def test_workers_busy_with_one_organisation_take_another_first(db):
    flooder, other = factories.make_org("busy-bank"), factories.make_org("next-bank")
    _queue(flooder, 10, prefix="a")
    held = [jobs_claim(kind=KIND, worker=f"slow{i}", limit=1) for i in range(3)]
    assert {lease.jobs[0].organization_id for lease in held} == {flooder.pk}
    (late,) = _queue(other, 1, prefix="b")
    # three of the flooder's jobs are in flight and never finish here: the next claim
    # (a fourth worker) is the other organisation's
    assert _claims_until(late, done=False) == 1


def test_an_organisation_at_its_lease_cap_waits_while_others_run(db, settings):
    settings.JOB_ORG_MAX_LEASES = 2
    flooder, other = factories.make_org("cap-bank"), factories.make_org("free-bank")
    _queue(flooder, 5, prefix="a")
    first = jobs_claim(kind=KIND, worker="w1", limit=1)
    second = jobs_claim(kind=KIND, worker="w2", limit=1)
    assert {first.jobs[0].organization_id, second.jobs[0].organization_id} == {
        flooder.pk
    }
    assert jobs_claim(kind=KIND, worker="w3", limit=1).jobs == []  # at its cap
    (late,) = _queue(other, 1, prefix="b")
    assert jobs_claim(kind=KIND, worker="w4", limit=1).jobs[0].pk == late.pk
    lease_complete(first, [(j, JobDone(RESULT)) for j in first.jobs])
    third = jobs_claim(kind=KIND, worker="w5", limit=1)
    assert third.jobs[0].organization_id == flooder.pk  # below its cap again


def test_a_batch_holds_one_organisations_jobs_of_one_batch_key(db):
    a, b = factories.make_org("batch-a"), factories.make_org("batch-b")
    _queue(a, 3, prefix="a", kind="explanation", batch_key="model_version:1")
    _queue(b, 3, prefix="b", kind="explanation", batch_key="model_version:1")
    _queue(a, 2, prefix="c", kind="explanation", batch_key="model_version:2")
    lease = jobs_claim(kind="explanation", worker="w", limit=10)
    assert [(j.organization_id, j.batch_key) for j in lease.jobs] == [
        (a.pk, "model_version:1")
    ] * 3
    nxt = jobs_claim(kind="explanation", worker="w2", limit=10)
    assert {j.organization_id for j in nxt.jobs} == {b.pk} and len(nxt.jobs) == 3


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_claimers_on_postgresql_share_fairly_and_never_twice():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (DATABASE_URL=postgres://...) for SKIP LOCKED")
    flooder, other = factories.make_org("pg-flood"), factories.make_org("pg-calm")
    _queue(flooder, 40, prefix="a")
    (late,) = _queue(other, 1, prefix="b")
    claimed: list[tuple[int, int]] = []  # (claim round, job pk)
    lock = threading.Lock()
    barrier = threading.Barrier(4)

    def claimer(name: str) -> None:
        try:
            for round_ in range(12):
                barrier.wait(timeout=30)
                lease = jobs_claim(kind=KIND, worker=f"{name}", limit=1)
                with lock:
                    claimed.extend((round_, j.pk) for j in lease.jobs)
                lease_complete(lease, [(j, JobDone(RESULT)) for j in lease.jobs])
        finally:
            connections.close_all()

    threads = [threading.Thread(target=claimer, args=(f"t{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert Counter(pk for _, pk in claimed).most_common(1)[0][1] == 1  # never twice
    assert len(claimed) == 41
    # four claimers at once see the same queue, so the first round may all go to the
    # oldest jobs; the next round takes the other organisation's job (FIFO: round 10)
    assert [r for r, pk in claimed if pk == late.pk] in ([0], [1])
