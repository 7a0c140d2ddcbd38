"""Audit every password change: Django calls each validator's ``password_changed``
whenever a user's new password is saved (the owner's change form, a reset link, the
admin's password form, ``changepassword``), so one hook sees them all."""

from __future__ import annotations

from typing import Any

from compliance.tenancy.services import password_change_record


class PasswordChangeAudit:
    """Listed in AUTH_PASSWORD_VALIDATORS; validates nothing, records the change."""

    def validate(self, password: str, user: Any = None) -> None:
        return None

    def password_changed(self, password: str, user: Any = None) -> None:
        if user is not None and user.pk is not None:
            password_change_record(user=user)

    def get_help_text(self) -> str:
        return ""
