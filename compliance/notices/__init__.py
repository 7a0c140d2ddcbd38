"""Notices, written for the person a decision is about (the applicant, the patient):
plain language, in their language, one to two pages, checked against the stored
explanation before they are issued (``notice`` jobs); download and verification.
The dossier (``compliance.dossiers``) stays the technical record for auditors."""

from __future__ import annotations

from compliance.notices.checker import CheckResult, NoticeUnfaithful, notice_check
from compliance.notices.content import NoticeIncomplete, notice_content
from compliance.notices.handler import NoticeHandler
from compliance.notices.language import notice_language, notice_languages
from compliance.notices.services import (
    NoticeRequested,
    notice_download,
    notice_issue,
    notice_preview,
    notice_request,
)

__all__ = [
    "CheckResult",
    "NoticeHandler",
    "NoticeIncomplete",
    "NoticeRequested",
    "NoticeUnfaithful",
    "notice_check",
    "notice_content",
    "notice_download",
    "notice_issue",
    "notice_language",
    "notice_languages",
    "notice_preview",
    "notice_request",
]
