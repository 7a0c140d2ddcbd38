"""Population views of an organisation's decisions (issue 16): is human oversight
effective. Statistics come from aggregate queries, never from loading every
decision into Python."""

from __future__ import annotations

from compliance.monitoring.oversight import OversightRow, oversight_by_reviewer_month
from compliance.monitoring.stats import wilson_interval

__all__ = ["OversightRow", "oversight_by_reviewer_month", "wilson_interval"]
