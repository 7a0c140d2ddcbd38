"""Issuing, requesting, downloading and verifying dossiers. Issued dossiers are
immutable: a reissue is a new version."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from compliance.audit import audit_event_append
from compliance.dossiers.content import dossier_content_complete
from compliance.dossiers.render import SafeFetcher, dossier_render
from compliance.errors import ValidationFailed
from compliance.jobs import job_create
from compliance.models import Decision, Dossier, Job
from compliance.policy import require
from compliance.principals import Operator, Principal


@dataclass(frozen=True)
class RenderedDossier:
    public_id: str
    version: int
    pdf: bytes
    pages: int

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.pdf).hexdigest()


class VersionTaken(Exception):  # noqa: N818
    """Another issue stored this version number while we rendered."""


def next_version(decision: Decision) -> int:
    latest = Dossier.objects.filter(decision=decision).aggregate(v=Max("version"))["v"]
    return (latest or 0) + 1


def dossier_render_next(
    decision: Decision, *, fetcher: SafeFetcher | None = None
) -> RenderedDossier:
    """Render the decision's next version (outside any transaction: it takes up to a
    second and must not hold the database's write lock)."""
    version = next_version(decision)
    public_id = f"DOS-{uuid.uuid4().hex[:12].upper()}"
    pdf, pages = dossier_render(
        decision, public_id=public_id, version=version, fetcher=fetcher
    )
    return RenderedDossier(public_id, version, pdf, pages)


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
        },
    }
    return dossier, event


def dossier_issue(
    *,
    principal: Principal | Operator,
    decision: Decision,
    fetcher: SafeFetcher | None = None,
) -> Dossier:
    """Render and store the next version now (tools and tests; people and clients
    request a job with ``dossier_request``)."""
    require(principal, "dossier.request", decision)
    for _ in range(3):
        rendered = dossier_render_next(decision, fetcher=fetcher)
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


def dossier_request(*, principal: Principal | Operator, decision: Decision) -> Job:
    """Queue a dossier job; refuse now (400) when required content is missing."""
    require(principal, "dossier.request", decision)
    dossier_content_complete(decision)
    job, _ = job_create(
        kind=Job.Kind.DOSSIER,
        decision=decision,
        request_sha256=uuid.uuid4().hex,  # every request is a new version
        requested_by=principal.actor,
    )
    return job


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


def dossier_verify(
    *, principal: Principal, sha256: str | None = None, pdf: bytes | None = None
) -> Dossier | None:
    """Which of the organisation's dossiers these bytes (or this hash) are, if any."""
    require(principal, "dossier.verify")
    digest = (
        hashlib.sha256(pdf).hexdigest() if pdf is not None else (sha256 or "").lower()
    )
    return Dossier.objects.filter(
        organization=principal.organization, sha256=digest
    ).first()
