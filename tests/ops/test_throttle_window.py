"""The API-key throttle: a sliding-window counter, O(1) in the cache and shared by workers."""

from __future__ import annotations

import uuid
from types import SimpleNamespace

import pytest
from django.core.cache import cache

from compliance.platform.throttles import ApiKeyRateThrottle
from compliance.principals import ClientSystemUser


class Clock:
    def __init__(self, now: float):
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def rate(settings):
    def set_rate(value: str) -> None:
        settings.REST_FRAMEWORK = {
            **settings.REST_FRAMEWORK,
            "DEFAULT_THROTTLE_RATES": {
                "api_key": value,
                "person": None,
                "anonymous": None,
            },
        }

    return set_rate


def _request() -> SimpleNamespace:
    """A client-system request with a key prefix no other test uses."""
    return SimpleNamespace(
        user=ClientSystemUser(SimpleNamespace(pk=1)),
        auth=SimpleNamespace(prefix=uuid.uuid4().hex[:8]),
    )


def _worker(clock: Clock) -> ApiKeyRateThrottle:
    """A throttle as one gunicorn worker builds it for one request."""
    throttle = ApiKeyRateThrottle()
    throttle.timer = clock
    return throttle


def test_workers_share_one_count_and_the_cache_holds_a_number(rate):
    rate("10/min")
    clock, request = Clock(6000.0), _request()
    allowed = [_worker(clock).allow_request(request, None) for _ in range(12)]
    assert allowed == [True] * 10 + [False] * 2
    throttle = _worker(clock)
    assert not throttle.allow_request(request, None)
    # one integer, not a list of timestamps; refused requests are taken back out
    assert cache.get(f"{throttle.key}:100") == 10


def test_the_previous_window_counts_in_proportion_to_its_overlap(rate):
    rate("10/min")
    clock, request = Clock(6000.0 + 50), _request()  # 50 s into window 100
    assert all(_worker(clock).allow_request(request, None) for _ in range(10))
    clock.now = 6060.0 + 30  # half-way through window 101: window 100 weighs 0.5
    results = [_worker(clock).allow_request(request, None) for _ in range(6)]
    assert results == [True] * 5 + [False]  # 0.5 * 10 + 5 = 10 allowed, the 6th is not
    # 1 s into window 102: window 100 no longer overlaps; window 101 (5 counted: the
    # refused one was taken back) weighs 59/60, so 4.92 + 5 fits and a sixth does not
    clock.now = 6120.0 + 1
    results = [_worker(clock).allow_request(request, None) for _ in range(6)]
    assert results == [True] * 5 + [False]
    clock.now = 6180.0 + 1  # two quiet windows later everything has drained
    assert _worker(clock).allow_request(request, None)


def test_retry_after_is_the_time_left_in_the_window_and_at_least_a_second(rate):
    rate("1/min")
    clock, request = Clock(6000.0 + 45.5), _request()
    assert _worker(clock).allow_request(request, None)
    throttle = _worker(clock)
    assert not throttle.allow_request(request, None)
    # the one request of window 100 must fade out of the next window too: 14.5 + 60 s
    assert throttle.wait() == 75.0  # rounded up to whole seconds
    clock.now = 6059.9
    throttle = _worker(clock)
    assert not throttle.allow_request(request, None)
    assert throttle.wait() == 61.0


@pytest.mark.parametrize(
    ("rate_text", "burst", "start"),
    [("10/min", 11, 6000.0), ("10/min", 25, 6030.0), ("5/min", 7, 6059.0)],
)
def test_a_client_that_waits_retry_after_is_let_in(rate, rate_text, burst, start):
    rate(rate_text)
    clock, request = Clock(start), _request()
    refused = None
    for _ in range(burst):
        throttle = _worker(clock)
        if not throttle.allow_request(request, None):
            refused = throttle
    assert refused is not None
    clock.now += refused.wait()
    assert _worker(clock).allow_request(request, None)


def test_no_rate_means_no_cache_traffic(rate):
    rate(None)
    request = _request()
    throttle = _worker(Clock(6000.0))
    assert throttle.allow_request(request, None)
    assert not hasattr(throttle, "key")  # returned before looking for a cache key


def test_with_redis_one_pipelined_round_trip_keeps_the_same_counters(rate):
    from django.core.cache import caches
    from django.core.cache.backends.redis import RedisCache

    backend = caches["default"]
    if not isinstance(backend, RedisCache):
        pytest.skip("needs REDIS_URL (the shared cache in production)")
    rate("3/min")
    clock, request = Clock(6000.0), _request()
    from unittest import mock

    from redis.client import Pipeline

    with mock.patch.object(
        Pipeline, "execute", autospec=True, side_effect=Pipeline.execute
    ) as execute:
        allowed = [_worker(clock).allow_request(request, None) for _ in range(4)]
    assert allowed == [True, True, True, False]
    assert execute.call_count == 4  # one MULTI/EXEC per request
    throttle = _worker(clock)
    throttle.allow_request(request, None)
    assert backend.get(f"{throttle.key}:100") == 3  # Django's own API reads the count
    client = backend._cache.get_client("x", write=True)
    assert 0 < client.ttl(backend.make_and_validate_key(f"{throttle.key}:100")) <= 120
