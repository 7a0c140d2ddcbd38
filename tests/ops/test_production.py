"""Deployment checks: production settings, health endpoints, the compose file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from django.test import Client

ROOT = Path(__file__).resolve().parents[2]


def test_production_settings_pass_check_deploy_without_warnings():
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "SECRET_KEY": "x" * 10
        + "production-grade-secret-key-of-enough-length-and-variety-1234",
        "ALLOWED_HOSTS": "inspectoscope.example",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_production_settings_refuse_to_start_without_a_secret_key():
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("SECRET_KEY", "SECRET_KEY_FILE")
    }
    env["DJANGO_SETTINGS_MODULE"] = "config.settings.production"
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0 and "SECRET_KEY" in result.stderr


def test_secrets_can_come_from_files(tmp_path, monkeypatch):
    from config.settings.env import env_str

    secret = tmp_path / "secret"
    secret.write_text("from-a-file\n")
    monkeypatch.setenv("SOME_SECRET_FILE", str(secret))
    assert env_str("SOME_SECRET") == "from-a-file"


def test_healthz_and_readyz(db):
    assert Client().get("/healthz").json() == {"status": "ok"}
    ready = Client().get("/readyz")
    assert ready.status_code == 200 and ready.json()["database"] == "ok"


def test_readyz_names_an_unreachable_broker_and_stays_ready(db, settings):
    # the API answers without the broker, so it must not take replicas out of service
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    response = Client().get("/readyz")
    assert response.status_code == 200 and response.json()["broker"].startswith("error")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_the_compose_stack_has_every_service_with_health_checks(compose):
    services = compose["services"]
    assert set(services) >= {
        "postgres",
        "redis",
        "web",
        "worker-attributions",
        "worker-dossiers",
        "beat",
    }
    for name in ("postgres", "redis", "web"):
        assert "healthcheck" in services[name], name
    redis_command = " ".join(services["redis"]["command"])
    assert "--appendonly yes" in redis_command and "noeviction" in redis_command
    assert "-Q attributions" in " ".join(services["worker-attributions"]["command"])
    assert "-Q dossiers" in " ".join(services["worker-dossiers"]["command"])
    assert "sweeper" in " ".join(services["worker-dossiers"]["command"])
    assert services["beat"]["command"][:3] == ["celery", "-A", "workers"]
    assert "gpu" in str(services["worker-attributions"]["deploy"])
    for name in ("web", "worker-attributions", "worker-dossiers", "beat"):
        env = services[name]["environment"]
        assert env["DJANGO_SETTINGS_MODULE"] == "config.settings.production"
        assert env["DATABASE_URL"].startswith("postgres://")
        assert env["REDIS_URL"].startswith("redis://")
        assert "SECRET_KEY_FILE" in env
        assert services[name]["image"] == services["web"]["image"]


def test_an_api_key_over_its_rate_gets_429_with_retry_after(world, settings):
    from django.core.cache import cache
    from rest_framework.test import APIClient

    cache.clear()
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            "api_key": "3/min",
            "person": "3/min",
            "anonymous": "3/min",
        },
    }
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {world.client_key}")
    statuses = [api.get("/api/v1/decisions/").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    response = api.get("/api/v1/decisions/")
    assert response.json()["code"] == "throttled" and int(response["Retry-After"]) > 0
    cache.clear()


def test_sign_in_attempts_are_limited(world, settings):
    from django.core.cache import cache

    cache.clear()
    settings.LOGIN_ATTEMPTS_PER_MINUTE = 3
    browser = Client()
    codes = [
        browser.post(
            "/accounts/login/", {"username": "acme-officer", "password": "no"}
        ).status_code
        for _ in range(4)
    ]
    assert codes == [200, 200, 200, 429]
    assert (
        browser.post(
            "/accounts/login/", {"username": "acme-officer", "password": "pw-123456789"}
        )["Retry-After"]
        == "60"
    )
    cache.clear()


def test_metrics_need_the_token_and_report_requests_and_jobs(world_with_job, settings):
    settings.METRICS_TOKEN = "scrape-token-123"
    assert Client().get("/metrics").status_code == 404
    assert (
        Client().get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 404
    )
    Client().get("/healthz")
    body = (
        Client()
        .get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-token-123")
        .content.decode()
    )
    assert (
        'inspectoscope_http_requests_total{method="GET",route="healthz",status="200"}'
        in body
    )
    assert 'inspectoscope_jobs{kind="explanation",status="queued"} 1.0' in body
    assert 'inspectoscope_queue_depth{kind="explanation"} 1.0' in body
    assert "inspectoscope_http_request_duration_seconds_bucket" in body


def test_requests_get_an_id_and_a_json_log_line_without_feature_values(world, caplog):
    import json as jsonlib
    import logging

    from compliance.platform.observability import JsonFormatter

    api = Client()
    with caplog.at_level(logging.INFO, logger="inspectoscope.requests"):
        response = api.get("/api/v1/decisions/", HTTP_X_REQUEST_ID="req-12345678")
    assert response["X-Request-ID"] == "req-12345678"
    record = next(r for r in caplog.records if r.name == "inspectoscope.requests")
    line = jsonlib.loads(JsonFormatter().format(record))
    assert line["request_id"] == "req-12345678" and line["status"] == 401
    assert line["route"] == "api/v1/decisions/" and "features" not in jsonlib.dumps(
        line
    )
