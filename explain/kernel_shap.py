"""Batched Kernel SHAP: one set of coalitions shared by every row of the batch.

Kernel SHAP (Lundberg & Lee, 2017) estimates Shapley values by a weighted linear
regression over coalitions of features. The regression's design matrix depends only
on the coalitions, not on the row being explained, so when all rows share the same
coalitions the solve is one small matrix, applied to every row's model outputs with a
single matmul, and the model evaluations for all rows go through the model in large
batches. The sampling follows the reference implementation: coalition sizes are
enumerated completely, smallest and largest first, while the budget allows, and the
remaining budget is spent on paired (complementary) random coalitions drawn with the
Shapley kernel's size weights. With a budget of at least 2**M - 2 every coalition is
enumerated and the result is the exact Shapley value.

Only the features that differ from the reference take part (``explain.shapley``):
the others get exactly 0, rows with few differing features get exact values by
enumeration, and the sampled coalitions are split into independent sub-samples whose
spread gives each value's standard error.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable

import numpy
import torch

from explain.shapley import Design, ShapleyEstimate, shapley_estimate


def _size_weights(n_features: int) -> list[float]:
    """Total Shapley-kernel weight of coalitions of each size 1..M-1 (unnormalised)."""
    m = n_features
    return [(m - 1) / (s * (m - s)) for s in range(1, m)]


def coalitions(
    n_features: int, budget: int, *, seed: int = 0, sample: bool = True
) -> tuple[torch.Tensor, torch.Tensor]:
    """Coalition masks [S, M] (1 = feature present) and their regression weights [S].

    Args:
        n_features: M, the number of features (groups) explained.
        budget: the number of coalitions (model evaluations per row, besides x and
            the baseline) to use at most.
        seed: fixes the sampled part.
        sample: False returns the completely enumerated sizes only.

    Example:
        >>> masks, weights = coalitions(8, 300)   # 254 = all coalitions: exact
    """
    m = n_features
    if m < 2:
        raise ValueError("Kernel SHAP needs at least two features.")
    budget = max(int(budget), 2)
    size_weight = _size_weights(m)
    masks: list[list[float]] = []
    weights: list[float] = []
    remaining_weight = sum(size_weight)
    remaining_budget = budget
    n_paired_sizes = (m - 1) // 2 + ((m - 1) % 2)  # sizes s and m - s handled together
    enumerated_sizes: set[int] = set()
    for s in range(1, n_paired_sizes + 1):
        pair = s != m - s
        count = math.comb(m, s) * (2 if pair else 1)
        if count > remaining_budget:
            break
        sizes = (s, m - s) if pair else (s,)
        for size in sizes:
            w_each = size_weight[size - 1] / math.comb(m, size)
            for combo in itertools.combinations(range(m), size):
                row = [0.0] * m
                for j in combo:
                    row[j] = 1.0
                masks.append(row)
                weights.append(w_each)
            remaining_weight -= size_weight[size - 1]
            enumerated_sizes.add(size)
        remaining_budget -= count
    open_pairs = [s for s in range(1, n_paired_sizes + 1) if s not in enumerated_sizes]
    if sample and open_pairs and remaining_budget >= 2:
        generator = torch.Generator().manual_seed(seed)
        # stratified by coalition size: each open size pair gets a share of the budget
        # proportional to its kernel weight, spent on distinct coalitions and their
        # complements (lower variance than drawing sizes with replacement)
        pair_weight = {
            s: size_weight[s - 1] + (size_weight[m - s - 1] if s != m - s else 0.0)
            for s in open_pairs
        }
        caps = {s: math.comb(m, s) // (2 if s == m - s else 1) for s in open_pairs}
        draws = _allocate(remaining_budget // 2, pair_weight, caps)
        for s, k in draws.items():
            if k == 0:
                continue
            middle = s == m - s
            chosen = _distinct_subsets(m, s, k, generator, exclude_complements=middle)
            complements = [tuple(j for j in range(m) if j not in c) for c in chosen]
            strata = (
                [(s, chosen + complements)]
                if middle
                else [(s, chosen), (m - s, complements)]
            )
            for size, members in strata:
                w_each = size_weight[size - 1] / len(members)
                for combo in members:
                    row = [0.0] * m
                    for j in combo:
                        row[j] = 1.0
                    masks.append(row)
                    weights.append(w_each)
    return torch.tensor(masks, dtype=torch.float64), torch.tensor(
        weights, dtype=torch.float64
    )


def _allocate(
    total: int, weight: dict[int, float], cap: dict[int, int]
) -> dict[int, int]:
    """Split ``total`` draws across strata by weight (largest remainder), within caps."""
    counts = {s: 0 for s in weight}
    remaining = total
    while remaining > 0:
        open_strata = {s: w for s, w in weight.items() if counts[s] < cap[s]}
        if not open_strata:
            break
        norm = sum(open_strata.values())
        shares = {s: remaining * w / norm for s, w in open_strata.items()}
        given = 0
        for s, share in shares.items():
            add = min(int(share), cap[s] - counts[s])
            counts[s] += add
            given += add
        if given == 0:  # hand out one draw by largest remainder
            s = max(open_strata, key=lambda k: (shares[k] - int(shares[k]), -k))
            counts[s] += 1
            given = 1
        remaining -= given
    return counts


def _distinct_subsets(
    m: int, size: int, k: int, generator: torch.Generator, *, exclude_complements: bool
) -> list[tuple[int, ...]]:
    """``k`` distinct sorted subsets of ``range(m)`` of the given size, seeded."""
    chosen: list[tuple[int, ...]] = []
    seen: set[tuple[int, ...]] = set()
    while len(chosen) < k:
        combo = tuple(sorted(torch.randperm(m, generator=generator)[:size].tolist()))
        complement = tuple(j for j in range(m) if j not in combo)
        if combo in seen or (exclude_complements and complement in seen):
            continue
        seen.add(combo)
        chosen.append(combo)
    return chosen


def _regression_operator(masks: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """A [M-1, S] matrix mapping adjusted outputs to the first M-1 Shapley values.

    The efficiency constraint (values sum to f(x) - f(b)) eliminates the last
    feature: y - z_M * delta = sum_j<M phi_j (z_j - z_M).
    """
    z = masks[:, :-1] - masks[:, -1:]
    zw = z.T * weights
    gram = zw @ z
    # a small system (players x players): LAPACK through numpy, one thread. torch's
    # solve spreads it over its thread pool, which costs 0.08 ms idle but 5 ms per
    # call on a busy 2-core machine (bench.models, Kernel SHAP)
    gram_np, zw_np = gram.detach().cpu().numpy(), zw.detach().cpu().numpy()
    try:
        solved = numpy.linalg.solve(gram_np, zw_np)
    except numpy.linalg.LinAlgError:  # too few coalitions: the minimum-norm solution
        solved = numpy.linalg.pinv(gram_np) @ zw_np
    operator: torch.Tensor = torch.from_numpy(solved).to(zw)
    return operator


KERNEL_BATCHES = 8  # independent sub-samples of the sampled coalitions


def _operator_estimate(
    masks: torch.Tensor,
    weights: torch.Tensor,
    y: torch.Tensor,
    f_x: torch.Tensor,
    f_b: torch.Tensor,
    operator: torch.Tensor | None = None,
) -> torch.Tensor:
    """Kernel SHAP values [n, d] of one coalition design, efficient by construction
    (``operator``: ``_regression_operator(masks, weights)`` when already known)."""
    if operator is None:
        operator = _regression_operator(masks, weights)
    operator = operator.to(y)  # [d-1, S]
    delta = f_x - f_b
    adjusted = (
        y - f_b.unsqueeze(1) - masks[:, -1].to(y).unsqueeze(0) * delta.unsqueeze(1)
    )
    head = adjusted @ operator.T  # [n, d-1]
    last = delta - head.sum(dim=1)
    return torch.cat([head, last.unsqueeze(1)], dim=1)


def kernel_design(
    n_samples: int, seed: int, *, batches: int = KERNEL_BATCHES
) -> Callable[[int], Design | None]:
    """Kernel SHAP's coalitions over ``d`` differing features, with replicates.

    The coalition sizes the budget covers completely are enumerated once and shared;
    the rest of the budget is split into up to ``batches`` independent sub-samples of
    paired coalitions (each seeded from ``seed`` and its index), and each sub-sample
    with the enumerated part gives one efficient estimate. Their mean is the value,
    their spread the standard error. None (exact) when the budget covers every
    coalition.
    """

    def design(d: int) -> Design | None:
        if d < 2 or (1 << min(d, 62)) - 2 <= n_samples:
            return None
        enumerated_masks, _ = coalitions(d, n_samples, seed=seed, sample=False)
        e = enumerated_masks.shape[0]
        pairs = max(0, (max(n_samples, 2) - e) // 2)
        k = max(1, min(batches, pairs))
        per_batch = [pairs // k + (1 if i < pairs % k else 0) for i in range(k)]
        parts = [
            coalitions(d, e + 2 * p, seed=seed * 7919 + i + 1)
            for i, p in enumerate(per_batch)
        ]
        sampled = [masks[e:] for masks, _ in parts]
        all_masks = torch.cat([enumerated_masks, *sampled])
        offsets = [e]
        for block in sampled:
            offsets.append(offsets[-1] + block.shape[0])
        operators = [_regression_operator(m_, w_) for m_, w_ in parts]

        def combine(
            v: torch.Tensor, f_x: torch.Tensor, f_b: torch.Tensor
        ) -> torch.Tensor:
            estimates = []
            for i, (masks, weights) in enumerate(parts):
                y = torch.cat([v[:, :e], v[:, offsets[i] : offsets[i + 1]]], dim=1)
                estimates.append(
                    _operator_estimate(masks, weights, y, f_x, f_b, operators[i])
                )
            return torch.stack(estimates)

        return Design(all_masks, combine)

    return design


def kernel_shap_estimate(
    forward: Callable[[torch.Tensor], torch.Tensor],
    inputs: torch.Tensor,
    baselines: torch.Tensor,
    groups: list[list[int]],
    *,
    n_samples: int = 200,
    seed: int = 0,
    rows_per_pass: int = 65536,
    exact_max_features: int | None = None,
) -> ShapleyEstimate:
    """Kernel SHAP values with standard errors (see ``kernel_shap``).

    Features equal to the reference get exactly 0; rows with at most
    ``exact_max_features`` differing features (default
    ``explain.shapley.EXACT_MAX_FEATURES``) get exact Shapley values.
    """
    return shapley_estimate(
        forward,
        inputs,
        baselines,
        groups,
        design=kernel_design(n_samples, seed),
        exact_max_features=exact_max_features,
        rows_per_pass=rows_per_pass,
    )


def kernel_shap(
    forward: Callable[[torch.Tensor], torch.Tensor],
    inputs: torch.Tensor,
    baselines: torch.Tensor,
    groups: list[list[int]],
    *,
    n_samples: int = 200,
    seed: int = 0,
    rows_per_pass: int = 65536,
    exact_max_features: int | None = None,
) -> torch.Tensor:
    """Shapley values per group for every row, [N, M], in the units of ``forward``.

    Args:
        forward: the model, mapping [K, width] inputs to [K] outputs.
        inputs: [N, width] rows to explain.
        baselines: [width] (one reference row) or [B, width] (a background sample:
            absent features are filled from each background row and averaged).
        groups: the input columns of each feature (one-hot columns together).
        n_samples: coalitions evaluated per row (the sampling budget).
        seed: fixes the sampled coalitions; the same for every row and batch size.
        rows_per_pass: the most rows sent through ``forward`` at once.
        exact_max_features: rows differing from the reference in at most this many
            features are explained exactly (0 forces sampling).

    Example:
        >>> phi = kernel_shap(model, x, b, schema_groups, n_samples=200)
    """
    return kernel_shap_estimate(
        forward,
        inputs,
        baselines,
        groups,
        n_samples=n_samples,
        seed=seed,
        rows_per_pass=rows_per_pass,
        exact_max_features=exact_max_features,
    ).values
