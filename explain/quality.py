"""Explanation quality: completeness, infidelity, sensitivity and cross-method agreement.

Infidelity and sensitivity-max perturb every kind of feature, always to schema-valid
values:

* numeric columns get noise scaled by the feature's standard deviation (Gaussian,
  ``relative_noise`` x std, for infidelity; uniform within ``radius`` x std for
  sensitivity);
* each categorical feature (a one-hot group) is switched, with probability
  ``relative_noise`` (infidelity) or ``radius`` (sensitivity), to another of its
  categories drawn uniformly; each binary feature is flipped with the same
  probability.

For infidelity a switched categorical or binary feature counts as a perturbation of
size 1 on each of its columns, so the output change the attributions predict for it
is the feature's whole attribution (switching the category undoes its
contribution), for column-level and per-feature (grouped) attributions alike.
Sensitivity-max runs the explanation on the rows, then on all their
``n_perturb_samples`` perturbations at once (one call of N x k rows).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import combinations

import torch
from captum.metrics import (  # type: ignore[import-untyped, unused-ignore]
    infidelity,
)

from explain.rng import seeded_rng


def kendall_tau_b(a: list[float], b: list[float]) -> float:
    """Kendall's tau-b between two equally long score lists (ties handled); 1.0 if < 2."""
    n = len(a)
    if n < 2:
        return 1.0
    concordant = discordant = ties_a = ties_b = 0
    for i, j in combinations(range(n), 2):
        da, db = a[i] - a[j], b[i] - b[j]
        if da == 0 and db == 0:
            continue
        if da == 0:
            ties_a += 1
        elif db == 0:
            ties_b += 1
        elif (da > 0) == (db > 0):
            concordant += 1
        else:
            discordant += 1
    denominator = (
        (concordant + discordant + ties_a) * (concordant + discordant + ties_b)
    ) ** 0.5
    return 1.0 if denominator == 0 else (concordant - discordant) / denominator


def top_k_agreement(
    per_method: dict[str, dict[str, float]], k: int
) -> dict[str, float | dict[str, float]]:
    """Pairwise Kendall tau of signed attributions over each pair's union of top-k features.

    Returns ``{"min": ..., "mean": ..., "pairs": {"a~b": tau}}``; empty when < 2 methods.
    """
    pairs: dict[str, float] = {}
    for (name_a, attr_a), (name_b, attr_b) in combinations(
        sorted(per_method.items()), 2
    ):
        top = set(sorted(attr_a, key=lambda f: -abs(attr_a[f]))[:k])
        top |= set(sorted(attr_b, key=lambda f: -abs(attr_b[f]))[:k])
        features = sorted(top)
        pairs[f"{name_a}~{name_b}"] = round(
            kendall_tau_b([attr_a[f] for f in features], [attr_b[f] for f in features]),
            6,
        )
    if not pairs:
        return {}
    values = list(pairs.values())
    return {"min": min(values), "mean": sum(values) / len(values), "pairs": pairs}


def numeric_noise_scale(width: int, numeric_columns: dict[int, float]) -> torch.Tensor:
    """Per-column noise scale: the feature's std on numeric columns, 0 on one-hot/binary."""
    scale = torch.zeros(width)
    for column, std in numeric_columns.items():
        scale[column] = std
    return scale


@dataclass(frozen=True)
class PerturbationLayout:
    """How to perturb encoded rows to schema-valid values.

    Attributes:
        noise_scale: [width] the std of each numeric column, 0 elsewhere.
        one_hot_groups: the columns of each categorical feature with at least two
            categories.
        binary_columns: the column of each binary (0/1) feature.
    """

    noise_scale: torch.Tensor
    one_hot_groups: list[list[int]] = field(default_factory=list)
    binary_columns: list[int] = field(default_factory=list)


