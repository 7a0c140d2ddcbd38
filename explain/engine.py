"""``explain_batch``: many decisions of one model version, one Captum call per method.

Results are per original feature (one-hot columns summed back into their categorical
feature), signed, in logits of the scored class (``OUTPUT_UNITS``), with the baseline,
f(x), f(baseline), quality figures, reasons, an optional verified counterfactual and a
manifest that pins everything needed to reproduce them.
"""

from __future__ import annotations

import hashlib
import json
import platform
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import captum
import torch
from torch import nn

from explain.counterfactual import counterfactual_search_batch
from explain.errors import BadInput, BadParameter, UnknownMethod
from explain.methods import (
    AGREEMENT_METHODS,
    DEFAULT_METHOD,
    METHODS,
    MethodOutput,
    resolve_parameters,
    rows_are_independent,
    run_method,
)
from explain.quality import (
    infidelity_per_row,
    numeric_noise_scale,
    sensitivity_per_row,
    top_k_agreement,
)
from explain.reasons import principal_reasons, protected_influence
from explain.schema import FeatureSchema, first_invalid_row

OUTPUT_UNITS = "logit"
DEFAULT_MEMORY_BUDGET = 256 * 1024 * 1024
AGREEMENT_THRESHOLD = 0.5
TOP_K = 4
QUALITY_KEYS = {"infidelity", "sensitivity", "top_k", "agreement_threshold"}
GENERAL_KEYS = {"quality", "seed", "counterfactual"}


