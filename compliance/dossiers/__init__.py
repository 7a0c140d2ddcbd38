"""Dossiers, the auditor's and regulator's record of one decision: content, render,
issue (``dossier`` jobs), download, verify; their charts and template filters."""

from __future__ import annotations

from compliance.dossiers.content import DossierIncomplete, dossier_content, regimes
from compliance.dossiers.handler import DossierHandler
from compliance.dossiers.render import (
    DossierRenderFailed,
    DossierRenderTimeout,
    DossierTooLarge,
    SafeFetcher,
    dossier_render,
)
from compliance.dossiers.services import (
    DossierRequested,
    PublicVerification,
    dossier_download,
    dossier_issue,
    dossier_issue_request,
    dossier_request,
    dossier_upload_sha256,
    dossier_verify,
    dossier_verify_public,
)
from compliance.dossiers.signing import DossierSigningFailed, dossier_sign

__all__ = [
    "DossierHandler",
    "DossierIncomplete",
    "DossierRenderFailed",
    "DossierRenderTimeout",
    "DossierRequested",
    "DossierSigningFailed",
    "DossierTooLarge",
    "PublicVerification",
    "SafeFetcher",
    "dossier_content",
    "dossier_download",
    "dossier_issue",
    "dossier_issue_request",
    "dossier_render",
    "dossier_request",
    "dossier_sign",
    "dossier_upload_sha256",
    "dossier_verify",
    "dossier_verify_public",
    "regimes",
]
