"""Shapley values over the features that differ from the reference: exact or sampled.

A feature whose columns equal the reference in every reference row cannot change the
model's output when it joins a coalition, so it is a *null player*: it is left out of
every coalition and gets exactly 0 (as shap's KernelExplainer does). Rows are grouped
by which features differ from the reference (their *pattern*); each pattern is
explained over its own ``d`` differing features:

* ``d <= EXACT_MAX_FEATURES``: exact Shapley values by enumerating all ``2**d``
  coalitions, each feature's value a weighted sum of its marginal contributions
  ``f(S + j) - f(S)`` (differences first, so a feature the model ignores gets
  exactly 0, and the values sum to ``f(x) - f(reference)``);
* otherwise a sampled design (Kernel SHAP's coalitions or antithetic permutations,
  given by the caller) that returns independent replicate estimates; their mean is
  the estimate and their spread its standard error.

The cut-off was chosen by measurement (``python -m bench.attributions
--shapley-cutoff``): on the 2-core development machine the demo credit model's exact
values at 12 differing features cost about as much as the Kernel SHAP path sampled to
stable reasons at its default cap, and each further feature doubles the exact cost.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import torch

EXACT_MAX_FEATURES = 12

Forward = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class Design:
    """A sampled estimator for one number ``d`` of differing features.

    ``masks`` [S, d] are the coalitions to evaluate (1 = the row's value, 0 = the
    reference's); ``combine(values [n, S], f_x [n], f_reference [n])`` returns
    replicate estimates [K, n, d] (independent, each efficient), whose mean is the
    estimate.
    """

    masks: torch.Tensor
    combine: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class ShapleyEstimate:
    """Per-row, per-feature values [N, M] with standard errors [N, M] (0 where exact,
    ``inf`` where a sampled estimate has fewer than two replicates) and whether each
    row's values are exact [N]; ``f_x`` and ``f_reference`` [N] are the values the
    estimate is efficient against."""

    values: torch.Tensor
    standard_errors: torch.Tensor
    exact: torch.Tensor
    f_x: torch.Tensor
    f_reference: torch.Tensor


def differing_features(
    inputs: torch.Tensor, references: torch.Tensor, groups: list[list[int]]
) -> torch.Tensor:
    """[N, M] bool: feature g of row i differs from at least one reference row."""
    column_differs = (inputs.unsqueeze(1) != references.unsqueeze(0)).any(dim=1)
    return torch.stack([column_differs[:, cols].any(dim=1) for cols in groups], dim=1)


@lru_cache(maxsize=32)
def _exact_tables(
    d: int,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Coalition bits [2**d, d]; for each feature j the coalitions without it and
    with it [d, 2**(d-1)] (indices into the bits) and the Shapley weights."""
    index = torch.arange(1 << d)
    bits = ((index.unsqueeze(1) >> torch.arange(d)) & 1).to(torch.float64)
    sizes = bits.sum(dim=1).long()
    weight_of_size = torch.tensor(
        [
            math.factorial(s) * math.factorial(d - s - 1) / math.factorial(d)
            for s in range(d)
        ],
        dtype=torch.float64,
    )
    without, with_, weights = [], [], []
    for j in range(d):
        lacking = index[(index >> j) & 1 == 0]
        without.append(lacking)
        with_.append(lacking | (1 << j))
        weights.append(weight_of_size[sizes[lacking]])
    if d == 0:
        empty = torch.zeros(0, 1, dtype=torch.long)
        return bits, empty, empty, empty.to(torch.float64)
    return bits, torch.stack(without), torch.stack(with_), torch.stack(weights)


def design_evaluations(d: int, design: Design | None) -> int:
    """Coalitions evaluated per row and reference row for ``d`` differing features:
    every one of the ``2**d`` when exact, else the design's plus f(x) and f(ref)."""
    return (1 << d) if design is None else design.masks.shape[0] + 2


def exact_masks(d: int) -> torch.Tensor:
    """All ``2**d`` coalitions of ``d`` features [2**d, d] (empty first, full last)."""
    return _exact_tables(d)[0]


def exact_from_values(values: torch.Tensor, d: int) -> torch.Tensor:
    """Exact Shapley values [n, d] from the values [n, 2**d] of every coalition."""
    _, without, with_, weights = _exact_tables(d)
    out = torch.empty(values.shape[0], d, dtype=torch.float64, device=values.device)
    chunk = max(1, (1 << 22) // max(1, d * without.shape[1]))
    w = weights.to(values.device)
    for start in range(0, values.shape[0], chunk):
        v = values[start : start + chunk]
        # marginal contributions first: exactly 0 where the feature changes nothing
        diff = v[:, with_.to(values.device)] - v[:, without.to(values.device)]
        out[start : start + chunk] = (diff * w).sum(dim=-1)
    return out


def _evaluate(
    forward: Forward,
    x: torch.Tensor,
    references: torch.Tensor,
    column_masks: torch.Tensor,
    rows_per_pass: int,
) -> torch.Tensor:
    """E_reference f(x_S, reference_notS) [n, S] for rows x [n, width] and their own
    coalition column masks [n, S, width]."""
    n, s, width = column_masks.shape
    out = torch.zeros(n, s, dtype=torch.float64, device=x.device)
    for reference in references:
        mixed = reference + column_masks * (x.unsqueeze(1) - reference)
        flat = mixed.reshape(-1, width)
        values = torch.cat(
            [
                forward(flat[i : i + rows_per_pass])
                for i in range(0, flat.shape[0], rows_per_pass)
            ]
        )
        out += values.reshape(n, s).to(torch.float64)
    return out / references.shape[0]


def shapley_estimate(
    forward: Forward,
    inputs: torch.Tensor,
    references: torch.Tensor,
    groups: list[list[int]],
    *,
    design: Callable[[int], Design | None],
    exact_max_features: int | None = None,
    rows_per_pass: int = 65536,
) -> ShapleyEstimate:
    """Shapley values per group for every row, over each row's differing features.

    Args:
        forward: the model, mapping [K, width] inputs to [K] outputs.
        inputs: [N, width] rows to explain.
        references: [width] (one reference row) or [B, width] (a background sample:
            absent features are filled from each row and the values averaged).
        groups: the input columns of each feature (one-hot columns together).
        design: the sampled estimator for ``d`` differing features, or None where
            the sampling budget covers every coalition (then exact).
        exact_max_features: enumerate exactly up to this many differing features
            (default ``EXACT_MAX_FEATURES``, read at call time).
        rows_per_pass: the most rows sent through ``forward`` at once.
    """
    cutoff = EXACT_MAX_FEATURES if exact_max_features is None else exact_max_features
    n, width = inputs.shape
    m = len(groups)
    device = inputs.device
    references = references.reshape(-1, width).to(inputs)
    column_of_group = torch.zeros(m, width, dtype=inputs.dtype, device=device)
    for g, cols in enumerate(groups):
        column_of_group[g, cols] = 1.0
    values = torch.zeros(n, m, dtype=torch.float64, device=device)
    errors = torch.zeros(n, m, dtype=torch.float64, device=device)
    exact = torch.ones(n, dtype=torch.bool, device=device)
    f_x = torch.zeros(n, dtype=torch.float64, device=device)
    f_ref = torch.zeros(n, dtype=torch.float64, device=device)
    designs: dict[int, Design | None] = {}
    differs = differing_features(inputs, references, groups)
    counts = differs.sum(dim=1)
    with torch.no_grad():
        # rows with the same number d of differing features share one design,
        # each applied to the row's own features
        for d in torch.unique(counts).tolist():
            rows_d = (counts == d).nonzero().flatten()
            # each row's differing features, in schema order: [n, d]
            order = torch.argsort(
                differs[rows_d].to(torch.int8), dim=1, descending=True, stable=True
            )
            feature_index = order[:, :d]
            if d <= cutoff:
                chosen = None
            else:  # one design per number of differing features, shared
                if d not in designs:
                    designs[d] = design(d)
                chosen = designs[d]
            if chosen is None:  # every coalition, the empty one first, the full last
                masks = exact_masks(d)
            else:  # the full coalition and the empty one, then the design's
                masks = torch.cat(
                    [
                        torch.ones(1, d, dtype=torch.float64),
                        torch.zeros(1, d, dtype=torch.float64),
                        chosen.masks,
                    ]
                )
            masks = masks.to(device=device, dtype=inputs.dtype)
            step = max(1, rows_per_pass // masks.shape[0])
            for start in range(0, rows_d.shape[0], step):
                rows = rows_d[start : start + step]
                index = feature_index[start : start + step]
                columns = torch.einsum(
                    "sd,ndw->nsw", masks, column_of_group[index]
                )  # [n, S, width]
                v = _evaluate(forward, inputs[rows], references, columns, rows_per_pass)
                at = (rows.unsqueeze(1), index)
                if chosen is None:
                    f_x[rows], f_ref[rows] = v[:, -1], v[:, 0]
                    if d:
                        values[at] = exact_from_values(v, d)
                    continue
                f_x[rows], f_ref[rows] = v[:, 0], v[:, 1]
                replicates = chosen.combine(v[:, 2:], v[:, 0], v[:, 1])  # [K, n, d]
                k = replicates.shape[0]
                estimate = replicates.mean(dim=0)
                se = (
                    replicates.std(dim=0, unbiased=True) / math.sqrt(k)
                    if k >= 2
                    else torch.full_like(estimate, math.inf)
                )
                values[at] = estimate
                errors[at] = se
                exact[rows] = False
    return ShapleyEstimate(values, errors, exact, f_x, f_ref)


def permutation_design(n_samples: int, seed: int) -> Callable[[int], Design | None]:
    """Antithetic permutation sampling: ``ceil(n_samples / 2)`` random orders of the
    ``d`` features, each with its reverse; one replicate per pair (the mean of the
    two orders' marginal contributions), so the pairs' spread is the standard error.
    Every order's contributions sum to f(x) - f(reference) (efficiency).
    """

    def design(d: int) -> Design | None:
        pairs = max(1, (n_samples + 1) // 2)
        if pairs * 2 >= math.factorial(min(d, 20)):
            return None  # as many orders as exist: enumerate instead
        generator = torch.Generator().manual_seed(seed)
        orders = []
        for _ in range(pairs):
            order = torch.randperm(d, generator=generator)
            orders.extend([order, order.flip(0)])
        order_tensor = torch.stack(orders)  # [2P, d]: position -> feature
        rank = torch.empty_like(order_tensor)  # feature -> position
        rank.scatter_(1, order_tensor, torch.arange(d).expand_as(order_tensor))
        sizes = torch.arange(1, d)
        # each order's prefixes of sizes 1..d-1: [2P, d-1, d]
        prefix = (rank.unsqueeze(1) < sizes.view(1, -1, 1)).to(torch.float64)

        def combine(
            v: torch.Tensor, f_x: torch.Tensor, f_ref: torch.Tensor
        ) -> torch.Tensor:
            n = v.shape[0]
            chain = torch.cat(
                [
                    f_ref.view(n, 1, 1).expand(n, 2 * pairs, 1),
                    v.reshape(n, 2 * pairs, d - 1),
                    f_x.view(n, 1, 1).expand(n, 2 * pairs, 1),
                ],
                dim=2,
            )
            marginal = chain[:, :, 1:] - chain[:, :, :-1]  # [n, 2P, d] by position
            phi = torch.zeros_like(marginal)
            phi.scatter_(2, order_tensor.to(v.device).expand(n, -1, -1), marginal)
            return phi.reshape(n, pairs, 2, d).mean(dim=2).permute(1, 0, 2)

        return Design(prefix.reshape(-1, d), combine)

    return design
