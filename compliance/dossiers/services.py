"""Issuing, requesting, downloading and verifying dossiers. Issued dossiers are
immutable: a reissue is a new version."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from django.conf import settings
from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone

from compliance.audit import audit_event_append
from compliance.dossiers.content import dossier_content_complete
from compliance.dossiers.render import SafeFetcher, dossier_render
from compliance.dossiers.selectors import dossier_superseded, with_superseded
from compliance.dossiers.signing import dossier_sign
from compliance.errors import TooLarge, ValidationFailed
from compliance.explanations.selectors import explanations_newest
from compliance.jobs import job_create
from compliance.models import Decision, Dossier, Job, Notice, Organization
from compliance.platform.middleware import dossier_verify_limit_message
from compliance.platform.text_limits import REISSUE_REASON
from compliance.policy import PUBLIC, require
from compliance.principals import Operator, Principal

# a change to what a dossier shows for the same inputs (the template) bumps this, so
# the next request renders anew
# 3: bounded texts, summarised audit extract; 4: the baseline named as used; 5: reasons
# from the run's reasons method, standard errors, the counterfactual's other options
CONTENT_LAYOUT = "dossier-5"
MAX_REISSUE_REASON = REISSUE_REASON


@dataclass(frozen=True)
class RenderedDossier:
    public_id: str
    version: int
    pdf: bytes  # signed
    pages: int
    content_sha256: str = ""
    reissue_reason: str = ""

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.pdf).hexdigest()


class VersionTaken(Exception):  # noqa: N818
    """Another issue stored this version number while we rendered."""


def next_version(decision: Decision) -> int:
    latest = Dossier.objects.filter(decision=decision).aggregate(v=Max("version"))["v"]
    return (latest or 0) + 1


def dossier_content_sha256(decision: Decision) -> str:
    """What a dossier's content is made from: the decision's state, its newest
    explanation per method, its reviews, the layout. Not the audit extract, which
    every download lengthens: reading a dossier is no reason to issue another."""
    made_from = {
        "layout": CONTENT_LAYOUT,
        "decision": decision.pk,
        "model_version": decision.model_version_id,
        "outcome": decision.outcome,
        "status": getattr(decision, "status", ""),
        "final_outcome": getattr(decision, "final_outcome", ""),
        "explanations": [[e.method, e.pk] for e in explanations_newest(decision)],
        "reviews": sorted(decision.reviews.values_list("pk", flat=True)),
    }
    canonical = json.dumps(made_from, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def dossier_unchanged(decision: Decision) -> Dossier | None:
    """The newest version, when the decision's content has not changed since."""
    latest = (
        Dossier.objects.filter(decision=decision).defer("pdf").order_by("-version")
    ).first()
    if latest is not None and latest.content_sha256 == dossier_content_sha256(decision):
        return latest
    return None


def dossier_render_next(
    decision: Decision,
    *,
    fetcher: SafeFetcher | None = None,
    reissue_reason: str = "",
) -> RenderedDossier:
    """Render and sign the decision's next version (outside any transaction: it takes
    a second or two and a round trip to the TSA, and must not hold the database's
    write lock)."""
    version = next_version(decision)
    public_id = f"DOS-{uuid.uuid4().hex[:12].upper()}"
    content_sha256 = dossier_content_sha256(decision)
    pdf, pages = dossier_render(
        decision, public_id=public_id, version=version, fetcher=fetcher
    )
    signed = dossier_sign(pdf, organization=decision.organization)
    return RenderedDossier(
        public_id, version, signed, pages, content_sha256, reissue_reason
    )


def dossier_store(
    decision: Decision, rendered: RenderedDossier, *, issued_by: str
) -> tuple[Dossier, dict[str, object]]:
    """Store a rendered dossier; must run in the caller's transaction. Returns the row
    and its ``dossier.issued`` audit event (for the caller to append). Raises
    VersionTaken when a concurrent issue took the version number."""
    Decision.objects.select_for_update().filter(pk=decision.pk).first()
    if next_version(decision) != rendered.version:
        raise VersionTaken(f"version {rendered.version} was issued meanwhile")
    dossier = Dossier.objects.create(
        public_id=rendered.public_id,
        decision=decision,
        organization_id=decision.organization_id,
        version=rendered.version,
        pdf=rendered.pdf,
        sha256=rendered.sha256,
        size_bytes=len(rendered.pdf),
        pages=rendered.pages,
        issued_by=issued_by[:200],
        issued_at=timezone.now(),
        content_sha256=rendered.content_sha256,
        reissue_reason=rendered.reissue_reason,
    )
    event = {
        "actor": issued_by,
        "organization": decision.organization,
        "action": "dossier.issued",
        "object_type": "decision",
        "object_id": decision.pk,
        "payload": {
            "dossier": rendered.public_id,
            "version": rendered.version,
            "sha256": rendered.sha256,
            **(
                {"reissue_reason": rendered.reissue_reason}
                if rendered.reissue_reason
                else {}
            ),
        },
    }
    return dossier, event


