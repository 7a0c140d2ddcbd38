"""Attribution methods on encoded inputs, with Captum, batched.

Gradient methods use Captum's own algorithms with one change: the gradient of the
*summed* output instead of one backward seed per output scalar. For models whose rows
do not interact (eval mode, no batch statistics) the two are mathematically the same
and bit-identical in practice, and the summed form avoids creating one autograd seed
per (row, path point). ``rows_are_independent`` checks the property per model; where
it fails, Captum's stock gradient function is used.
"""

from __future__ import annotations

import warnings
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from captum._utils.common import _run_forward
from captum._utils.gradient import compute_gradients
from captum.attr import (
    DeepLift,
    FeatureAblation,
    GradientShap,
    InputXGradient,
    IntegratedGradients,
    Saliency,
)
from torch import nn

from explain.errors import BadParameter
from explain.kernel_shap import kernel_shap

METHODS = (
    "integrated_gradients",
    "gradient_shap",
    "deeplift",
    "input_x_gradient",
    "saliency",
    "feature_ablation",
    "shapley_sampling",
)
DEFAULT_METHOD = "integrated_gradients"
# gradients and input x gradient are local sensitivities, not shares of f(x) - f(b):
# they are left out of the cross-method agreement
AGREEMENT_METHODS = frozenset(METHODS) - {"saliency", "input_x_gradient"}


@dataclass(frozen=True)
class ParameterSpec:
    default: Any
    kind: type
    low: float | None = None
    high: float | None = None
    choices: tuple[Any, ...] = ()


BASELINE_CHOICES = ("training", "zeros", "background")
METHOD_PARAMETERS: dict[str, dict[str, ParameterSpec]] = {
    "integrated_gradients": {
        "n_steps": ParameterSpec(50, int, 2, 4096),
        "max_n_steps": ParameterSpec(800, int, 2, 8192),
        "tolerance": ParameterSpec(0.01, float, 0.0, 1.0),
        "baseline": ParameterSpec("training", str, choices=("training", "zeros")),
    },
    "gradient_shap": {
        "n_samples": ParameterSpec(50, int, 1, 1000),
        "stdevs": ParameterSpec(0.0, float, 0.0, 10.0),
        "baseline": ParameterSpec("training", str, choices=BASELINE_CHOICES),
    },
    "deeplift": {
        "baseline": ParameterSpec("training", str, choices=("training", "zeros"))
    },
    "input_x_gradient": {},
    "saliency": {"absolute": ParameterSpec(False, bool)},
    "feature_ablation": {
        "baseline": ParameterSpec("training", str, choices=("training", "zeros"))
    },
    "shapley_sampling": {
        "n_samples": ParameterSpec(200, int, 2, 20000),
        "baseline": ParameterSpec("training", str, choices=BASELINE_CHOICES),
        "background_rows": ParameterSpec(10, int, 1, 200),
    },
}


def resolve_parameters(method: str, given: dict[str, Any] | None) -> dict[str, Any]:
    """Fill defaults and validate one method's parameters; raise BadParameter."""
    specs = METHOD_PARAMETERS[method]
    given = dict(given or {})
    unknown = sorted(set(given) - set(specs))
    if unknown:
        allowed = ", ".join(sorted(specs)) or "none"
        raise BadParameter(
            f"Unknown parameter(s) {', '.join(unknown)} for {method}; allowed: {allowed}."
        )
    resolved: dict[str, Any] = {}
    for name, spec in specs.items():
        value = given.get(name, spec.default)
        if (
            spec.kind is float
            and isinstance(value, int)
            and not isinstance(value, bool)
        ):
            if abs(value) > 2**53:
                raise BadParameter(f"{method}.{name} is too large.")
            value = float(value)
        if not isinstance(value, spec.kind) or (
            spec.kind is not bool and isinstance(value, bool)
        ):
            raise BadParameter(f"{method}.{name} must be of type {spec.kind.__name__}.")
        if spec.kind is float and value != value:  # NaN
            raise BadParameter(f"{method}.{name} must be a finite number.")
        if spec.low is not None and value < spec.low:
            raise BadParameter(f"{method}.{name} must be at least {spec.low}.")
        if spec.high is not None and value > spec.high:
            raise BadParameter(f"{method}.{name} must be at most {spec.high}.")
        if spec.choices and value not in spec.choices:
            raise BadParameter(
                f"{method}.{name} must be one of {', '.join(map(str, spec.choices))}."
            )
        resolved[name] = value
    if (
        method == "integrated_gradients"
        and resolved["max_n_steps"] < resolved["n_steps"]
    ):
        raise BadParameter("integrated_gradients.max_n_steps must be at least n_steps.")
    return resolved


def summed_output_gradients(
    forward_fn: Callable[..., torch.Tensor],
    inputs: tuple[torch.Tensor, ...],
    target_ind: Any = None,
    additional_forward_args: Any = None,
) -> tuple[torch.Tensor, ...]:
    """Captum's ``compute_gradients`` with one backward seed for the whole batch.

    Valid only when each output depends on its own row alone.
    """
    with torch.autograd.set_grad_enabled(True):
        outputs = _run_forward(forward_fn, inputs, target_ind, additional_forward_args)
        return torch.autograd.grad(torch.as_tensor(outputs).sum(), inputs)


_independence_cache: weakref.WeakKeyDictionary[nn.Module, bool] = (
    weakref.WeakKeyDictionary()
)
_BATCH_STATISTIC_LAYERS = (
    nn.modules.batchnorm._BatchNorm,
    nn.modules.instancenorm._InstanceNorm,
)


