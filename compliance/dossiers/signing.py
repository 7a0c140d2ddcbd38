"""Signing dossiers: PAdES baseline B-LT with pyHanko. The organisation's certificate
signs (a PKCS#12 named in settings), the configured Time Stamping Authority adds an
RFC 3161 timestamp, and the validation data (the chains of the signer and of the TSA,
and whatever revocation information their certificates point to, fetched at signing
time) goes into the PDF's Document Security Store, so a standard validator can check
the file offline years later with only the issuer's trust root.

Runs in the worker, outside any transaction (a timestamp is a network round trip).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields, signers
from pyhanko.sign.general import load_certs_from_pemder
from pyhanko.sign.timestamps import HTTPTimeStamper
from pyhanko_certvalidator import ValidationContext

from compliance.errors import DomainError
from compliance.models import Organization

SIGNATURE_FIELD = "InspectoscopeDossierSignature"


class DossierSigningFailed(DomainError):
    code = "signing_failed"


@dataclass(frozen=True)
class SigningCredentials:
    pkcs12: Path
    password: Path


def signing_credentials(organization: Organization) -> SigningCredentials:
    """The organisation's own ``<slug>.p12`` under DOSSIER_SIGNING_DIR, else the
    configured default (DOSSIER_SIGNING_PKCS12_FILE, else ``default.p12`` there)."""
    directory = Path(settings.DOSSIER_SIGNING_DIR)
    own = directory / f"{organization.slug}.p12"
    if own.is_file():
        return SigningCredentials(own, own.with_name(own.name + ".password"))
    if settings.DOSSIER_SIGNING_PKCS12_FILE:
        pkcs12 = Path(settings.DOSSIER_SIGNING_PKCS12_FILE)
        password = settings.DOSSIER_SIGNING_PKCS12_PASSWORD_FILE
        return SigningCredentials(
            pkcs12,
            Path(password) if password else pkcs12.with_name(pkcs12.name + ".password"),
        )
    default = directory / "default.p12"
    if default.is_file():
        return SigningCredentials(default, default.with_name("default.p12.password"))
    raise DossierSigningFailed(
        "No dossier-signing certificate is configured (DOSSIER_SIGNING_PKCS12_FILE or "
        f"{directory}/<organisation>.p12); dossiers are only issued signed."
    )


def _signer(credentials: SigningCredentials) -> signers.SimpleSigner:
    try:
        password = (
            credentials.password.read_bytes().strip()
            if credentials.password.is_file()
            else None
        )
        signer = signers.SimpleSigner.load_pkcs12_data(
            credentials.pkcs12.read_bytes(), other_certs=[], passphrase=password
        )
    except (OSError, ValueError) as exc:
        raise DossierSigningFailed(
            f"The dossier-signing certificate {credentials.pkcs12} could not be "
            f"loaded: {exc}"
        ) from exc
    return signer


def _self_signed(cert: Any) -> bool:  # an asn1crypto certificate
    return bool(cert.self_signed in ("maybe", "yes"))


def _validation_context(signer: signers.SimpleSigner) -> ValidationContext:
    """What the signature's validation data is gathered against: the roots in the
    PKCS#12 chain and the TSA's trust root, fetching revocation data where a
    certificate names where to find it."""
    chain = list(signer.cert_registry)
    roots = [cert for cert in chain if _self_signed(cert)]
    if settings.TSA_CA_CERT_FILE:
        roots.extend(load_certs_from_pemder([settings.TSA_CA_CERT_FILE]))
    if not roots:
        raise DossierSigningFailed(
            "The signing PKCS#12 carries no trust root and TSA_CA_CERT_FILE is unset: "
            "the signature's validation data cannot be gathered."
        )
    return ValidationContext(
        trust_roots=roots,
        other_certs=[cert for cert in chain if not _self_signed(cert)],
        allow_fetching=True,
    )


def dossier_sign(pdf: bytes, *, organization: Organization) -> bytes:
    """Sign ``pdf`` for ``organization``: PAdES B-LT (B-B without a TSA)."""
    signer = _signer(signing_credentials(organization))
    timestamper = (
        HTTPTimeStamper(settings.TSA_URL, timeout=settings.TSA_TIMEOUT_SECONDS)
        if settings.TSA_URL
        else None
    )
    meta = signers.PdfSignatureMetadata(
        field_name=SIGNATURE_FIELD,
        md_algorithm="sha256",
        subfilter=fields.SigSeedSubFilter.PADES,
        reason="Explanation dossier issued by Inspectoscope",
        name=organization.name,
        embed_validation_info=True,
        validation_context=_validation_context(signer),
        signer_key_usage={"non_repudiation"},
    )
    output = io.BytesIO()
    try:
        signers.sign_pdf(
            IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False),
            meta,
            signer=signer,
            timestamper=timestamper,
            output=output,
        )
    except Exception as exc:  # pyHanko and the TSA client raise many kinds
        raise DossierSigningFailed(
            f"Signing the dossier failed: {type(exc).__name__}: {str(exc)[:300]}"
        ) from exc
    return output.getvalue()
