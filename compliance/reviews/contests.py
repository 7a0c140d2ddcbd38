"""Contests: the person a decision is about disputes it (GDPR Art. 22(3): to contest
the decision and obtain human intervention; AI Act Art. 86). Their client system
forwards what they wrote; the case reopens as ``contested`` in the review queue,
whatever its status was, and is reviewed again like any open case. The final
outcome stays recorded until a new review settles it."""

from __future__ import annotations

import hashlib

from django.db import transaction
from django.db.models import QuerySet

from compliance.audit import audit_event_append
from compliance.errors import ValidationFailed
from compliance.models import Contest, Decision
from compliance.platform.text import hostile_text_refuse
from compliance.platform.text_limits import (
    CONTEST_STATEMENT,
    SHORT_TEXT,
    text_limits_check,
)
from compliance.policy import require
from compliance.principals import Operator, Principal


def contest_submit(
    *,
    principal: Principal | Operator,
    decision: Decision,
    statement: str,
    reference: str = "",
) -> Contest:
    """Record a contest and reopen the case as contested, in one transaction; the
    audit event keeps the statement's hash and length, not the person's words."""
    require(principal, "contest.submit", decision)
    hostile_text_refuse({"statement": statement, "reference": reference})
    errors = text_limits_check(
        {
            "statement": (statement, CONTEST_STATEMENT),
            "reference": (reference, SHORT_TEXT),
        }
    )
    text = (statement or "").strip()
    if not text:
        errors.setdefault("statement", []).append(
            "Say what the person contests (their words, as they wrote them)."
        )
    if errors:
        raise ValidationFailed(
            " ".join(m for ms in errors.values() for m in ms), errors
        )
    with transaction.atomic():
        decision = (
            Decision.objects.select_for_update()
            .select_related("organization")
            .get(pk=decision.pk)
        )
        previous = decision.status
        contest = Contest.objects.create(
            decision=decision,
            organization=decision.organization,
            statement=text,
            reference=(reference or "").strip(),
            received_from=principal.actor[:200],
            previous_status=previous,
        )
        if previous != Decision.Status.CONTESTED:
            decision.status = Decision.Status.CONTESTED
            decision.save(update_fields=["status"])
        audit_event_append(
            actor=principal.actor,
            organization=decision.organization,
            action="decision.contested",
            object_type="decision",
            object_id=decision.pk,
            payload={
                "contest": contest.pk,
                "previous_status": previous,
                "statement_sha256": hashlib.sha256(text.encode()).hexdigest(),
                "statement_chars": len(text),
                "reference": contest.reference,
            },
        )
    return contest


def contest_list(*, principal: Principal, decision: Decision) -> QuerySet[Contest]:
    require(principal, "contest.read", decision)
    return Contest.objects.filter(decision=decision).order_by("created_at", "pk")
