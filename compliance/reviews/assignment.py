"""Case management: who works a case. A reviewer takes a case or gives it up; an
organisation admin gives cases to any reviewer (officer or admin) of the organisation,
one at a time or in bulk. Each change is an audit event (``case.assigned`` /
``case.unassigned``, the assignee's user id, never their name).

Training drills keep their own rota (``compliance.reviews.drills``): a drill is seen
only by the reviewer it was given to, so its assignment is never changed here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from compliance.audit import audit_events_append
from compliance.errors import ValidationFailed
from compliance.models import Decision, Membership
from compliance.policy import can, require, roles_for
from compliance.principals import Principal

# a page of the queue is 25 rows; a bulk change beyond this is a mistake
BULK_MAX = 500
NOT_A_REVIEWER = "Choose an officer or administrator of your organisation."
DRILL_FIXED = "This case's assignment cannot be changed."


def case_assignees(*, principal: Principal) -> QuerySet[Any]:
    """The people a case of ``principal``'s organisation may be given to (its
    reviewers), by username."""
    require(principal, "case.read")
    return (
        get_user_model()
        .objects.filter(
            is_active=True,
            membership__organization=principal.organization,
            membership__role__in=roles_for("case.assignee"),
        )
        .order_by("username")
    )


def assignee_resolve(*, principal: Principal, value: str) -> Any:
    """The user a form's assignee field names: "me", "" (nobody) or a user id among
    the organisation's reviewers; anything else is a form error (never a 500)."""
    value = (value or "").strip()
    if value == "":
        return None
    if value == "me":
        return principal.user
    if not value.isdigit() or len(value) > 18:
        raise ValidationFailed(NOT_A_REVIEWER, {"assignee": [NOT_A_REVIEWER]})
    user = get_user_model().objects.filter(pk=int(value)).first()
    if user is None:
        raise ValidationFailed(NOT_A_REVIEWER, {"assignee": [NOT_A_REVIEWER]})
    return user


def _assignee_check(principal: Principal, decision: Decision, assignee: Any) -> None:
    if assignee is None:
        return
    membership = (
        Membership.objects.select_related("organization")
        .filter(user_id=assignee.pk)
        .first()
    )
    if (
        membership is None
        or not assignee.is_active
        or not can(
            Principal(
                organization=membership.organization,
                role=membership.role,
                user=assignee,
            ),
            "case.assignee",
            decision,
        )
    ):
        raise ValidationFailed(NOT_A_REVIEWER, {"assignee": [NOT_A_REVIEWER]})


def _may_change(principal: Principal, decision: Decision, assignee: Any) -> None:
    """Reviewers take an unassigned case or give up their own; anything else (giving
    a case to someone, taking it from someone) is an admin's."""
    require(principal, "case.assign_self", decision)
    me = principal.user.pk
    to_me_or_nobody = assignee is None or assignee.pk == me
    if not (to_me_or_nobody and decision.assigned_to_id in (None, me)):
        require(principal, "case.assign", decision)


def cases_assign_bulk(
    *, principal: Principal, decisions: Sequence[Decision], assignee: Any
) -> int:
    """Give every case of ``decisions`` to ``assignee`` (None: to nobody), in one
    transaction with one audit event per change; refuse all if one is refused.
    Returns how many changed."""
    if not decisions:
        raise ValidationFailed(
            "Select at least one case.", {"cases": ["Select at least one case."]}
        )
    if len(decisions) > BULK_MAX:
        raise ValidationFailed(
            f"At most {BULK_MAX} cases at a time.",
            {"cases": [f"Choose at most {BULK_MAX}."]},
        )
    for decision in decisions:
        _may_change(principal, decision, assignee)
        _assignee_check(principal, decision, assignee)
        if decision.is_drill:
            raise ValidationFailed(DRILL_FIXED, {"cases": [DRILL_FIXED]})
    now = timezone.now()
    events: list[dict[str, Any]] = []
    with transaction.atomic():
        rows = Decision.objects.select_for_update().filter(
            pk__in=[d.pk for d in decisions]
        )
        for row in rows.order_by("pk"):
            new = assignee.pk if assignee is not None else None
            if row.assigned_to_id == new:
                continue
            # the lock may show a change made since the page was read: ask again
            _may_change(principal, row, assignee)
            events.append(
                {
                    "actor": principal.actor,
                    "organization": principal.organization,
                    "action": "case.assigned" if new else "case.unassigned",
                    "object_type": "decision",
                    "object_id": row.pk,
                    "payload": {"assignee": new, "previous": row.assigned_to_id},
                }
            )
            row.assigned_to_id = new
            row.assigned_at = now if new else None
            row.save(update_fields=["assigned_to", "assigned_at"])
        if events:
            audit_events_append(events)
    return len(events)


def case_assign(*, principal: Principal, decision: Decision, assignee: Any) -> Decision:
    """Give ``decision`` to ``assignee`` (None: to nobody); audited when it changes."""
    cases_assign_bulk(principal=principal, decisions=[decision], assignee=assignee)
    decision.refresh_from_db(fields=["assigned_to", "assigned_at"])
    return decision
