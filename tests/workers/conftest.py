"""Real worker subprocesses over a real broker (Redis when REDIS_URL is set, else the
filesystem transport), sharing the test database and media folder through the
environment."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from compliance.models import Job
from compliance.principals import Principal
from compliance.registry import services as registry
from tests import factories

ROOT = Path(__file__).resolve().parents[2]
BASELINE = {"income": 3000.0, "age": 40, "purpose": "other", "has_guarantor": False}


def redis_reachable(url: str) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


def database_url() -> str:
    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{s['NAME']}"
    user = s.get("USER") or "postgres"
    password = f":{s['PASSWORD']}" if s.get("PASSWORD") else ""
    return f"postgres://{user}{password}@{s.get('HOST') or '127.0.0.1'}:{s.get('PORT') or 5432}/{s['NAME']}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Workers:
    """Starts and stops worker subprocesses; kills them all at the end of the test."""

    def __init__(self, tmp_path: Path, broker_url: str | None):
        self.tmp_path = tmp_path
        self.broker_url = broker_url
        self.processes: list[subprocess.Popen] = []

    def env(self, **extra: str) -> dict[str, str]:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "DATABASE_URL": database_url(),
            "MEDIA_ROOT": str(settings.MEDIA_ROOT),
            "INSPECTOSCOPE_BROKER_DIR": str(settings.BROKER_DIR),
            "PYTHONPATH": str(ROOT),
            "OMP_NUM_THREADS": "1",
        }
        env.pop("REDIS_URL", None)
        if self.broker_url:
            env["REDIS_URL"] = self.broker_url
        env.update(extra)
        return env

    def start(self, queues: str = "attributions", **extra: str) -> subprocess.Popen:
        index = len(self.processes)
        log = open(self.tmp_path / f"worker-{index}.log", "w")  # noqa: SIM115
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "workers",
                "worker",
                "-Q",
                queues,
                "--pool",
                "solo",
                "--loglevel",
                "INFO",
                "-n",
                f"test{index}-{os.getpid()}@%h",
            ],
            cwd=ROOT,
            env=self.env(**extra),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.processes.append(process)
        return process

    def log(self, index: int) -> str:
        return (self.tmp_path / f"worker-{index}.log").read_text()

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


@pytest.fixture
def broker_url() -> str | None:
    """The broker the test process publishes to (settings), checked reachable."""
    url = settings.REDIS_URL
    if url and not redis_reachable(url):
        pytest.skip(f"Redis at {url} is unreachable; these tests need a real broker")
    return url


@pytest.fixture
def workers(tmp_path: Path, broker_url: str | None) -> Iterator[Workers]:
    pool = Workers(tmp_path, broker_url)
    yield pool
    pool.stop_all()


@pytest.fixture
def pipeline_world(transactional_db: Any) -> dict[str, Any]:
    org = factories.make_org("pipeline-bank")
    client, key = factories.make_client(org, "pipeline-engine")
    admin = Principal(organization=org, role="admin")
    ai = registry.ai_system_register(
        principal=admin,
        name="Pipeline scoring",
        provider="Acme",
        intended_purpose="Credit",
        explain_on_receipt=True,
        default_explanation_methods=["integrated_gradients", "deeplift"],
    )
    mv = registry.model_version_register(
        principal=admin,
        ai_system=ai,
        version="1.0",
        architecture="logistic_regression",
        hyperparameters={},
        feature_schema={**factories.TINY_SCHEMA, "baseline": BASELINE},
        class_labels=["good", "bad"],
        favourable_class="good",
        decision_threshold=0.5,
        weights=factories.tiny_weights(),
    )
    return {"org": org, "client": client, "key": key, "mv": mv}


def submit_payload(mv: Any, i: int) -> dict[str, Any]:
    payload = factories.decision_payload(
        mv, features=dict(factories.VALID_FEATURES, income=200.0 + 37.0 * i)
    )
    payload["external_id"] = f"pipe-{i:05d}"
    payload["decided_at"] = timezone.now().isoformat()
    return payload


def wait_for(
    predicate: Callable[[], bool],
    timeout: float,
    every: float = 0.2,
    on_tick: Callable[[], None] | None = None,
) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        if on_tick is not None:
            on_tick()
        time.sleep(every)
    return predicate()


def jobs_by_status() -> dict[str, int]:
    counts: dict[str, int] = {}
    for status in Job.objects.values_list("status", flat=True):
        counts[status] = counts.get(status, 0) + 1
    return counts
