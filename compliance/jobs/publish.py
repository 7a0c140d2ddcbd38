"""The publish port: how the domain wakes a worker without knowing Celery.

``workers/`` registers a publisher at start-up (``publisher_register``); the domain
calls ``job_wake(kind, batch_key)`` after its transaction commits. A message only wakes
a worker: the job table is the source of truth, so a message that is never sent (no
publisher, or the broker away) costs latency, never a job: the sweeper wakes again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from django.db import transaction

logger = logging.getLogger(__name__)

# (kind, batch key) -> None; raises when the message could not be sent
Publisher = Callable[[str, str], None]
BROKER_BACKOFF_SECONDS = 5.0

_publisher: Publisher | None = None
_broker_down_until = 0.0


def publisher_register(publisher: Publisher | None) -> Publisher | None:
    """Install the function that sends wake-up messages; returns the previous one."""
    global _publisher
    previous, _publisher = _publisher, publisher
    return previous


def backoff_reset() -> None:
    """Try the broker again at the next wake (the sweeper always tries)."""
    global _broker_down_until
    _broker_down_until = 0.0


def job_wake(kind: str, batch_key: str = "") -> bool:
    """Send a wake-up message; never raise. Returns whether it was sent.

    For a few seconds after a failure no publish is tried, so web requests do not
    wait on a dead broker.
    """
    global _broker_down_until
    if _publisher is None:
        logger.debug("No publisher registered; %s jobs wait for the sweeper.", kind)
        return False
    if time.monotonic() < _broker_down_until:
        return False
    try:
        _publisher(kind, batch_key)
        return True
    except Exception as exc:  # the broker client raises many kinds; all mean "not sent"
        _broker_down_until = time.monotonic() + BROKER_BACKOFF_SECONDS
        logger.warning(
            "Could not publish a wake-up for %s jobs (%s); they stay queued and the "
            "sweeper will wake a worker.",
            kind,
            exc,
        )
        return False


def job_wake_on_commit(kind: str, batch_key: str = "") -> None:
    transaction.on_commit(lambda: job_wake(kind, batch_key))
