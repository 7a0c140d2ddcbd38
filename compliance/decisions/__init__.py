"""Intake of decisions: submit (validate, reproduce the score, replay/idempotency) and
read them (``selectors``, including the officers' case queue)."""

from __future__ import annotations

from compliance.decisions.services import decision_submit
from compliance.decisions.submission import Submission, Submitted

__all__ = ["Submission", "Submitted", "decision_submit"]
