"""A local RFC 3161 Time Stamping Authority for the demo and the tests: pyHanko's
``DummyTimeStamper`` (real tokens, signed with the demo PKI's TSA certificate) behind a
stdlib HTTP server. It answers ``POST`` with ``Content-Type:
application/timestamp-query`` on any path with an ``application/timestamp-reply``.

In-process (tests)::

    tsa = tsa_start(pki_ensure(tmp_path))   # a free port on 127.0.0.1
    tsa.url  # http://127.0.0.1:PORT/tsa
    tsa.stop()

As a process (``make demo``)::

    python -m demo.tsa --pki .data/pki --port 8001
"""

from __future__ import annotations

import argparse
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from asn1crypto import keys, pem, tsp, x509
from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper

from demo.pki import DemoPki, pki_ensure

MAX_QUERY_BYTES = 64 * 1024


def _load_cert(path: Path) -> x509.Certificate:
    data = path.read_bytes()
    if pem.detect(data):
        _, _, data = pem.unarmor(data)
    return x509.Certificate.load(data)


def _load_key(path: Path) -> keys.PrivateKeyInfo:
    data = path.read_bytes()
    if pem.detect(data):
        _, _, data = pem.unarmor(data)
    return keys.PrivateKeyInfo.load(data)


def tsa_certificate_sha256(pki: DemoPki) -> str:
    return str(_load_cert(pki.tsa_cert_pem_path).sha256.hex())


def tsa_timestamper(pki: DemoPki) -> DummyTimeStamper:
    root = _load_cert(pki.root_ca_pem_path)
    return DummyTimeStamper(
        tsa_cert=_load_cert(pki.tsa_cert_pem_path),
        tsa_key=_load_key(pki.tsa_key_pem_path),
        certs_to_embed=[root],  # type: ignore[arg-type]
    )


def _handler(stamper: DummyTimeStamper) -> type[BaseHTTPRequestHandler]:
    lock = threading.Lock()
    # a GET names the certificate, so a demo run can tell its own TSA from another
    fingerprint = stamper.tsa_cert.sha256.hex()

    class TimestampRequestHandler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            length = int(self.headers.get("Content-Length") or 0)
            content_type = self.headers.get("Content-Type", "").split(";")[0].strip()
            if content_type != "application/timestamp-query" or not (
                0 < length <= MAX_QUERY_BYTES
            ):
                self.send_error(400, "expected an application/timestamp-query body")
                return
            try:
                request = tsp.TimeStampReq.load(self.rfile.read(length))
                with lock:
                    reply = stamper.request_tsa_response(request).dump()
            except Exception:  # noqa: BLE001 (a bad query is the client's problem)
                self.send_error(400, "malformed timestamp query")
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/timestamp-reply")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def do_GET(self) -> None:  # noqa: N802
            body = (
                "Inspectoscope demo TSA: POST application/timestamp-query\n"
                f"certificate sha256 {fingerprint}\n"
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass  # quiet: the demo's and the tests' output stays readable

    return TimestampRequestHandler


@dataclass
class RunningTsa:
    """A TSA serving in a background thread, with the PKI paths a test needs."""

    pki: DemoPki
    server: ThreadingHTTPServer
    thread: threading.Thread = field(repr=False)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/tsa"

    @property
    def tsa_cert_pem_path(self) -> Path:
        return self.pki.tsa_cert_pem_path

    @property
    def root_ca_pem_path(self) -> Path:
        return self.pki.root_ca_pem_path

    @property
    def pkcs12_path(self) -> Path:
        return self.pki.pkcs12_path()

    @property
    def pkcs12_password_path(self) -> Path:
        return self.pki.pkcs12_password_path()

    @property
    def pkcs12_password(self) -> bytes:
        return self.pkcs12_password_path.read_bytes().strip()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def tsa_start(pki: DemoPki, *, host: str = "127.0.0.1", port: int = 0) -> RunningTsa:
    """Serve a TSA for ``pki`` on ``host:port`` (0: a free port) in a daemon thread."""
    server = ThreadingHTTPServer((host, port), _handler(tsa_timestamper(pki)))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="demo-tsa", daemon=True)
    thread.start()
    return RunningTsa(pki=pki, server=server, thread=thread)


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve the demo RFC 3161 TSA.")
    parser.add_argument("--pki", type=Path, default=Path(".data/pki"))
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    args = parser.parse_args()
    tsa = tsa_start(pki_ensure(args.pki), host=args.host, port=args.port)
    print(f"Demo TSA at {tsa.url} (certificate {tsa.tsa_cert_pem_path})", flush=True)
    try:
        tsa.thread.join()
    except KeyboardInterrupt:
        tsa.stop()


if __name__ == "__main__":
    main()
