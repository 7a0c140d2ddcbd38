"""``explain_batch``: many decisions of one model version, one Captum call per method.

Results are per original feature (one-hot columns summed back into their categorical
feature), signed, in logits of the scored class (``OUTPUT_UNITS``), with the baseline,
f(x), f(baseline), quality figures, each method's own reasons and warnings, an
optional verified counterfactual and a manifest that pins everything needed to
reproduce them. What each method needs (baseline, parameters, agreement, adaptive
steps) comes from its ``MethodSpec`` in ``explain.methods``.
"""

from __future__ import annotations

import hashlib
import json
import math
import operator
import platform
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from json.encoder import encode_basestring_ascii
from typing import Any

import captum  # type: ignore[import-untyped, unused-ignore]
import torch
from torch import nn

from explain.counterfactual import counterfactual_search_batch
from explain.errors import BadInput, BadParameter, UnknownMethod
from explain.methods import (
    DEFAULT_METHOD,
    METHOD_SPECS,
    METHODS,
    NO_BASELINE,
    MethodOutput,
    MethodSpec,
    methods_available,
    rows_are_independent,
    run_method,
)
from explain.quality import (
    PerturbationLayout,
    infidelity_per_row,
    numeric_noise_scale,
    sensitivity_per_row,
    top_k_agreement,
)
from explain.reasons import (
    merge_warnings,
    principal_reasons,
    protected_warnings,
    reasons_separated,
)
from explain.schema import FeatureSchema, baseline_from_rows, first_invalid_row

OUTPUT_UNITS = "logit"
DEFAULT_MEMORY_BUDGET = 256 * 1024 * 1024
AGREEMENT_THRESHOLD = 0.5
TOP_K = 4
QUALITY_KEYS = {"infidelity", "sensitivity", "top_k", "agreement_threshold"}
# |sum of attributions - (output - baseline_output)| allowed for the methods that
# are efficient by construction (logits; float32 model outputs)
EFFICIENCY_TOLERANCE = 1e-4
NO_REASONS_NOTE = (
    "{name} gives local sensitivities, not shares of the outcome: it gives no "
    "principal reasons; request a completeness-bearing method for reasons."
)
GENERAL_KEYS = {"quality", "seed", "counterfactual"}


