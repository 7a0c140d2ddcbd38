"""Reads of notices, scoped to the caller's organisation (a client system: the
notices of the decisions it submitted)."""

from __future__ import annotations

from django.db.models import QuerySet

from compliance.models import Decision, Notice
from compliance.policy import require
from compliance.principals import Principal


def notice_list(*, principal: Principal) -> QuerySet[Notice]:
    require(principal, "notice.read")
    queryset = Notice.objects.filter(organization=principal.organization)
    if principal.is_client:
        queryset = queryset.filter(
            decision__client_system=principal.client_system, decision__is_drill=False
        )
    return queryset.defer("pdf", "html").order_by(
        "-decision_id", "language", "-version"
    )


def decision_notices(*, principal: Principal, decision: Decision) -> QuerySet[Notice]:
    return notice_list(principal=principal).filter(decision=decision)
