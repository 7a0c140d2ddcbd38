"""How a stored explanation reads to a person, the same on the case page and in the
dossier: where the decision's reasons come from, each attribution's uncertainty, and
the counterfactual's further options. Rows stored before the engine reported these
(issue 14) read as they did."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import explain
from compliance.models import Explanation, ExplanationRun

MAX_ALTERNATIVES = 3


@dataclass(frozen=True)
class ReasonsSource:
    """The explanation whose reasons are the decision's, or why there is none.

    ``explanation`` is the run's ``reasons_method`` explanation; for runs stored before
    that was recorded, the ``fallback`` the caller chose (as it did then). ``None``
    when none of the requested methods gives reasons; ``note`` then says why.
    """

    explanation: Explanation | None
    note: str = ""

    @property
    def method_name(self) -> str:
        return method_name(self.explanation.method) if self.explanation else ""


def method_name(method: str) -> str:
    """A method's human name ("Integrated Gradients"), else its id."""
    spec = explain.METHOD_SPECS.get(method)
    return spec.name if spec is not None else method


def reasons_source(
    run: ExplanationRun,
    *,
    fallback: Explanation | None,
    explanations: Iterable[Explanation] = (),
) -> ReasonsSource:
    """Where ``run``'s principal reasons come from.

    ``explanations`` may hold the run's explanations already read (saving a query);
    ``fallback`` is what a run stored before ``reasons_method`` existed shows: its
    reasons were each method's own, and the caller picked one.
    """
    if run.reasons_method:
        chosen = (
            next(
                (
                    e
                    for e in explanations
                    if e.run_id == run.pk and e.method == run.reasons_method
                ),
                None,
            )
            or run.explanations.filter(method=run.reasons_method).first()
        )
        if chosen is not None:
            return ReasonsSource(chosen)
    # a run stored since reasons_method is recorded names it whenever a requested
    # method drives reasons: a note on a run without one means none does
    notes = run.explanations.exclude(reasons_note="").order_by("pk")
    text = " ".join(dict.fromkeys(notes.values_list("reasons_note", flat=True)))
    return ReasonsSource(None, text) if text else ReasonsSource(fallback)


def standard_error_text(errors: Mapping[str, Any] | None, feature: str) -> str:
    """``"± 0.0123"`` for a sampled attribution, ``"exact"`` where its error is 0,
    ``"unknown"`` where the engine could not say; ``""`` for deterministic methods and
    explanations stored before standard errors were kept."""
    if errors is None:
        return ""
    value = errors.get(feature)
    if not isinstance(value, (int, float)) or not math.isfinite(value):
        return "unknown"
    return "exact" if value == 0 else f"± {value:.4f}"


def reasons_unstable(explanation: Explanation | None) -> bool:
    """The engine could not separate the top adverse reasons within its sample cap."""
    return bool(explanation is not None and explanation.quality.get("reasons_unstable"))


def counterfactual_alternatives(counterfactual: Any) -> list[dict[str, Any]]:
    """The counterfactual's further verified options, cheapest first, at most
    ``MAX_ALTERNATIVES`` (none on counterfactuals stored before they existed)."""
    if not isinstance(counterfactual, Mapping):
        return []
    options = [
        o
        for o in counterfactual.get("alternatives") or []
        if isinstance(o, Mapping) and o.get("descriptions")
    ]
    options.sort(key=lambda o: _cost(o.get("cost")))
    return [
        {
            "descriptions": list(o["descriptions"]),
            "cost": o.get("cost"),
            "outcome": o.get("outcome", ""),
            "score_after": o.get("score_after"),
        }
        for o in options[:MAX_ALTERNATIVES]
    ]


def _cost(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) else math.inf
