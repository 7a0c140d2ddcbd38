"""The compose stack authenticates every connection and restarts what falls over;
database and Redis passwords come from secret files, never from URLs in the file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from config.settings.env import url_with_password

ROOT = Path(__file__).resolve().parents[2]
LONG_RUNNING = (
    "postgres",
    "redis",
    "web",
    "worker-attributions",
    "worker-dossiers",
    "beat",
)


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_long_running_services_restart_and_migrate_runs_once(compose):
    services = compose["services"]
    for name in LONG_RUNNING:
        assert services[name].get("restart") in {"unless-stopped", "always"}, name
    assert services["migrate"]["restart"] == "no"


def test_postgres_asks_every_client_for_a_password(compose):
    postgres = compose["services"]["postgres"]
    env = postgres["environment"]
    assert env["POSTGRES_HOST_AUTH_METHOD"] == "scram-sha-256"
    assert "trust" not in str(postgres)
    assert "--auth-local=scram-sha-256" in env["POSTGRES_INITDB_ARGS"]
    assert env["POSTGRES_PASSWORD_FILE"].startswith("/run/secrets/")


def test_redis_requires_a_password_read_from_a_secret(compose):
    redis = compose["services"]["redis"]
    command = " ".join(redis["command"])
    assert "--requirepass" in command and "/run/secrets/redis_password" in command
    assert "redis_password" in redis["secrets"]
    assert "REDISCLI_AUTH" in " ".join(redis["healthcheck"]["test"])


def test_app_services_read_passwords_from_secrets_not_urls(compose):
    services = compose["services"]
    for name in ("web", "worker-attributions", "worker-dossiers", "beat", "migrate"):
        env = services[name]["environment"]
        assert (
            "@" in env["DATABASE_URL"]
            and ":" not in env["DATABASE_URL"].split("//")[1].split("@")[0]
        ), f"{name}: a password in DATABASE_URL"
        assert env["DATABASE_PASSWORD_FILE"].startswith("/run/secrets/"), name
        assert env["REDIS_PASSWORD_FILE"] == "/run/secrets/redis_password", name
    # the app role cannot sign in with the owner's password and vice versa
    assert (
        services["web"]["environment"]["DATABASE_PASSWORD_FILE"]
        != services["migrate"]["environment"]["DATABASE_PASSWORD_FILE"]
    )
    assert "--password-file /run/secrets/postgres_app_password" in " ".join(
        services["migrate"]["command"]
    )
    for secret in (
        "postgres_owner_password",
        "postgres_app_password",
        "redis_password",
    ):
        assert secret in compose["secrets"]


@pytest.mark.parametrize(
    ("url", "password", "expected"),
    [
        (
            "postgres://app@db:5432/x",
            "s3cr:t/@",
            "postgres://app:s3cr%3At%2F%40@db:5432/x",
        ),
        ("redis://redis:6379/0", "pw", "redis://:pw@redis:6379/0"),
        ("postgres://app:given@db/x", "other", "postgres://app:given@db/x"),
        ("postgres://app@db/x", None, "postgres://app@db/x"),
        (None, "pw", None),
    ],
)
def test_url_with_password(url, password, expected):
    assert url_with_password(url, password) == expected


def test_settings_put_the_secret_files_passwords_into_the_urls(tmp_path):
    (tmp_path / "db").write_text("db-pass\n")
    (tmp_path / "redis").write_text("redis-pass\n")
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.base",
        "DATABASE_URL": "postgres://app@127.0.0.1:5432/x",
        "DATABASE_PASSWORD_FILE": str(tmp_path / "db"),
        "REDIS_URL": "redis://127.0.0.1:6379/0",
        "REDIS_PASSWORD_FILE": str(tmp_path / "redis"),
    }
    script = (
        "from django.conf import settings as s;"
        "print(s.DATABASES['default']['PASSWORD']);"
        "print(s.CACHES['default']['LOCATION']);"
        "print(s.CELERY_BROKER_URL)"
    )
    result = subprocess.run(
        [sys.executable, "-c", f"import django;django.setup();{script}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.split() == [
        "db-pass",
        "redis://:redis-pass@127.0.0.1:6379/0",
        "redis://:redis-pass@127.0.0.1:6379/0",
    ]
