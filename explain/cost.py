"""What an explanation request costs, before any work: model evaluations per decision.

The unit is one **model evaluation of one input row**: a forward pass of one row
counts 1, its backward pass 1 more (a gradient costs 2). Per decision row, a request
costs the sum of its parts:

* each method's own runs (``method_evaluations``), worst case: Integrated Gradients
  with adaptive steps is counted as if every doubling up to ``max_n_steps`` ran
  (``tolerance`` cannot be predicted, and 0 makes every doubling run); the sampled
  methods likewise as if their budget doubled up to ``max_n_samples``; the Shapley
  methods at the larger of exact enumeration over
  ``min(features, EXACT_MAX_FEATURES)`` differing features and their sampled
  design with every feature differing;
* sensitivity-max (``quality.sensitivity``, on by default) runs the method again on
  the row and on ``SENSITIVITY_SAMPLES`` perturbed copies of it, at the requested
  ``n_steps`` (no adaptive doubling);
* infidelity (``quality.infidelity``, where meaningful) evaluates the row and
  ``INFIDELITY_SAMPLES`` perturbed copies;
* the counterfactual search (``counterfactual``, on by default) stops at
  ``COUNTERFACTUAL_EVALUATIONS`` model rows;
* f(baseline) once per method (the background rows the method uses when that is
  the baseline; none for saliency and input x gradient) and the row's own output
  (1).

A request whose estimate exceeds its budget raises ``CostExceeded`` (a
``BadParameter``) naming the parameters that drive the largest parts, the estimate
and the limit. Integrated Gradients' ``n_steps`` and ``max_n_steps`` also have a hard
bound (``explain.methods``): Captum computes its Gauss-Legendre nodes with an
eigenvalue solve that grows with the cube of the step count, once per call, which no
evaluation count captures.

Example:
    >>> methods, per_method, general = resolve_request(["integrated_gradients"], None)
    >>> request_cost(methods, per_method, general, n_features=20).evaluations
    23735
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from explain import shapley
from explain.counterfactual import counterfactual_search_batch
from explain.errors import BadParameter
from explain.kernel_shap import kernel_design
from explain.methods import METHOD_SPECS, NO_BASELINE
from explain.quality import infidelity_per_row, sensitivity_per_row
from explain.schema import MAX_BACKGROUND_ROWS, FeatureSchema
from explain.shapley import Design, design_evaluations, permutation_design


def _default(function: Callable[..., Any], name: str) -> int:
    """A keyword default of the engine's own functions: the estimate follows them."""
    return int(inspect.signature(function).parameters[name].default)


SENSITIVITY_SAMPLES = _default(sensitivity_per_row, "n_perturb_samples")
INFIDELITY_SAMPLES = _default(infidelity_per_row, "n_perturb_samples")
COUNTERFACTUAL_EVALUATIONS = _default(counterfactual_search_batch, "max_evaluations")
GRADIENT = 2  # a forward and a backward pass of one row


class CostExceeded(BadParameter):
    """The request's estimated cost exceeds its budget."""


@dataclass(frozen=True)
class CostPart:
    """One part of a request's cost: what it is, its evaluations per decision, and
    the request parameters that drive it (``parameters.<method>.<name>``)."""

    name: str
    evaluations: int
    drivers: tuple[str, ...]


