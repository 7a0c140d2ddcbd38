"""Bulk intake: many decisions in one request, each answered on its own.

Each item is submitted as a single submission would be (validation, score
reproduction, idempotent replay per external_id, audit event, explanation on
receipt), in chunks of ``BULK_CHUNK`` that each commit in one transaction: an item
that fails is answered with its error and leaves its chunk's other items stored. A
database outage mid-way answers 503 for the request; the chunks before it stay
stored, and sending the same request again replays them (200) and stores the rest.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from compliance.decisions.services import decision_submit
from compliance.decisions.submission import Submission
from compliance.errors import DomainError
from compliance.models import Decision
from compliance.policy import require
from compliance.principals import Principal

BULK_MAX = 1000
BULK_CHUNK = 100


@dataclass(frozen=True)
class BulkItem:
    """One answer, in input order: the decision (201 new, 200 replay) or an error
    (400 invalid, 409 external_id reused with another payload, ...)."""

    index: int
    status: int
    decision: Decision | None = None
    code: str = ""
    detail: str = ""
    errors: dict[str, list[str]] | None = None


def decisions_submit_bulk(
    *, principal: Principal, items: list[Submission | DomainError]
) -> list[BulkItem]:
    """Submit each item (a ``DomainError`` stands for one that failed validation
    before intake); one answer per item, in order."""
    require(principal, "decision.submit")
    results: list[BulkItem] = []
    for start in range(0, len(items), BULK_CHUNK):
        with transaction.atomic():
            for index, item in enumerate(
                items[start : start + BULK_CHUNK], start=start
            ):
                if isinstance(item, DomainError):
                    results.append(_failed(index, item))
                    continue
                try:
                    submitted = decision_submit(principal=principal, submission=item)
                except DomainError as exc:
                    results.append(_failed(index, exc))
                    continue
                results.append(
                    BulkItem(
                        index, 201 if submitted.created else 200, submitted.decision
                    )
                )
    return results


def _failed(index: int, exc: DomainError) -> BulkItem:
    return BulkItem(
        index,
        exc.status_code,
        code=exc.code,
        detail=exc.detail,
        errors=exc.errors,
    )
