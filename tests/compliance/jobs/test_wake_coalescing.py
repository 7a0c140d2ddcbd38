"""Wake-up messages are coalesced: one outstanding per kind, one per kind per sweep."""

from __future__ import annotations

from unittest import mock

import pytest

from compliance.jobs import job_create, job_wake, job_wake_clear, jobs_sweep
from compliance.jobs.publish import backoff_reset, publisher_register
from tests import factories
from workers.celery import app
from workers.routes import SWEEP_TASK


@pytest.fixture
def sent():
    publisher = mock.Mock()
    previous = publisher_register(publisher)
    backoff_reset()
    yield publisher
    publisher_register(previous)
    backoff_reset()


def test_a_sweep_sends_one_message_per_kind_not_per_batch_key(db):
    org = factories.make_org("coalesce-bank")
    for index in range(50):
        job_create(
            kind="audit_verify",
            decision=None,
            organization=org,
            request_sha256=f"{index:064x}",
            requested_by="system",
            batch_key=f"key:{index % 10}",
        )
    publisher = mock.Mock()
    previous = publisher_register(publisher)
    try:
        result = jobs_sweep()
    finally:
        publisher_register(previous)
    assert publisher.call_count == 1
    publisher.assert_called_once_with("audit_verify", "key:0")
    assert result["woken"] == 1 and result["queued_kinds"] == 1


def test_wakes_before_a_worker_picks_up_send_one_message(sent):
    assert job_wake("dossier", "") is True
    assert job_wake("dossier", "") is False
    assert job_wake("dossier", "other") is False
    assert job_wake("explanation", "model_version:1") is True  # another kind
    assert sent.call_count == 2


def test_a_wake_after_the_drain_starts_is_sent_again(sent):
    assert job_wake("dossier") is True
    job_wake_clear("dossier")  # what a worker's drain does first
    assert job_wake("dossier") is True
    assert sent.call_count == 2


def test_a_wake_that_could_not_be_sent_is_not_outstanding(sent, monkeypatch):
    from compliance.jobs import publish

    sent.side_effect = [ConnectionError("down"), None]
    assert job_wake("dossier") is False
    monkeypatch.setattr(publish, "_broker_down_until", 0.0)
    assert job_wake("dossier") is True


def test_a_cache_outage_sends_the_wake_anyway(sent):
    with mock.patch(
        "compliance.jobs.publish.cache.add", side_effect=ConnectionError("away")
    ):
        assert job_wake("dossier") is True
        assert job_wake("dossier") is True
    assert sent.call_count == 2


def test_the_sweeper_has_its_own_queue():
    assert SWEEP_TASK == ("workers.tasks.jobs_sweep", "sweeper")
    assert app.amqp.router.route({}, SWEEP_TASK[0])["queue"].name == "sweeper"
    assert "sweeper" in {queue.name for queue in app.conf.task_queues}
