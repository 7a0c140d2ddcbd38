"""Integrated Gradients without Captum's per-step Python work, equal to Captum's result.

Captum 0.9 builds the path points with a Python list of one tensor per step and
``torch.cat``, recomputes the Gauss-Legendre nodes (``numpy.polynomial.legendre``) on
every call and tiles the baseline with a list of one tensor per row for the
convergence delta. For a model whose rows do not interact (``rows_are_independent``)
and a single baseline row, ``integrated_gradients`` does the same arithmetic with one
broadcast per chunk of steps, one forward and one backward of the summed output, and
nodes cached per ``n_steps``:

* path points ``baseline + alpha * (x - baseline)`` laid out step-major, as Captum's
  ``torch.cat`` lays them out ([steps * N, width]);
* gradients weighted by the step sizes (float32, as Captum casts them) and summed over
  the steps, then multiplied by ``x - baseline``;
* with ``internal_batch_size`` the steps are split as Captum's ``_batch_attribution``
  splits them (``internal_batch_size // N`` steps per chunk) and the chunks' products
  are added in the same order;
* the convergence delta as Captum defines it: the sum of each row's attributions
  minus (f(x) - f(baseline)).

The result is bit-identical to ``IntegratedGradients(model).attribute(..., method=
"gausslegendre", return_convergence_delta=True)`` on CPU in practice; the tests in
``tests/explain/test_fast_ig.py`` hold it to Captum within 1e-6.
"""

from __future__ import annotations

import functools

import torch
from captum.attr._utils.approximation_methods import (  # type: ignore[import-untyped, unused-ignore]
    approximation_parameters,
)
from torch import nn


@functools.lru_cache(maxsize=32)
def gauss_legendre(n_steps: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Captum's Gauss-Legendre step sizes and alphas on [0, 1] for ``n_steps``, cached
    (Captum computes them with an O(steps^3) eigenvalue problem on every call).

    Example:
        >>> sizes, alphas = gauss_legendre(50)
        >>> round(sum(sizes), 6)
        1.0
    """
    step_sizes, alphas = approximation_parameters("gausslegendre")
    return tuple(step_sizes(n_steps)), tuple(alphas(n_steps))


def _step_count(n: int, n_steps: int, internal_batch_size: int | None) -> int:
    """Steps per chunk, as Captum's ``_batch_attribution`` chooses them."""
    if internal_batch_size is None:
        return n_steps
    return max(1, internal_batch_size // n)


def integrated_gradients(
    model: nn.Module,
    inputs: torch.Tensor,
    baseline: torch.Tensor,
    n_steps: int,
    *,
    internal_batch_size: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Gauss-Legendre Integrated Gradients of a one-logit-per-row model.

    Valid only when each output row depends on its own input row alone (see
    ``explain.methods.rows_are_independent``): the gradient of the summed output is
    then every row's own gradient.

    Args:
        model: returns one value per input row ([N] or [N, 1]).
        inputs: [N, width].
        baseline: one reference row, [width] or [1, width].
        n_steps: Gauss-Legendre nodes on the path.
        internal_batch_size: the most path points per forward pass (as Captum's,
            at least N).

    Returns:
        Attributions [N, width] and convergence deltas [N].

    Example:
        >>> attr, delta = integrated_gradients(model, x, b, 50)
        >>> attr.shape, delta.shape
        (torch.Size([N, width]), torch.Size([N]))
    """
    n, width = inputs.shape
    baseline = baseline.reshape(1, width)
    all_sizes, all_alphas = gauss_legendre(n_steps)
    step_count = _step_count(n, n_steps, internal_batch_size)
    diff = inputs - baseline
    total: torch.Tensor | None = None
    for start in range(0, n_steps, step_count):
        steps = min(step_count, n_steps - start)
        alphas = torch.tensor(
            all_alphas[start : start + steps], dtype=inputs.dtype, device=inputs.device
        )
        sizes = torch.tensor(
            all_sizes[start : start + steps], dtype=torch.float32, device=inputs.device
        )
        path = (baseline + alphas.view(steps, 1, 1) * diff).view(steps * n, width)
        path.requires_grad_()
        with torch.enable_grad():
            (grads,) = torch.autograd.grad(model(path).sum(), path)
        scaled = grads.view(steps, n * width) * sizes.view(steps, 1)
        part = scaled.view(steps, n, width).sum(dim=0) * diff
        total = part if total is None else part + total
    if total is None:
        raise ValueError("n_steps must be at least 1")
    with torch.no_grad():
        start_out = model(baseline.expand(n, width).contiguous()).reshape(n, -1).sum(1)
        end_out = model(inputs).reshape(n, -1).sum(1)
        delta = total.reshape(n, -1).sum(1) - (end_out - start_out)
    return total, delta
