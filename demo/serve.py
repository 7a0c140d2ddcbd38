"""`make demo`'s last step: start the server, submit the sample decisions through the
REST API with the demo client systems' keys, print the logins, keep serving."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / ".data"
HOST, PORT = "127.0.0.1", 8000
BASE = f"http://{HOST}:{PORT}"
TSA_PORT = int(os.environ.get("DEMO_TSA_PORT", "8001"))
WEBHOOK_PORT = int(os.environ.get("DEMO_WEBHOOK_PORT", "8787"))
WEBHOOK_URL = f"http://{HOST}:{WEBHOOK_PORT}/inspectoscope"
DEMO_METHODS = ["integrated_gradients", "deeplift", "kernel_shap"]


POPULATION_CHUNK = 200


def _port_free(port: int = PORT) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex((HOST, port)) != 0


def _demo_tsa_answers() -> bool:
    """Whether this demo's TSA (the certificate under .data/pki) already serves on its
    port, e.g. left by an earlier run."""
    from demo.pki import DemoPki
    from demo.tsa import tsa_certificate_sha256

    pki = DemoPki(DATA / "pki")
    if not pki.tsa_cert_pem_path.exists():
        return False
    try:
        with urllib.request.urlopen(  # noqa: S310 (loopback)
            f"http://{HOST}:{TSA_PORT}/tsa", timeout=2
        ) as response:
            return tsa_certificate_sha256(pki) in response.read().decode()
    except OSError:
        return False


def _wait_until_up(server: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(
                f"The server exited with status {server.returncode}; see its output above."
            )
        try:
            with urllib.request.urlopen(f"{BASE}/healthz", timeout=2) as response:  # noqa: S310
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"The server did not answer on {BASE} within {timeout:.0f} s.")


def _request(
    method: str,
    path: str,
    key: str,
    body: dict[str, Any] | None = None,
    timeout: float = 30,
) -> tuple[int, Any]:
    request = urllib.request.Request(  # noqa: S310 (loopback, fixed scheme)
        f"{BASE}{path}",
        data=None if body is None else json.dumps(body).encode(),
        method=method,
        headers={"Authorization": f"Api-Key {key}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def submit_samples(summary: dict[str, Any], models_dir: Path) -> list[tuple[str, int]]:
    """Submit each demo model's sample decisions; returns (org, decision id) pairs."""
    submitted: list[tuple[str, int]] = []
    for manifest_path in sorted(models_dir.glob("*.json")):
        manifest = json.loads(manifest_path.read_text())
        org = manifest["organization"]
        submitted += submit_decisions(
            org,
            summary["keys"][org],
            summary["model_versions"][org],
            manifest["sample_decisions"],
        )
    return submitted


def submit_decisions(
    org: str, key: str, mv_id: int, samples: list[dict[str, Any]], what: str = ""
) -> list[tuple[str, int]]:
    """Submit decisions of one model version with the client's key; (org, id) pairs."""
    submitted: list[tuple[str, int]] = []
    counts: dict[int, int] = {}
    for sample in samples:
        status, body = _request(
            "POST", "/api/v1/decisions/", key, {"model_version": mv_id, **sample}
        )
        counts[status] = counts.get(status, 0) + 1
        if status in (200, 201):
            submitted.append((org, body["id"]))
        else:
            print(f"  ! {sample['external_id']}: {status} {body}", file=sys.stderr)
    described = ", ".join(
        f"{n} {'new' if s == 201 else 'already present' if s == 200 else f'failed ({s})'}"
        for s, n in sorted(counts.items())
    )
    print(f"Submitted {org}'s {what}sample decisions through the API: {described}")
    return submitted


def onnx_demo(summary: dict[str, Any], models_dir: Path) -> None:
    """The bring-your-own-model demo: demo-bank's admin registers its ONNX tree
    model through the API; its sample decisions are submitted, explained with
    tree_shap and Kernel SHAP, and given a dossier and notices like the others."""
    from demo.onnx_client import register_onnx_models

    for manifest in register_onnx_models(BASE, summary, models_dir):
        org = manifest["organization"]
        submitted = submit_decisions(
            org,
            summary["keys"][org],
            manifest["model_version_id"],
            manifest["sample_decisions"],
            what=f"{manifest['ai_system']['name']} ",
        )
        explain_samples(summary, submitted, manifest["methods"])
        issue_dossiers(summary, submitted)
        issue_notices(summary, submitted)


