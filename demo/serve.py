"""`make demo`'s last step: start the server, submit the sample decisions through the
REST API with the demo client systems' keys, print the logins, keep serving."""

from __future__ import annotations

import json
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


def _port_free() -> bool:
    with socket.socket() as sock:
        return sock.connect_ex((HOST, PORT)) != 0


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


def _post(path: str, key: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(  # noqa: S310 (loopback, fixed scheme)
        f"{BASE}{path}",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Authorization": f"Api-Key {key}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def submit_samples(summary: dict[str, Any], models_dir: Path) -> None:
    for manifest_path in sorted(models_dir.glob("*.json")):
        manifest = json.loads(manifest_path.read_text())
        org = manifest["organization"]
        key, mv_id = summary["keys"][org], summary["model_versions"][org]
        counts: dict[int, int] = {}
        for sample in manifest["sample_decisions"]:
            status, body = _post(
                "/api/v1/decisions/", key, {"model_version": mv_id, **sample}
            )
            counts[status] = counts.get(status, 0) + 1
            if status not in (200, 201):
                print(f"  ! {sample['external_id']}: {status} {body}", file=sys.stderr)
        described = ", ".join(
            f"{n} {'new' if s == 201 else 'already present' if s == 200 else f'failed ({s})'}"
            for s, n in sorted(counts.items())
        )
        print(f"Submitted {org}'s sample decisions through the API: {described}")


def main() -> None:
    summary = json.loads((DATA / "demo_summary.json").read_text())
    if not _port_free():
        raise SystemExit(
            f"Port {PORT} on {HOST} is in use; stop whatever serves there and rerun."
        )
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", f"{HOST}:{PORT}", "--noreload"],
        cwd=ROOT,
    )
    try:
        _wait_until_up(server)
        submit_samples(summary, DATA / "demo_models")
        print("\nInspectoscope is running at", BASE)
        print("  API docs:", f"{BASE}/api/docs/", "  Django admin:", f"{BASE}/admin/")
        print("\nLogins (user / password / role / organisation):")
        for username, password, role, org in summary["logins"]:
            print(f"  {username:22} {password:20} {role:34} {org}")
        print("\nClient-system API keys:")
        for org, key in summary["keys"].items():
            print(f"  {org:12} {key}")
        first_key = next(iter(summary["keys"].values()))
        print(
            f'\nTry: curl -H "Authorization: Api-Key {first_key}" {BASE}/api/v1/decisions/'
        )
        print("Press Ctrl-C to stop.")
        server.wait()
    except KeyboardInterrupt:
        pass
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGINT)
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()


if __name__ == "__main__":
    main()
