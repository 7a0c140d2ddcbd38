"""Limits on failed sign-in attempts (passwords and two-factor tokens alike).

Two limits, both keyed on the username normalised exactly as Django's sign-in form and
backend see it (stripped, NFKC, case-folded), so no other spelling of a name gets more
guesses:

- per address and account: ``LOGIN_ATTEMPTS_PER_MINUTE`` failures a minute (fixed
  one-minute windows);
- per account, whatever the address: ``LOGIN_FAILURES_PER_ACCOUNT_PER_HOUR`` failures
  in any hour (ASVS 2.2.1). Strict: the current and the previous hour's counts together
  stay within it, so no rolling hour holds more.

Only failures count. Each attempt reserves its place before the password is checked
(an atomic increment, so concurrent guesses cannot overshoot) and a successful one gives
it back. Counter keys hold a SHA-256 of the name, never the name itself, so any
username is a safe cache key.

Counters live in the shared cache (Redis in production). When it is unreachable they
fall back to this process's memory, so sign-in keeps working and the limits still hold
per process; the fallback is metered as the ``login`` scope of
``inspectoscope_throttle_fail_open_total`` and logged. The request that exhausts a
limit appends ``user.login_locked`` to the audit trail and counts in
``inspectoscope_login_lockouts_total{scope}``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import time
import unicodedata
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import BaseCache, cache
from django.core.cache.backends.locmem import LocMemCache
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from prometheus_client import Counter

from compliance.platform.throttles import STORE_ERRORS, store_available, store_failed
from compliance.tenancy.services import login_lockout_record

ADDRESS_WINDOW_SECONDS = 60
ACCOUNT_WINDOW_SECONDS = 3600

LOCKOUTS = Counter(
    "inspectoscope_login_lockouts_total",
    "Sign-in limits exhausted (further attempts refused until the window passes)",
    ["scope"],
)
for _scope in ("address", "account"):
    LOCKOUTS.labels(scope=_scope)

# the per-process counters used while the shared cache is unreachable
_local_counts = LocMemCache("inspectoscope-login-failures", {"MAX_ENTRIES": 20_000})


def username_normalise(raw: Any) -> str:
    """The name as Django's sign-in sees it: ``UsernameField`` strips and applies
    NFKC; case-folded on top, so names the database may match case-insensitively
    share one counter."""
    return unicodedata.normalize("NFKC", str(raw or "").strip()).strip().casefold()


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode("utf-8", "replace")).hexdigest()


@dataclass(frozen=True)
class Refusal:
    """A locked attempt: which limit, and whole seconds until one more attempt fits."""

    scope: str
    retry_after: int


class LoginLimiter:
    """The limits of one sign-in attempt: ``reserve()`` before checking the secret,
    then ``succeeded()`` or ``failed()``."""

    def __init__(self, *, username: Any, address: str) -> None:
        self.username = username_normalise(username)
        self.address = address or ""
        self.now = time.time()
        self._store: BaseCache | None = None
        self._reserved: list[str] = []
        self._account_counts = (0, 0)  # previous and current hour, this one included
        self._address_count = 0

    # --- the store: shared cache, or this process's memory for this request -------
    def _run(self, op: Any) -> Any:
        """Run ``op(store)`` on the shared cache, falling back (metered once per
        attempt) to this process's memory."""
        if self._store is None:
            if store_available():
                try:
                    result = op(cache)
                except STORE_ERRORS as exc:
                    store_failed("login", exc)
                else:
                    self._store = cache
                    return result
            else:
                store_failed("login", None)
            self._store = _local_counts
        try:
            return op(self._store)
        except STORE_ERRORS as exc:  # the store went away during this attempt
            if self._store is _local_counts:
                raise
            store_failed("login", exc)
            self._store = _local_counts
            return op(self._store)

    @staticmethod
    def _incr(store: BaseCache, key: str, ttl: int) -> int:
        store.add(key, 0, timeout=ttl)
        try:
            return int(store.incr(key))
        except ValueError:  # expired between add and incr
            store.set(key, 1, timeout=ttl)
            return 1

    # --- keys ---------------------------------------------------------------------
    def _address_key(self) -> str:
        bucket = int(self.now // ADDRESS_WINDOW_SECONDS)
        return f"login-failures:address:{_digest(self.address, self.username)}:{bucket}"

    def _account_keys(self) -> tuple[str, str]:
        bucket = int(self.now // ACCOUNT_WINDOW_SECONDS)
        base = f"login-failures:account:{_digest(self.username)}"
        return f"{base}:{bucket - 1}", f"{base}:{bucket}"

    # --- the attempt --------------------------------------------------------------
    def reserve(self) -> Refusal | None:
        """Count this attempt as a failure in advance; refuse it (taking it back)
        when a limit is already used up."""
        per_address = int(settings.LOGIN_ATTEMPTS_PER_MINUTE)
        per_account = int(settings.LOGIN_FAILURES_PER_ACCOUNT_PER_HOUR)
        address_key = self._address_key()
        previous_key, current_key = self._account_keys()

        def count(store: BaseCache) -> tuple[int, int, int]:
            address = self._incr(store, address_key, 2 * ADDRESS_WINDOW_SECONDS)
            current = self._incr(store, current_key, 2 * ACCOUNT_WINDOW_SECONDS)
            return address, int(store.get(previous_key) or 0), current

        address, previous, current = self._run(count)
        self._reserved = [address_key, current_key]
        self._address_count = address
        self._account_counts = (previous, current)
        if previous + current > per_account:
            self._give_back()
            return Refusal("account", self._account_retry_after(per_account))
        if address > per_address:
            self._give_back()
            return Refusal("address", ADDRESS_WINDOW_SECONDS)
        return None

    def _account_retry_after(self, limit: int) -> int:
        previous, current = self._account_counts
        current -= 1  # this attempt was given back
        elapsed = self.now % ACCOUNT_WINDOW_SECONDS
        # the previous hour drops out at the end of this one; if this hour alone is
        # full, its own count drops out an hour later
        wait = ACCOUNT_WINDOW_SECONDS - elapsed
        if current >= limit:
            wait += ACCOUNT_WINDOW_SECONDS
        return max(1, math.ceil(wait))

    def _give_back(self) -> None:
        keys, self._reserved = self._reserved, []

        def decr(store: BaseCache) -> None:
            for key in keys:
                try:
                    store.decr(key)
                except ValueError:  # expired meanwhile: nothing to give back
                    pass

        if keys:
            self._run(decr)

    def succeeded(self) -> None:
        """A right secret: the attempt was no failure."""
        self._give_back()

    def failed(self) -> list[str]:
        """A wrong secret: the reservation stands. Returns the limits this failure
        used up (each counted and audited by the caller once)."""
        self._reserved = []
        exhausted = []
        previous, current = self._account_counts
        if previous + current == int(settings.LOGIN_FAILURES_PER_ACCOUNT_PER_HOUR):
            exhausted.append("account")
        if self._address_count == int(settings.LOGIN_ATTEMPTS_PER_MINUTE):
            exhausted.append("address")
        for scope in exhausted:
            LOCKOUTS.labels(scope=scope).inc()
        return exhausted


# --- what the password and token steps share -----------------------------------


def client_address(request: HttpRequest) -> str:
    return str(request.META.get("REMOTE_ADDR", "") or "")


def too_many_attempts(request: HttpRequest, refusal: Refusal) -> HttpResponse:
    """429: when one more attempt fits, as Retry-After and on the page."""
    retry_at = timezone.now() + dt.timedelta(seconds=refusal.retry_after)
    minutes = -(-refusal.retry_after // 60)
    response = render(
        request,
        "registration/too_many.html",
        {
            "retry_after": refusal.retry_after,
            "retry_minutes": minutes,
            "retry_at": retry_at,
            "per_account": refusal.scope == "account",
        },
        status=429,
    )
    response["Retry-After"] = str(refusal.retry_after)
    return response


def attempt_failed(limiter: LoginLimiter, *, username: str, address: str) -> None:
    """Keep the failure counted; audit each limit it used up."""
    for scope in limiter.failed():
        login_lockout_record(username=username, scope=scope, address=address)
