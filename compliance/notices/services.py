"""Issuing, requesting, reading and verifying notices. A notice is written from the
stored record, checked for faithfulness, rendered to HTML and PDF, and stored
immutable (a reissue is a new version per language). One that fails the check is
not issued: the job fails with the checker's findings, which the audit trail keeps."""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from compliance.audit import audit_event_append
from compliance.dossiers.signing import dossier_sign
from compliance.explanations.selectors import explanations_newest
from compliance.jobs import job_create
from compliance.models import Decision, Job, Notice
from compliance.notices.checker import CheckResult, NoticeUnfaithful, notice_check
from compliance.notices.content import NoticeContent, NoticeIncomplete, notice_content
from compliance.notices.recourse import model_scorer
from compliance.notices.render import MAX_NOTICE_HTML_CHARS, notice_html, notice_pdf
from compliance.policy import require
from compliance.principals import Operator, Principal
from compliance.registry.loading import model_version_load

# a change to what a notice says for the same record bumps this
CONTENT_LAYOUT = "notice-1"


@dataclass(frozen=True)
class RenderedNotice:
    public_id: str
    language: str
    version: int
    html: str
    pdf: bytes
    pages: int
    content: dict[str, Any]
    check: dict[str, Any]
    warnings: list[str] = field(default_factory=list)
    content_sha256: str = ""

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.pdf).hexdigest()


class VersionTaken(Exception):  # noqa: N818
    """Another issue stored this version number while we rendered."""


