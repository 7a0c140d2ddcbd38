"""Human review (AI Act Art. 14): blind-first preliminary views, uphold / overturn /
escalate with a written justification; append-only and audited."""

from __future__ import annotations

from compliance.reviews.services import (
    MIN_JUSTIFICATION,
    preliminary_view_record,
    preliminary_view_required,
    review_record,
)

__all__ = [
    "MIN_JUSTIFICATION",
    "preliminary_view_record",
    "preliminary_view_required",
    "review_record",
]