@dataclass(frozen=True)
class CostEstimate:
    """Model evaluations per decision row, in total and by part."""

    evaluations: int
    parts: tuple[CostPart, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``{"evaluations": n, "parts": {name: n}}``."""
        return {
            "evaluations": self.evaluations,
            "parts": {p.name: p.evaluations for p in self.parts},
        }


def _ig_step_sequence(params: Mapping[str, Any]) -> list[int]:
    """The step counts Integrated Gradients may run: n_steps, then doubled (capped at
    max_n_steps) while rows miss the tolerance (``engine._adaptive_steps``)."""
    steps = [int(params["n_steps"])]
    while steps[-1] < int(params["max_n_steps"]):
        steps.append(min(steps[-1] * 2, int(params["max_n_steps"])))
    return steps


def _ig_run(n_steps: int) -> int:
    # a gradient at every path point, then f(x) and f(baseline) for the delta
    return GRADIENT * n_steps + 2


def _sample_rounds(params: Mapping[str, Any]) -> list[int]:
    """The budgets a sampled method may draw: n_samples, then as many more as drawn
    so far (the total doubles) until max_n_samples (``engine._adaptive_samples``)."""
    rounds = [int(params["n_samples"])]
    total = rounds[0]
    cap = max(total, int(params.get("max_n_samples", total)))
    while total < cap:
        rounds.append(min(total, cap - total))
        total += rounds[-1]
    return rounds


def _shapley_evaluations(
    method: str, params: Mapping[str, Any], n_features: int, adaptive: bool
) -> int:
    """Coalitions per row and reference row of a Shapley method, worst case: exact
    enumeration at the largest affordable number of differing features (never
    resampled), or the sampled design with every feature differing, in every round
    (``explain.shapley``). Building the designs costs about 0.1 s; the count depends
    on nothing else, so it is kept per (method, parameters, features)."""
    try:
        key = tuple(sorted(params.items()))
        hash(key)
    except TypeError:  # an unhashable parameter: count afresh
        return _shapley_evaluations_counted(
            method, tuple(params.items()), n_features, adaptive
        )
    return _shapley_evaluations_counted(method, key, n_features, adaptive)


@functools.lru_cache(maxsize=512)
def _shapley_evaluations_counted(
    method: str, items: tuple[tuple[str, Any], ...], n_features: int, adaptive: bool
) -> int:
    params = dict(items)
    m = n_features
    exact_cost = 1 << min(m, shapley.EXACT_MAX_FEATURES)
    if m <= shapley.EXACT_MAX_FEATURES:
        return exact_cost
    design: Callable[[int, int], Callable[[int], Design | None]] = (
        kernel_design if method == "kernel_shap" else permutation_design
    )
    rounds = _sample_rounds(params) if adaptive else [int(params["n_samples"])]
    sampled = sum(design_evaluations(m, design(b, 0)(m)) for b in rounds)
    return max(exact_cost, sampled)


def _kernel_shap_references(
    params: Mapping[str, Any], background_size: int | None
) -> int:
    if params["baseline"] != "background":
        return 1
    rows = int(params["background_rows"])
    return rows if background_size is None else min(rows, background_size)


def method_evaluations(
    method: str,
    params: Mapping[str, Any],
    *,
    n_features: int,
    background_size: int | None = None,
    adaptive: bool = True,
) -> int:
    """Model evaluations per row of one run of ``method`` with resolved ``params``.

    Args:
        method: an identifier from ``METHODS``.
        params: its resolved parameters (``resolve_request``).
        n_features: the schema's number of features (one-hot groups count once).
        background_size: rows in the schema's background sample, if known.
        adaptive: count Integrated Gradients' adaptive doublings (worst case).

    Example:
        >>> method_evaluations("feature_ablation", {"baseline": "training"}, n_features=20)
        21
    """
    m = n_features
    if method == "integrated_gradients":
        steps = _ig_step_sequence(params) if adaptive else [int(params["n_steps"])]
        return sum(_ig_run(s) for s in steps)
    if method == "gradient_shap":
        # a gradient per sample, and f(x), f(baseline) per sample for the delta
        rounds = _sample_rounds(params) if adaptive else [int(params["n_samples"])]
        return (GRADIENT + 2) * sum(rounds)
    if method == "deeplift":
        # the row and its baseline forward and backward, then the delta's f(x), f(b)
        return 2 * GRADIENT + 2
    if method in ("input_x_gradient", "saliency"):
        return GRADIENT
    if method == "feature_ablation":
        return m + 1
    if method == "shapley_sampling":
        # antithetic pairs of orders, each adding the features one at a time
        return _shapley_evaluations(method, params, m, adaptive)
    if method == "kernel_shap":
        return _shapley_evaluations(
            method, params, m, adaptive
        ) * _kernel_shap_references(params, background_size)
    if method == "tree_shap":
        # no model evaluation: one pass over the trees per reference row, counted
        # as one evaluation each
        return _kernel_shap_references(params, background_size)
    raise BadParameter(f"No cost model for method {method}.")


def _baseline_rows(
    method: str, params: Mapping[str, Any], background_size: int | None
) -> int:
    """f(baseline), once per method: the background rows the method uses when that
    is the baseline; none for the methods without a baseline."""
    kind = METHOD_SPECS[method].baseline_kind(params)
    if kind == NO_BASELINE:
        return 0
    if kind != "background":
        return 1
    size = MAX_BACKGROUND_ROWS if background_size is None else background_size
    return min(size, int(params.get("background_rows", size)))


# the request parameters (under parameters.<method>.) that make a method cost more
_DRIVERS: Mapping[str, tuple[str, ...]] = {
    "integrated_gradients": ("n_steps", "max_n_steps"),
    "gradient_shap": ("n_samples", "max_n_samples"),
    "shapley_sampling": ("n_samples", "max_n_samples"),
    "kernel_shap": ("n_samples", "max_n_samples", "background_rows"),
    "tree_shap": ("background_rows",),
}


def request_cost(
    methods: Sequence[str],
    per_method: Mapping[str, Mapping[str, Any]],
    general: Mapping[str, Any],
    *,
    n_features: int,
    background_size: int | None = None,
) -> CostEstimate:
    """Estimated model evaluations per decision of a resolved request.

    Args:
        methods, per_method, general: as ``resolve_request`` returns them.
        n_features: the schema's number of features.
        background_size: rows in the schema's background sample, if known.

    Example:
        >>> request_cost(*resolve_request(["saliency"], {"counterfactual": False}),
        ...              n_features=4).evaluations
        15
    """
    parts = [CostPart("output", 1, ())]
    for method in methods:
        params = per_method[method]
        drivers = tuple(f"parameters.{method}.{d}" for d in _DRIVERS.get(method, ()))
        if method == "kernel_shap" and params["baseline"] != "background":
            drivers = drivers[:2]
        parts.append(
            CostPart(
                method,
                _baseline_rows(method, params, background_size)
                + method_evaluations(
                    method,
                    params,
                    n_features=n_features,
                    background_size=background_size,
                ),
                drivers,
            )
        )
        if general["sensitivity"]:
            once = method_evaluations(
                method,
                params,
                n_features=n_features,
                background_size=background_size,
                adaptive=False,
            )
            parts.append(
                CostPart(
                    f"{method}.sensitivity",
                    (1 + SENSITIVITY_SAMPLES) * once,
                    (*drivers, "parameters.quality.sensitivity"),
                )
            )
        if general["infidelity"] and METHOD_SPECS[method].infidelity:
            parts.append(
                CostPart(
                    f"{method}.infidelity",
                    1 + INFIDELITY_SAMPLES,
                    ("parameters.quality.infidelity",),
                )
            )
    if general["counterfactual"]:
        parts.append(
            CostPart(
                "counterfactual",
                COUNTERFACTUAL_EVALUATIONS,
                ("parameters.counterfactual",),
            )
        )
    return CostEstimate(sum(p.evaluations for p in parts), tuple(parts))


def schema_cost(
    schema: FeatureSchema,
    methods: Sequence[str],
    per_method: Mapping[str, Mapping[str, Any]],
    general: Mapping[str, Any],
) -> CostEstimate:
    """``request_cost`` with the feature count and background sample of ``schema``."""
    return request_cost(
        methods,
        per_method,
        general,
        n_features=len(schema.features),
        background_size=len(schema.background or ()),
    )


def cost_check(estimate: CostEstimate, budget: int) -> None:
    """Raise ``CostExceeded`` when ``estimate`` is over ``budget``.

    The message states the estimate and the limit and names the parameters behind
    the largest parts, largest first, until they account for the excess.

    Example:
        >>> cost_check(CostEstimate(900), 1000)   # within budget: nothing
    """
    if estimate.evaluations <= budget:
        return
    excess = estimate.evaluations - budget
    named: list[str] = []
    described: list[str] = []
    covered = 0
    for part in sorted(estimate.parts, key=lambda p: -p.evaluations):
        if covered >= excess or not part.drivers:
            continue
        covered += part.evaluations
        described.append(f"{part.name} {part.evaluations:,}")
        named.extend(d for d in part.drivers if d not in named)
    if not named:  # only fixed-cost methods are left to drop
        named.append("methods")
    raise CostExceeded(
        f"The request's estimated cost is {estimate.evaluations:,} model evaluations "
        f"per decision; the limit is {budget:,}. Lower {', '.join(named)} "
        f"(largest parts: {'; '.join(described)})."
    )


__all__ = [
    "COUNTERFACTUAL_EVALUATIONS",
    "INFIDELITY_SAMPLES",
    "SENSITIVITY_SAMPLES",
    "CostEstimate",
    "CostExceeded",
    "CostPart",
    "cost_check",
    "method_evaluations",
    "request_cost",
    "schema_cost",
]