def default_device() -> torch.device:
    """CUDA when present, else CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


@dataclass
class MethodExplanation:
    method: str
    attributions: dict[str, float]
    output: float
    baseline_output: float
    baseline: dict[str, Any]
    baseline_kind: str
    convergence_delta: float | None
    n_steps: int | None
    parameters: dict[str, Any]
    quality: dict[str, Any]
    manifest: dict[str, Any]


@dataclass
class RowExplanation:
    """Everything explained about one decision; ``to_dict()`` is JSON-ready."""

    prediction: float
    output: float
    predicted_outcome: str
    methods: dict[str, MethodExplanation]
    reasons: list[dict[str, Any]]
    agreement: dict[str, Any]
    warnings: list[dict[str, Any]]
    needs_review: bool
    needs_review_reasons: list[str]
    counterfactual: dict[str, Any] | None = None
    counterfactual_note: str | None = None
    output_units: str = OUTPUT_UNITS
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _canonical_sha256(data: Any) -> str:
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({platform.processor() or platform.machine()})"


def _validate_methods(methods: list[str] | tuple[str, ...]) -> list[str]:
    if isinstance(methods, str) or not isinstance(methods, (list, tuple)):
        raise BadParameter("methods must be a list of method identifiers.")
    if not methods:
        raise BadParameter("methods must name at least one method.")
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise UnknownMethod(
            f"Unknown method(s) {', '.join(map(str, unknown))}; known: {', '.join(METHODS)}."
        )
    if len(set(methods)) != len(methods):
        raise BadParameter("methods must not repeat a method.")
    return list(methods)


def resolve_request(
    methods: list[str] | tuple[str, ...], parameters: dict[str, Any] | None
) -> tuple[list[str], dict[str, dict[str, Any]], dict[str, Any]]:
    """Validate methods and parameters before any work; raise UnknownMethod/BadParameter.

    ``parameters`` maps a method identifier to its parameters, plus optional
    ``quality`` ({"infidelity": bool, "sensitivity": bool, "top_k": int,
    "agreement_threshold": float}), ``seed`` (int) and ``counterfactual`` (bool).
    """
    methods = _validate_methods(methods)
    parameters = dict(parameters or {})
    if not isinstance(parameters, dict):
        raise BadParameter("parameters must be an object.")
    unknown = sorted(set(parameters) - set(METHODS) - GENERAL_KEYS)
    if unknown:
        raise BadParameter(
            f"Unknown parameter(s) {', '.join(unknown)}; use a method identifier "
            f"({', '.join(METHODS)}) or one of {', '.join(sorted(GENERAL_KEYS))}."
        )
    not_requested = sorted(set(parameters) & set(METHODS) - set(methods))
    if not_requested:
        raise BadParameter(
            f"Parameters given for methods not requested: {', '.join(not_requested)}."
        )
    per_method = {}
    for method in methods:
        given = parameters.get(method, {})
        if not isinstance(given, dict):
            raise BadParameter(f"parameters.{method} must be an object.")
        per_method[method] = resolve_parameters(method, given)
    quality = parameters.get("quality", {})
    if not isinstance(quality, dict) or set(quality) - QUALITY_KEYS:
        raise BadParameter(
            f"parameters.quality accepts only {', '.join(sorted(QUALITY_KEYS))}."
        )
    general = {
        "infidelity": quality.get("infidelity", True),
        "sensitivity": quality.get("sensitivity", True),
        "top_k": quality.get("top_k", TOP_K),
        "agreement_threshold": quality.get("agreement_threshold", AGREEMENT_THRESHOLD),
        "seed": parameters.get("seed", 0),
        "counterfactual": parameters.get("counterfactual", True),
    }
    for key in ("infidelity", "sensitivity", "counterfactual"):
        if not isinstance(general[key], bool):
            raise BadParameter(f"{key} must be true or false.")
    for key, low, high in (("top_k", 1, 50), ("seed", 0, 2**31 - 1)):
        value = general[key]
        if (
            isinstance(value, bool)
            or not isinstance(value, int)
            or not low <= value <= high
        ):
            raise BadParameter(f"{key} must be an integer from {low} to {high}.")
    threshold = general["agreement_threshold"]
    if (
        isinstance(threshold, bool)
        or not isinstance(threshold, (int, float))
        or not -1 <= threshold <= 1
    ):
        raise BadParameter("agreement_threshold must be a number from -1 to 1.")
    return methods, per_method, general


def _encode_rows(
    schema: FeatureSchema, rows: Any
) -> tuple[torch.Tensor, list[dict[str, Any]] | None]:
    if isinstance(rows, torch.Tensor):
        if rows.dim() != 2 or rows.shape[1] != schema.input_width:
            raise BadInput(
                f"Encoded rows must have shape [N, {schema.input_width}], got {list(rows.shape)}."
            )
        if not torch.isfinite(rows).all():
            raise BadInput("Encoded rows contain NaN or infinite values.")
        return rows.to(torch.float32), None
    if not isinstance(rows, (list, tuple)) or not rows:
        raise BadInput("rows must be a non-empty list of {feature: value} objects.")
    invalid = first_invalid_row(schema, list(rows))
    if invalid is not None:
        i, errors = invalid
        name, messages = next(iter(errors.items()))
        raise BadInput(f"Row {i}: feature '{name}': {messages[0]}")
    return schema.encode(list(rows)), list(rows)


def _baseline(
    schema: FeatureSchema, kind: str, width: int
) -> tuple[torch.Tensor, dict[str, Any]]:
    if kind == "training":
        if schema.baseline is None:
            raise BadParameter(
                "The feature schema has no training baseline; use baseline 'zeros' or "
                "register the schema with a 'baseline' row (training medians and modes)."
            )
        return schema.encode([schema.baseline])[0], dict(schema.baseline)
    if kind == "zeros":
        described = {
            s.name: (None if s.kind == "categorical" else 0) for s in schema.features
        }
        return torch.zeros(width), described
    if not schema.background:
        raise BadParameter(
            "The feature schema has no background sample for baseline 'background'."
        )
    from explain.schema import baseline_from_rows

    return schema.encode(list(schema.background)), {
        **baseline_from_rows(schema, list(schema.background)),
    }


def baselines_check(
    schema: FeatureSchema, per_method: dict[str, dict[str, Any]]
) -> None:
    """Raise BadParameter when a method's baseline is not in the schema (before any work).

    Args:
        schema: the model version's parsed schema.
        per_method: resolved parameters per method, as ``resolve_request`` returns them.
    """
    for params in per_method.values():
        _baseline(schema, params.get("baseline", "zeros"), schema.input_width)


def _group_matrix(schema: FeatureSchema) -> tuple[list[list[int]], torch.Tensor]:
    groups = list(schema.column_groups().values())
    matrix = torch.zeros(schema.input_width, len(groups))
    for g, cols in enumerate(groups):
        matrix[cols, g] = 1.0
    return groups, matrix


def _memory_items(model: nn.Module, width: int, budget_bytes: int) -> int:
    """How many input rows (path points included) fit in the memory budget at once."""
    activations = width + sum(
        m.out_features for m in model.modules() if isinstance(m, nn.Linear)
    )
    bytes_per_item = activations * 4 * 4  # float32 activations, their grads, slack
    return max(1, budget_bytes // bytes_per_item)


def explain_batch(
    model: nn.Module,
    rows: list[dict[str, Any]] | torch.Tensor,
    *,
    schema: FeatureSchema,
    class_labels: list[str],
    favourable_class: str,
    threshold: float,
    methods: list[str] | tuple[str, ...] = (DEFAULT_METHOD,),
    parameters: dict[str, Any] | None = None,
    weights_sha256: str | None = None,
    memory_budget_bytes: int = DEFAULT_MEMORY_BUDGET,
    fast_gradients: bool = True,
    progress: Callable[[float], None] | None = None,
) -> list[RowExplanation]:
    """Explain many decisions of one model version; one Captum call per method.

    Args:
        model: the loaded model (see ``load_model``), on the device to use.
        rows: ``{feature: value}`` dicts (validated here) or an encoded [N, width] tensor.
        schema: the model version's parsed feature schema.
        class_labels: ``[negative, positive]``; the model scores the positive class.
        favourable_class: the label that is good news for the subject.
        threshold: decision threshold on P(positive).
        methods: identifiers from ``METHODS``; the first one drives the reasons.
        parameters: per-method parameters and general options (see ``resolve_request``).
        weights_sha256: recorded in the manifest.
        memory_budget_bytes: bounds Captum's ``internal_batch_size``.
        progress: called with the fraction of methods done (0..1) after each method.
        fast_gradients: use the summed-output gradient when rows are independent.

    Raises:
        UnknownMethod, BadParameter, BadInput.

    Example:
        >>> results = explain_batch(model, rows, schema=schema, class_labels=["good", "bad"],
        ...                         favourable_class="good", threshold=0.5,
        ...                         methods=["integrated_gradients", "shapley_sampling"])
        >>> results[0].methods["integrated_gradients"].attributions["credit_amount"]
        0.173...
    """
    methods, per_method, general = resolve_request(methods, parameters)
    model.eval()
    device = next(model.parameters()).device
    inputs, row_dicts = _encode_rows(schema, rows)
    inputs = inputs.to(device)
    n, width = inputs.shape
    seed = general["seed"]
    groups, group_matrix = _group_matrix(schema)
    group_matrix = group_matrix.to(device)
    names = schema.names
    fast = fast_gradients and rows_are_independent(model, width)
    items_budget = _memory_items(model, width, memory_budget_bytes)
    with torch.no_grad():
        outputs = model(inputs)
    predictions = torch.sigmoid(outputs)
    noise_scale = numeric_noise_scale(
        width,
        {
            groups[i][0]: float(schema.preprocessing.get(s.name, {}).get("std", 1.0))
            for i, s in enumerate(schema.features)
            if s.kind == "numeric"
        },
    ).to(device)

    row_hashes = [
        _canonical_sha256(row_dicts[i] if row_dicts else inputs[i].tolist())
        for i in range(n)
    ]
    environment = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "captum": captum.__version__,
        "device": _device_name(device),
        "dtype": str(inputs.dtype).replace("torch.", ""),
        "seed": seed,
        "weights_sha256": weights_sha256,
        "output_units": OUTPUT_UNITS,
        "fast_gradients": fast,
    }

    per_method_results: dict[str, list[MethodExplanation]] = {}
    feature_tensors: dict[str, torch.Tensor] = {}
    for method in methods:
        params = per_method[method]
        kind = params.get(
            "baseline",
            "zeros" if method in ("input_x_gradient", "saliency") else "training",
        )
        baselines, baseline_described = _baseline(schema, kind, width)
        baselines = baselines.to(device)
        with torch.no_grad():
            baseline_out = model(baselines.reshape(-1, width)).mean()

        def run(
            x: torch.Tensor,
            steps: int | None = None,
            *,
            _m: str = method,
            _b: torch.Tensor = baselines,
            _p: dict = params,
        ) -> MethodOutput:
            internal = None
            if _m == "integrated_gradients":
                internal = max(
                    x.shape[0], min(items_budget, x.shape[0] * (steps or _p["n_steps"]))
                )
            return run_method(
                _m,
                model,
                x,
                _b,
                groups=groups,
                parameters=_p,
                n_steps=steps,
                internal_batch_size=internal,
                fast_gradients=fast,
                seed=seed,
            )

        def to_features(out: MethodOutput) -> torch.Tensor:
            return out.attributions if out.grouped else out.attributions @ group_matrix

        steps_used = [None] * n
        chunk = max(
            1,
            items_budget
            // (params.get("n_steps", 1) if method == "integrated_gradients" else 1),
        )
        feature_attr_parts, delta_parts, column_parts = [], [], []
        for start in range(0, n, chunk):
            x = inputs[start : start + chunk]
            result = run(x)
            if method == "integrated_gradients":
                result, steps = _adaptive_ig(
                    run, x, result, outputs[start : start + chunk], baseline_out, params
                )
                steps_used[start : start + chunk] = steps
            feature_attr_parts.append(to_features(result).detach())
            column_parts.append(_columns(result, groups, width).detach())
            delta_parts.append(
                None
                if result.convergence_delta is None
                else result.convergence_delta.detach()
            )
        feature_attr = torch.cat(feature_attr_parts)
        column_attr = torch.cat(column_parts)
        deltas = None if delta_parts[0] is None else torch.cat(delta_parts)

        infid = sens = None
        if general["infidelity"] and method != "saliency":
            infid = infidelity_per_row(
                model, inputs, column_attr, noise_scale, seed=seed
            )
        if general["sensitivity"]:

            def explanation_func(x: Any, **_: Any) -> tuple[torch.Tensor]:
                x = x[0] if isinstance(x, tuple) else x
                return (_columns(run(x.detach()), groups, width).detach(),)

            sens = sensitivity_per_row(explanation_func, inputs, noise_scale, seed=seed)

        # one conversion to Python floats per tensor, not one per element
        attr_rows = feature_attr.tolist()
        output_values = outputs.tolist()
        baseline_value = float(baseline_out)
        delta_values = None if deltas is None else deltas.tolist()
        infid_values = None if infid is None else infid.tolist()
        sens_values = None if sens is None else sens.tolist()
        results = []
        for i in range(n):
            attributions = dict(zip(names, attr_rows[i], strict=True))
            expected_gap = output_values[i] - baseline_value
            quality: dict[str, Any] = {}
            if delta_values is not None:
                gap = abs(delta_values[i])
                quality["completeness_gap"] = gap
                quality["completeness_gap_relative"] = (
                    gap / abs(expected_gap) if expected_gap else None
                )
            if method == "shapley_sampling" or method == "feature_ablation":
                quality["attribution_sum"] = sum(attributions.values())
            if infid_values is not None:
                quality["infidelity"] = infid_values[i]
            if sens_values is not None:
                quality["sensitivity_max"] = sens_values[i]
            resolved = dict(params, baseline=kind)
            if steps_used[i] is not None:
                resolved["n_steps"] = steps_used[i]
            results.append(
                MethodExplanation(
                    method=method,
                    attributions=attributions,
                    output=output_values[i],
                    baseline_output=baseline_value,
                    baseline=baseline_described,
                    baseline_kind=kind,
                    convergence_delta=None if delta_values is None else delta_values[i],
                    n_steps=steps_used[i],
                    parameters=resolved,
                    quality=quality,
                    manifest={
                        **environment,
                        "method": method,
                        "parameters": resolved,
                        "input_sha256": row_hashes[i],
                    },
                )
            )
        per_method_results[method] = results
        if progress is not None:
            progress((methods.index(method) + 1) / len(methods))
        feature_tensors[method] = feature_attr.cpu()

    outcomes = [
        class_labels[1] if float(p) >= threshold else class_labels[0]
        for p in predictions
    ]
    counterfactuals = _counterfactuals(
        model,
        schema,
        row_dicts,
        outcomes=outcomes,
        class_labels=class_labels,
        favourable_class=favourable_class,
        threshold=threshold,
        general=general,
        device=device,
    )
    primary_attr = feature_tensors[methods[0]]
    reasons = principal_reasons(
        schema,
        primary_attr,
        class_labels=class_labels,
        favourable_class=favourable_class,
    )
    protected_flags = protected_influence(schema, primary_attr)
    prediction_values = predictions.tolist()
    output_values = outputs.tolist()
    explanations = []
    for i in range(n):
        by_method = {m: per_method_results[m][i] for m in methods}
        primary = by_method[methods[0]]
        review_reasons = []
        ig = by_method.get("integrated_gradients")
        if ig is not None:
            rel = ig.quality.get("completeness_gap_relative")
            tol = per_method["integrated_gradients"]["tolerance"]
            if rel is not None and rel > tol and ig.quality["completeness_gap"] > 1e-6:
                review_reasons.append("completeness_gap")
        comparable = {
            m: e.attributions
            for m, e in by_method.items()
            if m in AGREEMENT_METHODS and e.baseline_kind == primary.baseline_kind
        }
        agreement = top_k_agreement(comparable, general["top_k"])
        if agreement and agreement["min"] < general["agreement_threshold"]:
            review_reasons.append("methods_disagree")
        warnings = [
            {"code": "protected_attribute_influence", **flag}
            for flag in protected_flags[i]
        ]
        cf, note = counterfactuals[i]
        explanations.append(
            RowExplanation(
                prediction=prediction_values[i],
                output=output_values[i],
                predicted_outcome=outcomes[i],
                methods=by_method,
                reasons=reasons[i],
                agreement=agreement,
                warnings=warnings,
                needs_review=bool(review_reasons),
                needs_review_reasons=review_reasons,
                counterfactual=cf,
                counterfactual_note=note,
            )
        )
    return explanations


def _columns(result: MethodOutput, groups: list[list[int]], width: int) -> torch.Tensor:
    """Column-level attributions; a grouped result puts each group's value on its first column."""
    if not result.grouped:
        return result.attributions
    out = torch.zeros(
        result.attributions.shape[0],
        width,
        dtype=result.attributions.dtype,
        device=result.attributions.device,
    )
    for g, cols in enumerate(groups):
        out[:, cols[0]] = result.attributions[:, g]
    return out


