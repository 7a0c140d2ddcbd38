"""The handler of ``notice`` jobs: compose, check and render (outside any
transaction), then store only while the worker still holds the job."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from compliance.dossiers.render import DossierRenderFailed
from compliance.dossiers.signing import DossierSigningFailed
from compliance.jobs import JobDone, JobFailed, JobRetry, Outcome
from compliance.jobs.handlers import AuditEntry, Progress
from compliance.models import Job, Notice
from compliance.notices.checker import NoticeUnfaithful
from compliance.notices.content import NoticeIncomplete
from compliance.notices.language import DEFAULT_LANGUAGE
from compliance.notices.services import (
    RenderedNotice,
    VersionTaken,
    notice_render_next,
    notice_store,
    notice_unchanged,
)


def _language(job: Job) -> str:
    return str((job.payload or {}).get("language") or DEFAULT_LANGUAGE)


class NoticeHandler:
    kind = Job.Kind.NOTICE.value

    def batch_limit(self, requested: int) -> int:
        return 1  # a render is a child process: one per claim keeps leases short

    def run(self, jobs: Sequence[Job], progress: Progress) -> list[Outcome]:
        outcomes: list[Outcome] = []
        for job in jobs:
            decision, language = job.subject_decision, _language(job)
            try:
                outcomes.append(
                    JobDone(
                        notice_unchanged(decision, language)
                        or notice_render_next(decision, language)
                    )
                )
            except NoticeIncomplete as exc:
                outcomes.append(JobFailed("incomplete", exc.detail))
            except NoticeUnfaithful as exc:  # the same record fails the same way
                outcomes.append(JobFailed("unfaithful", exc.detail))
            except DossierSigningFailed as exc:
                outcomes.append(JobFailed("signing_failed", exc.detail))
            except DossierRenderFailed as exc:
                outcomes.append(JobFailed(exc.reason, exc.detail))
            progress(len(outcomes) / len(jobs))
        return outcomes

    def store(self, done: Sequence[tuple[Job, Any]], *, actor: str) -> list[AuditEntry]:
        events: list[AuditEntry] = []
        for job, rendered in done:
            if isinstance(rendered, Notice):
                Job.objects.filter(pk=job.pk).update(notice=rendered)
                job.notice = rendered
                continue
            assert isinstance(rendered, RenderedNotice)  # noqa: S101 (typed by run)
            existing = notice_unchanged(job.subject_decision, rendered.language)
            if existing is not None:
                Job.objects.filter(pk=job.pk).update(notice=existing)
                job.notice = existing
                continue
            try:
                notice, event = notice_store(
                    job.subject_decision, rendered, issued_by=job.requested_by or actor
                )
            except VersionTaken as exc:
                raise JobRetry(str(exc)) from exc
            Job.objects.filter(pk=job.pk).update(notice=notice)
            job.notice = notice
            events.append(event)
        return events