def default_device() -> torch.device:
    """CUDA when present, else CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


@dataclass
class MethodExplanation:
    """One method's explanation of one decision.

    ``reasons`` (at most four non-protected features pushing toward the adverse
    class) and ``warnings`` (protected-attribute influence) are computed from this
    method's own ``attributions``. Methods that do not drive reasons (saliency,
    input x gradient) have none and say why in ``reasons_note``. Sampled methods
    give each attribution's ``standard_errors`` (0 where exact, None where unknown).
    """

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
    reasons: list[dict[str, Any]]
    warnings: list[dict[str, Any]]
    standard_errors: dict[str, float | None] | None = None
    reasons_note: str | None = None


@dataclass
class RowExplanation:
    """Everything explained about one decision; ``to_dict()`` is JSON-ready.

    Decision-level results only; per-method results (attributions, reasons,
    warnings) are in ``methods``. ``primary_method`` is the first method requested,
    whose baseline the agreement check compares against; ``warnings`` is the union
    of the methods' warnings (see ``explain.reasons.merge_warnings``).
    ``reasons_method`` is the first requested method that drives reasons (None when
    only saliency or input x gradient were requested: then there are no reasons).
    """

    prediction: float
    output: float
    predicted_outcome: str
    primary_method: str
    methods: dict[str, MethodExplanation]
    agreement: dict[str, Any]
    warnings: list[dict[str, Any]]
    needs_review: bool
    needs_review_reasons: list[str]
    counterfactual: dict[str, Any] | None = None
    counterfactual_note: str | None = None
    output_units: str = OUTPUT_UNITS
    reasons_method: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _canonical_sha256(data: Any) -> str:
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


_JSON_SCALARS = frozenset({int, float, bool})


def _column_json(values: tuple[Any, ...]) -> list[str] | None:
    """Each value as ``json.dumps`` writes it, for a column of strings or of plain
    numbers and booleans (None for anything else)."""
    kinds = set(map(type, values))
    if kinds == {str}:
        text = {v: encode_basestring_ascii(v) for v in set(values)}
        return list(map(text.__getitem__, values))
    if kinds <= _JSON_SCALARS:
        # numbers and booleans never contain the separator
        return json.dumps(list(values), separators=(",", ":"))[1:-1].split(",")
    return None


def _row_hashes(rows: list[dict[str, Any]]) -> list[str]:
    """``_canonical_sha256`` of each validated row, its canonical JSON built column
    by column (one C-level pass per feature instead of one ``json.dumps`` per row);
    rows it cannot build that way are hashed one by one."""
    keys = rows[0].keys() if rows else {}.keys()
    names = sorted(keys) if all(isinstance(n, str) for n in keys) else []
    if not names or any(row.keys() != keys for row in rows):
        return [_canonical_sha256(row) for row in rows]
    getter = operator.itemgetter(*names)
    if len(names) == 1:
        columns = [tuple(map(getter, rows))]
    else:
        columns = list(zip(*map(getter, rows), strict=True))
    pieces = []
    for k, (name, values) in enumerate(zip(names, columns, strict=True)):
        texts = _column_json(values)
        if texts is None:
            return [_canonical_sha256(row) for row in rows]
        prefix = ("{" if k == 0 else ",") + encode_basestring_ascii(name) + ":"
        pieces.append(map(prefix.__add__, texts))
    return [
        hashlib.sha256((text + "}").encode()).hexdigest()
        for text in map("".join, zip(*pieces, strict=True))
    ]


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return str(torch.cuda.get_device_name(device))
    return f"cpu ({platform.processor() or platform.machine()})"


def _execution(model: nn.Module) -> dict[str, Any]:
    """How the model ran, for the manifest: the registry's torch module, an ONNX
    network converted to torch, or onnxruntime (with its version)."""
    execution = str(getattr(model, "execution", "torch"))
    found: dict[str, Any] = {"execution": execution}
    if execution == "onnx_runtime":
        import onnxruntime

        found["onnxruntime"] = onnxruntime.__version__
    return found


def _validate_methods(methods: Any) -> list[str]:
    if isinstance(methods, str) or not isinstance(methods, (list, tuple)):
        raise BadParameter("methods must be a list of method identifiers.")
    if not methods:
        raise BadParameter("methods must name at least one method.")
    unknown = [m for m in methods if m not in METHOD_SPECS]
    if unknown:
        raise UnknownMethod(
            f"Unknown method(s) {', '.join(map(str, unknown))}; known: {', '.join(METHODS)}."
        )
    if len(set(methods)) != len(methods):
        raise BadParameter("methods must not repeat a method.")
    return list(methods)


def methods_check(model: nn.Module, methods: list[str] | tuple[str, ...]) -> None:
    """Raise BadParameter naming each requested method the model cannot run
    (``methods_available``: gradient methods need gradients, ``tree_shap`` trees)."""
    available = methods_available(model)
    refused = [m for m in methods if m not in available]
    if refused:
        raise BadParameter(methods_refusal(refused, available))


def methods_refusal(refused: list[str], available: tuple[str, ...]) -> str:
    """Why methods are refused for a model, and what it offers instead."""
    needs_gradients = [m for m in refused if METHOD_SPECS[m].gradients]
    needs_trees = [m for m in refused if METHOD_SPECS[m].trees]
    parts = []
    if needs_gradients:
        parts.append(
            f"{', '.join(needs_gradients)} need the model's gradients, and this model "
            "runs in onnxruntime, which has none"
        )
    if needs_trees:
        parts.append(
            f"{', '.join(needs_trees)} reads a tree ensemble's structure, and this "
            "model is not one"
        )
    return f"{'; '.join(parts)}. This model offers: {', '.join(available)}."


def _check_integer(key: str, value: Any, low: int, high: int) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or not low <= value <= high
    ):
        raise BadParameter(f"{key} must be an integer from {low} to {high}.")


def resolve_request(
    methods: list[str] | tuple[str, ...], parameters: dict[str, Any] | None
) -> tuple[list[str], dict[str, dict[str, Any]], dict[str, Any]]:
    """Validate methods and parameters before any work; raise UnknownMethod/BadParameter.

    Args:
        methods: identifiers from ``METHODS``, each at most once.
        parameters: maps a method identifier to its parameters (see
            ``METHOD_SPECS[id].parameters``), plus optional ``quality``
            ({"infidelity": bool, "sensitivity": bool, "top_k": int,
            "agreement_threshold": float}), ``seed`` (int) and ``counterfactual``
            (bool).

    Returns:
        The methods, each method's resolved parameters and the general options.

    Example:
        >>> resolve_request(["deeplift"], {"seed": 3})[2]["seed"]
        3
    """
    methods = _validate_methods(methods)
    if parameters is not None and not isinstance(parameters, dict):
        raise BadParameter("parameters must be an object.")
    parameters = dict(parameters or {})
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
        per_method[method] = METHOD_SPECS[method].resolve_parameters(given)
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
    for key in ("infidelity", "sensitivity"):
        if not isinstance(general[key], bool):
            raise BadParameter(f"{key} must be true or false.")
    general["counterfactual_margin"] = _counterfactual_margin(general["counterfactual"])
    general["counterfactual"] = general["counterfactual"] is not False
    _check_integer("top_k", general["top_k"], 1, 50)
    _check_integer("seed", general["seed"], 0, 2**31 - 1)
    threshold = general["agreement_threshold"]
    if (
        isinstance(threshold, bool)
        or not isinstance(threshold, (int, float))
        or not -1 <= threshold <= 1
    ):
        raise BadParameter("agreement_threshold must be a number from -1 to 1.")
    return methods, per_method, general


def _counterfactual_margin(value: Any) -> float | None:
    """``counterfactual`` is true, false or ``{"margin": p}``: how far past the
    threshold, in probability, the changed row must score (0 <= p < 0.5; None: the
    schema's ``recourse.margin``, else 0.05)."""
    if isinstance(value, bool):
        return None
    if not isinstance(value, dict) or set(value) - {"margin"}:
        raise BadParameter(
            'counterfactual must be true, false or {"margin": <probability>}.'
        )
    margin = value.get("margin")
    if margin is None:
        return None
    if (
        isinstance(margin, bool)
        or not isinstance(margin, (int, float))
        or not 0 <= margin < 0.5
    ):
        raise BadParameter(
            "counterfactual.margin must be a probability from 0 to below 0.5."
        )
    return float(margin)


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
    schema: FeatureSchema, kind: str, background_rows: int | None = None
) -> tuple[torch.Tensor, dict[str, Any]]:
    """The reference rows a method uses and their description.

    One definition per method: for ``background`` the rows are the first
    ``background_rows`` of the schema's sample (all when None), the very rows the
    attributions and ``baseline_output`` (their mean output) use, described by their
    medians and modes; ``none`` (saliency, input x gradient) has no reference.
    """
    if kind == NO_BASELINE:
        return torch.zeros(schema.input_width), {}
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
        return torch.zeros(schema.input_width), described
    if not schema.background:
        raise BadParameter(
            "The feature schema has no background sample for baseline 'background'."
        )
    background = list(schema.background)[:background_rows]
    return schema.encode(background), baseline_from_rows(schema, background)


