"""The explanation pipeline through a real broker and one real worker process.

    REDIS_URL=redis://127.0.0.1:6379/0 .venv/bin/python -m bench.pipeline [--n 500]

One run, on the demo credit model (IG, quality figures and counterfactuals off so the
messaging and storage costs show):
  * pipeline: N decisions, one explanation job each (one message each), one worker
    batching across jobs: explanations stored per second, p50/p95 request-to-result;
  * (a) the engine alone on the same N rows;
  * (b) N no-op Celery tasks sent one by one through the same broker and worker;
  * (c) the same pipeline with one job per batch (EXPLANATION_BATCH_SIZE=1).
Uses a throwaway SQLite database unless DATABASE_URL is set; the broker is REDIS_URL
(the filesystem transport when unset).
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
LOG = Path(tempfile.gettempdir()) / "inspectoscope-bench-worker.log"
PARAMETERS = {
    "quality": {"infidelity": False, "sensitivity": False},
    "counterfactual": False,
}


def _environment() -> dict[str, str]:
    scratch = Path(tempfile.mkdtemp(prefix="inspectoscope-bench-"))
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{scratch / 'bench.sqlite3'}")
    os.environ.setdefault("MEDIA_ROOT", str(scratch / "media"))
    os.environ.setdefault("INSPECTOSCOPE_BROKER_DIR", str(scratch / "broker"))
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.test"
    # a result backend only so that (b) can tell when the no-op tasks have run
    os.environ.setdefault(
        "CELERY_RESULT_BACKEND",
        os.environ["REDIS_URL"].rsplit("/", 1)[0] + "/14"
        if os.environ.get("REDIS_URL")
        else f"file://{scratch / 'results'}",
    )
    return dict(os.environ)


def _setup(n: int) -> tuple[Any, list[Any]]:
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    from django.utils import timezone

    from compliance import decisions as intake
    from compliance.principals import CLIENT, Principal
    from compliance.registry import services as registry
    from demo import credit, training
    from tests import factories

    rows, labels = credit.load_credit_rows()
    trained = training.train_demo_model(
        rows, labels, credit.build_credit_schema, credit.TRAINING
    )
    org = factories.make_org()
    client, _ = factories.make_client(org)
    admin = Principal(organization=org, role="admin")
    ai = registry.ai_system_register(
        principal=admin,
        name="Bench credit",
        provider="Bench",
        intended_purpose="Benchmark",
    )
    mv = registry.model_version_register(
        principal=admin,
        ai_system=ai,
        version="1",
        architecture="mlp",
        hyperparameters={"hidden": [32, 16]},
        feature_schema=trained.schema_data,
        class_labels=["good", "bad"],
        favourable_class="good",
        decision_threshold=0.5,
        weights=trained.weights,
    )
    scores = training.predict_scores(trained.model, trained.schema, rows[:n])
    principal = Principal(organization=org, role=CLIENT, client_system=client)
    decisions = []
    for i in range(n):
        data = {
            "model_version": mv.pk,
            "external_id": f"bench-{i}",
            "subject_ref": f"s-{i}",
            "features": rows[i % len(rows)],
            "score": scores[i % len(scores)],
            "outcome": "bad" if scores[i % len(scores)] >= 0.5 else "good",
            "decided_at": timezone.now(),
        }
        decisions.append(
            intake.decision_submit(
                principal=principal, submission=intake.Submission.from_validated(data)
            )[0]
        )
    return mv, decisions


class Worker:
    def __init__(self, env: dict[str, str], **extra: str):
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "workers",
                "worker",
                "-Q",
                "attributions",
                "--pool",
                "solo",
                "--loglevel",
                "INFO",
            ],
            cwd=ROOT,
            env={**env, **extra},
            stdout=open(LOG, "a"),  # noqa: SIM115 (closed with the process)
            stderr=subprocess.STDOUT,
        )

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=30)


def _wait_ready() -> None:
    from workers.celery import app

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if app.control.ping(timeout=0.5) if os.environ.get("REDIS_URL") else True:
            return
    raise SystemExit("the worker did not come up")


def _run_jobs(decisions: list[Any]) -> tuple[float, float]:
    """One job per decision, one wake-up message per job, sent one by one as the API does
    on commit; timed from the first message to the last stored result.

    The jobs are created first (their creation rate is reported separately), so the
    figure is the messaging + claiming + explaining + storing pipeline.
    """
    from unittest import mock

    from compliance import explanations
    from compliance.models import Job

    start = time.monotonic()
    with mock.patch.object(explanations, "explanation_wake"):
        jobs = [
            explanations.explanation_request(
                actor="bench",
                decision=d,
                methods=["integrated_gradients"],
                parameters=PARAMETERS,
            )[0]
            for d in decisions
        ]
    request_rate = len(jobs) / (time.monotonic() - start)
    pks = [j.pk for j in jobs]
    start = time.monotonic()
    for job in jobs:
        explanations.explanation_wake(job.model_version_id)
    while Job.objects.filter(pk__in=pks, status__in=["done", "failed"]).count() < len(
        pks
    ):
        time.sleep(0.02)
    elapsed = time.monotonic() - start
    finished = Job.objects.filter(pk__in=pks)
    failed = finished.filter(status="failed").count()
    if failed:
        error = finished.filter(status="failed").first().error
        raise SystemExit(f"{failed} jobs failed: {error}")
    return elapsed, request_rate


def _latencies(decisions: list[Any]) -> list[float]:
    """Jobs requested live (wake-up on commit, as the API does): request-to-result times."""
    from compliance.explanations import explanation_request
    from compliance.models import Job

    pks = []
    for d in decisions:
        pks.append(
            explanation_request(
                actor="bench",
                decision=d,
                methods=["integrated_gradients"],
                parameters=PARAMETERS,
            )[0].pk
        )
    while Job.objects.filter(pk__in=pks, status="done").count() < len(pks):
        time.sleep(0.02)
    return [
        (j.finished_at - j.created_at).total_seconds()
        for j in Job.objects.filter(pk__in=pks)
    ]


def _noop_rate(n: int) -> float:
    """N no-op tasks sent one by one; timed until the worker has run the last one."""
    from workers.celery import app

    start = time.monotonic()
    results = [
        app.send_task("workers.tasks.ping", queue="attributions") for _ in range(n)
    ]
    for result in results:
        result.get(timeout=120)
    return n / (time.monotonic() - start)


def main() -> None:
    # a SIGTERM (timeout, Ctrl-C in a wrapper) still runs the finally blocks that stop
    # the worker subprocesses, so no stray worker keeps consuming the queue
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=500)
    args = parser.parse_args()
    env = _environment()
    mv, decisions = _setup(3 * args.n)
    first, second, live = (decisions[i * args.n : (i + 1) * args.n] for i in range(3))
    from django.conf import settings

    import explain
    from compliance.registry.loading import model_version_load

    broker = "Redis" if settings.REDIS_URL else "filesystem transport"
    print(
        f"{args.n} decisions, demo credit MLP, IG only, broker: {broker}, "
        f"database: {settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}\n"
    )

    worker = Worker(env)
    try:
        _wait_ready()
        _run_jobs(decisions[:5])  # warm-up: model load, connections
        batched_s, request_rate = _run_jobs(first[5:])
        latencies = _latencies(live)
        n_batched = len(first) - 5
        noop = _noop_rate(args.n)
    finally:
        worker.stop()
    model, schema = model_version_load(mv)
    rows = [d.features for d in first]
    start = time.monotonic()
    explain.explain_batch(
        model,
        rows,
        schema=schema,
        class_labels=mv.class_labels,
        favourable_class=mv.favourable_class,
        threshold=0.5,
        parameters=PARAMETERS,
    )
    engine_rate = len(rows) / (time.monotonic() - start)

    single = Worker(env, EXPLANATION_BATCH_SIZE="1")
    try:
        _wait_ready()
        single_s, _ = _run_jobs(second)
    finally:
        single.stop()

    rate = n_batched / batched_s
    single_rate = len(second) / single_s
    q = statistics.quantiles(latencies, n=20)
    print(f"pipeline (cross-job batches): {rate:8.0f} explanations stored/s")
    print(
        f"    live requests, request-to-stored-result: "
        f"p50 {statistics.median(latencies) * 1000:.0f} ms, p95 {q[18] * 1000:.0f} ms"
    )
    print(f"    job requests (service call, audit event, commit): {request_rate:.0f}/s")
    print(f"(a) engine alone, same rows:  {engine_rate:8.0f} explanations/s")
    print(f"(b) no-op tasks one by one:   {noop:8.0f} tasks/s")
    print(f"(c) one job per batch:        {single_rate:8.0f} explanations stored/s")
    print(f"\npipeline / no-op task rate:   {rate / noop:6.2f}x (target >= 1)")
    print(f"pipeline / one job per batch: {rate / single_rate:6.2f}x (target >= 10)")


if __name__ == "__main__":
    main()
