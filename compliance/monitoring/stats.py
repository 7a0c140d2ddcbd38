"""Interval estimates for the rates the monitoring pages show."""

from __future__ import annotations

import math

Z_95 = 1.959963984540054  # the standard normal's 97.5 % quantile


def wilson_interval(
    successes: int, trials: int, z: float = Z_95
) -> tuple[float, float] | None:
    """The Wilson score interval of a proportion (95 % by default); ``None`` for no
    trials. Unlike the normal approximation it stays inside [0, 1] and is honest at
    0 and n successes, which an override rate near zero needs.

    Example:
        >>> wilson_interval(0, 20)
        (0.0, 0.16112515999567297)
    """
    if trials <= 0:
        return None
    if not 0 <= successes <= trials:
        raise ValueError("successes must lie between 0 and trials")
    p = successes / trials
    z2 = z * z
    centre = (p + z2 / (2 * trials)) / (1 + z2 / trials)
    half = (z / (1 + z2 / trials)) * math.sqrt(
        p * (1 - p) / trials + z2 / (4 * trials * trials)
    )
    return max(0.0, centre - half), min(1.0, centre + half)