def submit_population(summary: dict[str, Any], models_dir: Path) -> None:
    """Submit every other applicant of the data set through the bulk API (200 a
    request), dated over the last six months (the monitoring demo)."""
    from datetime import UTC, datetime, timedelta

    now = datetime.now(UTC)
    for manifest_path in sorted(models_dir.glob("*.json")):
        manifest = json.loads(manifest_path.read_text())
        population = manifest.get("population_decisions")
        if not population:
            continue
        org = manifest["organization"]
        key, mv_id = summary["keys"][org], summary["model_versions"][org]
        counts = {"stored": 0, "replayed": 0, "failed": 0}
        for start in range(0, len(population), POPULATION_CHUNK):
            chunk = []
            for entry in population[start : start + POPULATION_CHUNK]:
                body = {
                    k: v for k, v in entry.items() if k not in ("days_before", "actual")
                }
                decided = now - timedelta(days=entry["days_before"])
                body["decided_at"] = decided.strftime("%Y-%m-%dT%H:%M:%SZ")
                chunk.append({"model_version": mv_id, **body})
            status, answer = _request(
                "POST", "/api/v1/decisions/bulk/", key, {"decisions": chunk}, 300
            )
            if status != 200:
                print(f"\n  ! bulk submission: {status} {answer}", file=sys.stderr)
                continue
            for name in counts:
                counts[name] += answer[name]
            for result in answer["results"]:
                if result["error"] is not None:
                    print(f"\n  ! item {start + result['index']}: {result['error']}")
            print(
                f"\r  population: {start + len(chunk)}/{len(population)} submitted",
                end="",
                flush=True,
            )
        print()
        print(
            f"Submitted {org}'s other {len(population)} applicants through the bulk "
            f"API, dated over the last six months: {counts['stored']} new, "
            f"{counts['replayed']} already present, {counts['failed']} failed"
        )


def explain_samples(
    summary: dict[str, Any],
    submitted: list[tuple[str, int]],
    methods: list[str] = DEMO_METHODS,
) -> None:
    """Ask for explanations over the API and follow the jobs until they finish."""
    jobs: dict[str, str] = {}  # job path -> org
    for org, decision_id in submitted:
        status, body = _request(
            "POST",
            f"/api/v1/decisions/{decision_id}/explanations/",
            summary["keys"][org],
            {"methods": methods},
        )
        if status != 202:
            print(
                f"  ! explanation request for decision {decision_id}: {status} {body}"
            )
            continue
        jobs[f"/api/v1/jobs/{body['id']}/"] = org
    deadline = time.monotonic() + 180
    states: dict[str, str] = {}
    while time.monotonic() < deadline:
        for path, org in jobs.items():
            if states.get(path) not in ("done", "failed"):
                states[path] = _request("GET", path, summary["keys"][org])[1]["status"]
        finished = sum(1 for s in states.values() if s in ("done", "failed"))
        print(
            f"\r  explanations: {finished}/{len(jobs)} jobs finished",
            end="",
            flush=True,
        )
        if finished == len(jobs):
            break
        time.sleep(0.5)
    print()
    failed = [p for p, s in states.items() if s == "failed"]
    pending = [p for p, s in states.items() if s not in ("done", "failed")]
    print(
        f"Explained {len(jobs) - len(failed) - len(pending)} decisions "
        f"({len(failed)} failed, {len(pending)} still pending) with {', '.join(methods)}."
    )
    if submitted:
        org, decision_id = submitted[0]
        _, explanations = _request(
            "GET",
            f"/api/v1/decisions/{decision_id}/explanations/",
            summary["keys"][org],
        )
        if explanations:
            first = explanations[0]
            reasons = "; ".join(r["text"] for r in first["reasons"])
            print(f"  decision {decision_id}: principal reasons: {reasons}")