def _reissue_reason(reissue_reason: str) -> str:
    reason = (reissue_reason or "").strip()
    if len(reason) > MAX_REISSUE_REASON:
        raise ValidationFailed(
            f"A reissue reason has at most {MAX_REISSUE_REASON} characters.",
            {"reissue_reason": [f"At most {MAX_REISSUE_REASON} characters."]},
        )
    return reason


def dossier_issue(
    *,
    principal: Principal | Operator,
    decision: Decision,
    fetcher: SafeFetcher | None = None,
    reissue_reason: str = "",
) -> Dossier:
    """Render and store the next version now (tools and tests; people and clients
    request a job with ``dossier_request``). Unchanged content and no
    ``reissue_reason``: the existing version, nothing rendered."""
    require(principal, "dossier.request", decision)
    reason = _reissue_reason(reissue_reason)
    if not reason and (existing := dossier_unchanged(decision)) is not None:
        return existing
    for _ in range(3):
        rendered = dossier_render_next(decision, fetcher=fetcher, reissue_reason=reason)
        try:
            with transaction.atomic():
                dossier, event = dossier_store(
                    decision, rendered, issued_by=principal.actor
                )
                audit_event_append(**event)  # type: ignore[arg-type]
                return dossier
        except VersionTaken:
            continue
    raise ValidationFailed(
        "Too many concurrent dossier issues for this decision; retry."
    )


@dataclass(frozen=True)
class DossierRequested:
    """Either the unchanged version that exists (nothing queued) or the job that will
    issue the next one."""

    existing: Dossier | None = None
    job: Job | None = None


def _dossier_job(
    principal: Principal | Operator, decision: Decision, reason: str
) -> Job:
    dossier_content_complete(decision)
    # the same content asks for the same job (queued, running or done); a reissue
    # always for a new one
    request = (
        f"dossier:reissue:{uuid.uuid4().hex}"
        if reason
        else f"dossier:content:{dossier_content_sha256(decision)}"
    )
    job, _ = job_create(
        kind=Job.Kind.DOSSIER,
        decision=decision,
        request_sha256=hashlib.sha256(request.encode()).hexdigest(),
        requested_by=principal.actor,
        payload={"reissue_reason": reason} if reason else None,
    )
    return job


def dossier_issue_request(
    *,
    principal: Principal | Operator,
    decision: Decision,
    reissue_reason: str = "",
) -> DossierRequested:
    """Issue a dossier: the existing version when the content has not changed since
    it was issued (and no reissue reason is given), else the job that renders the
    next one; refuse now (400) when required content is missing."""
    require(principal, "dossier.request", decision)
    reason = _reissue_reason(reissue_reason)
    if not reason and (existing := dossier_unchanged(decision)) is not None:
        return DossierRequested(existing=existing)
    return DossierRequested(job=_dossier_job(principal, decision, reason))


def dossier_request(
    *,
    principal: Principal | Operator,
    decision: Decision,
    reissue_reason: str = "",
) -> Job:
    """Queue a dossier job; refuse now (400) when required content is missing. For
    unchanged content it is the job that issued (or is issuing) that version, and a
    job that finds its content already issued stores nothing new."""
    require(principal, "dossier.request", decision)
    return _dossier_job(principal, decision, _reissue_reason(reissue_reason))


def dossier_download(*, principal: Principal, dossier: Dossier) -> bytes:
    """The stored bytes, exactly; each download is an audit event."""
    require(principal, "dossier.download", dossier)
    with transaction.atomic():
        audit_event_append(
            actor=principal.actor,
            organization=dossier.organization,
            action="dossier.downloaded",
            object_type="decision",
            object_id=dossier.decision_id,
            payload={"dossier": dossier.public_id, "version": dossier.version},
        )
    return bytes(dossier.pdf)


class Chunked(Protocol):
    """An uploaded file: its size, read in chunks (Django's ``UploadedFile``)."""

    size: int | None

    def chunks(self) -> Iterator[bytes]: ...


def dossier_upload_sha256(pdf: bytes | Chunked) -> str:
    """The sha256 of a file to verify, hashed chunk by chunk (never read whole);
    ``TooLarge`` above ``DOSSIER_VERIFY_MAX_BYTES``, no dossier we issue is."""
    limit = settings.DOSSIER_VERIFY_MAX_BYTES
    if isinstance(pdf, bytes):
        size, chunks = len(pdf), iter((pdf,))
    else:
        size, chunks = pdf.size or 0, pdf.chunks()
    if size > limit:
        raise TooLarge(
            dossier_verify_limit_message(), {"pdf": [f"At most {limit} bytes."]}
        )
    h, seen = hashlib.sha256(), 0
    for chunk in chunks:
        seen += len(chunk)
        if seen > limit:
            raise TooLarge(
                dossier_verify_limit_message(), {"pdf": [f"At most {limit} bytes."]}
            )
        h.update(chunk)
    return h.hexdigest()


def _digest(sha256: str | None, pdf: bytes | Chunked | None) -> str:
    return dossier_upload_sha256(pdf) if pdf is not None else (sha256 or "").lower()


