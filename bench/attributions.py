"""Attribution throughput and ratios, each pair measured side by side in one run.

    .venv/bin/pip install -r requirements-dev.txt   # shap, for the Kernel SHAP comparison
    .venv/bin/python -m bench.attributions [--rows 1000] [--loop-rows 200]

On the demo credit model (German Credit, all 1,000 applicants):
  * explanations/s per method through ``explain_batch`` (attributions only, then IG with
    its quality figures and the counterfactual search);
  * engine IG vs stock Captum IG called once on the whole batch (same n_steps, same
    baseline), with the largest attribution difference;
  * engine IG vs a one-input-per-call Captum loop (the naive service);
and on an 8-feature model (breast-cancer measurements) the engine's batched Kernel SHAP
(method ``kernel_shap``) vs ``shap.KernelExplainer`` at the same number of coalition
samples, each compared with exact Shapley values computed by enumerating all 256
coalitions. (``shapley_sampling`` is Captum's ShapleyValueSampling; its throughput is
in the per-method list.)
With ``--shapley-accuracy`` (also run by default): on 20 demo credit rows, exact Shapley
values over all 2^20 coalitions of the 20 features against ``kernel_shap`` and
``shapley_sampling`` at their default budgets and ``shap.KernelExplainer`` at the same
number of model evaluations (mean, max and relative error, explanations/s).
"""

from __future__ import annotations

import argparse
import itertools
import math
import random
import time
from typing import Any

import numpy as np
import torch
from captum.attr import IntegratedGradients

import explain
from demo import credit, diagnosis, training
from explain import shapley
from explain.kernel_shap import kernel_shap
from explain.methods import run_method

N_STEPS = 50
CLASSES = {
    "class_labels": ["good", "bad"],
    "favourable_class": "good",
    "threshold": 0.5,
}
ATTRIBUTIONS_ONLY = {
    "counterfactual": False,
    "quality": {"infidelity": False, "sensitivity": False},
}


def _timed(fn: Any, repeats: int = 3) -> tuple[Any, float]:
    """The result and the best wall time of ``repeats`` runs (less scheduler noise)."""
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return result, best


def _group_matrix(schema: explain.FeatureSchema) -> torch.Tensor:
    groups = list(schema.column_groups().values())
    matrix = torch.zeros(schema.input_width, len(groups))
    for g, cols in enumerate(groups):
        matrix[cols, g] = 1.0
    return matrix


def _raw_ig_reference(
    model: torch.nn.Module,
    x: torch.Tensor,
    b: torch.Tensor,
    alphas: torch.Tensor,
    weights: torch.Tensor,
) -> torch.Tensor:
    """Integrated gradients as close to the hardware as plain torch gets: every path
    point built by one broadcast, one forward and one backward over all of them (the
    Gauss-Legendre ``alphas`` and ``weights`` [n_steps] computed beforehand)."""
    diff = x - b
    path = (b + alphas.view(-1, 1, 1) * diff).reshape(-1, x.shape[1])
    path.requires_grad_()
    (grads,) = torch.autograd.grad(model(path).sum(), path)
    summed = (grads.view(-1, *x.shape) * weights.view(-1, 1, 1)).sum(0)
    return summed * diff


def _timed_together(fns: dict[str, Any], repeats: int) -> dict[str, tuple[Any, float]]:
    """Each function's result and best wall time, the functions taking turns in every
    round so that they share the machine's quiet and busy moments."""
    best = dict.fromkeys(fns, math.inf)
    results: dict[str, Any] = {}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            results[name] = fn()
            best[name] = min(best[name], time.perf_counter() - start)
    return {name: (results[name], best[name]) for name in fns}


