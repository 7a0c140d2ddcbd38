"""Signed dossiers: PAdES B-LT with the organisation's certificate and an RFC 3161
timestamp, checked with a standard validator (pyHanko's CLI) against the demo root."""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
from pathlib import Path

import pytest
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.general import load_cert_from_pemder
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from compliance import dossiers
from compliance.dossiers.signing import dossier_sign, signing_credentials
from compliance.jobs import jobs_process
from compliance.models import Dossier, Job, Organization
from compliance.principals import SYSTEM_OPERATOR
from tests.compliance.dossiers.test_dossiers import _case


def _validate(path: Path, root: Path) -> subprocess.CompletedProcess[str]:
    """``pyhanko sign validate`` with the demo root as the only trust anchor."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pyhanko",
            "sign",
            "validate",
            "--pretty-print",
            "--trust",
            str(root),
            "--trust-replace",
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _one_byte_changed_in_the_signed_content(pdf: bytes) -> bytes:
    """Change one character of the document's own text (its /Producer string), which
    the signature's byte range covers."""
    at = pdf.index(b"/Producer") + len(b"/Producer (") + 2
    tampered = bytearray(pdf)
    tampered[at] = ord("X") if tampered[at] != ord("X") else ord("Y")
    return bytes(tampered)


def test_a_signed_dossier_validates_and_fails_after_one_byte_is_changed(
    db, demo_artefacts, tsa, tmp_path
):
    decision = _case(demo_artefacts, "credit", "EU+US")
    dossier = dossiers.dossier_issue(decision=decision, principal=SYSTEM_OPERATOR)
    pdf = bytes(dossier.pdf)
    assert dossier.sha256 == hashlib.sha256(pdf).hexdigest()  # of the signed file
    signed = tmp_path / "signed.pdf"
    signed.write_bytes(pdf)

    result = _validate(signed, tsa.root_ca_pem_path)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "The signer's certificate is trusted." in result.stdout
    assert "This timestamp is backed by a time stamping authority." in result.stdout
    assert "The TSA certificate is trusted." in result.stdout
    assert "The signature is judged VALID." in result.stdout

    tampered = tmp_path / "tampered.pdf"
    tampered.write_bytes(_one_byte_changed_in_the_signed_content(pdf))
    result = _validate(tampered, tsa.root_ca_pem_path)
    assert result.returncode != 0
    assert "judged VALID" not in result.stdout


def test_the_signature_carries_its_validation_data_and_timestamp(
    db, demo_artefacts, tsa
):
    decision = _case(demo_artefacts, "diagnosis", "EU")
    dossier = dossiers.dossier_issue(decision=decision, principal=SYSTEM_OPERATOR)
    reader = PdfFileReader(io.BytesIO(bytes(dossier.pdf)))
    # B-LT: a Document Security Store with the chains (signer's and TSA's)
    dss = reader.root["/DSS"]
    assert len(dss["/Certs"]) >= 3  # the signer, the TSA and the root
    (signature,) = reader.embedded_signatures
    assert signature.sig_object["/SubFilter"] == "/ETSI.CAdES.detached"
    status = validate_pdf_signature(
        signature,
        signer_validation_context=ValidationContext(
            trust_roots=[load_cert_from_pemder(str(tsa.root_ca_pem_path))]
        ),
    )
    assert status.bottom_line
    assert status.timestamp_validity is not None and status.timestamp_validity.trusted
    assert (
        "Inspectoscope demo dossier signing"
        in status.signing_cert.subject.human_friendly
    )


def test_an_organisation_with_its_own_certificate_signs_with_it(tsa):
    own = Organization(name="Acme Bank", slug="acme-bank")
    other = Organization(name="Other", slug="no-certificate-of-its-own")
    assert signing_credentials(own).pkcs12 == tsa.pki.pkcs12_path("acme-bank")
    assert signing_credentials(other).pkcs12 == tsa.pkcs12_path
    from weasyprint import HTML

    pdf = dossier_sign(HTML(string="<p>Dossier</p>").write_pdf(), organization=own)
    (signature,) = PdfFileReader(io.BytesIO(pdf)).embedded_signatures
    assert "Acme Bank dossier signing" in signature.signer_cert.subject.human_friendly


def test_without_a_signing_certificate_no_dossier_is_issued(
    db, demo_artefacts, settings, tmp_path
):
    decision = _case(demo_artefacts, "diagnosis", "EU")
    settings.DOSSIER_SIGNING_DIR = tmp_path
    settings.DOSSIER_SIGNING_PKCS12_FILE = None
    job = dossiers.dossier_request(principal=SYSTEM_OPERATOR, decision=decision)
    jobs_process(kind="dossier", worker="w1", limit=1)
    job.refresh_from_db()
    assert job.status == "failed" and "signing certificate" in job.error
    assert not Dossier.objects.filter(decision=decision).exists()
    with pytest.raises(dossiers.DossierSigningFailed):
        dossiers.dossier_issue(decision=decision, principal=SYSTEM_OPERATOR)
    assert Job.objects.filter(kind="dossier").count() == 1
