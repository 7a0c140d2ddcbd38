"""Where a webhook may be sent: public addresses only (no private, loopback,
link-local, multicast or reserved ones: a receiver URL must not reach into the network
the service runs in), unless the target is allowlisted (``WEBHOOK_ALLOWED_TARGETS``).

The address is checked when an endpoint is registered and again at every delivery, and
the delivery connects to the very address that was checked (a name that resolves to a
public address at registration and a private one later is refused then)."""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

MAX_URL = 2000


class TargetRefused(ValueError):
    """The URL may not be used as a webhook target; the message says why."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str  # path and query, as sent in the request line
    addresses: tuple[str, ...]  # resolved, checked, in the resolver's order


def _allowlisted(host: str, port: int) -> bool:
    allowed = {entry.strip().lower() for entry in settings.WEBHOOK_ALLOWED_TARGETS}
    return host.lower() in allowed or f"{host.lower()}:{port}" in allowed


def address_refusal(address: str) -> str | None:
    """Why ``address`` is not a public one, or None when it is."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for attribute, words in (
        ("is_loopback", "a loopback address"),
        ("is_link_local", "a link-local address"),
        ("is_private", "a private address"),
        ("is_multicast", "a multicast address"),
        ("is_unspecified", "an unspecified address"),
        ("is_reserved", "a reserved address"),
    ):
        if getattr(ip, attribute):
            return words
    if not ip.is_global:
        return "not a public address"
    return None


def _resolve(host: str, port: int) -> tuple[str, ...]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise TargetRefused(f"The host {host!r} does not resolve ({exc}).") from None
    seen: list[str] = []
    for info in infos:
        address = str(info[4][0])
        if address not in seen:
            seen.append(address)
    return tuple(seen)


def target_parse(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, path) of a well-formed URL, else TargetRefused."""
    if not isinstance(url, str) or not url.strip():
        raise TargetRefused("Give the receiver's URL (https://...).")
    if len(url) > MAX_URL:
        raise TargetRefused(f"Use at most {MAX_URL} characters.")
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        raise TargetRefused("A URL has no spaces or control characters.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise TargetRefused(f"Not a valid URL ({exc}).") from None
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http"):
        raise TargetRefused("Use an https:// URL.")
    if parts.username is not None or parts.password is not None:
        raise TargetRefused("Put no credentials in the URL; deliveries are signed.")
    if parts.fragment:
        raise TargetRefused("A receiver URL has no #fragment.")
    host = parts.hostname or ""
    if not host:
        raise TargetRefused("The URL names no host.")
    port = port or (443 if scheme == "https" else 80)
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return scheme, host, port, path


def target_check(url: str) -> Target:
    """The URL's target with its checked addresses, or TargetRefused saying why."""
    scheme, host, port, path = target_parse(url)
    allowlisted = _allowlisted(host, port)
    if scheme == "http" and not allowlisted:
        raise TargetRefused(
            "Use https://; plain http is only for targets in WEBHOOK_ALLOWED_TARGETS."
        )
    addresses = _resolve(host, port)
    if not allowlisted:
        for address in addresses:
            refusal = address_refusal(address)
            if refusal is not None:
                raise TargetRefused(
                    f"{host} resolves to {address}, {refusal}: webhooks go to public "
                    "addresses only (an operator may allow a target with "
                    "WEBHOOK_ALLOWED_TARGETS)."
                )
    if not addresses:
        raise TargetRefused(f"The host {host!r} resolves to no address.")
    return Target(scheme, host, port, path, addresses)
