"""Rate limits per API key and per signed-in person (shared cache: Redis in production).

The limits fail open: when their store is unreachable a request is let through, counted
in ``inspectoscope_throttle_fail_open_total{scope}`` and logged (at most once per
``FAIL_OPEN_LOG_EVERY_SECONDS`` per scope), and for ``STORE_BACKOFF_SECONDS`` afterwards
the store is not tried, so requests do not queue behind a dead server. A Redis outage
costs rate limiting for its duration, never the API's answers.
"""

from __future__ import annotations

import logging
import math
import time
from functools import lru_cache
from typing import Any

import redis
from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from prometheus_client import Counter
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from compliance.principals import ClientSystemUser

logger = logging.getLogger(__name__)

# every scope a limit is kept for; "login" is the sign-in attempt limit (web/login.py),
# "other" any scope a later throttle adds without listing it here
SCOPES = ("api_key", "person", "anonymous", "public_verify", "login", "other")
FAIL_OPEN = Counter(
    "inspectoscope_throttle_fail_open_total",
    "Requests let through without their rate limit because its store was unreachable",
    ["scope"],
)
for _scope in SCOPES:  # a fixed label set, each series exported from the start
    FAIL_OPEN.labels(scope=_scope)

# what "the store is unreachable" raises: redis-py wraps socket errors in RedisError
STORE_ERRORS: tuple[type[BaseException], ...] = (redis.RedisError, OSError)
STORE_TIMEOUT_SECONDS = 0.5  # connect and read timeout of the throttles' own client
STORE_BACKOFF_SECONDS = 1.0
FAIL_OPEN_LOG_EVERY_SECONDS = 10.0

_store_down_until = 0.0
_last_logged: dict[str, float] = {}


def store_available() -> bool:
    """False for a short while after the store failed (the back-off)."""
    return time.monotonic() >= _store_down_until


def store_failed(scope: str, exc: BaseException | None) -> None:
    """Record a request let through because the store is unreachable: meter it, log
    it (rate-limited), and start the back-off when ``exc`` is a fresh failure."""
    global _store_down_until
    now = time.monotonic()
    FAIL_OPEN.labels(scope=scope if scope in SCOPES else "other").inc()
    if exc is not None:
        _store_down_until = now + STORE_BACKOFF_SECONDS
    if exc is not None and now - _last_logged.get(scope, -math.inf) >= (
        FAIL_OPEN_LOG_EVERY_SECONDS
    ):
        _last_logged[scope] = now
        logger.warning(
            "Rate limit store unreachable (%s: %s); %s limits fail open until it "
            "answers again.",
            type(exc).__name__,
            exc,
            scope,
        )


def store_backoff_reset() -> None:
    """Try the store at the next request (tests; after a known recovery)."""
    global _store_down_until
    _store_down_until = 0.0


