"""PostgreSQL connections prepare repeated statements unless told not to (PgBouncer)."""

from __future__ import annotations

import pytest

from config.settings import base


def _config(monkeypatch, url: str, **env: str) -> dict:
    monkeypatch.setenv("DATABASE_URL", url)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return base._database_from_env()


def test_postgres_uses_server_side_binding_and_prepares_after_five_runs(monkeypatch):
    config = _config(monkeypatch, "postgres://u@db:5432/app")
    assert config["OPTIONS"] == {"server_side_binding": True, "prepare_threshold": 5}
    assert config["CONN_MAX_AGE"] == 60


def test_connection_options_from_the_url_are_kept(monkeypatch):
    config = _config(
        monkeypatch,
        "postgres://u@db:5432/app?sslmode=verify-full&sslrootcert=/run/ca.pem",
    )
    assert config["OPTIONS"]["sslmode"] == "verify-full"
    assert config["OPTIONS"]["sslrootcert"] == "/run/ca.pem"
    assert config["OPTIONS"]["server_side_binding"] is True


def test_prepared_statements_can_be_turned_off_for_transaction_pooling(monkeypatch):
    config = _config(
        monkeypatch, "postgres://u@db:5432/app", DB_PREPARED_STATEMENTS="false"
    )
    assert "server_side_binding" not in config.get("OPTIONS", {})


def test_sqlite_keeps_immediate_transactions(monkeypatch, tmp_path):
    config = _config(monkeypatch, f"sqlite:///{tmp_path / 'x.sqlite3'}")
    assert config["OPTIONS"] == {"transaction_mode": "IMMEDIATE", "timeout": 30}


@pytest.mark.postgres
def test_the_live_connection_prepares_statements(db):
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("needs DATABASE_URL=postgres://...")
    connection.ensure_connection()
    assert connection.connection.prepare_threshold == 5
    with connection.cursor() as cursor:
        for _ in range(6):
            cursor.execute("SELECT %s::int + 1", [41])
        cursor.execute("SELECT count(*) FROM pg_prepared_statements")
        assert cursor.fetchone()[0] >= 1
