"""Explanation dossiers: assemble, check completeness, render to PDF with WeasyPrint
(fetching nothing but our own static files), store immutably, verify.
"""

from __future__ import annotations

import hashlib
import io
import logging
import mimetypes
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.template.loader import render_to_string
from django.utils import timezone

import explain
from compliance.audit import audit_event_append
from compliance.charts import attribution_bars_svg, counterfactual_svg
from compliance.errors import ValidationFailed
from compliance.explanations import lease_reclaimed_payload
from compliance.models import AuditEvent, Decision, Dossier, Explanation, ExplanationJob

logger = logging.getLogger(__name__)
MAX_FEATURES = 300
DOSSIER_MAX_ATTEMPTS = 3
DOSSIER_LEASE_SECONDS = 300  # longer than the dossier task's hard time limit
CHART_FEATURES = 12  # the table below the chart lists every feature
STATIC_SCHEME = "inspectoscope-static:"
RETENTION = "10 years after the decision (EU AI Act Art. 19; credit records)"


class DossierIncomplete(ValidationFailed):  # noqa: N818 (a domain error, named for users)
    code = "dossier_incomplete"


class SafeFetcher:
    """WeasyPrint URL fetcher: serves only our static files; records and refuses the rest."""

    def __init__(self) -> None:
        self.requested: list[str] = []
        self.refused: list[str] = []

    def __call__(self, url: str) -> Any:
        from weasyprint.urls import URLFetcherResponse

        self.requested.append(url)
        if url.startswith(STATIC_SCHEME):
            root = (Path(settings.BASE_DIR) / "static").resolve()
            path = (root / url[len(STATIC_SCHEME) :].lstrip("/")).resolve()
            if path.is_relative_to(root) and path.is_file():
                mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
                return URLFetcherResponse(
                    url, body=path.read_bytes(), headers={"Content-Type": mime}
                )
        self.refused.append(url)
        raise ValueError(
            f"Dossier rendering fetches nothing outside the app: {url[:80]}"
        )


def _fetcher_class() -> Any:
    from weasyprint.urls import URLFetcher

    class _Fetcher(URLFetcher):
        def __init__(self, policy: SafeFetcher):
            super().__init__(allow_redirects=False)
            self.policy = policy

        def fetch(self, url: str, headers: Any = None) -> Any:
            return self.policy(url)

    return _Fetcher


def regimes(decision: Decision) -> dict[str, bool]:
    org = decision.organization
    eu = "EU" in org.jurisdiction
    us = "US" in org.jurisdiction
    category = (decision.ai_system.annex_iii_category or "").lower()
    credit = "credit" in category or "5(b)" in category
    mv = decision.model_version
    adverse = decision.outcome != mv.favourable_class
    return {
        "ai_act_art_86": eu and bool(category),
        "gdpr_art_22": eu,
        "reg_b": us and credit and adverse,
        "adverse": adverse,
    }


@dataclass
class DossierContent:
    context: dict[str, Any]
    missing: list[str]


def dossier_content(decision: Decision) -> DossierContent:
    """Everything the dossier shows, and what required element is missing."""
    mv = decision.model_version
    schema = explain.parse_feature_schema(mv.feature_schema)
    specs = schema.by_name()
    missing: list[str] = []
    if len(schema.features) > MAX_FEATURES:
        missing.append(
            f"at most {MAX_FEATURES} features fit a dossier; this model has "
            f"{len(schema.features)}"
        )
    explanations = list(
        Explanation.objects.filter(decision=decision).order_by("-created_at", "-id")
    )
    newest: dict[str, Explanation] = {}
    for e in explanations:
        newest.setdefault(e.method, e)
    primary = newest.get("integrated_gradients") or next(iter(newest.values()), None)
    rules = regimes(decision)
    if primary is None:
        missing.append("an explanation of the decision (request one first)")
    elif rules["adverse"]:
        if not primary.reasons:
            missing.append("principal reasons for the adverse outcome")
        no_text = [
            r["feature"] for r in primary.reasons if not specs[r["feature"]].reason
        ]
        if no_text:
            missing.append(
                "reason texts in the feature schema for: " + ", ".join(sorted(no_text))
            )
    sign = 1.0 if mv.class_labels[-1] != mv.favourable_class else -1.0
    inputs = []
    for spec in schema.features:
        value = decision.features.get(spec.name)
        out_of_range = spec.kind == "numeric" and (
            (spec.min is not None and value < spec.min)
            or (spec.max is not None and value > spec.max)
        )
        inputs.append({"spec": spec, "value": value, "out_of_range": out_of_range})
    charts = {}
    if primary is not None:
        charts["attributions"] = attribution_bars_svg(
            sorted(
                ((specs[n].label, v) for n, v in primary.attributions.items()),
                key=lambda kv: -abs(kv[1]),
            )[:CHART_FEATURES],
            adverse_sign=sign,
            title=f"Attributions ({primary.method})",
        )
        if primary.counterfactual:
            cf = primary.counterfactual
            charts["counterfactual"] = counterfactual_svg(
                score_before=cf["score_before"],
                score_after=cf["score_after"],
                threshold=mv.decision_threshold,
                labels=mv.class_labels,
            )
    attribution_rows = []
    if primary is not None:
        for name, value in sorted(
            primary.attributions.items(), key=lambda kv: -abs(kv[1])
        ):
            attribution_rows.append(
                {
                    "spec": specs[name],
                    "value": value,
                    "direction": "adverse" if value * sign > 0 else "favourable",
                    "baseline": primary.baseline.get(name),
                }
            )
    events = AuditEvent.objects.filter(
        organization=decision.organization,
        object_type="decision",
        object_id=str(decision.pk),
    ).order_by("sequence")
    context = {
        "decision": decision,
        "mv": mv,
        "ai": decision.ai_system,
        "org": decision.organization,
        "schema": schema,
        "inputs": inputs,
        "excluded": [s for s in schema.features if s.protected],
        "primary": primary,
        "methods": list(newest.values()),
        "charts": charts,
        "attribution_rows": attribution_rows,
        "reviews": list(decision.reviews.select_related("reviewer")),
        "regimes": rules,
        "events": list(events),
        "retention": RETENTION,
        "threshold": mv.decision_threshold,
        "scored_class": mv.class_labels[-1],
    }
    return DossierContent(context=context, missing=missing)