class _SettingsRateThrottle(SimpleRateThrottle):
    """A sliding-window counter with its rate from the current settings.

    DRF's SimpleRateThrottle keeps every request's timestamp in one cache entry and
    rewrites it on each request: 30,000 floats at the default API-key rate, pickled both
    ways per request, and a read-modify-write that concurrent workers overwrite (so it
    undercounts). Here each fixed window is one counter, incremented atomically (Redis
    INCR), and the previous window counts in proportion to how much of it the sliding
    window still covers. A refused request is taken back out, and Retry-After says when
    one more request fits.
    """

    duration: int  # set by SimpleRateThrottle.__init__ from the rate
    num_requests: int

    def __init__(self) -> None:
        self.cache = caches["default"]  # this thread's backend, not Django's proxy
        super().__init__()

    def get_rate(self) -> str | None:
        # DRF's own copy of the rates is fixed at import; tests and deployments change them
        rate = api_settings.DEFAULT_THROTTLE_RATES.get(self.scope or "")
        return None if rate is None else str(rate)

    def allow_request(self, request: Any, view: Any) -> bool:
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        if not store_available():
            store_failed(self.scope or "", None)
            return True
        now = self.timer()
        window, elapsed = divmod(now, self.duration)
        current = f"{self.key}:{int(window)}"
        try:
            count, previous = self._counts(current, f"{self.key}:{int(window) - 1}")
        except STORE_ERRORS as exc:  # fail open: the limit is lost, not the request
            store_failed(self.scope or "", exc)
            return True
        if previous * (1 - elapsed / self.duration) + count <= self.num_requests:
            return True
        try:  # a refused request does not count, as in DRF
            self.cache.decr(current)
        except ValueError:  # the window's counter expired meanwhile: nothing to undo
            pass
        except STORE_ERRORS:  # the store went away just now: counted once too often
            pass
        self._retry_after = _seconds_until_room(
            previous, count - 1, elapsed, self.duration, self.num_requests
        )
        return False

    def _counts(self, current: str, previous: str) -> tuple[int, int]:
        """Count this request in ``current``; return it and ``previous``'s count."""
        ttl = 2 * self.duration
        if isinstance(self.cache, RedisCache):
            # one round trip (MULTI/EXEC) instead of Django's four: the counters are the
            # plain integers Django's Redis serializer stores, so both paths agree
            key = self.cache.make_and_validate_key(current)
            client = _redis_client(_cache_url())
            pipe = client.pipeline(transaction=True)
            pipe.incr(key)
            pipe.expire(key, ttl)
            pipe.get(self.cache.make_and_validate_key(previous))
            count, _, before = pipe.execute()
            return int(count), int(before or 0)
        self.cache.add(current, 0, timeout=ttl)
        try:
            count = self.cache.incr(current)
        except ValueError:  # expired between add and incr
            self.cache.set(current, 1, timeout=ttl)
            count = 1
        return count, self.cache.get(previous, 0)

    def wait(self) -> float:
        # whole seconds, rounded up: DRF writes Retry-After with "%d"
        return float(max(1, math.ceil(self._retry_after)))


class ApiKeyRateThrottle(_SettingsRateThrottle):
    """Requests per API key (its prefix identifies it; the secret is never a cache key)."""

    scope = "api_key"

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        if isinstance(request.user, ClientSystemUser) and request.auth is not None:
            return self.cache_format % {
                "scope": self.scope,
                "ident": request.auth.prefix,
            }
        return None


class PersonRateThrottle(_SettingsRateThrottle):
    scope = "person"

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        user = request.user
        if user and user.is_authenticated and not isinstance(user, ClientSystemUser):
            return self.cache_format % {"scope": self.scope, "ident": user.pk}
        return None


class AnonymousRateThrottle(_SettingsRateThrottle):
    scope = "anonymous"

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        if request.user and request.user.is_authenticated:
            return None
        return self.cache_format % {
            "scope": self.scope,
            "ident": self.get_ident(request),
        }


class PublicVerifyRateThrottle(_SettingsRateThrottle):
    """The public verification page and endpoint: requests per client IP, whoever
    asks (signed in or not), so the register cannot be enumerated quickly."""

    scope = "public_verify"

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        return self.cache_format % {
            "scope": self.scope,
            "ident": self.get_ident(request),
        }


def _seconds_until_room(
    previous: int, current: int, elapsed: float, duration: float, limit: int
) -> float:
    """How long until one more request fits: later in this window as the previous
    window's weight fades, else in the next one, when this window's count fades."""
    if limit < 1:
        return 2 * duration
    if current + 1 <= limit and previous > 0:
        at = duration * (1 - (limit - current - 1) / previous)
        if at < duration:
            return max(0.0, at - elapsed)
    at_next = 0.0 if current + 1 <= limit else duration * (1 - (limit - 1) / current)
    return duration - elapsed + at_next


def _cache_url() -> str:
    location = settings.CACHES["default"]["LOCATION"]
    return str(location[0] if isinstance(location, (list, tuple)) else location)


@lru_cache(maxsize=4)
def _redis_client(url: str) -> Any:
    """A Redis client of our own on the default cache's server (public redis-py API,
    one per process and URL), rather than reaching into Django's cache backend for its
    client. The counters are the plain integers Django's Redis serializer stores, so
    this path and the cache's agree (a test holds them equal). Short timeouts: a
    server that does not answer makes the throttle fail open, not the request wait."""
    return redis.Redis.from_url(
        url,
        socket_connect_timeout=STORE_TIMEOUT_SECONDS,
        socket_timeout=STORE_TIMEOUT_SECONDS,
    )
