"""Population views of an organisation's decisions (issue 16): is human oversight
effective, are outcomes fair, are models drifting. Statistics come from aggregate
queries kept per month, never from loading every decision into Python."""

from __future__ import annotations

from compliance.monitoring.oversight import (
    OversightRow,
    QueueState,
    oversight_by_reviewer_month,
    review_queue,
)
from compliance.monitoring.stats import wilson_interval

__all__ = [
    "OversightRow",
    "QueueState",
    "oversight_by_reviewer_month",
    "review_queue",
    "wilson_interval",
]
