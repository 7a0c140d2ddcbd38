"""Decision submission cost, in process (no HTTP): new submissions vs idempotent replays,
and the share of a submission spent re-running the model. Prints ratios from one run.

    .venv/bin/python -m bench.submit [--n 300]

Uses a throwaway SQLite file unless DATABASE_URL is set.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    if "DATABASE_URL" not in os.environ:
        db = Path(tempfile.mkdtemp(prefix="inspectoscope-bench-")) / "bench.sqlite3"
        os.environ["DATABASE_URL"] = f"sqlite:///{db}"
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=300)
    args = parser.parse_args()
    _setup()
    from rest_framework.test import APIClient

    from compliance.registry.loading import score_reproduce
    from tests import factories

    org = factories.make_org()
    _, key = factories.make_client(org)
    mv = factories.make_model_version(factories.make_ai_system(org))
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    payloads = [factories.decision_payload(mv) for _ in range(args.n)]

    def timed(statuses: set[int]) -> list[float]:
        out = []
        for payload in payloads:
            start = time.perf_counter()
            response = api.post("/api/v1/decisions/", payload, format="json")
            out.append(time.perf_counter() - start)
            if response.status_code not in statuses:
                raise SystemExit(
                    f"unexpected {response.status_code}: {response.content[:200]}"
                )
        return out

    new = timed({201})
    replay = timed({200})
    start = time.perf_counter()
    for payload in payloads:
        score_reproduce(mv, payload["features"])
    rerun = (time.perf_counter() - start) / args.n

    def per_s(samples: list[float]) -> float:
        return len(samples) / sum(samples)

    p50_new = statistics.median(new) * 1000
    print(f"database: {os.environ['DATABASE_URL'].split(':')[0]}, n={args.n}")
    print(f"new submissions:   {per_s(new):8.0f}/s  p50 {p50_new:.2f} ms")
    print(
        f"replays:           {per_s(replay):8.0f}/s  p50 {statistics.median(replay) * 1000:.2f} ms"
    )
    print(f"replay / new speed ratio: {per_s(replay) / per_s(new):.2f}")
    print(f"model re-run share of a new submission: {rerun / statistics.mean(new):.1%}")


if __name__ == "__main__":
    main()