def baselines_check(
    schema: FeatureSchema, per_method: dict[str, dict[str, Any]]
) -> None:
    """Raise BadParameter when a method's baseline is not in the schema (before any work).

    Args:
        schema: the model version's parsed schema.
        per_method: resolved parameters per method, as ``resolve_request`` returns them.

    Example:
        >>> baselines_check(schema, resolve_request(["deeplift"], None)[1])
    """
    for method, params in per_method.items():
        _baseline(
            schema,
            METHOD_SPECS[method].baseline_kind(params),
            params.get("background_rows"),
        )


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


@dataclass(frozen=True)
class _Batch:
    """The encoded batch and what every method shares about it."""

    model: nn.Module
    schema: FeatureSchema
    inputs: torch.Tensor
    row_dicts: list[dict[str, Any]] | None
    outputs: torch.Tensor
    groups: list[list[int]]
    group_matrix: torch.Tensor
    fast_gradients: bool
    items_budget: int
    perturbation: PerturbationLayout
    environment: dict[str, Any]
    row_hashes: list[str]
    general: dict[str, Any]
    class_labels: list[str]
    favourable_class: str

    @property
    def seed(self) -> int:
        return int(self.general["seed"])


def _prepare(
    model: nn.Module,
    rows: list[dict[str, Any]] | torch.Tensor,
    *,
    schema: FeatureSchema,
    general: dict[str, Any],
    class_labels: list[str],
    favourable_class: str,
    weights_sha256: str | None,
    memory_budget_bytes: int,
    fast_gradients: bool,
) -> _Batch:
    model.eval()
    device = next(model.parameters()).device
    inputs, row_dicts = _encode_rows(schema, rows)
    inputs = inputs.to(device)
    width = inputs.shape[1]
    groups, group_matrix = _group_matrix(schema)
    with torch.no_grad():
        outputs = model(inputs)
    fast = fast_gradients and rows_are_independent(model, width)
    numeric_std = {
        groups[i][0]: float(schema.preprocessing.get(s.name, {}).get("std", 1.0))
        for i, s in enumerate(schema.features)
        if s.kind == "numeric"
    }
    return _Batch(
        model=model,
        schema=schema,
        inputs=inputs,
        row_dicts=row_dicts,
        outputs=outputs,
        groups=groups,
        group_matrix=group_matrix.to(device),
        fast_gradients=fast,
        items_budget=_memory_items(model, width, memory_budget_bytes),
        perturbation=_perturbation_layout(
            schema, groups, numeric_noise_scale(width, numeric_std).to(device)
        ),
        environment={
            "python": platform.python_version(),
            "torch": torch.__version__,
            "captum": captum.__version__,
            "device": _device_name(device),
            "dtype": str(inputs.dtype).replace("torch.", ""),
            "seed": general["seed"],
            "weights_sha256": weights_sha256,
            "output_units": OUTPUT_UNITS,
            "fast_gradients": fast,
            **_execution(model),
        },
        row_hashes=(
            _row_hashes(row_dicts)
            if row_dicts
            else [_canonical_sha256(values) for values in inputs.tolist()]
        ),
        general=general,
        class_labels=class_labels,
        favourable_class=favourable_class,
    )


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
        methods: identifiers from ``METHODS``; the first is the ``primary_method``.
        parameters: per-method parameters and general options (see ``resolve_request``).
        weights_sha256: recorded in the manifest.
        memory_budget_bytes: bounds Captum's ``internal_batch_size``.
        fast_gradients: use the summed-output gradient when rows are independent.
        progress: called with the fraction of methods done (0..1) after each method.

    Raises:
        UnknownMethod, BadParameter, BadInput.

    Randomness (Gradient SHAP, Shapley Value Sampling, Kernel SHAP, the quality
    figures) is seeded with ``parameters["seed"]`` on forked generators: the caller's
    torch and numpy random state is the same after the call as before.

    Example:
        >>> results = explain_batch(model, rows, schema=schema, class_labels=["good", "bad"],
        ...                         favourable_class="good", threshold=0.5,
        ...                         methods=["integrated_gradients", "kernel_shap"])
        >>> results[0].methods["kernel_shap"].reasons[0]["feature"]
        'credit_amount'
    """
    methods, per_method, general = resolve_request(methods, parameters)
    methods_check(model, methods)
    batch = _prepare(
        model,
        rows,
        schema=schema,
        general=general,
        class_labels=class_labels,
        favourable_class=favourable_class,
        weights_sha256=weights_sha256,
        memory_budget_bytes=memory_budget_bytes,
        fast_gradients=fast_gradients,
    )
    by_method: dict[str, list[MethodExplanation]] = {}
    for done, method in enumerate(methods, start=1):
        by_method[method] = _explain_method(
            METHOD_SPECS[method], per_method[method], batch
        )
        if progress is not None:
            progress(done / len(methods))
    predictions = torch.sigmoid(batch.outputs).tolist()
    outcomes = [
        class_labels[1] if p >= threshold else class_labels[0] for p in predictions
    ]
    counterfactuals = _counterfactuals(batch, outcomes=outcomes, threshold=threshold)
    output_values = batch.outputs.tolist()
    return [
        _row_explanation(
            {m: by_method[m][i] for m in methods},
            per_method,
            general,
            prediction=predictions[i],
            output=output_values[i],
            outcome=outcomes[i],
            counterfactual=counterfactuals[i],
        )
        for i in range(len(outcomes))
    ]


def _row_explanation(
    by_method: dict[str, MethodExplanation],
    per_method: Mapping[str, Mapping[str, Any]],
    general: Mapping[str, Any],
    *,
    prediction: float,
    output: float,
    outcome: str,
    counterfactual: tuple[dict[str, Any] | None, str | None],
) -> RowExplanation:
    """The decision-level view of one row from its methods' explanations.

    Every method that promises completeness and reports a convergence delta is
    checked (``_completeness_flagged``); a flagged method puts ``completeness_gap``
    in ``needs_review_reasons``, records ``quality["completeness_flagged"]`` and is
    left out of the agreement check (listed in ``agreement["excluded"]`` when an
    agreement is still computed), so a broken explanation cannot vouch for another.
    """
    primary = next(iter(by_method.values()))
    review_reasons = []
    flagged = {
        method
        for method, result in by_method.items()
        if _completeness_flagged(METHOD_SPECS[method], per_method[method], result)
    }
    if flagged:
        review_reasons.append("completeness_gap")
    for result in by_method.values():
        gap = result.quality.get("efficiency_gap")
        if (
            gap is not None
            and gap > EFFICIENCY_TOLERANCE
            and "efficiency_gap" not in review_reasons
        ):
            review_reasons.append("efficiency_gap")
    if any(r.quality.get("reasons_unstable") for r in by_method.values()):
        review_reasons.append("reasons_unstable")
    comparable = {
        m: e.attributions
        for m, e in by_method.items()
        if METHOD_SPECS[m].agreement
        and e.baseline_kind == primary.baseline_kind
        and m not in flagged
    }
    agreement: dict[str, Any] = dict(top_k_agreement(comparable, general["top_k"]))
    if agreement and agreement["min"] < general["agreement_threshold"]:
        review_reasons.append("methods_disagree")
    if agreement and flagged:
        agreement["excluded"] = sorted(flagged)
    cf, note = counterfactual
    return RowExplanation(
        prediction=prediction,
        output=output,
        predicted_outcome=outcome,
        primary_method=primary.method,
        methods=by_method,
        agreement=agreement,
        warnings=merge_warnings({m: e.warnings for m, e in by_method.items()}),
        needs_review=bool(review_reasons),
        needs_review_reasons=review_reasons,
        counterfactual=cf,
        counterfactual_note=note,
        reasons_method=next(
            (m for m in by_method if METHOD_SPECS[m].drives_reasons), None
        ),
    )


# relative completeness gap allowed for methods without a ``tolerance`` parameter
# (DeepLIFT, Gradient SHAP), the default of Integrated Gradients' tolerance
COMPLETENESS_TOLERANCE = 0.01
# a sampled method's gap must also exceed this many standard errors to be flagged:
# Gradient SHAP's errors come from 5 sub-samples, so the two-sided 0.1 % point of
# Student's t with 4 degrees of freedom (at 3, 1 in 100 well-sampled rows was flagged)
COMPLETENESS_Z = 8.61


def _completeness_flagged(
    spec: MethodSpec, params: Mapping[str, Any], result: MethodExplanation
) -> bool:
    """Whether a method's completeness gap is beyond what it may be; records the
    verdict as ``quality["completeness_flagged"]``.

    Applies to the methods that promise completeness and report a convergence delta
    (Integrated Gradients, Gradient SHAP, DeepLIFT). The gap may be
    ``max(tolerance x |output - baseline_output|, 1e-6)``, where tolerance is the
    method's ``tolerance`` parameter, else ``COMPLETENESS_TOLERANCE``. A sampled
    method (Gradient SHAP) is complete only in expectation: its gap is flagged only
    when it also exceeds ``COMPLETENESS_Z`` standard errors of the attribution sum,
    bounded above by the sum of the per-feature standard errors (recorded as
    ``quality["completeness_gap_standard_error"]``; None when unknown, and then the
    gap is not flagged).
    """
    gap: float | None = result.quality.get("completeness_gap")
    if not spec.completeness or gap is None:
        return False
    tolerance = float(params.get("tolerance", COMPLETENESS_TOLERANCE))
    expected = abs(result.output - result.baseline_output)
    flagged = bool(gap > max(tolerance * expected, 1e-6))
    if spec.sampled:
        errors = list((result.standard_errors or {}).values())
        known = bool(errors) and all(se is not None for se in errors)
        sum_error = sum(se for se in errors if se is not None) if known else None
        result.quality["completeness_gap_standard_error"] = sum_error
        flagged = flagged and sum_error is not None and gap > COMPLETENESS_Z * sum_error
    result.quality["completeness_flagged"] = flagged
    return flagged


def _explain_method(
    spec: MethodSpec, params: dict[str, Any], batch: _Batch
) -> list[MethodExplanation]:
    """One method over the whole batch (in memory-bounded chunks), per row."""
    inputs, outputs = batch.inputs, batch.outputs
    n, width = inputs.shape
    kind = spec.baseline_kind(params)
    baselines, baseline_described = _baseline(
        batch.schema, kind, params.get("background_rows")
    )
    baselines = baselines.to(inputs.device)
    if kind == NO_BASELINE:
        baseline_outputs = outputs.detach().clone()  # nothing is compared
    else:
        with torch.no_grad():
            baseline_out = batch.model(baselines.reshape(-1, width)).mean()
        baseline_outputs = baseline_out.expand(n)

    def run(
        x: torch.Tensor,
        steps: int | None = None,
        *,
        n_samples: int | None = None,
        seed: int | None = None,
    ) -> MethodOutput:
        internal = None
        if spec.adaptive_steps:
            points = x.shape[0] * (steps or params["n_steps"])
            internal = max(x.shape[0], min(batch.items_budget, points))
        return run_method(
            spec.id,
            batch.model,
            x,
            baselines,
            groups=batch.groups,
            parameters=params
            if n_samples is None
            else {**params, "n_samples": n_samples},
            n_steps=steps,
            internal_batch_size=internal,
            fast_gradients=batch.fast_gradients,
            seed=batch.seed if seed is None else seed,
        )

    steps_used: list[int | None] = [None] * n
    samples_used: list[int | None] = [None] * n
    unstable: list[bool] = [False] * n
    chunk = max(
        1, batch.items_budget // (params["n_steps"] if spec.adaptive_steps else 1)
    )
    feature_parts, column_parts, delta_parts = [], [], []
    error_parts, exact_parts = [], []
    for start in range(0, n, chunk):
        x = inputs[start : start + chunk]
        result = run(x)
        if spec.adaptive_steps:
            result, steps = _adaptive_steps(
                run,
                x,
                result,
                outputs[start : start + chunk],
                baseline_outputs[start : start + chunk],
                params,
            )
            steps_used[start : start + chunk] = steps
        if spec.sampled:
            result, totals, flags = _adaptive_samples(run, x, result, params, batch)
            samples_used[start : start + chunk] = totals
            unstable[start : start + chunk] = flags
        feature_parts.append(_features(result, batch.group_matrix).detach())
        column_parts.append(_columns(result, batch.groups, width).detach())
        if result.convergence_delta is not None:
            delta_parts.append(result.convergence_delta.detach())
        if result.standard_errors is not None:
            error_parts.append(result.standard_errors.detach())
        if result.exact is not None:
            exact_parts.append(result.exact.detach())
    feature_attr = torch.cat(feature_parts)
    deltas = torch.cat(delta_parts).tolist() if delta_parts else None
    errors = torch.cat(error_parts).cpu().tolist() if error_parts else None
    exact_rows = torch.cat(exact_parts).tolist() if exact_parts else None
    quality = _quality_figures(
        spec,
        torch.cat(column_parts),
        run,
        batch,
        baselines.reshape(-1, width).mean(dim=0),
    )

    if spec.drives_reasons:
        reasons = principal_reasons(
            batch.schema,
            feature_attr.cpu(),
            class_labels=batch.class_labels,
            favourable_class=batch.favourable_class,
        )
        reasons_note = None
    else:
        reasons = [[] for _ in range(n)]
        reasons_note = NO_REASONS_NOTE.format(name=spec.name)
    warnings = protected_warnings(batch.schema, feature_attr.cpu())
    # one conversion to Python floats per tensor, not one per element; the
    # resolved parameters are one shared dict per distinct (steps, samples)
    names = batch.schema.names
    attr_rows = feature_attr.tolist()
    output_values = outputs.tolist()
    baseline_values = baseline_outputs.tolist()
    shared_parameters: dict[tuple[int | None, int | None], dict[str, Any]] = {}
    results = []
    for i in range(n):
        attributions = dict(zip(names, attr_rows[i], strict=True))
        row_quality: dict[str, Any] = {}
        expected_gap = output_values[i] - baseline_values[i]
        if deltas is not None:
            gap = abs(deltas[i])
            row_quality["completeness_gap"] = gap
            row_quality["completeness_gap_relative"] = (
                gap / abs(expected_gap) if expected_gap else None
            )
        if spec.reports_attribution_sum:
            row_quality["attribution_sum"] = sum(attributions.values())
        if spec.exact_efficiency:
            row_quality["efficiency_gap"] = abs(
                sum(attributions.values()) - expected_gap
            )
        row_errors = None
        if errors is not None:
            row_errors = {
                name: (se if math.isfinite(se) else None)
                for name, se in zip(names, errors[i], strict=True)
            }
            finite = [se for se in errors[i] if math.isfinite(se)]
            row_quality["standard_error_max"] = (
                max(finite) if len(finite) == len(errors[i]) else None
            )
            row_quality["reasons_unstable"] = unstable[i]
        if exact_rows is not None:
            row_quality["exact"] = bool(exact_rows[i])
        for key, values in quality.items():
            row_quality[key] = values[i]
        used = (steps_used[i], samples_used[i])
        resolved = shared_parameters.get(used)
        if resolved is None:
            resolved = dict(params, baseline=kind)
            if used[0] is not None:
                resolved["n_steps"] = used[0]
            if used[1] is not None:
                resolved["n_samples"] = used[1]
            shared_parameters[used] = resolved
        results.append(
            MethodExplanation(
                method=spec.id,
                attributions=attributions,
                output=output_values[i],
                baseline_output=baseline_values[i],
                baseline=baseline_described,
                baseline_kind=kind,
                convergence_delta=None if deltas is None else deltas[i],
                n_steps=used[0],
                parameters=resolved,
                quality=row_quality,
                manifest={
                    **batch.environment,
                    "method": spec.id,
                    "parameters": resolved,
                    "input_sha256": batch.row_hashes[i],
                },
                reasons=reasons[i],
                warnings=warnings[i],
                standard_errors=row_errors,
                reasons_note=reasons_note,
            )
        )
    return results


def _features(result: MethodOutput, group_matrix: torch.Tensor) -> torch.Tensor:
    """Per-feature attributions [N, M] of a method's output."""
    if result.grouped:
        return result.attributions
    return result.attributions @ group_matrix.to(result.attributions.dtype)


