"""One HTTP POST of a delivery, to the address its target was checked at (no
redirects followed: a 3xx is an answer, not a success), with a time limit. Runs
outside any transaction and touches no database (the handler runs several at once)."""

from __future__ import annotations

import http.client
import socket
import ssl
import time
from dataclasses import dataclass
from typing import Any

from compliance.webhooks.targets import Target, TargetRefused, target_check

EXCERPT = 500  # characters of the receiver's answer kept in the delivery log
USER_AGENT = "Inspectoscope-Webhooks/1"


@dataclass(frozen=True)
class SendResult:
    status_code: int | None
    error: str
    duration_ms: int
    excerpt: str

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to a checked address while naming the host (Host header)."""

    def __init__(self, target: Target, address: str, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """As above, with TLS verified against the host's name (SNI and certificate)."""

    def __init__(self, target: Target, address: str, timeout: float) -> None:
        super().__init__(
            target.host,
            target.port,
            timeout=timeout,
            context=ssl.create_default_context(),
        )
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(  # type: ignore[attr-defined]
            sock, server_hostname=self.host
        )


def _connection(target: Target, timeout: float) -> Any:
    address = target.addresses[0]
    if target.scheme == "https":
        return _PinnedHTTPSConnection(target, address, timeout)
    return _PinnedHTTPConnection(target, address, timeout)


def send(url: str, body: bytes, headers: dict[str, str], timeout: float) -> SendResult:
    """POST ``body``; never raises (every failure is a result with its error)."""
    started = time.monotonic()

    def result(code: int | None, error: str, excerpt: str = "") -> SendResult:
        elapsed = int((time.monotonic() - started) * 1000)
        return SendResult(code, error[:500], elapsed, excerpt[:EXCERPT])

    try:
        target = target_check(url)
    except TargetRefused as exc:
        return result(None, f"Refused: {exc}")
    connection = _connection(target, timeout)
    try:
        connection.request(
            "POST",
            target.path,
            body=body,
            headers={
                "Content-Type": "application/json",
                "User-Agent": USER_AGENT,
                **headers,
            },
        )
        response = connection.getresponse()
        excerpt = response.read(EXCERPT * 4).decode("utf-8", "replace")
        code = response.status
        if 300 <= code < 400:
            where = response.getheader("Location", "")
            return result(code, f"Redirect to {where!r} not followed.", excerpt)
        if not 200 <= code < 300:
            return result(code, f"The receiver answered {code}.", excerpt)
        return result(code, "", excerpt)
    except TimeoutError:
        return result(None, f"No answer within {timeout:g} s.")
    except (OSError, http.client.HTTPException) as exc:
        return result(None, f"{type(exc).__name__}: {exc}")
    finally:
        connection.close()
