"""`make demo`'s webhook receiver: a small HTTP server on a loopback port that checks
each delivery's signature (the README's snippet) and prints what it gets: the first
events in full, then a count every 100. Stdlib only, like a client's receiver would be.

    python -m demo.webhook_receiver --port 8787 --secret-file .data/webhook-secret
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

SHOWN_IN_FULL = 12


def signature_ok(secret: str, header: str, body: bytes, tolerance: int = 300) -> bool:
    """Check ``Inspectoscope-Signature: t=<unix seconds>,v1=<hex>`` over the raw body."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        timestamp = int(parts.get("t", ""))
    except ValueError:
        return False
    if abs(time.time() - timestamp) > tolerance:  # an old message replayed
        return False
    signed = f"{timestamp}.".encode() + body
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts.get("v1", ""))


class Tally:
    def __init__(self, secret_file: Path) -> None:
        self.secret_file = secret_file
        self.lock = threading.Lock()
        self.count = self.bad = 0
        self.seen: set[str] = set()
        self.by_type: dict[str, int] = {}

    def secret(self) -> str:
        try:
            return self.secret_file.read_text().strip()
        except OSError:
            return ""

    def record(self, headers: Any, body: bytes) -> int:
        ok = signature_ok(
            self.secret(), headers.get("Inspectoscope-Signature", ""), body
        )
        event_id = headers.get("Inspectoscope-Event-Id", "")
        with self.lock:
            duplicate = event_id in self.seen  # at-least-once: drop repeats by id
            self.seen.add(event_id)
            self.count += 1
            self.bad += 0 if ok else 1
            kind = headers.get("Inspectoscope-Event", "?")
            self.by_type[kind] = self.by_type.get(kind, 0) + 1
            n = self.count
        if n <= SHOWN_IN_FULL or not ok:
            try:
                data = json.loads(body)["data"]["decision"]
                about = (
                    f"decision #{data['id']} ({data['external_id']}, {data['status']})"
                )
            except (ValueError, KeyError, TypeError):
                about = "unreadable body"
            print(
                f"[webhook receiver] {kind:22} {event_id} {about} signature "
                f"{'valid' if ok else 'INVALID'}{' (duplicate)' if duplicate else ''}",
                flush=True,
            )
        elif n % 100 == 0:
            counts = ", ".join(f"{k} {v}" for k, v in sorted(self.by_type.items()))
            print(
                f"[webhook receiver] {n} deliveries, {self.bad} with a bad signature: "
                f"{counts}",
                flush=True,
            )
        return 200 if ok else 401


def serve(port: int, secret_file: Path) -> None:
    tally = Tally(secret_file)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            code = tally.record(self.headers, body)
            self.send_response(code)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    print(f"[webhook receiver] listening on http://127.0.0.1:{port}/", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8787)
    parser.add_argument("--secret-file", type=Path, required=True)
    args = parser.parse_args(argv)
    serve(args.port, args.secret_file)


if __name__ == "__main__":
    main(sys.argv[1:])
