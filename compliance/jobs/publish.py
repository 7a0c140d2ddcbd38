"""The publish port: how the domain wakes a worker without knowing Celery.

``workers/`` registers a publisher at start-up (``publisher_register``); the domain
calls ``job_wake(kind, batch_key)`` after its transaction commits. A message only wakes
a worker: the job table is the source of truth, so a message that is never sent (no
publisher, or the broker away) costs latency, never a job: the sweeper wakes again.

Wakes are coalesced: at most one is outstanding per kind. The first wake of a kind adds a
marker to Django's cache (``cache.add`` is atomic; Redis in production) and sends; later
wakes find the marker and send nothing. The worker clears the marker when its drain starts
(``job_wake_clear``), so a wake after that is sent again. The marker expires after
``WAKE_PENDING_SECONDS`` so a message the broker lost is re-sent by the sweeper then. A drain
processes every batch key of its kind, so the batch key is only a hint.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from django.core.cache import cache
from django.db import transaction

logger = logging.getLogger(__name__)

# (kind, batch key) -> None; raises when the message could not be sent
Publisher = Callable[[str, str], None]
BROKER_BACKOFF_SECONDS = 5.0
# how long a sent wake counts as outstanding when no worker clears it: a lost message,
# or a cache that the worker does not share (locmem without REDIS_URL); about one sweep
WAKE_PENDING_SECONDS = 15

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


def _pending_key(kind: str) -> str:
    return f"jobs:wake_pending:{kind}"


def _pending_add(kind: str) -> bool:
    """Mark a wake of ``kind`` outstanding; False when one already is. Fails open."""
    try:
        return bool(cache.add(_pending_key(kind), 1, WAKE_PENDING_SECONDS))
    except Exception as exc:  # cache away: send (more messages, never a lost wake)
        logger.warning("Wake coalescing unavailable (%s); sending anyway.", exc)
        return True


def wakes_forget(kinds: list[str] | tuple[str, ...]) -> None:
    """Forget every outstanding wake of ``kinds`` (tests: a clean slate per test)."""
    for kind in kinds:
        job_wake_clear(kind)


def job_wake_clear(kind: str) -> None:
    """A worker starts draining ``kind``: the next wake is sent again. Never raises."""
    try:
        cache.delete(_pending_key(kind))
    except Exception as exc:
        logger.warning("Could not clear the %s wake marker (%s).", kind, exc)


def job_wake(kind: str, batch_key: str = "") -> bool:
    """Send a wake-up message unless one for ``kind`` is outstanding; never raise.
    Returns whether it was sent.

    For a few seconds after a failure no publish is tried, so web requests do not
    wait on a dead broker.
    """
    global _broker_down_until
    if _publisher is None:
        logger.debug("No publisher registered; %s jobs wait for the sweeper.", kind)
        return False
    if time.monotonic() < _broker_down_until:
        return False
    if not _pending_add(kind):
        return False
    try:
        _publisher(kind, batch_key)
        return True
    except Exception as exc:  # the broker client raises many kinds; all mean "not sent"
        _broker_down_until = time.monotonic() + BROKER_BACKOFF_SECONDS
        job_wake_clear(kind)
        logger.warning(
            "Could not publish a wake-up for %s jobs (%s); they stay queued and the "
            "sweeper will wake a worker.",
            kind,
            exc,
        )
        return False


def job_wake_on_commit(kind: str, batch_key: str = "") -> None:
    transaction.on_commit(lambda: job_wake(kind, batch_key))
