"""Reads of explanations, scoped to the caller's organisation."""

from __future__ import annotations

from compliance.models import Decision, Explanation
from compliance.policy import require
from compliance.principals import Principal


def explanations_newest(decision: Decision) -> list[Explanation]:
    """The newest stored explanation per method (with its run), by method id."""
    newest: dict[str, Explanation] = {}
    for explanation in (
        Explanation.objects.filter(decision=decision)
        .select_related("run")
        .order_by("-created_at", "-id")
    ):
        newest.setdefault(explanation.method, explanation)
    return sorted(newest.values(), key=lambda e: e.method)


def explanation_list(*, principal: Principal, decision: Decision) -> list[Explanation]:
    """The newest stored explanation per method of a decision in the caller's org."""
    require(principal, "explanation.read", decision)
    return explanations_newest(decision)
