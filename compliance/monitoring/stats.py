"""The statistics the monitoring pages show: interval estimates, the adverse impact
ratio, the chi-square test, the population stability index, rank correlation."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

Z_95 = 1.959963984540054  # the standard normal's 97.5 % quantile


def wilson_interval(
    successes: int, trials: int, z: float = Z_95
) -> tuple[float, float] | None:
    """The Wilson score interval of a proportion (95 % by default); ``None`` for no
    trials. Unlike the normal approximation it stays inside [0, 1] and is honest at
    0 and n successes, which an override rate near zero needs.

    Example:
        >>> wilson_interval(0, 20)
        (0.0, 0.16112515805281938)
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


def percentile(values: list[float], q: float) -> float | None:
    """The q-quantile (0..1) by linear interpolation between order statistics (as
    PostgreSQL's percentile_cont); ``None`` for no values.

    Example:
        >>> percentile([1.0, 2.0, 3.0, 4.0], 0.5)
        2.5
    """
    if not values:
        return None
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass(frozen=True)
class RatioEstimate:
    ratio: float | None
    low: float | None
    high: float | None
    resamples: int  # resamples in which the ratio was defined


def adverse_impact_ratio(
    favourable: int,
    total: int,
    ref_favourable: int,
    ref_total: int,
    *,
    resamples: int = 2000,
    seed: int = 20261203,
) -> RatioEstimate:
    """A group's favourable-outcome rate over the reference group's, with a bootstrap
    95 % percentile interval. Resampling the members of a group with replacement
    gives a binomial count of favourable outcomes with the group's observed rate,
    so each resample draws the two counts from Binomial(n, p̂) (numpy's generator,
    fixed seed: the same data give the same interval). Resamples in which the
    reference rate is zero leave the ratio undefined and are dropped."""
    if total <= 0 or ref_total <= 0:
        return RatioEstimate(None, None, None, 0)
    p, p_ref = favourable / total, ref_favourable / ref_total
    ratio = p / p_ref if p_ref > 0 else None
    rng = np.random.default_rng(seed)
    group = rng.binomial(total, p, size=resamples) / total
    reference = rng.binomial(ref_total, p_ref, size=resamples) / ref_total
    defined = reference > 0
    ratios = group[defined] / reference[defined]
    if ratios.size == 0:
        return RatioEstimate(ratio, None, None, 0)
    low, high = np.percentile(ratios, [2.5, 97.5])
    return RatioEstimate(ratio, float(low), float(high), int(ratios.size))


def _upper_gamma_regularized(a: float, x: float) -> float:
    """Q(a, x) = Γ(a, x) / Γ(a): the series below a + 1, Lentz's continued fraction
    above (Numerical Recipes, 6.2)."""
    if x <= 0:
        return 1.0
    log_front = a * math.log(x) - x - math.lgamma(a)
    if x < a + 1:
        term = total = 1.0 / a
        n = a
        for _ in range(1000):
            n += 1
            term *= x / n
            total += term
            if abs(term) < abs(total) * 1e-15:
                break
        return max(0.0, 1.0 - total * math.exp(log_front))
    tiny = 1e-300
    b = x + 1 - a
    c = 1 / tiny
    d = 1 / b
    h = d
    for i in range(1, 1000):
        an = -i * (i - a)
        b += 2
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1 / d
        delta = d * c
        h *= delta
        if abs(delta - 1) < 1e-15:
            break
    return min(1.0, math.exp(log_front) * h)


def chi_square_sf(statistic: float, dof: int) -> float:
    """P(X ≥ statistic) for a chi-square variable with ``dof`` degrees of freedom.

    Example:
        >>> round(chi_square_sf(3.841458820694124, 1), 6)
        0.05
    """
    if dof <= 0:
        raise ValueError("dof must be positive")
    return _upper_gamma_regularized(dof / 2, statistic / 2)


@dataclass(frozen=True)
class ChiSquare:
    statistic: float
    dof: int
    p_value: float
    # the smallest expected count: below 5 the approximation is rough
    min_expected: float


def chi_square_independence(table: list[list[int]]) -> ChiSquare | None:
    """Pearson's chi-square test of independence of a contingency table (rows:
    groups, columns: categories); rows and columns with no counts are dropped.
    ``None`` when fewer than two rows or columns remain."""
    rows = [r for r in table if sum(r) > 0]
    if len(rows) < 2:
        return None
    columns = [j for j in range(len(rows[0])) if sum(r[j] for r in rows) > 0]
    if len(columns) < 2:
        return None
    rows = [[r[j] for j in columns] for r in rows]
    total = sum(sum(r) for r in rows)
    row_sums = [sum(r) for r in rows]
    col_sums = [sum(r[j] for r in rows) for j in range(len(columns))]
    statistic = 0.0
    min_expected = math.inf
    for i, r in enumerate(rows):
        for j, observed in enumerate(r):
            expected = row_sums[i] * col_sums[j] / total
            min_expected = min(min_expected, expected)
            statistic += (observed - expected) ** 2 / expected
    dof = (len(rows) - 1) * (len(columns) - 1)
    return ChiSquare(statistic, dof, chi_square_sf(statistic, dof), min_expected)


PSI_FLOOR = 1e-4  # a share of zero would make the index infinite


def population_stability_index(expected: list[float], actual: list[float]) -> float:
    """PSI = Σ (a − e) · ln(a / e) over the bins of two distributions (shares that
    sum to one; zero shares are floored at 1e-4). Under 0.1: stable; 0.1–0.25: a
    moderate shift; over 0.25: a major shift (the usual reading).

    Example:
        >>> round(population_stability_index([0.5, 0.5], [0.25, 0.75]), 4)
        0.2747
    """
    if len(expected) != len(actual):
        raise ValueError("the two distributions need the same bins")
    psi = 0.0
    for e, a in zip(expected, actual, strict=True):
        e, a = max(e, PSI_FLOOR), max(a, PSI_FLOOR)
        psi += (a - e) * math.log(a / e)
    return psi


def spearman(xs: list[float], ys: list[float]) -> float | None:
    """Spearman's rank correlation (average ranks for ties); ``None`` when either
    side is constant or has fewer than two values."""
    if len(xs) != len(ys) or len(xs) < 2:
        return None

    def ranks(values: list[float]) -> list[float]:
        order = sorted(range(len(values)), key=values.__getitem__)
        out = [0.0] * len(values)
        i = 0
        while i < len(order):
            j = i
            while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
                j += 1
            for k in range(i, j + 1):
                out[order[k]] = (i + j) / 2 + 1
            i = j + 1
        return out

    rx, ry = ranks(xs), ranks(ys)
    mx, my = sum(rx) / len(rx), sum(ry) / len(ry)
    sxy = sum((a - mx) * (b - my) for a, b in zip(rx, ry, strict=True))
    sxx = sum((a - mx) ** 2 for a in rx)
    syy = sum((b - my) ** 2 for b in ry)
    if sxx == 0 or syy == 0:
        return None
    return sxy / math.sqrt(sxx * syy)
