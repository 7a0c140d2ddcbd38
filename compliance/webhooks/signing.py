"""How deliveries are signed: ``Inspectoscope-Signature: t=<unix seconds>,v1=<hex>``
where ``<hex>`` is HMAC-SHA256 with the endpoint's secret over ``"<t>." + body``.
A receiver recomputes it over the raw body, compares in constant time and refuses
timestamps older than a few minutes (replays). The README gives a standalone snippet."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

SIGNATURE_HEADER = "Inspectoscope-Signature"
EVENT_HEADER = "Inspectoscope-Event"
EVENT_ID_HEADER = "Inspectoscope-Event-Id"
DELIVERY_HEADER = "Inspectoscope-Delivery"
ATTEMPT_HEADER = "Inspectoscope-Attempt"
SECRET_PREFIX = "whsec_"  # noqa: S105 (a prefix, not a secret)
TOLERANCE_SECONDS = 300


def secret_new() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(
        secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256
    ).hexdigest()
    return f"t={timestamp},v1={digest}"


def signature_verify(
    secret: str,
    header: str,
    body: bytes,
    *,
    tolerance: int = TOLERANCE_SECONDS,
    now: float | None = None,
) -> bool:
    """Whether ``header`` signs ``body`` with ``secret`` within ``tolerance`` seconds."""
    fields = dict(
        part.split("=", 1) for part in header.split(",") if "=" in part.strip()
    )
    try:
        timestamp = int(fields.get("t", ""))
    except ValueError:
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    expected = signature(secret, timestamp, body).split("v1=", 1)[1]
    return hmac.compare_digest(expected, fields.get("v1", ""))