def dossier_render(
    decision: Decision,
    *,
    public_id: str,
    version: int,
    fetcher: SafeFetcher | None = None,
) -> tuple[bytes, int]:
    """Render the PDF bytes and page count, or raise DossierIncomplete."""
    from weasyprint import HTML

    content = dossier_content(decision)
    if content.missing:
        raise DossierIncomplete(
            "The dossier cannot be issued; missing: "
            + "; ".join(content.missing)
            + ".",
            {"decision": content.missing},
        )
    html = render_to_string(
        "dossier/dossier.html",
        {
            **content.context,
            "public_id": public_id,
            "version": version,
            "issued_at": timezone.now(),
        },
    )
    policy = fetcher or SafeFetcher()
    document = HTML(
        string=html, base_url=STATIC_SCHEME + "/", url_fetcher=_fetcher_class()(policy)
    ).render()
    buffer = io.BytesIO()
    document.write_pdf(buffer)
    return buffer.getvalue(), len(document.pages)


def _next_version(decision: Decision) -> int:
    latest = Dossier.objects.filter(decision=decision).aggregate(v=Max("version"))["v"]
    return (latest or 0) + 1


def dossier_issue(
    *, decision: Decision, actor: str, fetcher: SafeFetcher | None = None
) -> Dossier:
    """Render and store the next version of a decision's dossier, with its audit event.

    Rendering happens outside any transaction (it takes up to a second and must not
    hold the database's write lock); the store re-checks the version number and
    renders again if another issue took it meanwhile.
    """
    for _ in range(3):
        version = _next_version(decision)
        public_id = f"DOS-{uuid.uuid4().hex[:12].upper()}"
        pdf, pages = dossier_render(
            decision, public_id=public_id, version=version, fetcher=fetcher
        )
        sha = hashlib.sha256(pdf).hexdigest()
        with transaction.atomic():
            Decision.objects.select_for_update().filter(pk=decision.pk).first()
            if _next_version(decision) != version:
                continue  # a concurrent issue took this version number
            dossier = Dossier.objects.create(
                public_id=public_id,
                decision=decision,
                organization=decision.organization,
                version=version,
                pdf=pdf,
                sha256=sha,
                size_bytes=len(pdf),
                pages=pages,
                issued_by=actor[:200],
                issued_at=timezone.now(),
            )
            audit_event_append(
                actor=actor,
                organization=decision.organization,
                action="dossier.issued",
                object_type="decision",
                object_id=decision.pk,
                payload={"dossier": public_id, "version": version, "sha256": sha},
            )
            return dossier
    raise ValidationFailed(
        "Too many concurrent dossier issues for this decision; retry."
    )


def dossier_download(*, dossier: Dossier, actor: str) -> bytes:
    with transaction.atomic():
        audit_event_append(
            actor=actor,
            organization=dossier.organization,
            action="dossier.downloaded",
            object_type="decision",
            object_id=dossier.decision_id,
            payload={"dossier": dossier.public_id, "version": dossier.version},
        )
    return bytes(dossier.pdf)


def dossier_verify(
    *, organization: Any, sha256: str | None = None, pdf: bytes | None = None
) -> Dossier | None:
    digest = (
        hashlib.sha256(pdf).hexdigest() if pdf is not None else (sha256 or "").lower()
    )
    return Dossier.objects.filter(organization=organization, sha256=digest).first()


# --- jobs ---------------------------------------------------------------------------------


