"""Explanation quality: completeness, infidelity, sensitivity and cross-method agreement."""

from __future__ import annotations

from collections.abc import Callable
from itertools import combinations

import torch
from captum.metrics import (  # type: ignore[import-untyped, unused-ignore]
    infidelity,
    sensitivity_max,
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


def infidelity_per_row(
    forward: Callable[[torch.Tensor], torch.Tensor],
    inputs: torch.Tensor,
    attributions: torch.Tensor,
    noise_scale: torch.Tensor,
    *,
    relative_noise: float = 0.1,
    n_perturb_samples: int = 10,
    seed: int = 0,
) -> torch.Tensor:
    """Captum infidelity with Gaussian noise of ``relative_noise`` x each numeric std."""
    scale = (noise_scale * relative_noise).to(inputs)

    def perturb(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        noise = torch.randn_like(x) * scale
        return noise, x - noise

    with seeded_rng(seed, inputs.device), torch.no_grad():
        result: torch.Tensor = infidelity(
            forward, perturb, inputs, attributions, n_perturb_samples=n_perturb_samples
        )
    return result


def sensitivity_per_row(
    explanation: Callable[..., torch.Tensor | tuple[torch.Tensor, ...]],
    inputs: torch.Tensor,
    noise_scale: torch.Tensor,
    *,
    radius: float = 0.02,
    n_perturb_samples: int = 5,
    seed: int = 0,
) -> torch.Tensor:
    """Captum sensitivity-max with uniform noise of ``radius`` x each numeric std."""
    scale = (noise_scale * radius).to(inputs)

    def perturb(x: torch.Tensor, perturb_radius: float = radius) -> torch.Tensor:
        return x + (torch.rand_like(x) * 2 - 1) * scale

    with seeded_rng(seed, inputs.device):
        result: torch.Tensor = sensitivity_max(
            explanation,
            inputs,
            perturb_func=perturb,
            n_perturb_samples=n_perturb_samples,
        )
    return result
