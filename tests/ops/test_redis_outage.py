"""A Redis outage with the throttles on: the limits fail open (metered), sign-in works,
readiness holds, and nothing answers 500 (issue item 9)."""

from __future__ import annotations

import shutil
import subprocess
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kombu.exceptions
import pytest
import redis
from django.test import Client
from prometheus_client import REGISTRY
from rest_framework.test import APIClient

from compliance.api.errors import api_exception_handler
from compliance.jobs import publish
from compliance.platform import throttles
from compliance.principals import Principal
from compliance.registry import services as registry
from tests import factories
from tests.workers.conftest import free_port, redis_reachable, wait_for

RATES = {
    "api_key": "20/min",
    "person": "600/min",
    "anonymous": "60/min",
    "public_verify": "20/min",
}
DURING_OUTAGE = (
    30  # more than the key's 20/min: only a limit that fails open lets all in
)


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[dict[str, Any]]:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed; the outage test starts its own")
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"

    def start() -> subprocess.Popen:
        process = subprocess.Popen(
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1"]
            + ["--save", "", "--appendonly", "no", "--dir", str(tmp_path)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        assert wait_for(lambda: redis_reachable(url), timeout=10, every=0.05)
        return process

    state = {"process": start()}

    def stop() -> None:
        state["process"].terminate()
        state["process"].wait(timeout=10)

    def restart() -> None:
        state["process"] = start()

    yield {"url": url, "stop": stop, "restart": restart}
    if state["process"].poll() is None:
        state["process"].kill()
        state["process"].wait(timeout=10)


@pytest.fixture
def on_private_redis(
    settings: Any, private_redis: dict, tmp_path: Path
) -> Iterator[str]:
    """Cache, throttle counters and broker on the private Redis, throttles on."""
    from config.settings.base import celery_broker
    from workers.celery import app

    url = private_redis["url"]
    settings.REDIS_URL = url
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": url,
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": RATES,
    }
    settings.LOGIN_ATTEMPTS_PER_MINUTE = 5
    previous = (app.conf.broker_url, app.conf.broker_transport_options)
    app.conf.broker_url, app.conf.broker_transport_options = celery_broker(
        url, tmp_path
    )
    app._after_fork()  # drop pooled connections to the previous broker
    throttles.store_backoff_reset()
    try:
        yield url
    finally:
        app.conf.broker_url, app.conf.broker_transport_options = previous
        app._after_fork()
        throttles.store_backoff_reset()
        publish.backoff_reset()


def _fail_open(scope: str) -> float:
    value = REGISTRY.get_sample_value(
        "inspectoscope_throttle_fail_open_total", {"scope": scope}
    )
    return value or 0.0


@pytest.mark.django_db(transaction=True)
def test_during_a_redis_outage_the_api_answers_and_limits_fail_open(
    on_private_redis, private_redis
):
    org = factories.make_org()
    _, key = factories.make_client(org)
    ai = registry.ai_system_register(
        principal=Principal(organization=org, role="admin"),
        name="Outage scoring",
        provider="Acme",
        intended_purpose="Credit",
        explain_on_receipt=True,  # each submission also publishes a wake-up
        default_explanation_methods=["saliency"],
    )
    mv = factories.make_model_version(ai)
    officer = factories.make_member(org, "officer")
    api = APIClient(raise_request_exception=False)
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")

    def submit() -> int:
        return api.post(
            "/api/v1/decisions/", factories.decision_payload(mv), format="json"
        ).status_code

    # Redis up: the key's limit is counted in Redis
    assert [submit() for _ in range(3)] == [201] * 3
    assert redis.Redis.from_url(on_private_redis).keys("*throttle_api_key_*")

    private_redis["stop"]()
    before = {scope: _fail_open(scope) for scope in throttles.SCOPES}
    statuses = Counter(submit() for _ in range(DURING_OUTAGE))
    non_2xx = sum(n for status, n in statuses.items() if not 200 <= status < 300)
    print(
        f"\nRedis outage: {DURING_OUTAGE} submissions, {non_2xx} non-2xx "
        f"{dict(statuses)}"
    )
    assert statuses == {201: DURING_OUTAGE}, statuses
    assert _fail_open("api_key") - before["api_key"] == DURING_OUTAGE

    # sign-in: a bad password is refused as usual, a good one signs in
    web = Client(raise_request_exception=False)
    bad = web.post(
        "/accounts/login/", {"username": officer.username, "password": "wrong"}
    )
    assert bad.status_code == 200  # the form again, with its error
    good = web.post(
        "/accounts/login/",
        {"username": officer.username, "password": "pw-123456789"},
    )
    assert good.status_code == 302, good.status_code
    assert _fail_open("login") - before["login"] == 2
    # the attempt limit still holds, in this process's memory
    attempts = [
        web.post(
            "/accounts/login/", {"username": "someone", "password": "x"}
        ).status_code
        for _ in range(6)
    ]
    assert attempts == [200] * 5 + [429]

    # the signed-in person's and the public verification's limits fail open too
    assert web.get("/api/v1/decisions/").status_code == 200
    assert _fail_open("person") - before["person"] == 1
    assert Client().post("/verify/", {"sha256": "0" * 64}).status_code == 200
    assert _fail_open("public_verify") - before["public_verify"] == 1

    # readiness does not depend on the broker; it reports it
    ready = Client().get("/readyz")
    assert ready.status_code == 200, ready.content
    body = ready.json()
    assert body["database"] == "ok" and body["broker"].startswith("error")
    assert Client().get("/healthz").status_code == 200

    # Redis back: the limit is enforced again (the restarted server starts empty)
    private_redis["restart"]()
    throttles.store_backoff_reset()
    after = [submit() for _ in range(25)]
    assert after[:19] == [201] * 19 and 429 in after, after


@pytest.mark.parametrize(
    "exc",
    [
        redis.ConnectionError("Connection refused"),
        redis.TimeoutError("Timeout reading from socket"),
        kombu.exceptions.OperationalError("broker away"),
    ],
)
def test_a_dependency_error_that_escapes_is_503_with_retry_after(exc):
    response = api_exception_handler(exc, {})
    assert response is not None and response.status_code == 503
    assert int(response["Retry-After"]) > 0
    assert response.data["code"] == "unavailable"
