"""Signal receivers: only to route framework events to services."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver

from compliance.tenancy.services import login_record


@receiver(user_logged_in, dispatch_uid="compliance_login_audit")
def _audit_login(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    login_record(user=user)