def issue_dossiers(summary: dict[str, Any], submitted: list[tuple[str, int]]) -> None:
    """Issue a dossier for the first adverse decision of each organisation (through the
    API, rendered by the worker on the dossiers queue) and save the PDFs."""
    out = DATA / "dossiers"
    out.mkdir(parents=True, exist_ok=True)
    done_orgs: set[str] = set()
    for org, decision_id in submitted:
        key = summary["keys"][org]
        if org in done_orgs:
            continue
        decision = _request("GET", f"/api/v1/decisions/{decision_id}/", key)[1]
        if decision["outcome"] not in ("bad", "malignant"):
            continue
        # issuing is idempotent: unchanged content answers 200 with the version issued
        status, job = _request(
            "POST", f"/api/v1/decisions/{decision_id}/dossiers/", key
        )
        if status == 200:
            dossier = job
        else:
            if status != 202:
                print(f"  ! dossier for decision {decision_id}: {status} {job}")
                continue
            deadline = time.monotonic() + 60
            while (
                job["status"] not in ("done", "failed") and time.monotonic() < deadline
            ):
                time.sleep(0.3)
                job = _request("GET", f"/api/v1/jobs/{job['id']}/", key)[1]
            if job["status"] != "done":
                print(
                    f"  ! dossier job {job['id']}: {job['status']} {job.get('error', '')}"
                )
                continue
            dossier = _request("GET", f"/api/v1/dossiers/{job['dossier']}/", key)[1]
        request = urllib.request.Request(  # noqa: S310 (loopback)
            f"{BASE}/api/v1/dossiers/{dossier['id']}/pdf/",
            headers={"Authorization": f"Api-Key {key}"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            path = out / f"{dossier['public_id']}-v{dossier['version']}.pdf"
            path.write_bytes(response.read())
        print(
            f"Dossier for {org} decision {decision_id}: {path} ({dossier['pages']} pages, "
            f"sha256 {dossier['sha256'][:16]}...)"
        )
        verified = _request(
            "POST", "/api/v1/public/verify/", "", {"sha256": dossier["sha256"]}
        )[1]
        print(
            f"  signed (PAdES B-LT, timestamped by the demo TSA); public verification: "
            f"genuine={verified.get('genuine')}, issued by {verified.get('organization')}"
            f", superseded={verified.get('superseded')} ({BASE}/verify/)"
        )
        done_orgs.add(org)


NOTICE_LANGUAGES = ("en", "de")
ADVERSE_OUTCOMES = ("bad", "malignant")


def _download(path: str, key: str) -> bytes:
    request = urllib.request.Request(  # noqa: S310 (loopback)
        f"{BASE}{path}", headers={"Authorization": f"Api-Key {key}"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        return bytes(response.read())


def issue_notices(summary: dict[str, Any], submitted: list[tuple[str, int]]) -> None:
    """Issue a notice to the person for every demo refusal and diagnosis, in English
    and German (all requested at once, rendered by the worker), and save them. A
    notice that is not issued is printed with its reason."""
    out = DATA / "notices"
    out.mkdir(parents=True, exist_ok=True)
    pending: dict[str, tuple[str, int, str]] = {}  # job path -> (org, decision, lang)
    issued: list[tuple[str, int, str, dict[str, Any]]] = []
    refused = 0
    for org, decision_id in submitted:
        key = summary["keys"][org]
        decision = _request("GET", f"/api/v1/decisions/{decision_id}/", key)[1]
        if decision["outcome"] not in ADVERSE_OUTCOMES:
            continue
        for language in NOTICE_LANGUAGES:
            status, body = _request(
                "POST",
                f"/api/v1/decisions/{decision_id}/notices/",
                key,
                {"lang": language},
            )
            if status == 200:  # unchanged since it was issued: that notice
                issued.append((org, decision_id, language, body))
            elif status == 202:
                pending[f"/api/v1/jobs/{body['id']}/"] = (org, decision_id, language)
            else:
                refused += 1
                print(
                    f"  ! notice ({language}) for decision {decision_id}: {status} {body}"
                )
    deadline = time.monotonic() + 180
    while pending and time.monotonic() < deadline:
        for path, (org, decision_id, language) in list(pending.items()):
            key = summary["keys"][org]
            job = _request("GET", path, key)[1]
            if job["status"] == "done":
                notice = _request("GET", f"/api/v1/notices/{job['notice']}/", key)[1]
                issued.append((org, decision_id, language, notice))
                del pending[path]
            elif job["status"] == "failed":
                refused += 1
                print(
                    f"  ! notice ({language}) for decision {decision_id}: {job['error']}"
                )
                del pending[path]
        time.sleep(0.3)
    for org, decision_id, language, notice in sorted(issued, key=lambda n: n[:3]):
        key = summary["keys"][org]
        stem = out / f"{notice['public_id']}-v{notice['version']}-{language}"
        stem.with_suffix(".pdf").write_bytes(
            _download(f"/api/v1/notices/{notice['id']}/pdf/", key)
        )
        stem.with_suffix(".html").write_bytes(
            _download(f"/api/v1/notices/{notice['id']}/html/", key)
        )
        print(
            f"  notice {notice['public_id']} ({language}) for {org} decision "
            f"{decision_id}: {notice['pages']} page(s), sha256 {notice['sha256'][:12]}..., "
            f"{len(notice['warnings'])} untranslated text(s)"
        )
    by_language = {
        language: sum(1 for n in issued if n[2] == language)
        for language in NOTICE_LANGUAGES
    }
    print(
        f"Notices to the people decided about: {len(issued)} issued ("
        + ", ".join(f"{n} {language}" for language, n in by_language.items())
        + f"), {refused} refused, {len(pending)} still pending; saved under {out}"
    )


def _start(command: list[str]) -> subprocess.Popen:
    return subprocess.Popen(command, cwd=ROOT)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


def main() -> None:
    summary = json.loads((DATA / "demo_summary.json").read_text())
    # a stop (Ctrl-C or SIGTERM) stops the server, the worker and the TSA
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    reuse_tsa = _demo_tsa_answers()  # e.g. left by an earlier run
    for port in (PORT, WEBHOOK_PORT) if reuse_tsa else (PORT, TSA_PORT, WEBHOOK_PORT):
        if not _port_free(port):
            raise SystemExit(
                f"Port {port} on {HOST} is in use; stop whatever serves there and rerun."
            )
    # the local RFC 3161 TSA (demo PKI under .data/pki, made by `python -m demo.pki`);
    # the server and the worker inherit where it is and which root to trust
    os.environ.setdefault("TSA_URL", f"http://{HOST}:{TSA_PORT}/tsa")
    os.environ.setdefault("TSA_CA_CERT_FILE", str(DATA / "pki" / "root-ca.pem"))
    tsa = None
    if not reuse_tsa:
        tsa = _start(
            [
                sys.executable,
                "-m",
                "demo.tsa",
                "--pki",
                str(DATA / "pki"),
                "--port",
                str(TSA_PORT),
            ]
        )
    # the demo's webhook receiver: a loopback target, so the operator allows it
    os.environ.setdefault("WEBHOOK_ALLOWED_TARGETS", f"{HOST}:{WEBHOOK_PORT}")
    secret_file = DATA / "webhook-secret"
    subprocess.run(
        [
            sys.executable,
            "manage.py",
            "demo_webhook",
            "--url",
            WEBHOOK_URL,
            "--secret-file",
            str(secret_file),
        ],
        cwd=ROOT,
        check=True,
    )
    receiver = _start(
        [
            sys.executable,
            "-m",
            "demo.webhook_receiver",
            "--port",
            str(WEBHOOK_PORT),
            "--secret-file",
            str(secret_file),
        ]
    )
    server = _start(
        [sys.executable, "manage.py", "runserver", f"{HOST}:{PORT}", "--noreload"]
    )
    # one worker for all queues, with the sweeper's schedule (beat) embedded;
    # without REDIS_URL it talks over Kombu's filesystem transport under .data/broker
    worker = _start(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "workers",
            "worker",
            "--beat",
            "-Q",
            "attributions,dossiers,webhooks,sweeper",
            "--pool",
            "solo",
            "--loglevel",
            "WARNING",
        ]
    )
    try:
        _wait_until_up(server)
        submitted = submit_samples(summary, DATA / "demo_models")
        explain_samples(summary, submitted)
        issue_dossiers(summary, submitted)
        issue_notices(summary, submitted)
        onnx_demo(summary, DATA / "demo_models")
        # the monitoring demo: every applicant, six months of review by three
        # officers, drills, alerts and the last month's oversight report
        submit_population(summary, DATA / "demo_models")
        subprocess.run(
            [
                sys.executable,
                "manage.py",
                "demo_monitoring",
                "--models",
                str(DATA / "demo_models"),
            ],
            cwd=ROOT,
            check=False,
        )
        # anchor every audit chain's head now (timestamped by the local TSA); the
        # worker's beat anchors them again every AUDIT_ANCHOR_INTERVAL_SECONDS
        subprocess.run(
            [sys.executable, "manage.py", "audit_anchor"], cwd=ROOT, check=False
        )
        print("\nInspectoscope is running at", BASE)
        print("  API docs:", f"{BASE}/api/docs/", "  Django admin:", f"{BASE}/admin/")
        print(
            "  Monitoring (sign in as an officer, auditor or admin):",
            f"{BASE}/monitoring/",
        )
        print(
            "  Webhooks (demo-bank's admin or auditor):",
            f"{BASE}/webhooks/",
            f"  deliveries go to {WEBHOOK_URL} (its lines start [webhook receiver])",
        )
        print("\nLogins (user / password / role / organisation):")
        for username, password, role, org in summary["logins"]:
            print(f"  {username:22} {password:20} {role:34} {org}")
        two_factor = summary.get("two_factor", {})
        if two_factor:
            print("\nTwo-factor secrets (admins; `oathtool --totp -b <secret>`):")
            for username, uri in two_factor.items():
                print(f"  {username:22} {uri}")
        print("\nClient-system API keys:")
        for org, key in summary["keys"].items():
            print(f"  {org:12} {key}")
        first_key = next(iter(summary["keys"].values()))
        print(
            f'\nTry: curl -H "Authorization: Api-Key {first_key}" {BASE}/api/v1/decisions/'
        )
        print("Press Ctrl-C to stop.")
        while server.poll() is None and worker.poll() is None:
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        _stop(server)
        _stop(worker)
        _stop(receiver)
        if tsa is not None:
            _stop(tsa)


if __name__ == "__main__":
    main()