def _round_seed(seed: int, round_: int) -> int:
    """An independent seed for the ``round_``-th extra sample of a sampled method."""
    return (seed * 1_000_003 + round_) % 2**31


def _adaptive_samples(
    run: Callable[..., MethodOutput],
    x: torch.Tensor,
    result: MethodOutput,
    params: Mapping[str, Any],
    batch: _Batch,
) -> tuple[MethodOutput, list[int], list[bool]]:
    """Double a sampled method's budget for the rows whose reasons are not separated.

    Each round draws an independent sample of as many more ``n_samples`` as the row
    has had (so the total doubles, up to ``max_n_samples``) and combines it with the
    previous estimate, weighted by budget; standard errors combine likewise. Rows
    still not separated at the cap are returned as unstable.
    """
    if result.standard_errors is None:
        raise AssertionError("a sampled method must return standard errors")
    attributions = result.attributions.clone()
    errors = result.standard_errors.clone().to(torch.float64)
    deltas = (
        None if result.convergence_delta is None else result.convergence_delta.clone()
    )
    total = int(params["n_samples"])
    cap = max(total, int(params["max_n_samples"]))
    totals = [total] * x.shape[0]

    def separated(rows: torch.Tensor) -> torch.Tensor:
        return reasons_separated(
            batch.schema,
            _features(
                MethodOutput(attributions[rows], None, result.grouped),
                batch.group_matrix,
            ).cpu(),
            errors[rows].cpu(),
            class_labels=batch.class_labels,
            favourable_class=batch.favourable_class,
        ).to(x.device)

    everyone = torch.arange(x.shape[0], device=x.device)
    stable = separated(everyone)
    round_ = 0
    while True:
        failing = (~stable).nonzero().flatten()
        if failing.numel() == 0 or total >= cap:
            break
        add = min(total, cap - total)
        round_ += 1
        again = run(x[failing], n_samples=add, seed=_round_seed(batch.seed, round_))
        if again.standard_errors is None:
            raise AssertionError("a sampled method must return standard errors")
        old, new = total / (total + add), add / (total + add)
        attributions[failing] = old * attributions[failing] + new * again.attributions
        errors[failing] = torch.sqrt(
            (old * errors[failing]) ** 2 + (new * again.standard_errors.to(errors)) ** 2
        )
        if deltas is not None and again.convergence_delta is not None:
            deltas[failing] = old * deltas[failing] + new * again.convergence_delta
        total += add
        for idx in failing.tolist():
            totals[idx] = total
        stable[failing] = separated(failing)
    combined = MethodOutput(
        attributions,
        deltas,
        result.grouped,
        standard_errors=errors,
        exact=result.exact,
    )
    return combined, totals, (~stable).tolist()


