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
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable

import torch


def _size_weights(n_features: int) -> list[float]:
    """Total Shapley-kernel weight of coalitions of each size 1..M-1 (unnormalised)."""
    m = n_features
    return [(m - 1) / (s * (m - s)) for s in range(1, m)]


def coalitions(
    n_features: int, budget: int, *, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Coalition masks [S, M] (1 = feature present) and their regression weights [S].

    Args:
        n_features: M, the number of features (groups) explained.
        budget: the number of coalitions (model evaluations per row, besides x and
            the baseline) to use at most.
        seed: fixes the sampled part.

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
    if open_pairs and remaining_budget >= 2:
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
    operator: torch.Tensor = torch.linalg.solve(zw @ z, zw)
    return operator


def kernel_shap(
    forward: Callable[[torch.Tensor], torch.Tensor],
    inputs: torch.Tensor,
    baselines: torch.Tensor,
    groups: list[list[int]],
    *,
    n_samples: int = 200,
    seed: int = 0,
    rows_per_pass: int = 65536,
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

    Example:
        >>> phi = kernel_shap(model, x, b, schema_groups, n_samples=200)
    """
    n, width = inputs.shape
    m = len(groups)
    if m == 1:  # one feature takes the whole change from the baseline
        with torch.no_grad():
            reference = baselines.reshape(-1, width)
            f_b = torch.stack([forward(b.expand_as(inputs)) for b in reference]).mean(0)
            return (forward(inputs) - f_b).to(torch.float64).unsqueeze(1)
    background = baselines.reshape(-1, width)
    masks, weights = coalitions(m, n_samples, seed=seed)
    operator = _regression_operator(masks, weights)  # [M-1, S]
    column_of_group = torch.zeros(m, width, dtype=inputs.dtype, device=inputs.device)
    for g, cols in enumerate(groups):
        column_of_group[g, cols] = 1.0
    column_masks = (
        masks.to(inputs.dtype).to(inputs.device) @ column_of_group
    )  # [S, width]
    s = column_masks.shape[0]

    def evaluate(column_mask: torch.Tensor) -> torch.Tensor:
        """E_background f(x_S, b_notS) for each row and mask: [N, len(column_mask)]."""
        out = torch.zeros(
            n, column_mask.shape[0], dtype=torch.float64, device=inputs.device
        )
        for bg in background:
            # [N, k, width] = x where present, background where absent
            mixed = bg + column_mask.unsqueeze(0) * (inputs.unsqueeze(1) - bg)
            flat = mixed.reshape(-1, width)
            values = torch.cat(
                [
                    forward(flat[i : i + rows_per_pass])
                    for i in range(0, flat.shape[0], rows_per_pass)
                ]
            )
            out += values.reshape(n, -1).to(torch.float64)
        return out / background.shape[0]

    with torch.no_grad():
        ends = evaluate(torch.stack([torch.ones(width), torch.zeros(width)]).to(inputs))
        f_x, f_b = ends[:, 0], ends[:, 1]
        chunk = max(1, rows_per_pass // max(n, 1))
        y = torch.cat(
            [evaluate(column_masks[i : i + chunk]) for i in range(0, s, chunk)], dim=1
        )
        delta = f_x - f_b
        adjusted = (
            y - f_b.unsqueeze(1) - masks[:, -1].to(y).unsqueeze(0) * delta.unsqueeze(1)
        )
        head = adjusted @ operator.T.to(y)  # [N, M-1]
        last = delta - head.sum(dim=1)
    return torch.cat([head, last.unsqueeze(1)], dim=1)
