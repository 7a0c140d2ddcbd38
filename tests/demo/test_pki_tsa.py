"""The demo PKI and the local RFC 3161 TSA that signed dossiers and audit anchors use."""

from __future__ import annotations

import asyncio
import hashlib
import urllib.error
import urllib.request
from typing import Any

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID
from pyhanko.sign.general import load_cert_from_pemder
from pyhanko.sign.timestamps import HTTPTimeStamper
from pyhanko.sign.validation.generic_cms import validate_tst_signed_data
from pyhanko_certvalidator import ValidationContext

from demo.pki import pki_ensure


def test_the_tsa_certificate_is_for_timestamping_only(tsa: Any):
    cert = x509.load_pem_x509_certificate(tsa.tsa_cert_pem_path.read_bytes())
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert eku.critical
    assert list(eku.value) == [ExtendedKeyUsageOID.TIME_STAMPING]


def test_it_answers_a_timestamp_query_with_a_token_trusted_under_the_root(tsa: Any):
    digest = hashlib.sha256(b"chain head").digest()
    token = asyncio.run(HTTPTimeStamper(tsa.url).async_timestamp(digest, "sha256"))
    context = ValidationContext(
        trust_roots=[load_cert_from_pemder(str(tsa.root_ca_pem_path))]
    )
    status = asyncio.run(
        validate_tst_signed_data(
            token["content"], context, expected_tst_imprint=lambda _: digest
        )
    )
    assert status["intact"] and status["valid"]
    # trusted: a path to the root was found and nothing was wrong with it
    # (pyHanko fills validation_path even when the path fails)
    assert status["validation_path"] is not None
    assert status.get("trust_problem_indic") is None


def test_it_refuses_what_is_not_a_timestamp_query(tsa: Any):
    request = urllib.request.Request(  # noqa: S310 (loopback)
        tsa.url, data=b"hello", headers={"Content-Type": "text/plain"}, method="POST"
    )
    try:
        urllib.request.urlopen(request, timeout=5)  # noqa: S310 (loopback)
    except urllib.error.HTTPError as exc:
        assert exc.code == 400
    else:
        raise AssertionError("a plain-text POST was answered")


def test_generating_the_pki_again_keeps_the_trust_root(tsa: Any):
    before = tsa.root_ca_pem_path.read_bytes()
    pki_ensure(tsa.pki.directory, {"acme-bank": "Acme Bank"})
    assert tsa.root_ca_pem_path.read_bytes() == before
    assert tsa.pkcs12_path.exists() and tsa.pkcs12_password
