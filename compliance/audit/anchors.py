"""Anchors: each chain's head, timestamped by an RFC 3161 Time Stamping Authority.

An anchor binds ``(chain, sequence, head hash)`` to a time the TSA signed; later,
``audit_verify`` checks that the anchored events are still there with the same hash, so
deleting the last events, ``TRUNCATE`` or rewriting the chain (even with the HMAC key)
after an anchor is reported. With no ``TSA_URL`` the anchor is still recorded, unsigned.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asn1crypto import algos, cms, tsp, x509  # type: ignore[import-untyped]
from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from compliance.models import AuditEvent, ChainAnchor
from compliance.policy import require
from compliance.principals import Operator

logger = logging.getLogger(__name__)


class TimestampError(Exception):
    """The TSA gave no usable token."""


def anchor_digest(chain: str, sequence: int, head_hash: str) -> bytes:
    """The sha256 the TSA timestamps for one chain head."""
    return hashlib.sha256(
        f"inspectoscope-anchor:{chain}:{sequence}:{head_hash}".encode()
    ).digest()


def tsa_timestamp(digest: bytes, *, url: str, timeout: float = 10.0) -> bytes:
    """Ask the TSA at ``url`` for a token over ``digest`` (sha256); return its DER."""
    nonce = secrets.randbits(63)
    request = tsp.TimeStampReq(
        {
            "version": 1,
            "message_imprint": tsp.MessageImprint(
                {
                    "hash_algorithm": algos.DigestAlgorithm({"algorithm": "sha256"}),
                    "hashed_message": digest,
                }
            ),
            "nonce": nonce,
            "cert_req": True,
        }
    )
    http_request = urllib.request.Request(  # noqa: S310 (the operator's TSA_URL)
        url,
        data=request.dump(),
        headers={"Content-Type": "application/timestamp-query"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(http_request, timeout=timeout) as response:  # noqa: S310
            body = response.read()
    except OSError as exc:
        raise TimestampError(f"TSA unreachable: {exc}") from exc
    try:
        answer = tsp.TimeStampResp.load(body)
        status = answer["status"]["status"].native
        if status not in ("granted", "granted_with_mods"):
            raise TimestampError(f"TSA refused the request: {status}")
        token = answer["time_stamp_token"]
        tst_info = token["content"]["encap_content_info"]["content"].parsed
        imprint = tst_info["message_imprint"]["hashed_message"].native
        if imprint != digest or tst_info["nonce"].native != nonce:
            raise TimestampError("TSA answered for another request")
        return bytes(token.dump())
    except (ValueError, KeyError, TypeError) as exc:
        raise TimestampError(f"TSA answer is not an RFC 3161 response: {exc}") from exc


@dataclass(frozen=True)
class TokenCheck:
    valid: bool
    validated: bool  # checked against the TSA certificate (else: imprint only)
    problem: str = ""
    gen_time: Any = None


def _tsa_certificates() -> list[x509.Certificate]:
    path = getattr(settings, "TSA_CA_CERT_FILE", "") or ""
    if not path:
        return []
    data = Path(path).read_bytes()
    if data.lstrip().startswith(b"-----"):
        from asn1crypto import pem

        return [x509.Certificate.load(der) for _, _, der in pem.unarmor(data, True)]
    return [x509.Certificate.load(data)]


def anchor_token_check(anchor: ChainAnchor) -> TokenCheck:
    """Does the anchor's token cover its head, signed by the configured TSA?"""
    digest = anchor_digest(anchor.chain, anchor.sequence, anchor.head_hash)
    try:
        token = cms.ContentInfo.load(bytes(anchor.tsa_token or b""))
        signed_data = token["content"]
        tst_info = signed_data["encap_content_info"]["content"].parsed
        imprint = tst_info["message_imprint"]["hashed_message"].native
        gen_time = tst_info["gen_time"].native
    except (ValueError, KeyError, TypeError) as exc:
        return TokenCheck(False, False, f"token unreadable: {exc}")
    if imprint != digest:
        return TokenCheck(False, False, "token covers another head", gen_time)
    roots = _tsa_certificates()
    if not roots:
        return TokenCheck(True, False, "no TSA_CA_CERT_FILE to check against", gen_time)
    from pyhanko.sign.validation.generic_cms import validate_tst_signed_data
    from pyhanko_certvalidator import ValidationContext

    try:
        status = asyncio.run(
            validate_tst_signed_data(
                signed_data,
                ValidationContext(trust_roots=roots, allow_fetching=False),
                lambda _algorithm: digest,
            )
        )
    except Exception as exc:  # noqa: BLE001 - any failure means "not valid"
        return TokenCheck(False, True, f"token signature invalid: {exc}", gen_time)
    # pyHanko reports a path that failed too; trust is the absence of a problem
    trusted = status.get("trust_problem_indic") is None
    if not (status.get("intact") and status.get("valid") and trusted):
        return TokenCheck(
            False, True, "token not signed by the configured TSA", gen_time
        )
    return TokenCheck(True, True, "", gen_time)


def _chain_heads() -> list[tuple[str, int]]:
    return list(
        AuditEvent.objects.values("chain")
        .annotate(head=Max("sequence"))
        .order_by("chain")
        .values_list("chain", "head")
    )


def audit_chains_anchor(*, operator: Operator) -> list[ChainAnchor]:
    """Anchor every chain whose head moved since its last signed anchor.

    The TSA is asked outside any transaction; a chain whose TSA request fails is
    anchored unsigned with the reason, and the next run signs it.
    """
    require(operator, "audit.anchor")
    url = getattr(settings, "TSA_URL", "") or ""
    timeout = float(getattr(settings, "TSA_TIMEOUT_SECONDS", 10))
    created = []
    for chain, head_sequence in _chain_heads():
        last = (
            ChainAnchor.objects.filter(chain=chain).order_by("-sequence", "-id").first()
        )
        if (
            last is not None
            and last.sequence == head_sequence
            and (last.tsa_token or not url)
        ):
            continue
        head = AuditEvent.objects.get(chain=chain, sequence=head_sequence)
        token, note = None, ""
        if url:
            try:
                token = tsa_timestamp(
                    anchor_digest(chain, head.sequence, head.hash),
                    url=url,
                    timeout=timeout,
                )
            except TimestampError as exc:
                note = str(exc)[:300]
                logger.warning("Anchor of %s left unsigned: %s", chain, note)
        with transaction.atomic():
            created.append(
                ChainAnchor.objects.create(
                    chain=chain,
                    organization_id=head.organization_id
                    if chain.startswith("org:")
                    else None,
                    sequence=head.sequence,
                    head_hash=head.hash,
                    anchored_at=timezone.now(),
                    tsa_url=url,
                    tsa_token=token,
                    note=note,
                )
            )
    return created


__all__ = [
    "TimestampError",
    "TokenCheck",
    "anchor_digest",
    "anchor_token_check",
    "audit_chains_anchor",
    "tsa_timestamp",
]