def dossier_request(*, actor: str, decision: Decision) -> ExplanationJob:
    """Queue a dossier job; refuse now (400) when required content is missing."""
    content = dossier_content(decision)
    if content.missing:
        raise DossierIncomplete(
            "The dossier cannot be issued; missing: "
            + "; ".join(content.missing)
            + ".",
            {"decision": content.missing},
        )
    with transaction.atomic():
        job = ExplanationJob.objects.create(
            kind=ExplanationJob.Kind.DOSSIER,
            organization=decision.organization,
            decision=decision,
            model_version=decision.model_version,
            methods=[],
            request_sha256=uuid.uuid4().hex,
            parameters={"actor": actor},
        )
        transaction.on_commit(lambda: dossier_wake(job.pk))
    return job


def dossier_wake(job_id: int) -> bool:
    from workers.celery import app

    try:
        app.send_task(
            "workers.tasks.dossier_render",
            kwargs={"job_id": job_id},
            queue="dossiers",
            retry=False,
        )
        return True
    except Exception as exc:  # any broker failure: the sweeper re-sends
        logger.warning("Could not publish dossier job %s (%s).", job_id, exc)
        return False


def _dossier_job_claim(*, job_id: int, worker: str) -> ExplanationJob | None:
    """Lease a queued dossier job, or take over one whose lease ran out; the takeover is
    an audit event in the same transaction. None when there is nothing to claim."""
    Status = ExplanationJob.Status
    now = timezone.now()
    with transaction.atomic():
        job = (
            ExplanationJob.objects.select_for_update(of=("self",))
            .select_related("decision", "organization")
            .filter(pk=job_id, kind=ExplanationJob.Kind.DOSSIER)
            .first()
        )
        if job is None:
            return None
        taken_over = (
            job.status == Status.RUNNING
            and job.lease_until is not None
            and job.lease_until < now
        )
        if job.status != Status.QUEUED and not taken_over:
            return None
        reclaimed = lease_reclaimed_payload(job) if taken_over else None
        job.status = Status.RUNNING
        job.worker = worker[:200]
        job.started_at = now
        job.progress = 0.1
        job.lease_until = now + timedelta(seconds=DOSSIER_LEASE_SECONDS)
        job.attempts += 1
        job.save(
            update_fields=[
                "status",
                "worker",
                "started_at",
                "progress",
                "lease_until",
                "attempts",
            ]
        )
        if reclaimed is not None:
            audit_event_append(
                actor=f"worker:{worker}"[:200],
                organization=job.organization,
                action="dossier.lease_reclaimed",
                object_type="explanation_job",
                object_id=job.pk,
                payload=reclaimed,
            )
    return job


def _dossier_job_fail(
    job: ExplanationJob, *, worker: str, reason: str, error: str
) -> None:
    """Mark the job failed and record why, in one transaction; nothing if another
    worker has taken the job over since (its lease ran out)."""
    with transaction.atomic():
        if not _own_running_job(job, worker).update(
            status=ExplanationJob.Status.FAILED,
            error=error[:2000],
            finished_at=timezone.now(),
            lease_until=None,
        ):
            return
        audit_event_append(
            actor=f"worker:{worker}"[:200],
            organization=job.organization,
            action="dossier.failed",
            object_type="explanation_job",
            object_id=job.pk,
            payload={
                "decision": job.decision_id,
                "reason": reason,
                "error": error[:500],
                "attempts": job.attempts,
            },
        )


def dossier_job_run(*, job_id: int, worker: str) -> None:
    """Claim a dossier job with a lease (the sweeper re-queues it if this worker dies),
    render and store it, and record the outcome on the job and in the audit trail."""
    job = _dossier_job_claim(job_id=job_id, worker=worker)
    if job is None:
        return
    if job.attempts > DOSSIER_MAX_ATTEMPTS:
        _dossier_job_fail(
            job,
            worker=worker,
            reason="attempts_exhausted",
            error=f"Gave up after {DOSSIER_MAX_ATTEMPTS} attempts: the worker was lost "
            "each time (see the worker logs).",
        )
        return
    try:
        dossier = dossier_issue(
            decision=job.decision, actor=job.parameters.get("actor", "worker")
        )
    except ValidationFailed as exc:
        _dossier_job_fail(job, worker=worker, reason="incomplete", error=exc.detail)
        return
    except SoftTimeLimitExceeded:
        _dossier_job_fail(
            job,
            worker=worker,
            reason="time_limit",
            error="Rendering took longer than the time limit; the dossier was not issued.",
        )
        return
    except Exception as exc:
        _dossier_job_fail(
            job,
            worker=worker,
            reason="render_error",
            error=f"Rendering failed: {type(exc).__name__}: {str(exc)[:500]}",
        )
        raise
    _own_running_job(job, worker).update(
        lease_until=None,
        status=ExplanationJob.Status.DONE,
        progress=1.0,
        finished_at=timezone.now(),
        dossier=dossier,
    )


def _own_running_job(job: ExplanationJob, worker: str) -> Any:
    """The job's row while this worker still holds it (the claim wrote its name)."""
    return ExplanationJob.objects.filter(
        pk=job.pk, worker=worker[:200], status=ExplanationJob.Status.RUNNING
    )
