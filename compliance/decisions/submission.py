"""A decision submission as a typed object: what the API shape-checked, entering the
domain (no ``dict[str, Any]``), and what intake answers."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from compliance.audit import canonical_json
from compliance.models import Decision

FUTURE_SKEW = timedelta(minutes=5)


@dataclass(frozen=True)
class Submission:
    model_version: int
    external_id: str
    subject_ref: str
    features: dict[str, Any]
    score: float
    outcome: str
    decided_at: datetime

    @classmethod
    def from_validated(cls, data: dict[str, Any]) -> Submission:
        """From the API serializer's validated data (same field names)."""
        return cls(
            model_version=int(data["model_version"]),
            external_id=str(data["external_id"]),
            subject_ref=str(data["subject_ref"]),
            features=dict(data["features"]),
            score=float(data["score"]),
            outcome=str(data["outcome"]),
            decided_at=data["decided_at"],
        )

    def sha256(self) -> str:
        """Canonical hash: an identical resubmission is a replay, anything else under
        the same external_id a conflict. Raises ValueError for NaN in features."""
        document = {
            "model_version": self.model_version,
            "external_id": self.external_id,
            "subject_ref": self.subject_ref,
            "features": self.features,
            "score": repr(float(self.score)),
            "outcome": self.outcome,
            "decided_at": self.decided_at.astimezone(UTC).isoformat(
                timespec="microseconds"
            ),
        }
        return hashlib.sha256(canonical_json(document).encode()).hexdigest()


class Submitted(NamedTuple):
    """Intake's answer: the stored decision, and whether this call created it."""

    decision: Decision
    created: bool
