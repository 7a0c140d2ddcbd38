"""Proxy analysis: how well a model version's other features stand in for each
protected attribute, measured on the schema's background sample of training rows.

Suppressing a protected feature from the reasons does not stop a model from using
it through a correlated feature (a proxy). At registration the service measures,
for every protected attribute ``A`` and every non-protected feature ``X``:

* a per-feature **proxy score**: the share of ``A``'s entropy that ``X`` explains,
  corrected for chance. ``U = I(X; A) / H(A)`` (the uncertainty coefficient, a
  normalised mutual information that is 1 when ``X`` determines ``A``) is compared
  with its mean under ``PERMUTATIONS`` random pairings of the same values:
  ``score = (U - E[U_perm]) / (1 - E[U_perm])``, so an independent feature scores
  about 0 however many categories it has, and a copy of ``A`` scores 1. Numeric
  values with more than ``MAX_LEVELS`` distinct values are cut into equal-count bins
  (about the cube root of the number of rows, 2 to 8 bins). ``p_value`` is the share
  of the permutations (and the observed pairing) whose ``U`` reaches the observed one.
* a joint **probe** per attribute: a cross-validated (``FOLDS``-fold, stratified for
  categories) model on all the non-protected features at once, one-hot encoded and
  standardised: class-weighted L2 logistic regression for a categorical or binary
  attribute, scored by balanced accuracy over chance ``(BA - 1/K) / (1 - 1/K)``;
  ridge regression for a numeric one (its penalty chosen by leave-one-out error
  within each training fold), scored by out-of-fold R^2 (chance: 0). It
  tells whether the attribute can be read off the features together even when no
  single one is a proxy.

A feature is a **flagged proxy** of ``A`` when its score is at least
``PROXY_THRESHOLD`` and its permutation p-value at most ``PROXY_FAMILY_ALPHA`` divided
by the number of (feature, attribute) pairs analysed (Bonferroni: a registration
flags an independent feature with probability at most 5 %). The threshold, 0.25, asks
that the feature remove a quarter of the attribute's uncertainty beyond chance.
(With many pairs or rows the number of permutations drops, to at least 199, so that a
registration permutes at most ``PERMUTATION_BUDGET`` values; p-values below what the
permutations resolve come from the G-test.)
Measured on synthetic draws (``PERMUTATIONS`` = 1,999): among 1,985 independent pairs
of 50 rows and 2,000 of 200 rows (features of 2 to 10 levels or numeric, attributes
binary, binary with 6 % of one value, 4 categories or numeric) none was flagged
(the largest chance score with an uncorrected p <= 0.05 was 0.46 at 50 rows, 0.15
at 200); a copy of the attribute with 20 % of its values replaced by random draws
scored at least 0.30 (medians 0.54-0.66) and was flagged in every draw, except a
rare binary attribute at 50 rows (3 or so rows of its rarer value), which a sample
that small cannot test: each attribute's ``smallest_class`` is recorded so that the
reader can tell. On the credit demo's 50 background rows no feature is flagged (the
largest scores: 0.11 for the checking account and sex, 0.11 for housing and age,
0.20 for the employment length and foreign worker, none significant); on all 750
training rows none reaches 0.10, while the probe predicts age with R^2 0.22.

Everything here is plain numpy and torch, deterministic for a given seed, and leaves
the process-wide random state alone.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from explain.schema import FeatureSchema, FeatureSpec

ANALYSIS_VERSION = 1
PROXY_THRESHOLD = 0.25
PROXY_FAMILY_ALPHA = 0.05
PERMUTATIONS = 1999  # fewer when many pairs or rows: see _permutations
PERMUTATION_BUDGET = 20_000_000  # permuted values per registration
MIN_PERMUTATIONS = 199
FOLDS = 5
MIN_ROWS = 20
MAX_LEVELS = 10  # numeric features with at most this many distinct values stay discrete
# per training row, on standardised columns
RIDGE_PENALTIES = (0.001, 0.01, 0.1, 1.0, 10.0, 100.0)
LOGISTIC_PENALTY = 0.05  # on standardised columns; the classes' weights sum to 1
NEWTON_STEPS = 50
DEFAULT_SEED = 0


def proxy_analysis(
    schema: FeatureSchema,
    rows: Sequence[Mapping[str, Any]] | None = None,
    *,
    threshold: float = PROXY_THRESHOLD,
    seed: int = DEFAULT_SEED,
) -> dict[str, Any]:
    """Measure how well the non-protected features predict each protected attribute.

    Args:
        schema: the parsed feature schema (its protected flags and kinds).
        rows: training rows, valid for the schema; default: ``schema.background``.
        threshold: the proxy score from which a feature is a flagged proxy.
        seed: seeds the permutations and the folds (a local generator).

    Returns:
        A JSON-serialisable record: ``status`` ("analysed", or "not_analysed" with a
        ``note``), ``rows``, ``threshold``, ``family_alpha`` and ``max_p_value``
        (the p-value limit of one pair), ``attributes`` (per
        protected attribute: ``kind``, ``probe`` and ``features``, each feature's
        ``score`` and ``p_value``, and the flagged ``proxies``, highest score first)
        and ``proxies``: ``{feature: [protected attributes it stands for]}``.

    Example:
        >>> analysis = proxy_analysis(schema)  # postcode copies ethnicity
        >>> analysis["proxies"]
        {'postcode': ['ethnicity']}
    """
    rows = list(schema.background if rows is None else rows)
    protected = [f for f in schema.features if f.protected]
    others = [f for f in schema.features if not f.protected]
    record: dict[str, Any] = {
        "version": ANALYSIS_VERSION,
        "status": "analysed",
        "rows": len(rows),
        "threshold": threshold,
        "family_alpha": PROXY_FAMILY_ALPHA,
        "attributes": {},
        "proxies": {},
    }
    if not protected:
        return {**record, "status": "not_analysed", "note": "No protected features."}
    if not others:
        return {
            **record,
            "status": "not_analysed",
            "note": "Every feature is protected: none can stand in for another.",
        }
    if len(rows) < MIN_ROWS:
        return {
            **record,
            "status": "not_analysed",
            "note": (
                f"{len(rows)} training rows in the schema's background sample; the "
                f"analysis needs at least {MIN_ROWS}."
            ),
        }
    rng = np.random.default_rng(seed)
    # Bonferroni over every pair this registration tests
    pairs = len(protected) * len(others)
    p_limit = PROXY_FAMILY_ALPHA / pairs
    permutations = int(
        min(
            PERMUTATIONS,
            max(MIN_PERMUTATIONS, PERMUTATION_BUDGET // (pairs * len(rows))),
        )
    )
    record["permutations"] = permutations
    record["max_p_value"] = float(f"{p_limit:.3g}")
    codes = {f.name: _discrete_codes(f, [r[f.name] for r in rows]) for f in others}
    inputs = _standardised_inputs(schema, others, rows)
    proxies: dict[str, list[str]] = {}
    for attribute in protected:
        values = [row[attribute.name] for row in rows]
        target = _discrete_codes(attribute, values)
        features: dict[str, dict[str, float]] = {}
        for spec in others:
            score, p_value = _adjusted_uncertainty(
                codes[spec.name], target, rng, permutations
            )
            features[spec.name] = {"score": round(score, 4), "p_value": p_value}
        flagged = sorted(
            (
                name
                for name, f in features.items()
                if f["score"] >= threshold and f["p_value"] <= p_limit
            ),
            key=lambda name: -features[name]["score"],
        )
        for name in flagged:
            proxies.setdefault(name, []).append(attribute.name)
        record["attributes"][attribute.name] = {
            "kind": attribute.kind,
            "probe": _probe(attribute, values, inputs, rng),
            "features": features,
            "proxies": flagged,
        }
    record["proxies"] = {name: proxies[name] for name in sorted(proxies)}
    return record


def proxy_map(analysis: Mapping[str, Any] | None) -> dict[str, tuple[str, ...]]:
    """``{feature: protected attributes it is a flagged proxy of}`` from a stored
    ``proxy_analysis`` record (empty for none, or one that did not analyse).

    Example:
        >>> proxy_map({"status": "analysed", "proxies": {"housing": ["age"]}})
        {'housing': ('age',)}
    """
    if not analysis or analysis.get("status") != "analysed":
        return {}
    return {
        str(name): tuple(str(a) for a in attributes)
        for name, attributes in dict(analysis.get("proxies", {})).items()
    }


def _discrete_codes(spec: FeatureSpec, values: Sequence[Any]) -> np.ndarray:
    """Integer codes 0..L-1 for a feature's values: categories and binary values as
    they are, numeric values as they are when few, else in equal-count bins."""
    if spec.kind == "numeric":
        numbers = np.asarray(values, dtype=np.float64)
        distinct = np.unique(numbers)
        if len(distinct) > MAX_LEVELS:
            bins = int(min(8, max(2, round(len(numbers) ** (1 / 3)))))
            edges = np.unique(np.quantile(numbers, np.linspace(0, 1, bins + 1)[1:-1]))
            return np.searchsorted(edges, numbers, side="right").astype(np.int64)
        return np.searchsorted(distinct, numbers).astype(np.int64)
    keys = [bool(v) if spec.kind == "binary" else v for v in values]
    levels = {k: i for i, k in enumerate(sorted(set(keys), key=str))}
    return np.asarray([levels[k] for k in keys], dtype=np.int64)


def _entropy(counts: np.ndarray, axis: int = -1) -> np.ndarray:
    total = counts.sum(axis=axis, keepdims=True)
    p = np.divide(counts, total, out=np.zeros_like(counts), where=total > 0)
    logs = np.log(p, out=np.zeros_like(p), where=p > 0)
    return np.asarray(-(p * logs).sum(axis=axis))


def _adjusted_uncertainty(
    feature: np.ndarray,
    target: np.ndarray,
    rng: np.random.Generator,
    permutations: int = PERMUTATIONS,
) -> tuple[float, float]:
    """Chance-corrected ``I(X; A) / H(A)`` of a feature about the target, and the
    permutation p-value of the observed ``I``. When no permutation reaches it, the
    p-value is the G-test's (``2 n I`` against chi-squared with ``(Lx - 1)(La - 1)``
    degrees of freedom) where that is smaller: the permutations cannot resolve
    p-values below ``1 / (permutations + 1)``, which many pairs need."""
    n = len(target)
    target_entropy = float(_entropy(np.bincount(target).astype(np.float64)))
    if target_entropy <= 0:
        return 0.0, 1.0
    levels_x, levels_a = int(feature.max()) + 1, int(target.max()) + 1
    shuffled = rng.permuted(np.tile(feature, (permutations, 1)), axis=1)
    pairings = np.vstack([feature, shuffled])
    joint = pairings * levels_a + target  # [1 + P, n]
    offsets = (np.arange(len(pairings)) * levels_x * levels_a)[:, None]
    counts = np.bincount(
        (joint + offsets).ravel(), minlength=len(pairings) * levels_x * levels_a
    ).reshape(len(pairings), levels_x, levels_a)
    # I(X; A) = H(A) - H(A | X), with H(A | X) = sum_x p(x) H(A | X = x)
    conditional = (counts.sum(axis=2) / n * _entropy(counts.astype(np.float64))).sum(1)
    information = target_entropy - conditional
    u = information / target_entropy
    expected = float(u[1:].mean())
    observed = float(u[0])
    score = 0.0 if expected >= 1 else (observed - expected) / (1 - expected)
    reached = int((information >= information[0] - 1e-12).sum())
    p_value = reached / len(pairings)
    if reached == 1:
        freedom = (len(np.unique(feature)) - 1) * (len(np.unique(target)) - 1)
        statistic = torch.tensor(2 * n * max(float(information[0]), 0.0))
        g_test = float(
            torch.special.gammaincc(torch.tensor(freedom / 2), statistic / 2)
        )
        p_value = min(p_value, g_test)
    return score, float(f"{p_value:.3g}")


def _standardised_inputs(
    schema: FeatureSchema,
    specs: Sequence[FeatureSpec],
    rows: Sequence[Mapping[str, Any]],
) -> torch.Tensor:
    """The features' model input columns (one-hot, raw numbers), centred and scaled
    on these rows, in float64; constant columns are dropped."""
    groups = schema.column_groups()
    columns = [c for spec in specs for c in groups[spec.name]]
    x = schema.encode([dict(r) for r in rows])[:, columns].to(torch.float64)
    std = x.std(dim=0)
    kept = std > 0
    return (x[:, kept] - x[:, kept].mean(dim=0)) / std[kept]


def _folds(n: int, groups: np.ndarray | None, rng: np.random.Generator) -> np.ndarray:
    """A fold index per row; with ``groups``, each group is spread over the folds."""
    folds = np.empty(n, dtype=np.int64)
    labels = np.zeros(n, dtype=np.int64) if groups is None else groups
    start = int(rng.integers(FOLDS))
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        folds[members] = (start + np.arange(len(members))) % FOLDS
        start = (start + len(members)) % FOLDS
    return folds


def _probe(
    attribute: FeatureSpec,
    values: Sequence[Any],
    inputs: torch.Tensor,
    rng: np.random.Generator,
) -> dict[str, Any]:
    """Cross-validated prediction of the attribute from the other features."""
    n = inputs.shape[0]
    if inputs.shape[1] > n:
        # an L2-penalised fit lies in the span of its rows: fitting on the rows'
        # coordinates in that span gives the same predictions in fewer columns
        _, _, vh = torch.linalg.svd(inputs, full_matrices=False)
        inputs = inputs @ vh.T
    if attribute.kind == "numeric":
        y = torch.tensor([float(v) for v in values], dtype=torch.float64)
        folds = torch.from_numpy(_folds(n, None, rng))
        predicted = torch.empty(n, dtype=torch.float64)
        for k in range(FOLDS):
            test = folds == k
            train = ~test
            predicted[test] = _ridge(inputs[train], y[train], inputs[test])
        total = float(((y - y.mean()) ** 2).sum())
        r2 = 1 - float(((y - predicted) ** 2).sum()) / total if total > 0 else 0.0
        return {
            "model": "ridge regression",
            "metric": "r2",
            "score": round(r2, 4),
            "chance": 0.0,
            "over_chance": round(r2, 4),
            "folds": FOLDS,
        }
    classes = _discrete_codes(attribute, values)
    k_classes = int(classes.max()) + 1
    labels = torch.from_numpy(classes)
    folds = torch.from_numpy(_folds(n, classes, rng))
    predicted_classes = torch.empty(n, dtype=torch.int64)
    for k in range(FOLDS):
        test = folds == k
        train = ~test
        predicted_classes[test] = _logistic(
            inputs[train], labels[train], k_classes, inputs[test]
        )
    recalls = [
        float((predicted_classes[labels == c] == c).double().mean())
        for c in range(k_classes)
    ]
    balanced = sum(recalls) / k_classes
    chance = 1 / k_classes
    over = (balanced - chance) / (1 - chance) if k_classes > 1 else 0.0
    return {
        "model": "logistic regression",
        "metric": "balanced_accuracy",
        "score": round(balanced, 4),
        "chance": round(chance, 4),
        "over_chance": round(over, 4),
        "folds": FOLDS,
        "smallest_class": int(np.bincount(classes).min()),
    }


def _ridge(x: torch.Tensor, y: torch.Tensor, x_test: torch.Tensor) -> torch.Tensor:
    """Ridge regression on centred columns, its penalty (per training row) chosen
    from ``RIDGE_PENALTIES`` by the training rows' exact leave-one-out error."""
    mean_x, mean_y = x.mean(dim=0), y.mean()
    xc, yc = x - mean_x, y - mean_y
    best: tuple[float, torch.Tensor] = (
        math.inf,
        torch.zeros(x.shape[1], dtype=x.dtype),
    )
    for penalty in RIDGE_PENALTIES:
        gram = xc.T @ xc + penalty * x.shape[0] * torch.eye(x.shape[1], dtype=x.dtype)
        inverse_xt = torch.linalg.solve(gram, xc.T)
        weights = inverse_xt @ yc
        leverage = (xc * inverse_xt.T).sum(dim=1)
        residuals = (yc - xc @ weights) / (1 - leverage).clamp_min(1e-12)
        error = float((residuals**2).mean())
        if error < best[0]:
            best = (error, weights)
    return (x_test - mean_x) @ best[1] + mean_y