def _adaptive_ig(
    run: Any,
    x: torch.Tensor,
    result: MethodOutput,
    outputs: torch.Tensor,
    baseline_out: torch.Tensor,
    params: dict[str, Any],
) -> tuple[MethodOutput, list[int]]:
    """Raise n_steps (doubling) for the rows whose completeness gap exceeds tolerance."""
    attributions = result.attributions.clone()
    deltas = result.convergence_delta.clone()
    steps = [params["n_steps"]] * x.shape[0]
    expected = (outputs - baseline_out).abs()
    allowed = torch.clamp(expected * params["tolerance"], min=1e-6)
    n_steps = params["n_steps"]
    while True:
        failing = (deltas.abs() > allowed).nonzero().flatten()
        if failing.numel() == 0 or n_steps >= params["max_n_steps"]:
            break
        n_steps = min(n_steps * 2, params["max_n_steps"])
        again = run(x[failing], n_steps)
        attributions[failing] = again.attributions
        deltas[failing] = again.convergence_delta
        for idx in failing.tolist():
            steps[idx] = n_steps
    return MethodOutput(attributions, deltas), steps


def _counterfactuals(
    model: nn.Module,
    schema: FeatureSchema,
    row_dicts: list[dict[str, Any]] | None,
    *,
    outcomes: list[str],
    class_labels: list[str],
    favourable_class: str,
    threshold: float,
    general: dict[str, Any],
    device: torch.device,
) -> list[tuple[dict[str, Any] | None, str]] | list[tuple[dict[str, Any], None]]:
    """A verified counterfactual for each row the model decided adversely."""
    n = len(outcomes)
    if not general["counterfactual"]:
        return [(None, "Counterfactual search was not requested.")] * n
    if row_dicts is None:
        return [(None, "Counterfactual search needs feature rows.")] * n
    out: list[Any] = [
        (
            None,
            f"The model's outcome is already the favourable one ('{favourable_class}').",
        )
    ] * n
    adverse = [i for i in range(n) if outcomes[i] != favourable_class]
    if not adverse:
        return out
    results = counterfactual_search_batch(
        model,
        schema,
        [row_dicts[i] for i in adverse],
        class_labels=class_labels,
        threshold=threshold,
        device=device,
        seed=general["seed"],
    )
    for i, result in zip(adverse, results, strict=True):
        cf = result.counterfactual
        if cf is None:
            out[i] = (None, result.note)
            continue
        out[i] = (
            {
                "changes": cf.changes,
                "outcome": cf.outcome_after,
                "outcome_before": cf.outcome_before,
                "score_before": cf.score_before,
                "score_after": cf.score_after,
                "verified": cf.verified,
                "cost": cf.cost,
                "descriptions": cf.descriptions,
            },
            None,
        )
    return out


__all__ = [
    "OUTPUT_UNITS",
    "RowExplanation",
    "MethodExplanation",
    "default_device",
    "explain_batch",
    "resolve_request",
]