def rows_are_independent(model: nn.Module, width: int) -> bool:
    """Whether each output row depends only on its own input row.

    Structural check (eval mode; no batch-statistic layer in training mode), then a
    probe: changing row 0 must leave every other row's output bit-identical.
    """
    cached = _independence_cache.get(model)
    if cached is not None:
        return cached
    structural = not model.training and not any(
        isinstance(m, _BATCH_STATISTIC_LAYERS) and m.training for m in model.modules()
    )
    independent = structural
    if structural:
        device = next(model.parameters()).device
        generator = torch.Generator().manual_seed(1234)
        probe = torch.randn(4, width, generator=generator).to(device)
        changed = probe.clone()
        changed[0] += 3.0
        with torch.no_grad():
            independent = bool(torch.equal(model(probe)[1:], model(changed)[1:]))
    _independence_cache[model] = independent
    return independent


@dataclass
class MethodOutput:
    """Column-level attributions [N, width] (or per-group [N, M] when ``grouped``)."""

    attributions: torch.Tensor
    convergence_delta: torch.Tensor | None
    grouped: bool = False


def run_method(
    method: str,
    model: nn.Module,
    inputs: torch.Tensor,
    baselines: torch.Tensor,
    *,
    groups: list[list[int]],
    parameters: dict[str, Any],
    n_steps: int | None = None,
    internal_batch_size: int | None = None,
    fast_gradients: bool = True,
    seed: int = 0,
) -> MethodOutput:
    """One Captum call for the whole batch. ``baselines`` is [width] or [B, width]."""
    torch.manual_seed(seed)
    numpy_state = np.random.get_state()
    np.random.seed(seed)  # Captum's GradientShap draws its path points with numpy
    with warnings.catch_warnings():
        # Captum notes that it set requires_grad and hooks; both are expected here
        warnings.simplefilter("ignore", UserWarning)
        try:
            return _run_method(
                method,
                model,
                inputs,
                baselines,
                groups=groups,
                parameters=parameters,
                n_steps=n_steps,
                internal_batch_size=internal_batch_size,
                fast_gradients=fast_gradients,
                seed=seed,
            )
        finally:
            np.random.set_state(numpy_state)


def _run_method(
    method: str,
    model: nn.Module,
    inputs: torch.Tensor,
    baselines: torch.Tensor,
    *,
    groups: list[list[int]],
    parameters: dict[str, Any],
    n_steps: int | None,
    internal_batch_size: int | None,
    fast_gradients: bool,
    seed: int,
) -> MethodOutput:
    forward = model
    gradient_func = summed_output_gradients if fast_gradients else compute_gradients
    single = baselines if baselines.dim() == 1 else baselines[0]
    # a [1, width] baseline broadcasts inside Captum; an expanded [N, width] view makes
    # every path-point tensor a full copy and IG several times slower
    single_b = single.unsqueeze(0)
    if method == "integrated_gradients":
        ig = IntegratedGradients(forward)
        ig.gradient_func = gradient_func
        attr, delta = ig.attribute(
            inputs,
            baselines=single_b,
            n_steps=n_steps or parameters["n_steps"],
            method="gausslegendre",
            internal_batch_size=internal_batch_size,
            return_convergence_delta=True,
        )
        return MethodOutput(attr, delta)
    if method == "gradient_shap":
        gs = GradientShap(forward)
        gs.gradient_func = gradient_func
        distribution = baselines.reshape(-1, inputs.shape[1])
        attr, delta = gs.attribute(
            inputs,
            baselines=distribution,
            n_samples=parameters["n_samples"],
            stdevs=parameters["stdevs"],
            return_convergence_delta=True,
        )
        delta = delta.reshape(inputs.shape[0], -1).mean(dim=1)
        return MethodOutput(attr, delta)
    if method == "deeplift":
        dl = DeepLift(model)
        dl.gradient_func = gradient_func
        attr, delta = dl.attribute(
            inputs, baselines=single_b, return_convergence_delta=True
        )
        return MethodOutput(attr, delta)
    if method == "input_x_gradient":
        ixg = InputXGradient(forward)
        ixg.gradient_func = gradient_func
        return MethodOutput(ixg.attribute(inputs), None)
    if method == "saliency":
        sal = Saliency(forward)
        sal.gradient_func = gradient_func
        return MethodOutput(sal.attribute(inputs, abs=parameters["absolute"]), None)
    if method == "feature_ablation":
        mask = torch.zeros(1, inputs.shape[1], dtype=torch.long, device=inputs.device)
        for g, cols in enumerate(groups):
            mask[0, cols] = g
        fa = FeatureAblation(forward)
        attr = fa.attribute(
            inputs,
            baselines=single_b,
            feature_mask=mask,
            perturbations_per_eval=len(groups),
        )
        # every column of a group carries the group's value; keep one per group
        per_group = torch.stack([attr[:, cols[0]] for cols in groups], dim=1)
        return MethodOutput(per_group, None, grouped=True)
    if method == "shapley_sampling":
        if baselines.dim() == 2:
            reference = baselines[: parameters["background_rows"]]
        else:
            reference = baselines
        with torch.no_grad():
            phi = kernel_shap(
                forward,
                inputs,
                reference,
                groups,
                n_samples=parameters["n_samples"],
                seed=seed,
            )
        return MethodOutput(phi.to(inputs.dtype), None, grouped=True)
    raise AssertionError(method)  # unreachable: methods are validated before
