"""The Monitoring area (officers, auditors and admins of the organisation): an
overview with alert badges, one page per topic with server-side SVG charts, each
chart with its data table, a CSV download per page, and the monthly oversight
reports. Thin: the figures come from compliance.monitoring."""

from __future__ import annotations

import csv
from datetime import date
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from compliance.errors import DomainError
from compliance.models import AISystem
from compliance.monitoring.months import first_decision_month, months_window
from compliance.monitoring.pages import (
    Page,
    drift_page,
    fairness_page,
    oversight_page,
    overview,
)
from compliance.monitoring.report import (
    report_jobs_open,
    report_list,
    report_request,
)
from compliance.registry.selectors import ai_system_list
from compliance.web.access import member_required

PAGES = {"oversight": oversight_page, "fairness": fairness_page, "drift": drift_page}


class BadQuery(Exception):
    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(errors.values()))
        self.errors = errors


def _month(value: str, name: str) -> date | None:
    if not value:
        return None
    try:
        year, month = value[:7].split("-")
        return date(int(year), int(month), 1)
    except ValueError:
        raise BadQuery({name: f"{name}: give a month as YYYY-MM."}) from None


def _selection(request: HttpRequest) -> dict[str, Any]:
    principal = request.principal  # type: ignore[attr-defined]
    systems = list(ai_system_list(principal=principal).order_by("name"))
    wanted = request.GET.get("ai_system", "")
    ai_system: AISystem | None = systems[0] if systems else None
    if wanted:
        ai_system = next((s for s in systems if str(s.pk) == wanted), None)
        if ai_system is None:
            raise BadQuery({"ai_system": "ai_system: not one of your AI systems."})
    since = _month(request.GET.get("from", ""), "from")
    until = _month(request.GET.get("to", ""), "to")
    if since and until and since > until:
        raise BadQuery({"from": "from: must not come after to."})
    if since is None and ai_system is not None:
        # by default from the system's first decision, at most twelve months back
        first = first_decision_month(ai_system)
        window = months_window(None, until)
        if first is not None and window[0] < first <= window[-1]:
            since = first
    months = months_window(since, until)
    query = f"ai_system={ai_system.pk if ai_system else ''}"
    query += f"&from={months[0]:%Y-%m}&to={months[-1]:%Y-%m}"
    return {
        "principal": principal,
        "systems": systems,
        "ai": ai_system,
        "since": months[0],
        "until": months[-1],
        "query": query,
    }


def _bad(request: HttpRequest, exc: BadQuery) -> HttpResponse:
    return render(
        request,
        "monitoring/bad_query.html",
        {"errors": exc.errors, "principal": request.principal},  # type: ignore[attr-defined]
        status=400,
    )


@require_GET
@member_required("monitoring.read")
def monitoring_overview(request: HttpRequest) -> HttpResponse:
    try:
        ctx = _selection(request)
    except BadQuery as exc:
        return _bad(request, exc)
    ai = ctx["ai"]
    if ai is not None:
        ctx["overview"] = overview(
            principal=ctx["principal"],
            ai_system=ai,
            since=ctx["since"],
            until=ctx["until"],
        )
        ctx["reports"] = report_list(principal=ctx["principal"], ai_system=ai)[:12]
        ctx["reports_open"] = report_jobs_open(principal=ctx["principal"], ai_system=ai)
    ctx["topic"] = "overview"
    return render(request, "monitoring/overview.html", ctx)


def _csv(page: Page) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    name = f"{page.topic}-{page.ai_system.pk}-{page.months[0]:%Y-%m}-{page.months[-1]:%Y-%m}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    writer = csv.writer(response)
    writer.writerow(page.header)
    for row in page.rows:
        # a cell a spreadsheet would run as a formula is quoted as text
        writer.writerow(
            [
                f"'{v}"
                if isinstance(v, str)
                and v[:1] in ("=", "+", "-", "@")
                and not _number(v)
                else v
                for v in row
            ]
        )
    return response


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


@require_GET
@member_required("monitoring.read")
def monitoring_topic(request: HttpRequest, topic: str) -> HttpResponse:
    if topic not in PAGES:
        raise Http404("No such monitoring page.")
    try:
        ctx = _selection(request)
    except BadQuery as exc:
        return _bad(request, exc)
    ai = ctx["ai"]
    if ai is not None:
        page = PAGES[topic](
            principal=ctx["principal"],
            ai_system=ai,
            since=ctx["since"],
            until=ctx["until"],
        )
        if request.GET.get("format") == "csv":
            return _csv(page)
        ctx["page"] = page
    ctx["topic"] = topic
    return render(request, f"monitoring/{topic}.html", ctx)


@require_POST
@member_required("monitoring.report")
def monitoring_report_request(request: HttpRequest) -> HttpResponse:
    principal = request.principal  # type: ignore[attr-defined]
    ai = (
        ai_system_list(principal=principal)
        .filter(pk=request.POST.get("ai_system") or 0)
        .first()
    )
    try:
        month = _month(request.POST.get("month", ""), "month")
        if ai is None:
            raise BadQuery({"ai_system": "ai_system: not one of your AI systems."})
        if month is None:
            raise BadQuery({"month": "month: give a month as YYYY-MM."})
        job = report_request(principal=principal, ai_system=ai, month=month)
    except BadQuery as exc:
        return _bad(request, exc)
    except DomainError as exc:
        messages.error(request, str(exc))
        return redirect(f"/monitoring/?ai_system={ai.pk if ai else ''}")
    messages.success(
        request,
        f"The oversight report for {month:%B %Y} is being rendered (job {job.pk}); "
        "it appears below when it is ready.",
    )
    return redirect(f"/monitoring/?ai_system={ai.pk}")


@require_GET
@member_required("monitoring.read")
def monitoring_report_download(request: HttpRequest, pk: int) -> HttpResponse:
    principal = request.principal  # type: ignore[attr-defined]
    report = None
    for ai in ai_system_list(principal=principal):
        report = report_list(principal=principal, ai_system=ai).filter(pk=pk).first()
        if report is not None:
            break
    if report is None:
        raise Http404("No such report.")
    with report.pdf.open("rb") as fh:  # a few hundred kB
        response = HttpResponse(fh.read(), content_type="application/pdf")
    name = (
        f"oversight-report-{report.ai_system_id}-{report.month:%Y-%m}"
        f"-v{report.version}.pdf"
    )
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["X-Content-SHA256"] = report.sha256
    return response