def _logistic(
    x: torch.Tensor, y: torch.Tensor, k_classes: int, x_test: torch.Tensor
) -> torch.Tensor:
    """One-vs-rest L2 logistic regression, each class against the rest with both
    sides weighted equally; the test rows' most probable class. A class absent from
    the training rows is never predicted."""
    counts = torch.bincount(y, minlength=k_classes)
    present = counts.nonzero().flatten().tolist()
    if len(present) < 2:
        return torch.full((x_test.shape[0],), present[0], dtype=torch.int64)
    ones = torch.ones(x.shape[0], 1, dtype=x.dtype)
    design = torch.cat([x, ones], dim=1)
    test_design = torch.cat([x_test, torch.ones(x_test.shape[0], 1, dtype=x.dtype)], 1)
    scores = torch.full((x_test.shape[0], k_classes), -math.inf, dtype=x.dtype)
    for c in present:
        target = (y == c).to(x.dtype)
        positives = float(target.sum())
        weights = torch.where(
            target > 0, 0.5 / positives, 0.5 / (len(y) - positives)
        ).to(x.dtype)
        coefficients = _logistic_newton(design, target, weights)
        scores[:, c] = test_design @ coefficients
    return scores.argmax(dim=1)


def _logistic_newton(
    design: torch.Tensor, target: torch.Tensor, weights: torch.Tensor
) -> torch.Tensor:
    """Minimise sum_i w_i logloss_i + penalty/2 |beta|^2 (the last column, the
    intercept, almost unpenalised) by Newton steps with backtracking."""
    width = design.shape[1]
    penalty = torch.full((width,), LOGISTIC_PENALTY, dtype=design.dtype)
    penalty[-1] = 1e-8

    def objective(beta: torch.Tensor) -> torch.Tensor:
        logits = design @ beta
        losses = torch.nn.functional.softplus(logits) - target * logits
        return (weights * losses).sum() + 0.5 * (penalty * beta**2).sum()

    beta = torch.zeros(width, dtype=design.dtype)
    value = objective(beta)
    for _ in range(NEWTON_STEPS):
        p = torch.sigmoid(design @ beta)
        gradient = design.T @ (weights * (p - target)) + penalty * beta
        if float(gradient.abs().max()) < 1e-10:
            break
        hessian = (design.T * (weights * p * (1 - p))) @ design + torch.diag(penalty)
        step = torch.linalg.solve(hessian, gradient)
        decrease = float(gradient @ step)
        t = 1.0
        while t > 1e-8:
            candidate = beta - t * step
            new_value = objective(candidate)
            if float(new_value) <= float(value) - 1e-4 * t * decrease:
                break
            t /= 2
        else:
            break
        beta, value = candidate, new_value
    return beta
