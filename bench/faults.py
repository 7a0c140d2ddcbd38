"""Fault figures: PostgreSQL cut away from real workers mid-processing, then restored.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench \\
        REDIS_URL=redis://127.0.0.1:6379/0 .venv/bin/python -m bench.faults [--runs 3]

Runs the database outage fault test (tests/workers/test_database_outage.py: two real
Celery workers, attributions and dossiers, reach PostgreSQL through a TCP proxy that is
cut for 6 s while they hold explanation and dossier leases, with an audit chain check
queued) and prints, per run, what it measured: the jobs leased at the cut, the transient
errors the workers retried, how long after the database's return the broken leases were
given back (they were held until they ran out, 120 s) and every job was done, and that
none was lost or run twice. The test asserts the bounds; this prints the numbers.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEST = "tests/workers/test_database_outage.py"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        print("DATABASE_URL=postgres://... is needed (the outage cuts PostgreSQL)")
        return 2
    status = 0
    for run in range(1, args.runs + 1):
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-s",
                "-p",
                "no:cacheprovider",
                TEST,
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        figures = [line for line in result.stdout.splitlines() if "DB outage:" in line]
        outcome = "passed" if result.returncode == 0 else "FAILED"
        print(f"run {run} ({outcome}): " + (figures[0] if figures else "no figures"))
        if result.returncode != 0:
            status = 1
            print(result.stdout[-3000:])
    return status


if __name__ == "__main__":
    sys.exit(main())
