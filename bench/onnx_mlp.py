"""Issue 18, item 5 (a): the demo credit MLP exported to ONNX and converted back to
torch (``explain.onnx_torch``) against the same weights in the registry MLP: our
Integrated Gradients through ``explain_batch`` on the same rows, side by side in one
run (median of interleaved repeats), with the largest attribution difference.

    .venv/bin/python -m bench.onnx_mlp [--rows 1000] [--repeats 7]

Part of ``python -m bench.models``.
"""

from __future__ import annotations

import argparse
import io
import statistics
import time
import warnings
from typing import Any

import torch

import explain
from demo import credit, training
from explain.onnx_models import onnx_model_plan
from explain.onnx_torch import OnnxTorchModel

CLASSES = {
    "class_labels": ["good", "bad"],
    "favourable_class": "good",
    "threshold": 0.5,
}
IG_ONLY = {
    "counterfactual": False,
    "quality": {"infidelity": False, "sensitivity": False},
}


def export_onnx(model: torch.nn.Module, width: int) -> bytes:
    """The model as a client's training code exports it: a logit, dynamic batch."""
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            (torch.zeros(2, width),),
            buffer,
            dynamo=False,
            input_names=["x"],
            output_names=["logit"],
            dynamic_axes={"x": {0: "N"}, "logit": {0: "N"}},
        )
    return buffer.getvalue()


def mlp_benchmark(n_rows: int = 1000, repeats: int = 7) -> dict[str, Any]:
    """Explanations/s of IG on the registry MLP and on its ONNX export converted to
    torch; the ratio (converted time / registry time; target <= 1.5) and the largest
    attribution difference."""
    rows, labels = credit.load_credit_rows()
    trained = training.train_demo_model(
        rows, labels, credit.build_credit_schema, credit.TRAINING
    )
    registry, schema = trained.model.eval(), trained.schema
    data = export_onnx(registry, schema.input_width)
    plan = onnx_model_plan(data, schema=schema, output_index=0, output_kind="logit")
    converted = OnnxTorchModel(data).eval()
    batch = rows[:n_rows]
    kwargs: dict[str, Any] = {
        "schema": schema,
        "methods": ["integrated_gradients"],
        "parameters": IG_ONLY,
        **CLASSES,
    }
    for model in (registry, converted):  # warm-up
        explain.explain_batch(model, batch[:50], **kwargs)
    seconds: dict[str, list[float]] = {"registry": [], "onnx": []}
    results: dict[str, Any] = {}
    for _ in range(repeats):
        for name, model in (("registry", registry), ("onnx", converted)):
            start = time.perf_counter()
            results[name] = explain.explain_batch(model, batch, **kwargs)
            seconds[name].append(time.perf_counter() - start)
    difference = max(
        abs(a_value - b.methods["integrated_gradients"].attributions[feature])
        for a, b in zip(results["onnx"], results["registry"], strict=True)
        for feature, a_value in a.methods["integrated_gradients"].attributions.items()
    )
    registry_s = statistics.median(seconds["registry"])
    onnx_s = statistics.median(seconds["onnx"])
    return {
        "rows": len(batch),
        "execution": plan.execution,
        "conversion_difference": plan.checks["torch_difference"],
        "registry_per_s": len(batch) / registry_s,
        "onnx_per_s": len(batch) / onnx_s,
        "ratio": onnx_s / registry_s,
        "max_difference": difference,
    }


def mlp_report(n_rows: int = 1000, repeats: int = 7) -> None:
    found = mlp_benchmark(n_rows, repeats)
    print(
        f"(a) ONNX MLP, Integrated Gradients on {found['rows']} demo credit rows "
        f"(execution {found['execution']}, converted vs onnxruntime "
        f"{found['conversion_difference']:.1e}):"
    )
    print(
        f"    registry MLP {found['registry_per_s']:,.0f}/s, converted ONNX "
        f"{found['onnx_per_s']:,.0f}/s: converted takes {found['ratio']:.2f}x the "
        f"registry's time (target <= 1.5x); largest attribution difference "
        f"{found['max_difference']:.1e}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    mlp_report(args.rows, args.repeats)


if __name__ == "__main__":
    main()
