"""The case page's notice panel: preview a notice in each language (nothing stored),
issue one (a ``notice`` job), download those issued (through the API's download
endpoints, which audit each download)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from compliance import notices, policy
from compliance.decisions.selectors import decision_list
from compliance.errors import DomainError
from compliance.models import Decision
from compliance.notices.render import notice_style_csp
from compliance.reviews.selectors import blind_pending_refuse
from compliance.web.access import member_required


def _decision(request: HttpRequest, pk: int) -> Decision:
    principal = request.principal  # type: ignore[attr-defined]
    decision = get_object_or_404(decision_list(principal=principal), pk=pk)
    # blind-first: a notice tells the model's answer
    try:
        blind_pending_refuse(principal=principal, decision=decision)
    except DomainError as exc:
        raise PermissionDenied(exc.detail) from exc
    return decision


@require_GET
@member_required("notice.read")
def case_notice_preview(request: HttpRequest, pk: int) -> HttpResponse:
    """The notice as it would be issued now, in ``?lang=``; a notice that fails the
    faithfulness check is shown as the failures (422), never as a letter."""
    decision = _decision(request, pk)
    try:
        language = notices.notice_language(request.GET.get("lang"))
        html, check = notices.notice_preview(decision, language)
    except DomainError as exc:
        return render(
            request,
            "cases/notice_refused.html",
            {"decision": decision, "detail": exc.detail, "failures": []},
            status=exc.status_code,
        )
    if not check.passed:
        return render(
            request,
            "cases/notice_refused.html",
            {
                "decision": decision,
                "detail": "This notice would not be issued: it does not match the "
                "stored explanation.",
                "failures": check.failures,
            },
            status=422,
        )
    response = HttpResponse(html, content_type="text/html; charset=utf-8")
    response["Content-Security-Policy"] = notice_style_csp()
    response["Content-Language"] = language
    return response


@require_POST
@member_required("notice.read")
def case_notice_issue(request: HttpRequest, pk: int) -> HttpResponse:
    principal = request.principal  # type: ignore[attr-defined]
    if not policy.can(principal, "notice.request"):
        raise PermissionDenied("Your role may not issue notices.")
    decision = _decision(request, pk)
    try:
        language = notices.notice_language(request.POST.get("lang"))
        issued = notices.notice_request(
            principal=principal, decision=decision, language=language
        )
    except DomainError as exc:
        for message in [m for ms in exc.errors.values() for m in ms] or [exc.detail]:
            messages.error(request, message)
        return redirect("web:case-detail", pk=decision.pk)
    if issued.existing is not None:
        messages.info(
            request,
            f"Nothing has changed since notice {issued.existing.public_id} "
            f"({issued.existing.language}) was issued; it stands.",
        )
        return redirect("web:case-detail", pk=decision.pk)
    assert issued.job is not None  # noqa: S101 (one of the two is set)
    return redirect(f"/cases/{decision.pk}/?job={issued.job.pk}")
