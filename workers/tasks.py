"""Thin Celery tasks: take a hint, call one service, handle retry. No tensors in
messages. Celery's time limits become the domain's ``JobTimeLimitExceeded`` here."""

from __future__ import annotations

import logging
import os
import socket
import time
from typing import Any

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import DatabaseError

from compliance.audit import audit_chains_anchor as anchor_service
from compliance.jobs import (
    job_wake,
    job_wake_clear,
    jobs_process,
    jobs_sweep,
    transient_cause,
)
from compliance.monitoring.alerts import alerts_scan
from compliance.principals import SYSTEM_OPERATOR

logger = logging.getLogger(__name__)
# a drain starts no new batch after this long and re-wakes itself instead, so the
# batch it is in finishes inside the task's soft time limit
DRAIN_SECONDS = 60.0
DOSSIERS_SOFT_TIME_LIMIT = 60


def dossier_drain_seconds() -> float:
    """A dossier batch can take up to the render timeout (plus signing and storing):
    start none later than that before the soft limit, so a render that starts late in
    a drain is not cut by the limit (reason time_limit) but gets its full timeout."""
    margin = float(settings.DOSSIER_RENDER_TIMEOUT_SECONDS) + 10.0
    return max(0.0, DOSSIERS_SOFT_TIME_LIMIT - margin)


def _worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _drain(
    task: Any,
    kind: str,
    batch_key: str,
    limit: int,
    drain_seconds: float = DRAIN_SECONDS,
) -> int:
    """Process batches of ``kind`` until none is left or the drain's time is up."""
    started = time.monotonic()
    processed = 0
    job_wake_clear(kind)  # a wake sent from now on is not coalesced into this drain
    try:
        while True:
            claimed = jobs_process(
                kind=kind,
                worker=_worker_name(),
                limit=limit,
                time_limit_errors=(SoftTimeLimitExceeded,),
            )
            processed += claimed
            if claimed == 0:
                return processed
            if time.monotonic() - started >= drain_seconds:
                job_wake(kind, batch_key)
                return processed
    except Exception as exc:
        if transient_cause(exc) is None:
            if isinstance(exc, DatabaseError):
                logger.exception("Database error while processing %s jobs.", kind)
            raise
        countdown = retry_countdown(task.request.retries)
        logger.warning(
            "Transient database error on %s jobs (%s); retrying in %s s.",
            kind,
            exc,
            countdown,
        )
        raise task.retry(exc=exc, countdown=countdown) from exc


def retry_countdown(retries: int) -> int:
    """Seconds before a task that met a transient database error runs again: 1, 2, 4,
    8, then every ``JOB_TRANSIENT_RETRY_MAX_SECONDS`` (10) while the database is away, so
    the work resumes within that long of its return."""
    return int(min(settings.JOB_TRANSIENT_RETRY_MAX_SECONDS, 2 ** min(retries, 10)))


@shared_task(bind=True, max_retries=None, name="workers.tasks.explanations_process")
def explanations_process(self: Any, batch_key: str = "", **_: Any) -> int:
    """Explain queued jobs in batches until none is left (the key is only a hint)."""
    return _drain(self, "explanation", batch_key, settings.EXPLANATION_BATCH_SIZE)


@shared_task(
    bind=True,
    max_retries=None,
    name="workers.tasks.dossiers_process",
    soft_time_limit=DOSSIERS_SOFT_TIME_LIMIT,
    time_limit=90,
)
def dossiers_process(self: Any, batch_key: str = "", **_: Any) -> int:
    """Render and store queued dossiers (the dossiers queue, CPU workers)."""
    return _drain(self, "dossier", batch_key, 1, dossier_drain_seconds())


@shared_task(
    bind=True,
    max_retries=None,
    name="workers.tasks.notices_process",
    soft_time_limit=DOSSIERS_SOFT_TIME_LIMIT,
    time_limit=90,
)
def notices_process(self: Any, batch_key: str = "", **_: Any) -> int:
    """Write, check, render and store queued notices (the dossiers queue, CPU)."""
    return _drain(self, "notice", batch_key, 1, dossier_drain_seconds())


@shared_task(
    bind=True,
    max_retries=None,
    name="workers.tasks.audit_verify_process",
    soft_time_limit=240,
    time_limit=300,
)
def audit_verify_process(self: Any, batch_key: str = "", **_: Any) -> int:
    """Check organisations' audit chains on request (the dossiers queue, CPU)."""
    return _drain(self, "audit_verify", batch_key, 1)


@shared_task(
    bind=True,
    max_retries=None,
    name="workers.tasks.reports_process",
    soft_time_limit=240,
    time_limit=300,
)
def reports_process(self: Any, batch_key: str = "", **_: Any) -> int:
    """Render monthly oversight reports (the dossiers queue, CPU)."""
    return _drain(self, "report", batch_key, 1)


@shared_task(
    bind=True,
    max_retries=None,
    name="workers.tasks.webhooks_process",
    soft_time_limit=240,
    time_limit=300,
)
def webhooks_process(self: Any, batch_key: str = "", **_: Any) -> int:
    """Send queued webhook deliveries (the webhooks queue; network-bound)."""
    return _drain(self, "webhook", batch_key, 16)


@shared_task(
    name="workers.tasks.monitoring_alerts_scan", soft_time_limit=240, time_limit=300
)
def monitoring_alerts_scan() -> int:
    """Periodic (Celery beat): record the alerts the monitoring figures raise."""
    return len(alerts_scan())


@shared_task(name="workers.tasks.jobs_sweep")
def sweep() -> dict[str, int]:
    """Periodic (Celery beat): reclaim expired leases, re-wake queued jobs."""
    return jobs_sweep()


@shared_task(
    name="workers.tasks.audit_chains_anchor", soft_time_limit=240, time_limit=300
)
def audit_chains_anchor() -> int:
    """Periodic (Celery beat): timestamp every audit chain's head with the TSA."""
    return len(anchor_service(operator=SYSTEM_OPERATOR))


@shared_task(name="workers.tasks.ping", ignore_result=False)
def ping() -> str:
    """Does nothing: used to check that a worker answers, and to measure per-message cost."""
    return "pong"
