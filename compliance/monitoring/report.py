"""The monthly oversight report (AI Act Art. 26 file, model risk committee): one AI
system's month with the six months before it — oversight per reviewer, drills, the
queue, fairness, drift and the month's alerts — as a PDF (WeasyPrint, through the
job engine), versioned, hashed and audited. Kind ``report`` on the dossiers queue."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.db.models import Max
from django.template.loader import render_to_string
from django.utils import timezone

from compliance.errors import ValidationFailed
from compliance.jobs.engine import job_create
from compliance.jobs.handlers import AuditEntry, JobDone, JobFailed, Outcome, Progress
from compliance.models import AISystem, Job, MonitoringAlert, OversightReport
from compliance.monitoring.alerts import alerts_raise
from compliance.monitoring.months import month_of
from compliance.monitoring.pages import drift_page, fairness_page, oversight_page
from compliance.platform.child import ChildTimeout
from compliance.platform.warm_render import RenderFailed, render_warm
from compliance.policy import require
from compliance.principals import SYSTEM, Principal

KIND = Job.Kind.REPORT.value
WINDOW_MONTHS = 6


def _window(month: date) -> date:
    first = month
    for _ in range(WINDOW_MONTHS - 1):
        first = (first - timedelta(days=1)).replace(day=1)
    return first


def report_html(*, principal: Principal, ai_system: AISystem, month: date) -> str:
    since = _window(month)
    css = (Path(settings.BASE_DIR) / "static" / "css" / "report.css").read_text()
    return render_to_string(
        "monitoring/report.html",
        {
            "css": css,
            "ai": ai_system,
            "org": ai_system.organization,
            "month": month,
            "since": since,
            "oversight": oversight_page(
                principal=principal, ai_system=ai_system, since=since, until=month
            ),
            "fairness": fairness_page(
                principal=principal, ai_system=ai_system, since=since, until=month
            ),
            "drift": drift_page(
                principal=principal, ai_system=ai_system, since=since, until=month
            ),
            "alerts": MonitoringAlert.objects.filter(
                ai_system=ai_system, month__gte=since, month__lte=month
            ).order_by("-month", "kind"),
            "generated": timezone.now(),
        },
    )


class ReportHandler:
    kind = KIND

    def batch_limit(self, requested: int) -> int:
        return 1

    def run(self, jobs: Sequence[Job], progress: Progress) -> list[Outcome]:
        outcomes: list[Outcome] = []
        for job in jobs:
            ai_system = AISystem.objects.get(pk=job.payload["ai_system"])
            month = date.fromisoformat(job.payload["month"])
            principal = Principal(organization=job.organization, role=SYSTEM)
            # the alerts the figures raise are recorded before the report lists them
            alerts_raise(
                principal=principal, ai_system=ai_system, actor="system:report"
            )
            html = report_html(principal=principal, ai_system=ai_system, month=month)
            try:
                pdf, header, _ = render_warm(
                    html,
                    static_root=Path(settings.BASE_DIR) / "static",
                    timeout=float(settings.DOSSIER_RENDER_TIMEOUT_SECONDS) * 2,
                )
            except (ChildTimeout, RenderFailed) as exc:
                outcomes.append(
                    JobFailed(
                        "render_failed", f"The report could not be rendered: {exc}"
                    )
                )
                continue
            outcomes.append(JobDone({"pdf": pdf, "pages": int(header["pages"])}))
        return outcomes

    def store(self, done: Sequence[tuple[Job, Any]], *, actor: str) -> list[AuditEntry]:
        events: list[AuditEntry] = []
        for job, result in done:
            ai_system = AISystem.objects.get(pk=job.payload["ai_system"])
            month = date.fromisoformat(job.payload["month"])
            last = OversightReport.objects.filter(
                ai_system=ai_system, month=month
            ).aggregate(v=Max("version"))["v"]
            sha = hashlib.sha256(result["pdf"]).hexdigest()
            report = OversightReport(
                organization=job.organization,
                ai_system=ai_system,
                month=month,
                version=(last or 0) + 1,
                sha256=sha,
                pages=result["pages"],
                generated_by=job.requested_by,
            )
            report.pdf.save(f"{sha}.pdf", ContentFile(result["pdf"]), save=False)
            report.save()
            job.payload = {**job.payload, "report": report.pk}
            Job.objects.filter(pk=job.pk).update(payload=job.payload)
            events.append(
                {
                    "actor": actor,
                    "organization": job.organization,
                    "action": "report.issued",
                    "object_type": "oversight_report",
                    "object_id": report.pk,
                    "payload": {
                        "ai_system": ai_system.pk,
                        "month": month.isoformat(),
                        "version": report.version,
                        "sha256": sha,
                        "pages": report.pages,
                    },
                }
            )
        return events


def report_request(*, principal: Principal, ai_system: AISystem, month: date) -> Job:
    """Queue the month's oversight report of ``ai_system`` (a new version each
    time it is asked for)."""
    require(principal, "monitoring.report", ai_system)
    month = month_of(month)
    if month > month_of(timezone.now()):
        raise ValidationFailed(
            "That month has not begun.",
            {"month": ["Choose this month or an earlier one."]},
        )
    job, _ = job_create(
        kind=KIND,
        decision=None,
        organization=principal.organization,
        request_sha256=uuid.uuid4().hex,
        requested_by=principal.actor,
        payload={"ai_system": ai_system.pk, "month": month.isoformat()},
    )
    return job


def report_list(*, principal: Principal, ai_system: AISystem) -> Any:
    require(principal, "monitoring.read")
    return OversightReport.objects.filter(
        organization=principal.organization, ai_system=ai_system
    ).order_by("-month", "-version")


def report_jobs_open(*, principal: Principal, ai_system: AISystem) -> Any:
    return Job.objects.filter(
        organization=principal.organization,
        kind=KIND,
        status__in=(Job.Status.QUEUED, Job.Status.RUNNING),
        payload__ai_system=ai_system.pk,
    ).order_by("-id")
