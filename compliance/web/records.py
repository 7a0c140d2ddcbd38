"""Dossiers, the audit trail and verification pages (auditors and officers)."""

from __future__ import annotations

from typing import Any

from django.core.paginator import Paginator
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    StreamingHttpResponse,
)
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from compliance import policy
from compliance.audit.export import audit_trail_export
from compliance.audit.selectors import audit_event_list
from compliance.dossiers import dossier_upload_sha256
from compliance.dossiers import dossier_verify as dossier_verify_service
from compliance.dossiers.selectors import dossier_list as dossier_list_selector
from compliance.errors import TooLarge
from compliance.jobs.audit_verify import audit_verify_job, audit_verify_request
from compliance.models import Job
from compliance.reviews.selectors import blind_pending_annotate
from compliance.web.access import member_required


@require_GET
@member_required("dossier.read")
def dossier_list(request: HttpRequest) -> HttpResponse:
    principal = request.principal  # type: ignore[attr-defined]
    # blind-first: no PDF link for a case whose answer is hidden from this reviewer
    dossiers = blind_pending_annotate(
        principal=principal,
        queryset=dossier_list_selector(principal=principal),
        decision="decision",
    )
    page = Paginator(dossiers, 25).get_page(request.GET.get("page"))
    return render(
        request, "records/dossiers.html", {"page": page, "principal": principal}
    )


@require_http_methods(["GET", "POST"])
@member_required("dossier.verify")
def dossier_verify(request: HttpRequest) -> HttpResponse:
    """Upload a PDF: was it issued by this service (for this organisation)?"""
    principal = request.principal  # type: ignore[attr-defined]
    context: dict[str, Any] = {"principal": principal}
    status = 200
    if request.method == "POST":
        upload = request.FILES.get("pdf")
        if upload is None:
            context["error"] = "Choose a PDF file to verify."
        else:
            try:  # hashed in chunks; above DOSSIER_VERIFY_MAX_BYTES it says the limit
                sha256 = dossier_upload_sha256(upload)
            except TooLarge as exc:
                context["error"], status = exc.detail, 413
            else:
                context["sha256"] = sha256
                context["dossier"] = dossier_verify_service(
                    principal=principal, sha256=sha256
                )
                context["checked"] = True
    return render(request, "records/verify.html", context, status=status)


@require_http_methods(["GET", "POST"])
@member_required("audit.read")
def audit_trail(request: HttpRequest) -> HttpResponseBase:
    """The organisation's audit events with filters; POST queues a check of the
    organisation's chain (a job), whose result the page then shows."""
    principal = request.principal  # type: ignore[attr-defined]
    may_verify = policy.can(principal, "audit.verify")
    if request.method == "POST" and may_verify:
        job = audit_verify_request(principal=principal)
        return redirect(f"{reverse('web:audit-trail')}?verification={job.pk}")
    events = audit_event_list(principal=principal)
    action = request.GET.get("action", "")
    object_id = request.GET.get("object_id", "")
    if "\x00" in action or "\x00" in object_id:
        events = events.none()  # no event has one, and PostgreSQL refuses NUL text
    else:
        if action:
            events = events.filter(action=action)
        if object_id:
            events = events.filter(object_id=object_id)
    if request.GET.get("format") == "csv":
        lines = audit_trail_export(
            principal=principal,
            events=events,
            filters={"action": action, "object_id": object_id},
        )
        csv_response = StreamingHttpResponse(
            lines, content_type="text/csv; charset=utf-8"
        )
        stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
        csv_response["Content-Disposition"] = (
            f'attachment; filename="audit-trail-{stamp}.csv"'
        )
        csv_response["Cache-Control"] = "no-store"
        return csv_response
    verification = (
        audit_verify_job(principal=principal, pk=request.GET["verification"])
        if may_verify and request.GET.get("verification")
        else None
    )
    chain = (
        verification.payload.get("result")
        if verification is not None and verification.status == Job.Status.DONE
        else None
    )
    actions = (
        audit_event_list(principal=principal)
        .order_by()
        .values_list("action", flat=True)
        .distinct()
    )
    response = render(
        request,
        "records/audit.html",
        {
            "page": Paginator(events, 50).get_page(request.GET.get("page")),
            "actions": sorted(set(actions)),
            "action": action,
            "object_id": object_id,
            "verification": verification,
            "chain": chain,
            "principal": principal,
        },
    )
    if verification is not None and verification.status in (
        Job.Status.QUEUED,
        Job.Status.RUNNING,
    ):
        response["Refresh"] = "2"  # until the worker has checked the chain
    return response
