"""Reads of jobs, scoped to the caller's organisation."""

from __future__ import annotations

from django.db.models import QuerySet

from compliance.models import Job
from compliance.policy import require
from compliance.principals import Principal


def job_list(*, principal: Principal) -> QuerySet[Job]:
    require(principal, "job.read")
    queryset = Job.objects.filter(organization=principal.organization)
    if principal.is_client:  # training drills are never client-visible
        queryset = queryset.exclude(decision__is_drill=True)
        # nor webhook deliveries: the organisation's admins manage those
        queryset = queryset.exclude(kind=Job.Kind.WEBHOOK)
    return queryset
