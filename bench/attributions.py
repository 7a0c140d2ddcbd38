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
"""

from __future__ import annotations

import argparse
import itertools
import math
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


def credit_benchmarks(n_rows: int, loop_rows: int) -> None:
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
    # --- end exactness and uncertainty ---
    args = parser.parse_args()
    if args.shapley_cutoff:
        shapley_cutoff_benchmark(args.rows)
        return
    if args.stability:
        print(f"reason-set stability, demo credit model, first {args.rows} rows:")
        reason_stability_benchmark(args.rows)
        return
    if not args.cost_only:
        credit_benchmarks(args.rows, args.loop_rows)
        shapley_benchmark(args.shap_rows, args.shap_samples)
    cost_benchmarks(args.cost_before)


if __name__ == "__main__":
    main()
