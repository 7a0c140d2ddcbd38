"""Intake of decisions: submit (validate, reproduce the score, replay/idempotency) and
read them (``selectors``, including the officers' case queue)."""

from __future__ import annotations

from compliance.decisions.bulk import BULK_MAX, BulkItem, decisions_submit_bulk
from compliance.decisions.services import decision_submit
from compliance.decisions.submission import Submission, Submitted

__all__ = [
    "BULK_MAX",
    "BulkItem",
    "Submission",
    "Submitted",
    "decision_submit",
    "decisions_submit_bulk",
]