def _perturbation_layout(
    schema: FeatureSchema, groups: list[list[int]], noise_scale: torch.Tensor
) -> PerturbationLayout:
    """The numeric noise scale, one-hot groups and binary columns the quality
    figures perturb (one per batch, shared by every method)."""
    kinds = [spec.kind for spec in schema.features]
    return PerturbationLayout(
        noise_scale=noise_scale,
        one_hot_groups=[
            cols
            for kind, cols in zip(kinds, groups, strict=True)
            if kind == "categorical" and len(cols) >= 2
        ],
        binary_columns=[
            cols[0]
            for kind, cols in zip(kinds, groups, strict=True)
            if kind == "binary"
        ],
    )


def _quality_figures(
    spec: MethodSpec,
    column_attr: torch.Tensor,
    run: Callable[[torch.Tensor], MethodOutput],
    batch: _Batch,
    baseline: torch.Tensor,
) -> dict[str, list[float]]:
    """Infidelity and sensitivity-max per row, as requested and meaningful; both
    perturb numeric, categorical and binary features (see ``explain.quality``).
    ``baseline`` is the method's reference row (the mean of a background sample;
    zeros for the methods without one), which infidelity divides the numeric noise
    by the move from, as the attributions are shares of that move."""
    figures: dict[str, list[float]] = {}
    if (
        not (batch.general["infidelity"] and spec.infidelity)
        and not batch.general["sensitivity"]
    ):
        return figures
    layout = batch.perturbation
    if batch.general["infidelity"] and spec.infidelity:
        figures["infidelity"] = infidelity_per_row(
            batch.model,
            batch.inputs,
            column_attr,
            layout,
            baseline=baseline,
            seed=batch.seed,
        ).tolist()
    if batch.general["sensitivity"]:
        width = batch.inputs.shape[1]

        def explanation(x: torch.Tensor) -> torch.Tensor:
            return _columns(run(x.detach()), batch.groups, width).detach()

        figures["sensitivity_max"] = sensitivity_per_row(
            explanation, batch.inputs, layout, seed=batch.seed
        ).tolist()
    return figures


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


