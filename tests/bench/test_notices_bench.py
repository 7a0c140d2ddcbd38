"""bench/notices.py keeps working: two notices through the API and a real worker."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(
    not os.environ.get("REDIS_URL"), reason="needs Redis (REDIS_URL=redis://...)"
)
def test_the_notice_bench_runs_and_reports_its_figures() -> None:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}  # its own
    env.pop("DJANGO_SETTINGS_MODULE", None)
    result = subprocess.run(  # noqa: S603 (our interpreter, our bench)
        [sys.executable, "-m", "bench.notices", "--n", "2", "--split", "1"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    out = result.stdout
    assert "2 notices (en/de alternating) issued through the API" in out, (
        out[-2000:] + result.stderr[-3000:]
    )
    assert "POST -> issued: p50" in out and "PDF render:" in out
