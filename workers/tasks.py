"""Thin Celery tasks: take ids, call one service, handle retry. No tensors in messages."""

from __future__ import annotations

import logging
import os
import socket
import time
from typing import Any

from celery import shared_task
from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError

from compliance import explanations

logger = logging.getLogger(__name__)
TRANSIENT = (OperationalError, InterfaceError)
# a drain stops after this long and re-wakes itself, well inside the soft time limit
DRAIN_SECONDS = 60.0


def _worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@shared_task(bind=True, max_retries=None, name="workers.tasks.explanations_process")
def explanations_process(self: Any, model_version_id: int | None = None) -> int:
    """Explain queued jobs in batches until none is left (the id is only a hint)."""
    started = time.monotonic()
    processed = 0
    try:
        while True:
            claimed = explanations.explanation_batch_process(
                worker=_worker_name(), limit=settings.EXPLANATION_BATCH_SIZE
            )
            processed += claimed
            if claimed == 0:
                return processed
            if time.monotonic() - started > DRAIN_SECONDS:
                explanations.explanation_wake(model_version_id)
                return processed
    except TRANSIENT as exc:
        countdown = min(60, 2 ** min(self.request.retries, 6))
        logger.warning("Transient error (%s); retrying in %s s.", exc, countdown)
        raise self.retry(exc=exc, countdown=countdown) from exc
    except DatabaseError:
        logger.exception("Database error while processing explanation jobs.")
        raise


@shared_task(name="workers.tasks.explanations_sweep")
def explanations_sweep() -> dict[str, int]:
    """Periodic (Celery beat): reclaim expired leases, re-wake queued jobs."""
    return explanations.explanation_jobs_sweep()


@shared_task(name="workers.tasks.ping", ignore_result=False)
def ping() -> str:
    """Does nothing: used to check that a worker answers, and to measure per-message cost."""
    return "pong"


@shared_task(
    name="workers.tasks.dossier_render",
    soft_time_limit=60,
    time_limit=90,
)
def dossier_render(job_id: int) -> None:
    """Render and store one dossier (the dossiers queue, CPU workers)."""
    from compliance.dossiers import dossier_job_run

    dossier_job_run(job_id=job_id, worker=_worker_name())
