"""Signal receivers: only to route framework events to services."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import (
    user_logged_in,
    user_logged_out,
    user_login_failed,
)
from django.dispatch import receiver

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
