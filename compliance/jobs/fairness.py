"""Fair claims across organisations (issue 13, item 3): the order in which a claim
looks at the organisations that have claimable jobs of a kind.

1. Fewest leases of that kind in flight first (worker batches holding the organisation's
   jobs now), so workers busy with one organisation take another's job next.
2. Then the organisation served longest ago (round robin), so a single worker alternates
   between organisations instead of draining one organisation's backlog first. When each
   organisation was last served is kept in Django's cache (Redis in production, shared by
   every worker; this process's memory otherwise): a hint, never a correctness matter. A
   cache that is away makes the order "fewest leases, then oldest job".
3. Then the oldest claimable job (FIFO within these ties and within an organisation).

``JOB_ORG_MAX_LEASES`` (0: no cap) leaves an organisation with that many leases of a kind
in flight out of the claim entirely, so a flood never holds more than that many workers of
that kind; the default keeps workers busy whenever there is work (no idle capacity).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from datetime import datetime

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Min, Q

from compliance.models import Job

logger = logging.getLogger(__name__)
SERVED_TTL_SECONDS = (
    3600  # an organisation not served for an hour counts as never served
)
SERVED_MAX = 2000  # organisations remembered per kind (the least recently served go)


def _served_key(kind: str) -> str:
    return f"jobs:served:{kind}"


def _served(kind: str) -> dict[int, float]:
    try:
        value = cache.get(_served_key(kind))
    except Exception as exc:  # cache away: fewest leases, then oldest job
        logger.warning("Fair-claim memory unavailable (%s).", exc)
        return {}
    return value if isinstance(value, dict) else {}


def served_mark(kind: str, organization_id: int) -> None:
    """Remember that ``organization_id`` was just served a batch of ``kind``. Never
    raises; concurrent workers may overwrite each other's marks (one extra turn)."""
    served = _served(kind)
    served[organization_id] = time.time()
    if len(served) > SERVED_MAX:
        served = dict(sorted(served.items(), key=lambda item: item[1])[-SERVED_MAX:])
    try:
        cache.set(_served_key(kind), served, SERVED_TTL_SECONDS)
    except Exception as exc:
        logger.warning("Could not record the fair-claim turn (%s).", exc)


def served_forget(kinds: Iterable[str]) -> None:
    """Forget every turn of ``kinds`` (tests: a clean slate)."""
    for kind in kinds:
        try:
            cache.delete(_served_key(kind))
        except Exception as exc:
            logger.warning("Could not clear the fair-claim memory (%s).", exc)


def organizations_in_turn(kind: str, claimable: Q, now: datetime) -> list[int]:
    """The organisations with claimable jobs of ``kind``, in the order a claim should
    try them (see the module's docstring); those at their lease cap are left out."""
    waiting = dict(
        Job.objects.filter(claimable)
        .order_by()
        .values("organization_id")
        .annotate(oldest=Min("created_at"))
        .values_list("organization_id", "oldest")
    )
    if not waiting:
        return []
    leases = dict(
        Job.objects.filter(
            kind=kind,
            status=Job.Status.RUNNING,
            lease_until__gte=now,
            organization_id__in=list(waiting),
        )
        .order_by()
        .values("organization_id")
        .annotate(leases=Count("lease_token", distinct=True))
        .values_list("organization_id", "leases")
    )
    cap = settings.JOB_ORG_MAX_LEASES
    served = _served(kind)
    return sorted(
        (org for org in waiting if not cap or leases.get(org, 0) < cap),
        key=lambda org: (leases.get(org, 0), served.get(org, 0.0), waiting[org], org),
    )