def dossier_verify(
    *,
    principal: Principal,
    sha256: str | None = None,
    pdf: bytes | Chunked | None = None,
) -> Dossier | None:
    """Which of the organisation's dossiers these bytes (or this hash) are, if any
    (annotated with ``superseded``)."""
    require(principal, "dossier.verify")
    digest = _digest(sha256, pdf)
    dossier = (
        with_superseded(
            Dossier.objects.filter(
                organization=principal.organization, sha256=digest
            ).defer("pdf")
        )
    ).first()
    _verification_record(
        actor=principal.actor,
        organization=principal.organization,
        digest=digest,
        dossier=dossier,
        via="member" if principal.user is not None else "api",
    )
    return dossier


def _verification_record(
    *,
    actor: str,
    organization: Organization | None,
    digest: str,
    dossier: Dossier | None,
    via: str,
) -> None:
    """Every verification is an audit event: on the issuing organisation's chain when
    the file is one of its dossiers, else on the asker's (the platform's for the
    public). The payload names the hash asked about, never content."""
    with transaction.atomic():
        audit_event_append(
            actor=actor,
            organization=organization,
            action="dossier.verified",
            object_type="decision" if dossier is not None else "dossier",
            object_id=dossier.decision_id if dossier is not None else digest[:64],
            payload={
                "sha256": digest[:64],
                "dossier": dossier.public_id if dossier is not None else None,
                "version": dossier.version if dossier is not None else None,
                "genuine": dossier is not None,
                "via": via,
            },
        )


# whoever asks the public verification page or endpoint: nobody in particular
PUBLIC_VISITOR = Operator(role=PUBLIC, label="public")


@dataclass(frozen=True)
class PublicVerification:
    """All that anyone may learn from holding a file or its hash: never content."""

    genuine: bool
    organization: str | None = None
    dossier: str | None = None  # the public id printed on every page
    version: int | None = None
    issued_at: datetime | None = None
    superseded: bool | None = None
    # "dossier" (the auditor's record) or "notice" (the affected person's letter)
    kind: str | None = None
    language: str | None = None  # notices: the language it is written in

    def as_dict(self) -> dict[str, object]:
        return {
            "genuine": self.genuine,
            "kind": self.kind,
            "language": self.language,
            "organization": self.organization,
            "dossier": self.dossier,
            "version": self.version,
            "issued_at": self.issued_at,
            "superseded": self.superseded,
        }


def dossier_verify_public(
    *, sha256: str | None = None, pdf: bytes | Chunked | None = None
) -> PublicVerification:
    """Whether these bytes (or this hash) are a dossier issued here, by whom, which
    one, when, and whether a newer version supersedes it. Nothing else: no decision,
    no person, no content."""
    require(PUBLIC_VISITOR, "dossier.verify_public")
    digest = _digest(sha256, pdf)
    if (notice := _notice_by_digest(digest)) is not None:
        return notice
    dossier = (
        with_superseded(Dossier.objects.filter(sha256=digest))
        .select_related("organization")
        .only("public_id", "version", "issued_at", "decision_id", "organization__name")
        .first()
    )
    _verification_record(
        actor=PUBLIC_VISITOR.actor,
        organization=dossier.organization if dossier is not None else None,
        digest=digest,
        dossier=dossier,
        via="public",
    )
    if dossier is None:
        return PublicVerification(genuine=False)
    return PublicVerification(
        genuine=True,
        organization=dossier.organization.name,
        dossier=dossier.public_id,
        version=dossier.version,
        issued_at=dossier.issued_at,
        superseded=dossier_superseded(dossier),
        kind="dossier",
    )


def _notice_by_digest(digest: str) -> PublicVerification | None:
    """A notice to an affected person is verified like a dossier: by its PDF's or its
    HTML's sha256 (the person may hold either). Recorded on the issuer's chain as
    ``notice.verified``; never any content."""
    notice = (
        Notice.objects.filter(Q(sha256=digest) | Q(html_sha256=digest))
        .select_related("organization")
        .only(
            "public_id",
            "version",
            "language",
            "issued_at",
            "decision_id",
            "organization__name",
            "organization_id",
        )
        .first()
    )
    if notice is None:
        return None
    superseded = Notice.objects.filter(
        decision_id=notice.decision_id,
        language=notice.language,
        version__gt=notice.version,
    ).exists()
    with transaction.atomic():
        audit_event_append(
            actor=PUBLIC_VISITOR.actor,
            organization=notice.organization,
            action="notice.verified",
            object_type="decision",
            object_id=notice.decision_id,
            payload={
                "sha256": digest[:64],
                "notice": notice.public_id,
                "version": notice.version,
                "genuine": True,
                "via": "public",
            },
        )
    return PublicVerification(
        genuine=True,
        organization=notice.organization.name,
        dossier=notice.public_id,
        version=notice.version,
        issued_at=notice.issued_at,
        superseded=superseded,
        kind="notice",
        language=notice.language,
    )