def _adaptive_steps(
    run: Callable[[torch.Tensor, int], MethodOutput],
    x: torch.Tensor,
    result: MethodOutput,
    outputs: torch.Tensor,
    baseline_out: torch.Tensor,
    params: Mapping[str, Any],
) -> tuple[MethodOutput, list[int]]:
    """Raise n_steps (doubling) for the rows whose completeness gap exceeds tolerance."""
    if result.convergence_delta is None:
        raise AssertionError("an adaptive-steps method must return convergence deltas")
    attributions = result.attributions.clone()
    deltas = result.convergence_delta.clone()
    n_steps = int(params["n_steps"])
    steps = [n_steps] * x.shape[0]
    expected = (outputs - baseline_out).abs()
    allowed = torch.clamp(expected * params["tolerance"], min=1e-6)
    while True:
        failing = (deltas.abs() > allowed).nonzero().flatten()
        if failing.numel() == 0 or n_steps >= params["max_n_steps"]:
            break
        n_steps = min(n_steps * 2, int(params["max_n_steps"]))
        again = run(x[failing], n_steps)
        if again.convergence_delta is None:
            raise AssertionError("an adaptive-steps method returns convergence deltas")
        attributions[failing] = again.attributions
        deltas[failing] = again.convergence_delta
        for idx in failing.tolist():
            steps[idx] = n_steps
    return MethodOutput(attributions, deltas), steps


