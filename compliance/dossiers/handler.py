"""The handler of ``dossier`` jobs: render (outside any transaction), then store only
while the worker still holds the job, so a worker whose lease was taken over issues
nothing."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from compliance.dossiers.content import DossierIncomplete
from compliance.dossiers.render import DossierRenderFailed
from compliance.dossiers.services import (
    RenderedDossier,
    VersionTaken,
    dossier_render_next,
    dossier_store,
    dossier_unchanged,
)
from compliance.dossiers.signing import DossierSigningFailed
from compliance.jobs import JobDone, JobFailed, JobRetry, Outcome
from compliance.jobs.handlers import AuditEntry, Progress
from compliance.models import Dossier, Job


def _reissue_reason(job: Job) -> str:
    return str((job.payload or {}).get("reissue_reason", ""))


class DossierHandler:
    kind = Job.Kind.DOSSIER.value

    def batch_limit(self, requested: int) -> int:
        return 1  # a render is seconds of CPU: one per claim keeps leases short

    def run(self, jobs: Sequence[Job], progress: Progress) -> list[Outcome]:
        outcomes: list[Outcome] = []
        for job in jobs:
            reason = _reissue_reason(job)
            existing = None if reason else dossier_unchanged(job.subject_decision)
            try:
                outcomes.append(
                    JobDone(
                        existing
                        or dossier_render_next(
                            job.subject_decision, reissue_reason=reason
                        )
                    )
                )
            except DossierIncomplete as exc:
                outcomes.append(JobFailed("incomplete", exc.detail))
            except DossierSigningFailed as exc:
                outcomes.append(JobFailed("signing_failed", exc.detail))
            except DossierRenderFailed as exc:  # the same content fails the same way
                outcomes.append(JobFailed(exc.reason, exc.detail))
            progress(len(outcomes) / len(jobs))
        return outcomes

    def store(self, done: Sequence[tuple[Job, Any]], *, actor: str) -> list[AuditEntry]:
        events: list[AuditEntry] = []
        for job, rendered in done:
            if isinstance(rendered, Dossier):  # unchanged content: that version
                Job.objects.filter(pk=job.pk).update(dossier=rendered)
                job.dossier = rendered
                continue
            assert isinstance(rendered, RenderedDossier)  # noqa: S101 (typed by run)
            if not rendered.reissue_reason and (
                existing := dossier_unchanged(job.subject_decision)
            ):  # issued meanwhile with the same content: store nothing new
                Job.objects.filter(pk=job.pk).update(dossier=existing)
                job.dossier = existing
                continue
            try:
                dossier, event = dossier_store(
                    job.subject_decision, rendered, issued_by=job.requested_by or actor
                )
            except VersionTaken as exc:
                raise JobRetry(str(exc)) from exc
            Job.objects.filter(pk=job.pk).update(dossier=dossier)
            job.dossier = dossier
            events.append(event)
        return events