def _speed_lines(
    model: torch.nn.Module,
    schema: explain.FeatureSchema,
    rows: list[dict[str, Any]],
    repeats: int,
) -> None:
    """Raw torch reference, engine IG call, stock Captum, explain_batch (attributions
    only) and the full path, measured in one run: the first, second and fourth
    taking turns, best of ``repeats``."""
    n = len(rows)
    x = schema.encode(rows)
    b = schema.encode([schema.baseline])[0]
    nodes, node_weights = np.polynomial.legendre.leggauss(N_STEPS)
    alphas = torch.tensor(0.5 * (1 + nodes), dtype=torch.float32)
    weights = torch.tensor(0.5 * node_weights, dtype=torch.float32)
    groups = list(schema.column_groups().values())
    params = explain.methods.resolve_parameters("integrated_gradients", {})
    ig = IntegratedGradients(model)
    only = {
        **ATTRIBUTIONS_ONLY,
        "integrated_gradients": {"n_steps": N_STEPS, "max_n_steps": N_STEPS},
    }
    timed = _timed_together(
        {
            "raw": lambda: _raw_ig_reference(model, x, b, alphas, weights),
            "engine": lambda: run_method(
                "integrated_gradients",
                model,
                x,
                b,
                groups=groups,
                parameters=params,
                n_steps=N_STEPS,
            ),
            "batch": lambda: explain.explain_batch(
                model,
                rows,
                schema=schema,
                methods=["integrated_gradients"],
                parameters=only,
                **CLASSES,
            ),
        },
        repeats,
    )
    (raw, raw_s), (engine, engine_s) = timed["raw"], timed["engine"]
    # stock Captum takes one autograd seed per output: ~50x slower, 3 runs suffice
    (stock, stock_delta), stock_s = _timed(
        lambda: ig.attribute(
            x,
            b.unsqueeze(0),
            n_steps=N_STEPS,
            method="gausslegendre",
            return_convergence_delta=True,
        )
    )
    batch_s = timed["batch"][1]
    _, full_s = _timed(
        lambda: explain.explain_batch(
            model, rows, schema=schema, methods=["integrated_gradients"], **CLASSES
        ),
        max(1, repeats // 10),
    )
    assert engine.convergence_delta is not None
    difference = (engine.attributions - stock).abs().max().item()
    delta_difference = (engine.convergence_delta - stock_delta).abs().max().item()
    raw_difference = (raw - stock).abs().max().item()
    print(
        f"IG speed, {n} decisions, {N_STEPS} steps, {torch.get_num_threads()} threads "
        f"(best of {repeats}):"
    )
    print(
        f"  raw torch reference (1 broadcast, 1 forward, 1 backward): {n / raw_s:9.0f}/s"
        f" (max |difference| vs Captum {raw_difference:.2e})"
    )
    print(
        f"  engine IG call (run_method):  {n / engine_s:9.0f}/s  "
        f"{raw_s / engine_s:6.1%} of raw (target >= 80 %)"
    )
    print(
        f"  stock Captum IG, 1 call:      {n / stock_s:9.0f}/s  "
        f"{raw_s / stock_s:6.1%} of raw; engine vs Captum max |difference| "
        f"{difference:.2e} (attributions), {delta_difference:.2e} (delta)"
    )
    print(
        f"  explain_batch, attributions:  {n / batch_s:9.0f}/s  "
        f"{engine_s / batch_s:6.1%} of the IG call (target >= 70 %)"
    )
    print(f"  IG + quality + counterfactual: {n / full_s:8.0f}/s (target >= 5,000/s)\n")


def credit_benchmarks(n_rows: int, loop_rows: int, speed_only: bool = False) -> None:
    rows, labels = credit.load_credit_rows()
    trained = training.train_demo_model(
        rows, labels, credit.build_credit_schema, credit.TRAINING
    )
    model, schema = trained.model.eval(), trained.schema
    rows = rows[:n_rows]
    x = schema.encode(rows)
    b = schema.encode([schema.baseline])[0]
    print(
        f"credit model: {schema.input_width} input columns, {len(schema.features)} "
        f"features, {len(rows)} decisions, {torch.get_num_threads()} threads\n"
    )

    explain.explain_batch(
        model, rows[:50], schema=schema, parameters=ATTRIBUTIONS_ONLY, **CLASSES
    )  # warm-up: first-call allocations are not measured
    _speed_lines(model, schema, rows, repeats=30)
    if speed_only:
        return
    print("explanations/s per method (explain_batch, attributions only):")
    for method in explain.METHODS:
        params = dict(ATTRIBUTIONS_ONLY)
        if method == "integrated_gradients":
            params[method] = {"n_steps": N_STEPS, "max_n_steps": N_STEPS}
        _, seconds = _timed(
            lambda m=method, p=params: explain.explain_batch(
                model, rows, schema=schema, methods=[m], parameters=p, **CLASSES
            )
        )
        print(f"  {method:22} {len(rows) / seconds:10.0f}/s")
    _, seconds = _timed(
        lambda: explain.explain_batch(
            model, rows, schema=schema, methods=["integrated_gradients"], **CLASSES
        )
    )
    print(f"  {'IG + quality + counterfactuals':30} {len(rows) / seconds:6.0f}/s\n")

    engine_params = {
        **ATTRIBUTIONS_ONLY,
        "integrated_gradients": {"n_steps": N_STEPS, "max_n_steps": N_STEPS},
    }
    engine, engine_s = _timed(
        lambda: explain.explain_batch(
            model,
            rows,
            schema=schema,
            methods=["integrated_gradients"],
            parameters=engine_params,
            **CLASSES,
        )
    )
    ig = IntegratedGradients(model)
    stock, stock_s = _timed(
        lambda: ig.attribute(x, b.expand_as(x), n_steps=N_STEPS, method="gausslegendre")
    )
    ours = torch.tensor(
        [list(r.methods["integrated_gradients"].attributions.values()) for r in engine]
    )
    difference = (ours - stock.detach() @ _group_matrix(schema)).abs().max().item()
    groups = list(schema.column_groups().values())
    params = explain.methods.resolve_parameters("integrated_gradients", {})
    kernel, kernel_s = _timed(
        lambda: run_method(
            "integrated_gradients",
            model,
            x,
            b,
            groups=groups,
            parameters=params,
            n_steps=N_STEPS,
        )
    )
    kernel_difference = (kernel.attributions - stock).abs().max().item()
    print(f"engine IG attribution call: {len(rows) / kernel_s:9.0f}/s (encoded batch)")
    print(
        f"engine IG, explain_batch:  {len(rows) / engine_s:10.0f}/s "
        "(validation, encoding, grouping, reasons, manifests included)"
    )
    print(f"stock Captum IG, 1 call:   {len(rows) / stock_s:10.0f}/s")
    print(
        f"  ratio engine call / stock batch:   {stock_s / kernel_s:6.1f}x "
        f"(max |difference| {kernel_difference:.2e})"
    )
    print(
        f"  ratio explain_batch / stock batch: {stock_s / engine_s:6.1f}x "
        f"(max |difference| {difference:.2e})"
    )

    loop = x[:loop_rows]
    _, loop_s = _timed(
        lambda: [
            ig.attribute(loop[i : i + 1], b.unsqueeze(0), n_steps=N_STEPS)
            for i in range(loop_rows)
        ],
        repeats=1,
    )
    per_row_loop = loop_s / loop_rows
    print(f"Captum one input per call: {1 / per_row_loop:10.0f}/s ({loop_rows} rows)")
    print(
        f"  ratio engine / one-at-a-time:    {per_row_loop * len(rows) / engine_s:6.1f}x\n"
    )


def _exact_shapley(f: Any, x: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Exact Shapley values relative to one baseline row, by enumerating coalitions."""
    n, m = x.shape
    masks = torch.tensor(list(itertools.product([0.0, 1.0], repeat=m)))
    with torch.no_grad():
        mixed = b + masks.unsqueeze(0) * (x.unsqueeze(1) - b)
        values = f(mixed.reshape(-1, m)).reshape(n, -1).double()
    index = {tuple(row.int().tolist()): i for i, row in enumerate(masks)}
    phi = torch.zeros(n, m, dtype=torch.float64)
    for j in range(m):
        for row in masks:
            if row[j] == 1:
                continue
            s = int(row.sum())
            weight = math.factorial(s) * math.factorial(m - s - 1) / math.factorial(m)
            with_j = row.clone()
            with_j[j] = 1
            phi[:, j] += weight * (
                values[:, index[tuple(with_j.int().tolist())]]
                - values[:, index[tuple(row.int().tolist())]]
            )
    return phi


def shapley_benchmark(n_rows: int, n_samples: int) -> None:
    try:
        import shap
    except ImportError:
        print("shap is not installed: pip install -r requirements-dev.txt")
        return
    rows, labels = diagnosis.load_diagnosis_rows()
    names = list(rows[0])[:8]
    data = torch.tensor([[r[k] for k in names] for r in rows], dtype=torch.float32)
    mean, std = data.mean(0), data.std(0)
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Linear(8, 32),
        torch.nn.Tanh(),
        torch.nn.Linear(32, 16),
        torch.nn.Tanh(),
        torch.nn.Linear(16, 1),
    ).eval()

    def f(t: torch.Tensor) -> torch.Tensor:
        return net((t - mean) / std).squeeze(-1)

    x = data[:n_rows]
    b = data.median(0).values
    exact = _exact_shapley(f, x, b)
    ours, ours_s = _timed(
        lambda: kernel_shap(
            f, x, b, [[i] for i in range(8)], n_samples=n_samples, exact_max_features=0
        )
    )

    def f_numpy(a: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return f(torch.tensor(a, dtype=torch.float32)).double().numpy()

    explainer = shap.KernelExplainer(f_numpy, b.numpy()[None, :])
    theirs, theirs_s = _timed(
        lambda: explainer.shap_values(x.numpy(), nsamples=n_samples, silent=True),
        repeats=1,
    )
    theirs = torch.tensor(np.asarray(theirs), dtype=torch.float64).reshape(n_rows, 8)
    err_ours = (ours - exact).abs().mean().item()
    err_theirs = (theirs - exact).abs().mean().item()
    print(f"Shapley, 8-feature model, {n_rows} rows, {n_samples} coalition samples:")
    print(
        f"  engine kernel_shap (batched): {n_rows / ours_s:10.0f}/s  "
        f"mean |error vs exact| {err_ours:.2e}"
    )
    print(
        f"  shap.KernelExplainer:         {n_rows / theirs_s:10.0f}/s  "
        f"mean |error vs exact| {err_theirs:.2e}"
    )
    print(
        f"  ratio engine / shap: {theirs_s / ours_s:.1f}x speed, "
        f"{'equal or better' if err_ours <= err_theirs * 1.0000001 else 'worse'} agreement"
    )


# --- explanation cost (issue 13, item 3): seconds per credit row at the limits ---

RED_TEAM = {"n_steps": 4096, "max_n_steps": 8192, "tolerance": 0}
COST_CASES: list[tuple[str, list[str], dict[str, Any]]] = [
    ("default request (IG)", ["integrated_gradients"], {}),
    (
        "demo request (IG, DeepLIFT, Kernel SHAP)",
        ["integrated_gradients", "deeplift", "kernel_shap"],
        {},
    ),
    ("every method, defaults", list(explain.METHODS), {}),
    (
        "largest IG allowed (1,024 steps, tolerance 0)",
        ["integrated_gradients"],
        {
            "integrated_gradients": {
                "n_steps": 1024,
                "max_n_steps": 1024,
                "tolerance": 0,
            }
        },
    ),
    (
        "Kernel SHAP near the default budget (background 10 rows, 6,000 samples)",
        ["kernel_shap"],
        {
            "kernel_shap": {
                "n_samples": 6000,
                "baseline": "background",
                "background_rows": 10,
            }
        },
    ),
]


def cost_benchmarks(before: bool) -> None:
    """Each case's estimate and its wall time on one adverse credit row (worst case:
    the counterfactual search runs); the red team's request is refused, and with
    ``before`` its Captum calls are timed as the engine used to make them."""
    rows, labels = credit.load_credit_rows()
    trained = training.train_demo_model(
        rows, labels, credit.build_credit_schema, credit.TRAINING
    )
    model, schema = trained.model.eval(), trained.schema
    scores = torch.sigmoid(model(schema.encode(rows)).detach())
    row = rows[int(torch.argmax(scores))]  # the most adverse applicant
    budget = 500_000  # EXPLANATION_COST_BUDGET's default
    print(
        f"explanation cost, one adverse credit row ({len(schema.features)} features):"
    )
    try:
        explain.resolve_request(
            ["integrated_gradients"], {"integrated_gradients": RED_TEAM}
        )
    except explain.BadParameter as exc:
        print(f"  red team's IG {RED_TEAM}: refused ({exc})")
    for name, methods, parameters in COST_CASES:
        for method, given in parameters.items():
            # a sampled method's adaptive cap, where it has one, at its n_samples
            if "max_n_samples" in explain.METHOD_SPECS[method].parameters:
                parameters[method] = {"max_n_samples": given["n_samples"], **given}
        resolved = explain.resolve_request(methods, parameters)
        estimate = explain.schema_cost(schema, *resolved).evaluations
        started = time.perf_counter()
        explain.explain_batch(
            model,
            [row],
            schema=schema,
            methods=methods,
            parameters=parameters,
            **CLASSES,
        )
        seconds = time.perf_counter() - started
        verdict = "within" if estimate <= budget else "over"
        print(
            f"  {name}: {estimate:,} evaluations ({verdict} {budget:,}), "
            f"{seconds:.2f} s per row"
        )
    if before:
        x, b = schema.encode([row]), schema.encode([schema.baseline])
        ig = IntegratedGradients(model)
        started = time.perf_counter()
        for steps in (RED_TEAM["n_steps"], RED_TEAM["max_n_steps"]):
            ig.attribute(x, b, n_steps=steps, method="gausslegendre")
        print(
            f"  before: the red team's IG, its first two Captum calls alone "
            f"(4,096 then 8,192 steps; sensitivity added two more of 4,096): "
            f"{time.perf_counter() - started:.1f} s"
        )


# --- end explanation cost ---


def _credit_model() -> tuple[torch.nn.Module, explain.FeatureSchema, list[dict]]:
    rows, labels = credit.load_credit_rows()
    trained = training.train_demo_model(
        rows, labels, credit.build_credit_schema, credit.TRAINING
    )
    return trained.model.eval(), trained.schema, rows


def _with_d_differing(
    schema: explain.FeatureSchema, x: torch.Tensor, b: torch.Tensor, d: int
) -> torch.Tensor:
    """The rows that differ from the baseline in at least ``d`` features, with all
    but their first ``d`` differing features set to the baseline's values."""
    groups = list(schema.column_groups().values())
    differs = shapley.differing_features(x, b.unsqueeze(0), groups)
    keep = differs.sum(dim=1) >= d
    out = x[keep].clone()
    for i, row in enumerate(differs[keep]):
        for g in row.nonzero().flatten().tolist()[d:]:
            out[i, groups[g]] = b[groups[g]]
    return out


def shapley_cutoff_benchmark(n_rows: int) -> None:
    """Exact enumeration vs the sampled Kernel SHAP path (default budget, doubled up
    to max_n_samples until the reasons separate) per number of differing features:
    the measurement behind ``explain.shapley.EXACT_MAX_FEATURES``."""
    model, schema, rows = _credit_model()
    x = schema.encode(rows[:n_rows])
    b = schema.encode([schema.baseline])[0]
    groups = list(schema.column_groups().values())
    counts = shapley.differing_features(x, b.unsqueeze(0), groups).sum(dim=1)
    histogram = torch.bincount(counts, minlength=len(groups) + 1).tolist()
    print(
        "differing features per credit row (training baseline): "
        + ", ".join(f"{d}: {c}" for d, c in enumerate(histogram) if c)
    )
    print("Kernel SHAP per row, exact enumeration vs sampled to separated reasons:")
    saved = shapley.EXACT_MAX_FEATURES
    try:
        for d in range(8, 16):
            xd = _with_d_differing(schema, x, b, d)[:200]
            if xd.shape[0] == 0:
                continue
            figures = {}
            for label, cutoff in (("exact", d), ("sampled", d - 1)):
                shapley.EXACT_MAX_FEATURES = cutoff
                if label == "exact" and d > 14:
                    continue
                result, seconds = _timed(
                    lambda xd=xd: explain.explain_batch(
                        model,
                        xd,
                        schema=schema,
                        methods=["kernel_shap"],
                        parameters=ATTRIBUTIONS_ONLY,
                        **CLASSES,
                    ),
                    repeats=1,
                )
                unstable = sum(
                    r.methods["kernel_shap"].quality.get("reasons_unstable", False)
                    for r in result
                )
                samples = sum(
                    r.methods["kernel_shap"].parameters["n_samples"] for r in result
                ) / len(result)
                figures[label] = (1e3 * seconds / xd.shape[0], unstable, samples)
            line = f"  d={d:2} ({xd.shape[0]:3} rows): "
            if "exact" in figures:
                line += f"exact {figures['exact'][0]:7.2f} ms/row ({2**d} coalitions); "
            ms, unstable, samples = figures["sampled"]
            line += (
                f"sampled {ms:7.2f} ms/row (mean n_samples {samples:6.0f}, "
                f"{unstable} unstable)"
            )
            print(line)
    finally:
        shapley.EXACT_MAX_FEATURES = saved
    print(f"  cut-off in use: EXACT_MAX_FEATURES = {saved}\n")


def reason_stability_benchmark(n_rows: int, seeds: int = 10) -> None:
    """The same refused decisions explained under ``seeds`` seeds: the share whose
    reason set is the same under every seed, with the default cut-off and with
    exact enumeration switched off (every row sampled)."""
    model, schema, rows = _credit_model()
    rows = rows[:n_rows]
    saved = shapley.EXACT_MAX_FEATURES
    try:
        for label, cutoff in (("default", saved), ("sampled only", 0)):
            shapley.EXACT_MAX_FEATURES = cutoff
            for method in ("kernel_shap", "shapley_sampling"):
                sets: list[list[frozenset[str]]] = []
                refused: list[int] = []
                unstable = 0
                start = time.perf_counter()
                for seed in range(seeds):
                    result = explain.explain_batch(
                        model,
                        rows,
                        schema=schema,
                        methods=[method],
                        parameters={**ATTRIBUTIONS_ONLY, "seed": seed},
                        **CLASSES,
                    )
                    refused = [
                        i for i, r in enumerate(result) if r.predicted_outcome == "bad"
                    ]
                    sets.append(
                        [
                            frozenset(
                                x["feature"] for x in result[i].methods[method].reasons
                            )
                            for i in refused
                        ]
                    )
                    unstable += sum(
                        result[i].methods[method].quality["reasons_unstable"]
                        for i in refused
                    )
                seconds = time.perf_counter() - start
                same = sum(
                    len({sets[s][j] for s in range(seeds)}) == 1
                    for j in range(len(refused))
                )
                print(
                    f"  {label:12} {method:16}: same reason set under {seeds} seeds "
                    f"in {same}/{len(refused)} refused rows "
                    f"({100 * same / max(1, len(refused)):.1f} %); flagged "
                    f"reasons_unstable {unstable}/{seeds * len(refused)}; "
                    f"{seeds * len(rows) / seconds:.0f} rows/s"
                )
    finally:
        shapley.EXACT_MAX_FEATURES = saved


# --- Shapley accuracy at 20 features (issue 14 items 2 and 7) ---


def _exact_shapley_all_coalitions(
    model: torch.nn.Module,
    x: torch.Tensor,
    b: torch.Tensor,
    groups: list[list[int]],
    chunk: int = 1 << 16,
) -> torch.Tensor:
    """Exact Shapley values [n, M] of each row against one reference row ``b`` by
    evaluating every one of the ``2**M`` coalitions of the ``M`` feature groups (a
    group's one-hot columns switch together), independently of ``explain.shapley``:
    no differing-feature shortcut, one batched forward pass per chunk of coalitions."""
    m = len(groups)
    n_coalitions = 1 << m
    column_of_group = torch.zeros(m, x.shape[1])
    for g, cols in enumerate(groups):
        column_of_group[g, cols] = 1.0
    bit = 1 << torch.arange(m)
    size = torch.zeros(n_coalitions, dtype=torch.long)
    for start in range(0, n_coalitions, chunk):
        index = torch.arange(start, min(start + chunk, n_coalitions))
        size[index] = ((index.unsqueeze(1) & bit) != 0).sum(dim=1)
    weight_of_size = torch.tensor(
        [
            math.factorial(s) * math.factorial(m - s - 1) / math.factorial(m)
            for s in range(m)
        ],
        dtype=torch.float64,
    )
    phi = torch.zeros(x.shape[0], m, dtype=torch.float64)
    with torch.no_grad():
        for i in range(x.shape[0]):
            values = torch.empty(n_coalitions, dtype=torch.float64)
            for start in range(0, n_coalitions, chunk):
                index = torch.arange(start, min(start + chunk, n_coalitions))
                masks = ((index.unsqueeze(1) & bit) != 0).to(x.dtype) @ column_of_group
                values[index] = model(b + masks * (x[i] - b)).to(torch.float64)
            everything = torch.arange(n_coalitions)
            for j in range(m):
                without = everything[(everything & (1 << j)) == 0]
                marginal = values[without | (1 << j)] - values[without]
                phi[i, j] = (weight_of_size[size[without]] * marginal).sum()
    return phi


def _round_budgets(first: int, total: int) -> list[int]:
    """The budgets of the engine's adaptive rounds that add up to ``total``
    (``n_samples``, then as many more as drawn so far)."""
    rounds, drawn = [first], first
    while drawn < total:
        rounds.append(min(drawn, total - drawn))
        drawn += rounds[-1]
    return rounds


def _evaluations_used(method: str, d: int, first: int, total: int) -> int:
    """Model evaluations per row of an engine Shapley explanation over ``d``
    differing features whose adaptive rounds reached ``total`` samples."""
    from explain.kernel_shap import kernel_design

    make = kernel_design if method == "kernel_shap" else shapley.permutation_design
    if d <= shapley.EXACT_MAX_FEATURES:
        return 1 << d
    return sum(
        shapley.design_evaluations(d, make(budget, 0)(d))
        for budget in _round_budgets(first, total)
    )


def shapley_accuracy_benchmark(n_rows: int) -> None:
    """Our Shapley estimators at their default budgets (adaptive rounds included)
    and shap's KernelExplainer at the same number of model evaluations per row,
    each against exact Shapley values from all 2**20 coalitions of the demo credit
    model's 20 features (training baseline; one-hot columns grouped). Errors are
    per feature in logits; ``rel.err`` is sum |error| / sum |exact| per row, averaged;
    ``top-4 same`` counts rows whose four largest |values| are the exact ones';
    explanations/s include ``explain_batch``'s adaptive rounds and bookkeeping for
    ours, one ``shap_values`` call per row for shap."""
    model, schema, rows = _credit_model()
    sample = sorted(random.Random(14).sample(range(len(rows)), n_rows))
    chosen = [rows[i] for i in sample]
    x = schema.encode(chosen)
    b = schema.encode([schema.baseline])[0]
    groups = list(schema.column_groups().values())
    m = len(groups)
    differing = shapley.differing_features(x, b.unsqueeze(0), groups).sum(dim=1)
    started = time.perf_counter()
    exact = _exact_shapley_all_coalitions(model, x, b, groups)
    exact_s = time.perf_counter() - started
    print(
        f"Shapley accuracy at {m} features: {n_rows} credit rows (seeded sample), "
        f"training baseline, exact values from all 2^{m} coalitions "
        f"({exact_s / n_rows:.1f} s/row); the rows differ from the baseline in "
        f"{int(differing.min())}-{int(differing.max())} features (median "
        f"{int(differing.median())}), the rest are null players"
    )
    print(
        f"  {'method':48} {'evals/row':>9} {'mean|err|':>10} {'max|err|':>9} "
        f"{'rel.err':>8} {'top-4 same':>10} {'expl/s':>8}"
    )

    def line(name: str, values: torch.Tensor, evals: float, seconds: float) -> None:
        error = (values.to(torch.float64) - exact).abs()
        relative = (error.sum(dim=1) / exact.abs().sum(dim=1)).mean().item()
        top = exact.abs().topk(4, dim=1).indices.sort(dim=1).values
        same = (values.abs().topk(4, dim=1).indices.sort(dim=1).values == top).all(1)
        print(
            f"  {name:48} {evals:9.0f} {error.mean().item():10.2e} "
            f"{error.max().item():9.2e} {100 * relative:7.2f}% "
            f"{int(same.sum()):>4}/{n_rows:<5} {n_rows / seconds:8.1f}"
        )

    budgets: dict[str, list[int]] = {}
    saved = shapley.EXACT_MAX_FEATURES
    try:
        for label, cutoff in (("", saved), (", sampled only", 0)):
            shapley.EXACT_MAX_FEATURES = cutoff
            for method in ("kernel_shap", "shapley_sampling"):
                result, seconds = _timed(
                    lambda method=method: explain.explain_batch(
                        model,
                        chosen,
                        schema=schema,
                        methods=[method],
                        parameters=ATTRIBUTIONS_ONLY,
                        **CLASSES,
                    ),
                    repeats=1,
                )
                values = torch.tensor(
                    [list(r.methods[method].attributions.values()) for r in result],
                    dtype=torch.float64,
                )
                first = int(
                    explain.METHOD_SPECS[method].parameters["n_samples"].default
                )
                used = [
                    _evaluations_used(
                        method, int(d), first, r.methods[method].parameters["n_samples"]
                    )
                    for d, r in zip(differing.tolist(), result, strict=True)
                ]
                budgets[method + label] = used
                line(f"engine {method}{label}", values, sum(used) / n_rows, seconds)
    finally:
        shapley.EXACT_MAX_FEATURES = saved
    try:
        import shap
        from shap.utils._legacy import DenseData
    except ImportError:
        print("  shap is not installed: pip install -r requirements-dev.txt\n")
        return

    def f_numpy(a: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return model(torch.tensor(a, dtype=torch.float32)).double().numpy()

    background = DenseData(
        b.numpy()[None, :], schema.names, [np.array(cols) for cols in groups]
    )
    explainer = shap.KernelExplainer(f_numpy, background)
    for method in ("kernel_shap", "shapley_sampling"):
        key = f"{method}, sampled only"
        started = time.perf_counter()
        theirs = torch.tensor(
            np.stack(
                [
                    np.asarray(
                        explainer.shap_values(
                            x[i : i + 1].numpy(),
                            nsamples=max(2, budgets[key][i] - 2),
                            silent=True,
                        )
                    ).reshape(m)
                    for i in range(n_rows)
                ]
            ),
            dtype=torch.float64,
        )
        seconds = time.perf_counter() - started
        line(
            f"shap KernelExplainer, evals of {method}",
            theirs,
            sum(budgets[key]) / n_rows,
            seconds,
        )
    print()


# --- end Shapley accuracy ---


# --- recourse (issue 14 item 4) ---


def _recourse_cost(
    schema: explain.FeatureSchema, row: dict[str, Any], changed: dict[str, Any]
) -> tuple[float, bool, bool]:
    """A changed row's cost as the search defines it (MADs, the schema's category
    costs, 0.1 per change), whether every change is actionable (direction, category
    whitelist, immutables) and whether every numeric value was seen in training."""
    from explain.counterfactual import SPARSITY_PENALTY, feature_scale, is_actionable

    cost, actionable, seen = 0.0, True, True
    for spec in schema.features:
        old, new = row[spec.name], changed[spec.name]
        if new == old:
            continue
        cost += SPARSITY_PENALTY
        actionable &= is_actionable(spec)
        if spec.kind == "numeric":
            cost += abs(float(new) - float(old)) / feature_scale(schema, spec)
            up = float(new) > float(old)
            direction = spec.actionable_direction
            actionable &= direction == "any" or (direction == "increase") == up
            if spec.observed_values:
                seen &= float(new) in spec.observed_values
        elif spec.kind == "categorical" and spec.category_changes is not None:
            costs = {(f, t): c for f, t, c in spec.category_changes}
            cost += costs.get((old, new), 1.0)
            actionable &= (old, new) in costs
        else:
            cost += 1.0
    return cost, actionable, seen


def _dice_random_rows(
    schema: explain.FeatureSchema,
    row: dict[str, Any],
    count: int,
    rng: np.random.Generator,
) -> list[dict[str, Any]]:
    """DiCE's "random" method: 1-3 of the features to vary (the actionable ones)
    set to uniform values of their observed range (whole numbers for integer
    features) or to a random category, with no direction or transition rules."""
    from explain.counterfactual import is_actionable

    specs = [spec for spec in schema.features if is_actionable(spec)]
    out = []
    for _ in range(count):
        changed = dict(row)
        for k in rng.choice(len(specs), size=rng.integers(1, 4), replace=False):
            spec = specs[int(k)]
            if spec.kind == "numeric":
                low = spec.observed_min if spec.observed_min is not None else spec.min
                high = spec.observed_max if spec.observed_max is not None else spec.max
                value = float(rng.uniform(low, high))
                changed[spec.name] = int(round(value)) if spec.integer else value
            elif spec.kind == "categorical":
                changed[spec.name] = spec.categories[rng.integers(len(spec.categories))]
            else:
                changed[spec.name] = not bool(row[spec.name])
        out.append(changed)
    return out


def _nearest_unlike_rows(
    schema: explain.FeatureSchema,
    row: dict[str, Any],
    reference: list[dict[str, Any]],
    count: int,
) -> list[dict[str, Any]]:
    """Nearest unlike neighbours: the favourable reference rows closest in the
    search's cost, their actionable features transplanted into the row (immutable
    and protected ones kept), ``count`` of them."""
    from explain.counterfactual import is_actionable

    names = [spec.name for spec in schema.features if is_actionable(spec)]
    candidates = [{**row, **{n: other[n] for n in names}} for other in reference]
    candidates = [c for c in candidates if c != row]
    candidates.sort(key=lambda c: _recourse_cost(schema, row, c)[0])
    return candidates[:count]


def recourse_benchmark(n_rows: int) -> None:
    """Our counterfactual search against a DiCE-style random search and the nearest
    unlike neighbour, each given per refused row the model evaluations our search
    used on it, on the demo credit model's refused rows; then the search's speed,
    one row at a time and batched."""
    from explain.counterfactual import (
        PLAUSIBILITY_QUANTILE,
        PlausibilityReference,
        counterfactual_search,
        counterfactual_search_batch,
    )

    model, schema, all_rows = _credit_model()
    rows = all_rows[:n_rows]
    margin, threshold = schema.recourse_margin, CLASSES["threshold"]

    def scores(batch: list[dict[str, Any]]) -> list[float]:
        with torch.no_grad():
            return explain.predict_proba(model, schema.encode(batch)).tolist()

    all_scores = scores(all_rows)
    refused = [r for r, s in zip(rows, all_scores, strict=False) if s >= threshold]
    reference = [
        r for r, s in zip(all_rows, all_scores, strict=True) if s <= threshold - margin
    ]
    rng = np.random.default_rng(0)
    plausibility = PlausibilityReference.from_schema(schema)
    assert plausibility is not None, "the demo schema has a background sample"

    def distance_and_bound(row: dict[str, Any], changed: dict[str, Any]) -> list[float]:
        before, after = plausibility.row_distances(schema, [row, changed])
        return [after, max(plausibility.bound, before)]

    tallies: dict[str, list[tuple[float, float, bool, bool, float, bool]]] = {
        "ours": [],
        "DiCE random": [],
        "nearest unlike": [],
        "DiCE random, rules ignored": [],
        "nearest unlike, rules ignored": [],
    }
    budgets, options = [], []
    found_rows = []
    search = {"class_labels": CLASSES["class_labels"], "threshold": threshold}
    results, batched_s = _timed(
        lambda: counterfactual_search_batch(model, schema, refused, **search)
    )
    _, one_by_one_s = _timed(
        lambda: [counterfactual_search(model, schema, r, **search) for r in refused],
        repeats=2,
    )
    for row, result in zip(refused, results, strict=True):
        cf = result.counterfactual
        if cf is None:
            continue
        found_rows.append(row)
        budgets.append(cf.evaluations)
        options.append(1 + len(cf.alternatives))
        changed = {**row, **{n: c["to"] for n, c in cf.changes.items()}}
        cost, actionable, seen = _recourse_cost(schema, row, changed)
        distance, bound = distance_and_bound(row, changed)
        tallies["ours"].append(
            (
                cost,
                threshold - cf.score_after,
                actionable,
                seen,
                distance,
                distance <= bound + 1e-9,
            )
        )
    for row, budget in zip(found_rows, budgets, strict=True):
        for name, candidates in (
            ("DiCE random", _dice_random_rows(schema, row, budget, rng)),
            ("nearest unlike", _nearest_unlike_rows(schema, row, reference, budget)),
        ):
            # the cheapest that clears the margin: among the actionable candidates,
            # and (a recourse that could not be offered) among all
            best: dict[bool, tuple[float, float, bool, bool, float, bool]] = {}
            for changed, score in zip(candidates, scores(candidates), strict=True):
                if score > threshold - margin:
                    continue
                cost, actionable, seen = _recourse_cost(schema, row, changed)
                for only_actionable in (True, False):
                    if only_actionable and not actionable:
                        continue
                    if only_actionable not in best or cost < best[only_actionable][0]:
                        distance, bound = distance_and_bound(row, changed)
                        best[only_actionable] = (
                            cost,
                            threshold - score,
                            actionable,
                            seen,
                            distance,
                            distance <= bound + 1e-9,
                        )
            if True in best:
                tallies[name].append(best[True])
            if False in best:
                tallies[f"{name}, rules ignored"].append(best[False])
    n = len(found_rows)
    print(
        f"counterfactuals, demo credit model: {len(refused)} refused of {len(rows)} rows; "
        f"ours found {n} ({batched_s / max(1, len(refused)):.4f} s/row, mean "
        f"{sum(options) / max(1, n):.2f} options); per row each baseline gets the "
        f"evaluations ours used there (mean {sum(budgets) / max(1, n):.0f}), and must "
        f"clear the threshold by the margin {margin}; valid = clears it with "
        f"actionable changes only (directions, category whitelist), cost in the "
        f"search's units (MADs, category costs, 0.1 per change); plausible = no "
        f"farther from the {len(schema.background)} background rows than the bound "
        f"({plausibility.bound:.2f}: the {PLAUSIBILITY_QUANTILE:.0%} quantile of their "
        f"own nearest-neighbour distances, or the applicant's distance if larger), "
        f"NN dist = mean distance to the nearest background row:"
    )
    print(
        f"  {'method':29} {'valid':>7} {'mean cost':>10} {'median cost':>12} "
        f"{'actionable':>11} {'seen values':>12} {'min/median P below thr.':>24} "
        f"{'plausible':>10} {'NN dist':>8}"
    )
    for name, found in tallies.items():
        if not found:
            print(f"  {name:29} {0:>3}/{n:<3}")
            continue
        costs = sorted(f[0] for f in found)
        gaps = sorted(f[1] for f in found)
        print(
            f"  {name:29} {len(found):>3}/{n:<3} {sum(costs) / len(costs):>10.2f} "
            f"{costs[len(costs) // 2]:>12.2f} "
            f"{100 * sum(f[2] for f in found) / len(found):>10.0f}% "
            f"{100 * sum(f[3] for f in found) / len(found):>11.0f}% "
            f"{gaps[0]:>12.3f} / {gaps[len(gaps) // 2]:.3f} "
            f"{100 * sum(f[5] for f in found) / len(found):>10.0f}% "
            f"{sum(f[4] for f in found) / len(found):>8.2f}"
        )
    print(
        f"counterfactual search speed ({len(refused)} refused of {len(rows)} rows, "
        f"best of runs): one row at a time "
        f"{len(refused) / one_by_one_s:,.0f} refused rows/s "
        f"({len(rows) / one_by_one_s:,.0f} per all rows); batched in lockstep "
        f"{len(refused) / batched_s:,.0f} refused rows/s "
        f"({len(rows) / batched_s:,.0f} per all rows), "
        f"x{one_by_one_s / batched_s:.1f}"
    )
    print()


# --- end recourse ---


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--loop-rows", type=int, default=200)
    parser.add_argument("--shap-rows", type=int, default=200)
    parser.add_argument("--shap-samples", type=int, default=200)
    parser.add_argument(
        "--cost-only",
        action="store_true",
        help="only the explanation cost section (seconds per row at the limits)",
    )
    parser.add_argument(
        "--cost-before",
        action="store_true",
        help="also time the red team's IG request as the engine used to run it (minutes)",
    )
    # --- exactness and uncertainty (issue 14) ---
    parser.add_argument(
        "--shapley-cutoff",
        action="store_true",
        help="only the exact-vs-sampled measurement behind EXACT_MAX_FEATURES",
    )
    parser.add_argument(
        "--stability",
        action="store_true",
        help="only the reason-set stability of the Shapley methods under 10 seeds",
    )
    parser.add_argument(
        "--shapley-accuracy",
        action="store_true",
        help="only Shapley accuracy at 20 features against exact values (and shap)",
    )
    parser.add_argument("--accuracy-rows", type=int, default=20)
    # --- end exactness and uncertainty ---
    parser.add_argument(  # recourse (issue 14 item 4)
        "--recourse",
        action="store_true",
        help="only the counterfactual comparison (ours, DiCE random, nearest unlike)",
    )
    parser.add_argument(  # attribution speed (issue 14 item 7)
        "--speed",
        action="store_true",
        help="only the IG speed lines (raw torch, engine, Captum, explain_batch)",
    )
    args = parser.parse_args()
    if args.speed:  # attribution speed (issue 14 item 7)
        credit_benchmarks(args.rows, args.loop_rows, speed_only=True)
        return
    if args.recourse:  # recourse (issue 14 item 4)
        recourse_benchmark(args.rows)
        return
    if args.shapley_cutoff:
        shapley_cutoff_benchmark(args.rows)
        return
    if args.shapley_accuracy:
        shapley_accuracy_benchmark(args.accuracy_rows)
        return
    if args.stability:
        print(f"reason-set stability, demo credit model, first {args.rows} rows:")
        reason_stability_benchmark(args.rows)
        return
    if not args.cost_only:
        credit_benchmarks(args.rows, args.loop_rows)
        shapley_benchmark(args.shap_rows, args.shap_samples)
        shapley_accuracy_benchmark(args.accuracy_rows)
        recourse_benchmark(args.rows)  # recourse (issue 14 item 4)
    cost_benchmarks(args.cost_before)


if __name__ == "__main__":
    main()
