"""The handler of ``dossier`` jobs: render (outside any transaction), then store only
while the worker still holds the job, so a worker whose lease was taken over issues
nothing."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from compliance.dossiers.content import DossierIncomplete
from compliance.dossiers.services import (
    RenderedDossier,
    VersionTaken,
    dossier_render_next,
    dossier_store,
)
from compliance.jobs import JobDone, JobFailed, JobRetry, Outcome
from compliance.jobs.handlers import AuditEntry, Progress
from compliance.models import Job


class DossierHandler:
    kind = Job.Kind.DOSSIER.value

    def batch_limit(self, requested: int) -> int:
        return 1  # a render is seconds of CPU: one per claim keeps leases short

    def run(self, jobs: Sequence[Job], progress: Progress) -> list[Outcome]:
        outcomes: list[Outcome] = []
        for job in jobs:
            try:
                outcomes.append(JobDone(dossier_render_next(job.decision)))
            except DossierIncomplete as exc:
                outcomes.append(JobFailed("incomplete", exc.detail))
            progress(len(outcomes) / len(jobs))
        return outcomes

    def store(self, done: Sequence[tuple[Job, Any]], *, actor: str) -> list[AuditEntry]:
        events: list[AuditEntry] = []
        for job, rendered in done:
            assert isinstance(rendered, RenderedDossier)  # noqa: S101 (typed by run)
            try:
                dossier, event = dossier_store(
                    job.decision, rendered, issued_by=job.requested_by or actor
                )
            except VersionTaken as exc:
                raise JobRetry(str(exc)) from exc
            Job.objects.filter(pk=job.pk).update(dossier=dossier)
            job.dossier = dossier
            events.append(event)
        return events