def _counterfactuals(
    batch: _Batch, *, outcomes: list[str], threshold: float
) -> list[tuple[dict[str, Any] | None, str | None]]:
    """A verified counterfactual (or a note saying why none) for each row."""
    n = len(outcomes)
    if not batch.general["counterfactual"]:
        return [(None, "Counterfactual search was not requested.")] * n
    if batch.row_dicts is None:
        return [(None, "Counterfactual search needs feature rows.")] * n
    favourable = batch.favourable_class
    out: list[tuple[dict[str, Any] | None, str | None]] = [
        (None, f"The model's outcome is already the favourable one ('{favourable}').")
    ] * n
    adverse = [i for i in range(n) if outcomes[i] != favourable]
    if not adverse:
        return out
    results = counterfactual_search_batch(
        batch.model,
        batch.schema,
        [batch.row_dicts[i] for i in adverse],
        class_labels=batch.class_labels,
        threshold=threshold,
        device=batch.inputs.device,
        seed=batch.seed,
        margin=batch.general.get("counterfactual_margin"),
    )
    for i, result in zip(adverse, results, strict=True):
        cf = result.counterfactual
        if cf is None:
            out[i] = (None, result.note)
            continue
        out[i] = (
            {
                **_counterfactual_dict(cf),
                # further verified options, each changing another set of features,
                # cheapest first
                "alternatives": [_counterfactual_dict(alt) for alt in cf.alternatives],
            },
            None,
        )
    return out


def _counterfactual_dict(cf: Any) -> dict[str, Any]:
    return {
        "changes": cf.changes,
        "outcome": cf.outcome_after,
        "outcome_before": cf.outcome_before,
        "score_before": cf.score_before,
        "score_after": cf.score_after,
        "verified": cf.verified,
        "cost": cf.cost,
        "margin": cf.margin,
        "plausibility": cf.plausibility,
        "descriptions": cf.descriptions,
    }


__all__ = [
    "OUTPUT_UNITS",
    "MethodExplanation",
    "RowExplanation",
    "baselines_check",
    "default_device",
    "explain_batch",
    "resolve_request",
]