def notice_content_sha256(decision: Decision, language: str) -> str:
    """What a notice is made from: the decision's state and reviews, its newest
    explanations, the organisation's notice details, the language and layout."""
    org = decision.organization
    made_from = {
        "layout": CONTENT_LAYOUT,
        "language": language,
        "decision": decision.pk,
        "status": decision.status,
        "final_outcome": decision.final_outcome,
        "explanations": [[e.method, e.pk] for e in explanations_newest(decision)],
        "reviews": sorted(decision.reviews.values_list("pk", flat=True)),
        "organization": [
            org.name,
            org.postal_address,
            org.contact,
            org.contest_days,
            org.regulator,
            org.credit_agency,
        ],
        "day": timezone.now().date().isoformat(),  # the deadline is counted from it
    }
    canonical = json.dumps(made_from, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def notice_unchanged(decision: Decision, language: str) -> Notice | None:
    latest = (
        Notice.objects.filter(decision=decision, language=language)
        .defer("pdf", "html")
        .order_by("-version")
        .first()
    )
    if latest is not None and latest.content_sha256 == notice_content_sha256(
        decision, language
    ):
        return latest
    return None


def _next_version(decision: Decision, language: str) -> int:
    latest = Notice.objects.filter(decision=decision, language=language).aggregate(
        v=Max("version")
    )["v"]
    return (latest or 0) + 1


def notice_compose(decision: Decision, language: str) -> NoticeContent:
    """The notice's facts and sentences, with the model loaded for recourse."""

    def scorer() -> Any:
        model, schema = model_version_load(decision.model_version)
        return schema, model_scorer(model, schema)

    return notice_content(decision, language, scorer=scorer)


def notice_preview(decision: Decision, language: str) -> tuple[str, CheckResult]:
    """The HTML a notice would have now, and its check (nothing stored)."""
    composed = notice_compose(decision, language)
    html = notice_html(composed.content, public_id="PREVIEW", version=0)
    return html, notice_check(composed.content, html, decision=decision)


def notice_render_next(decision: Decision, language: str) -> RenderedNotice:
    """Compose, check and render the next version (outside any transaction). Raises
    NoticeIncomplete, NoticeUnfaithful or a render failure."""
    composed = notice_compose(decision, language)
    version = _next_version(decision, language)
    public_id = f"NOT-{uuid.uuid4().hex[:12].upper()}"
    html = notice_html(composed.content, public_id=public_id, version=version)
    check = notice_check(composed.content, html, decision=decision)
    if not check.passed:
        raise NoticeUnfaithful(
            "The notice was not issued: it does not match the stored explanation ("
            + "; ".join(check.failures)
            + ").",
            {"notice": check.failures},
        )
    if len(html) > MAX_NOTICE_HTML_CHARS:
        raise NoticeUnfaithful(
            f"The notice's HTML is {len(html):,} characters, over the "
            f"{MAX_NOTICE_HTML_CHARS:,} a notice may have; nothing was issued."
        )
    pdf, pages = notice_pdf(html)
    pdf = dossier_sign(pdf, organization=decision.organization)  # PAdES, like dossiers
    return RenderedNotice(
        public_id=public_id,
        language=language,
        version=version,
        html=html,
        pdf=pdf,
        pages=pages,
        content=composed.content,
        check=check.as_dict(),
        warnings=composed.warnings,
        content_sha256=notice_content_sha256(decision, language),
    )


def notice_store(
    decision: Decision, rendered: RenderedNotice, *, issued_by: str
) -> tuple[Notice, dict[str, Any]]:
    """Store a rendered notice in the caller's transaction; returns the row and its
    ``notice.issued`` audit event."""
    Decision.objects.select_for_update().filter(pk=decision.pk).first()
    if _next_version(decision, rendered.language) != rendered.version:
        raise VersionTaken(f"version {rendered.version} was issued meanwhile")
    notice = Notice.objects.create(
        public_id=rendered.public_id,
        decision=decision,
        organization_id=decision.organization_id,
        language=rendered.language,
        version=rendered.version,
        html=rendered.html,
        html_sha256=hashlib.sha256(rendered.html.encode()).hexdigest(),
        pdf=rendered.pdf,
        sha256=rendered.sha256,
        size_bytes=len(rendered.pdf),
        pages=rendered.pages,
        content=rendered.content,
        check_result=rendered.check,
        warnings=rendered.warnings,
        issued_by=issued_by[:200],
        issued_at=timezone.now(),
        content_sha256=rendered.content_sha256,
    )
    event = {
        "actor": issued_by,
        "organization": decision.organization,
        "action": "notice.issued",
        "object_type": "decision",
        "object_id": decision.pk,
        "payload": {
            "notice": rendered.public_id,
            "language": rendered.language,
            "version": rendered.version,
            "sha256": rendered.sha256,
            "checks": len(rendered.check.get("checks", [])),
            "warnings": len(rendered.warnings),
        },
    }
    return notice, event


def _refusal_event(
    decision: Decision, actor: str, language: str, error: NoticeUnfaithful
) -> None:
    with transaction.atomic():
        audit_event_append(
            actor=actor,
            organization=decision.organization,
            action="notice.refused",
            object_type="decision",
            object_id=decision.pk,
            payload={"language": language, "failures": error.errors.get("notice", [])},
        )


def notice_issue(
    *, principal: Principal | Operator, decision: Decision, language: str
) -> Notice:
    """Compose, check, render and store now (tools, tests and the demo; clients ask
    for a job with ``notice_request``). Unchanged content: the existing version."""
    require(principal, "notice.request", decision)
    if (existing := notice_unchanged(decision, language)) is not None:
        return existing
    for _ in range(3):
        try:
            rendered = notice_render_next(decision, language)
        except NoticeUnfaithful as exc:
            _refusal_event(decision, principal.actor, language, exc)
            raise
        try:
            with transaction.atomic():
                notice, event = notice_store(
                    decision, rendered, issued_by=principal.actor
                )
                audit_event_append(**event)
                return notice
        except VersionTaken:
            continue
    raise NoticeUnfaithful(
        "Too many concurrent notice issues for this decision; retry."
    )


@dataclass(frozen=True)
class NoticeRequested:
    existing: Notice | None = None
    job: Job | None = None


def notice_request(
    *, principal: Principal | Operator, decision: Decision, language: str
) -> NoticeRequested:
    """The unchanged notice in that language when there is one, else the job that
    issues it. Refuses now (400) what cannot be written: no explanation yet."""
    require(principal, "notice.request", decision)
    if (existing := notice_unchanged(decision, language)) is not None:
        return NoticeRequested(existing=existing)
    if not explanations_newest(decision):
        raise NoticeIncomplete(
            "A notice needs an explanation of the decision (request one first).",
            {"decision": ["no explanation"]},
        )
    request = f"notice:{language}:{notice_content_sha256(decision, language)}"
    job, _ = job_create(
        kind=Job.Kind.NOTICE,
        decision=decision,
        request_sha256=hashlib.sha256(request.encode()).hexdigest(),
        requested_by=principal.actor,
        payload={"language": language},
    )
    return NoticeRequested(job=job)


def notice_download(*, principal: Principal, notice: Notice, form: str) -> bytes:
    """The stored PDF or HTML, exactly; each download is an audit event."""
    require(principal, "notice.download", notice)
    with transaction.atomic():
        audit_event_append(
            actor=principal.actor,
            organization=notice.organization,
            action="notice.downloaded",
            object_type="decision",
            object_id=notice.decision_id,
            payload={
                "notice": notice.public_id,
                "version": notice.version,
                "form": form,
            },
        )
    return bytes(notice.pdf) if form == "pdf" else notice.html.encode()
