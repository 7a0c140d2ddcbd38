"""Human review (AI Act Art. 14): blind-first preliminary views, uphold / overturn /
escalate with a written justification, superseding one's own review with a reason,
four-eyes confirmation of overturns, the final outcome; append-only and audited."""

from __future__ import annotations

from compliance.reviews.selectors import review_list
from compliance.reviews.services import (
    MAX_JUSTIFICATION,
    MIN_JUSTIFICATION,
    MIN_SUPERSEDE_REASON,
    preliminary_view_record,
    preliminary_view_required,
    review_awaiting_confirmation,
    review_confirm,
    review_record,
)

__all__ = [
    "MAX_JUSTIFICATION",
    "MIN_JUSTIFICATION",
    "MIN_SUPERSEDE_REASON",
    "preliminary_view_record",
    "preliminary_view_required",
    "review_awaiting_confirmation",
    "review_confirm",
    "review_list",
    "review_record",
]