def switch_categories(
    x: torch.Tensor, layout: PerturbationLayout, probability: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Switch each categorical feature to another category and flip each binary
    feature, independently per row with ``probability``.

    Args:
        x: [N, width] encoded rows (one-hot categories, 0/1 binaries).
        layout: which columns are categorical groups and binaries.
        probability: chance that a feature of a row is switched.

    Returns:
        The perturbed rows and the switch indicator [N, width] (1 on every column of
        a switched feature, 0 elsewhere).

    Example:
        >>> switched, moved = switch_categories(x, layout, 0.1)
    """
    out = x.clone()
    moved = torch.zeros_like(x)
    if probability <= 0:
        return out, moved
    n = x.shape[0]
    if layout.one_hot_groups:
        # all groups at once, padded to the widest: [groups, widest] column indices
        sizes = torch.tensor([len(c) for c in layout.one_hot_groups], device=x.device)
        widest = int(sizes.max())
        padded = torch.tensor(
            [c + [c[0]] * (widest - len(c)) for c in layout.one_hot_groups],
            device=x.device,
        )
        valid = torch.arange(widest, device=x.device) < sizes.unsqueeze(1)
        values = x[:, padded].masked_fill(~valid, -math.inf)  # [N, groups, widest]
        current = values.argmax(dim=2)
        offset = 1 + (torch.rand(n, len(sizes), device=x.device) * (sizes - 1)).long()
        target = (current + torch.minimum(offset, sizes - 1)) % sizes
        switch = torch.rand(n, len(sizes), device=x.device) < probability
        chosen = torch.where(switch, target, current)
        one_hot = torch.nn.functional.one_hot(chosen, widest).to(x.dtype)
        columns = padded[valid]
        out[:, columns] = one_hot[:, valid]
        moved[:, columns] = (
            switch.to(x.dtype).unsqueeze(2).expand(-1, -1, widest)[:, valid]
        )
    if layout.binary_columns:
        cols_b = layout.binary_columns
        flip = torch.rand(n, len(cols_b), device=x.device) < probability
        out[:, cols_b] = torch.where(flip, 1 - x[:, cols_b], x[:, cols_b])
        moved[:, cols_b] = flip.to(x.dtype)
    return out, moved


def infidelity_per_row(
    forward: Callable[[torch.Tensor], torch.Tensor],
    inputs: torch.Tensor,
    attributions: torch.Tensor,
    layout: PerturbationLayout,
    *,
    baseline: torch.Tensor | None = None,
    relative_noise: float = 0.1,
    n_perturb_samples: int = 10,
    seed: int = 0,
) -> torch.Tensor:
    """Captum infidelity under Gaussian noise of ``relative_noise`` x each numeric
    std, categorical features switched and binaries flipped with probability
    ``relative_noise`` (see the module docstring).

    Args:
        baseline: [width] the reference the attributions are relative to (zeros for
            input x gradient). Attributions of a numeric column are shares of the
            move from the baseline, ``gradient x (x - baseline)``, so the change they
            predict for noise ``I`` is ``attribution x I / (x - baseline)`` (Captum's
            ``infidelity_perturb_func_decorator(multiply_by_inputs=True)``); where a
            value equals the baseline its attribution is 0 and so is the prediction.
            None: the attributions are taken as local slopes (noise x attribution).

    Example:
        >>> infidelity_per_row(model, x, column_attr, layout, baseline=b, seed=0).shape
        torch.Size([N])
    """
    scale = (layout.noise_scale * relative_noise).to(inputs)
    numeric = layout.noise_scale.to(inputs.device) > 0
    reference = None if baseline is None else baseline.to(inputs).reshape(1, -1)

    def perturb(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        noise = torch.randn_like(x) * scale
        switched, moved = switch_categories(x - noise, layout, relative_noise)
        if reference is None:
            return noise + moved, switched
        moved_from_baseline = x - reference
        usable = numeric & (moved_from_baseline != 0)
        per_unit = torch.where(
            usable,
            noise / torch.where(usable, moved_from_baseline, torch.ones_like(x)),
            torch.zeros_like(x),
        )
        return per_unit + moved, switched

    with seeded_rng(seed, inputs.device), torch.no_grad():
        result: torch.Tensor = infidelity(
            forward, perturb, inputs, attributions, n_perturb_samples=n_perturb_samples
        )
    return result


def sensitivity_per_row(
    explanation: Callable[[torch.Tensor], torch.Tensor],
    inputs: torch.Tensor,
    layout: PerturbationLayout,
    *,
    radius: float = 0.02,
    n_perturb_samples: int = 5,
    seed: int = 0,
) -> torch.Tensor:
    """Sensitivity-max as Captum defines it (the largest ||e(x') - e(x)|| / ||e(x)||
    over ``n_perturb_samples`` perturbations x', ||e(x)|| = 0 counted as 1) under
    uniform noise of ``radius`` x each numeric std, categorical features switched and
    binaries flipped with probability ``radius``; ``explanation`` is called twice:
    on the rows, then on all their perturbations at once.

    Example:
        >>> sensitivity_per_row(lambda x: run(x), x, layout, seed=0).shape
        torch.Size([N])
    """
    n, k = inputs.shape[0], n_perturb_samples
    scale = (layout.noise_scale * radius).to(inputs)
    with seeded_rng(seed, inputs.device):
        expanded = torch.repeat_interleave(inputs, k, dim=0)
        noisy = expanded + (torch.rand_like(expanded) * 2 - 1) * scale
        perturbed, _ = switch_categories(noisy, layout, radius)
        original = explanation(inputs).detach().reshape(n, -1)
        changed = explanation(perturbed).detach().reshape(n, k, -1)
    norm = torch.linalg.vector_norm(original, dim=1)
    norm = torch.where(norm == 0, torch.ones_like(norm), norm)
    distance = torch.linalg.vector_norm(changed - original.unsqueeze(1), dim=2)
    result: torch.Tensor = (distance / norm.unsqueeze(1)).max(dim=1).values
    return result
