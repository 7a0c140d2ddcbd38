"""A demo PKI for signed dossiers: a root CA, a Time Stamping Authority certificate
(extendedKeyUsage timeStamping, critical) and dossier-signing certificates (one default,
one per named organisation, each a PKCS#12 with its chain), written under a directory
(`.data/pki/` for `make demo`, a temporary directory in tests).

Idempotent: files that exist are kept, so the trust root stays the same across reruns
and dossiers signed earlier keep validating. Demo only: keys are RSA, unencrypted on
disk (the TSA's) or behind a password written next to them (the PKCS#12 files).

    python -m demo.pki --out .data/pki demo-bank:"Demo Bank AG" demo-clinic:"Demo Clinic"
"""

from __future__ import annotations

import argparse
import datetime as dt
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

ROOT_NAME = "Inspectoscope Demo Root CA"
DEFAULT_SIGNER = "default"
VALID_YEARS_ROOT = 20
VALID_YEARS_LEAF = 10


@dataclass(frozen=True)
class DemoPki:
    directory: Path

    @property
    def root_ca_pem_path(self) -> Path:
        return self.directory / "root-ca.pem"

    @property
    def root_key_path(self) -> Path:
        return self.directory / "root-ca.key.pem"

    @property
    def tsa_cert_pem_path(self) -> Path:
        return self.directory / "tsa.pem"

    @property
    def tsa_key_pem_path(self) -> Path:
        return self.directory / "tsa.key.pem"

    @property
    def signing_dir(self) -> Path:
        """Per-organisation PKCS#12 files, ``<slug>.p12`` with ``<slug>.p12.password``."""
        return self.directory / "signing"

    def pkcs12_path(self, slug: str = DEFAULT_SIGNER) -> Path:
        return self.signing_dir / f"{slug}.p12"

    def pkcs12_password_path(self, slug: str = DEFAULT_SIGNER) -> Path:
        return self.signing_dir / f"{slug}.p12.password"

    @property
    def pkcs12_path_default(self) -> Path:
        return self.pkcs12_path()

    @property
    def pkcs12_password_path_default(self) -> Path:
        return self.pkcs12_password_path()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=3072)


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    path.chmod(0o600)


def _name(common_name: str, organization: str = "Inspectoscope demo") -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _root(pki: DemoPki) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    if pki.root_ca_pem_path.exists() and pki.root_key_path.exists():
        cert = x509.load_pem_x509_certificate(pki.root_ca_pem_path.read_bytes())
        key = serialization.load_pem_private_key(
            pki.root_key_path.read_bytes(), password=None
        )
        assert isinstance(key, rsa.RSAPrivateKey)  # noqa: S101 (we wrote it)
        return cert, key
    key = _key()
    name = _name(ROOT_NAME)
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=365 * VALID_YEARS_ROOT))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    _write_private(
        pki.root_key_path,
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )
    pki.root_ca_pem_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert, key


def _leaf(
    *,
    root: x509.Certificate,
    root_key: rsa.RSAPrivateKey,
    subject: x509.Name,
    key: rsa.RSAPrivateKey,
    non_repudiation: bool,
    eku: x509.ObjectIdentifier | None,
) -> x509.Certificate:
    now = _now()
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(root.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=365 * VALID_YEARS_LEAF))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=non_repudiation,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()),
            critical=False,
        )
    )
    if eku is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage([eku]), critical=True)
    return builder.sign(root_key, hashes.SHA256())


def _tsa(pki: DemoPki, root: x509.Certificate, root_key: rsa.RSAPrivateKey) -> None:
    if pki.tsa_cert_pem_path.exists() and pki.tsa_key_pem_path.exists():
        return
    key = _key()
    cert = _leaf(
        root=root,
        root_key=root_key,
        subject=_name("Inspectoscope Demo TSA"),
        key=key,
        non_repudiation=False,
        eku=ExtendedKeyUsageOID.TIME_STAMPING,
    )
    _write_private(
        pki.tsa_key_pem_path,
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )
    pki.tsa_cert_pem_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _signer(
    pki: DemoPki,
    root: x509.Certificate,
    root_key: rsa.RSAPrivateKey,
    *,
    slug: str,
    organization: str,
) -> None:
    path, password_path = pki.pkcs12_path(slug), pki.pkcs12_password_path(slug)
    if path.exists() and password_path.exists():
        return
    key = _key()
    cert = _leaf(
        root=root,
        root_key=root_key,
        subject=_name(f"{organization} dossier signing", organization),
        key=key,
        non_repudiation=True,
        eku=None,
    )
    password = secrets.token_urlsafe(18)
    _write_private(password_path, password.encode())
    _write_private(
        path,
        pkcs12.serialize_key_and_certificates(
            name=f"{slug} dossier signing".encode(),
            key=key,
            cert=cert,
            cas=[root],
            encryption_algorithm=serialization.BestAvailableEncryption(
                password.encode()
            ),
        ),
    )


def pki_ensure(directory: Path, organizations: dict[str, str] | None = None) -> DemoPki:
    """Create what is missing under ``directory``: the root CA, the TSA certificate,
    the default signer and one signer per ``{slug: organisation name}``."""
    pki = DemoPki(Path(directory))
    pki.directory.mkdir(parents=True, exist_ok=True)
    root, root_key = _root(pki)
    _tsa(pki, root, root_key)
    _signer(pki, root, root_key, slug=DEFAULT_SIGNER, organization="Inspectoscope demo")
    for slug, name in (organizations or {}).items():
        _signer(pki, root, root_key, slug=slug, organization=name)
    return pki


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path(".data/pki"))
    parser.add_argument(
        "organizations",
        nargs="*",
        help='signers to create, as slug:"Organisation name"',
    )
    args = parser.parse_args()
    organizations = dict(item.split(":", 1) for item in args.organizations)
    pki = pki_ensure(args.out, organizations)
    print(f"Demo PKI under {pki.directory}: trust root {pki.root_ca_pem_path}")


if __name__ == "__main__":
    main()
