"""Signal receivers: only to route framework events to services."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import (
    user_logged_in,
    user_logged_out,
    user_login_failed,
)
from django.db.models.signals import post_save
from django.dispatch import receiver

from compliance.models import Decision, MonthlyAggregate, PreliminaryView
from compliance.tenancy.services import (
    login_failure_record,
    login_record,
    logout_record,
)


@receiver(user_logged_in, dispatch_uid="compliance_login_audit")
def _audit_login(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    login_record(user=user)


@receiver(user_logged_out, dispatch_uid="compliance_logout_audit")
def _audit_logout(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if user is not None:  # signing out while signed out
        logout_record(user=user)


@receiver(user_login_failed, dispatch_uid="compliance_login_failed_audit")
def _audit_login_failed(
    sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any
) -> None:
    address = request.META.get("REMOTE_ADDR", "") if request is not None else ""
    login_failure_record(username=credentials.get("username", ""), address=address)


@receiver(post_save, sender=Decision, dispatch_uid="compliance_monitoring_decision")
def _monitoring_decision_saved(sender: Any, instance: Decision, **kwargs: Any) -> None:
    # a new decision, or a review, confirmation or contest that changed it: the
    # monitoring figures of its month and of this month are computed again
    MonthlyAggregate.objects.drop([instance.ai_system_id], [instance.decided_at])


@receiver(post_save, sender=PreliminaryView, dispatch_uid="compliance_monitoring_view")
def _monitoring_view_saved(
    sender: Any, instance: PreliminaryView, created: bool, **kwargs: Any
) -> None:
    if created:
        decision = instance.decision
        MonthlyAggregate.objects.drop([decision.ai_system_id], [decision.decided_at])
