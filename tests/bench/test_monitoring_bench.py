"""bench/monitoring.py keeps working: a small population seeded into PostgreSQL,
every page timed cold, warm and after a write, the report rendered."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith("postgres"),
    reason="needs PostgreSQL (DATABASE_URL=postgres://...)",
)
def test_the_monitoring_bench_runs_and_reports_its_figures() -> None:
    base = os.environ["DATABASE_URL"].rpartition("/")[0]
    env = {**os.environ, "DATABASE_URL": f"{base}/bench_monitoring_smoke"}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    result = subprocess.run(  # noqa: S603 (our interpreter, our bench)
        [sys.executable, "-m", "bench.monitoring", "--decisions", "3000"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    out = result.stdout
    assert "Seeded 3,000 decisions" in out, out[-2000:] + result.stderr[-3000:]
    assert "/monitoring/fairness/" in out and "Oversight report:" in out
    assert "target under 1 s met" in out
