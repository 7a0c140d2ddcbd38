"""GPU checks, defined only where CUDA exists (Captum's convention)."""

from __future__ import annotations

import pytest
import torch

import explain
from tests.schemas import TINY_SCHEMA

pytestmark = pytest.mark.skipif(
    not torch.cuda.is_available(), reason="needs a CUDA device; this machine has none"
)

SCHEMA = {
    **TINY_SCHEMA,
    "baseline": {
        "income": 3000.0,
        "age": 40,
        "purpose": "other",
        "has_guarantor": False,
    },
}


def test_cuda_results_match_cpu_and_rerun_identically():
    schema = explain.parse_feature_schema(SCHEMA)
    torch.manual_seed(0)
    cpu_model = explain.build_model("mlp", schema, {"hidden": [16, 8]}).eval()
    data = explain.model_to_safetensors(cpu_model)
    gpu_model = explain.load_model(
        architecture="mlp",
        schema=schema,
        hyperparameters={"hidden": [16, 8]},
        weights=data,
        expected_sha256=None,
        device=explain.default_device(),
    )
    rows = [
        {
            "income": 500.0 * i,
            "age": 20 + i,
            "purpose": "car",
            "has_guarantor": i % 2 == 0,
        }
        for i in range(1, 40)
    ]
    kwargs = dict(
        schema=schema,
        class_labels=["good", "bad"],
        favourable_class="good",
        threshold=0.5,
        methods=["integrated_gradients", "deeplift", "shapley_sampling", "kernel_shap"],
    )
    on_gpu = explain.explain_batch(gpu_model, rows, **kwargs)
    again = explain.explain_batch(gpu_model, rows, **kwargs)
    on_cpu = explain.explain_batch(cpu_model, rows, **kwargs)
    assert "cuda" not in on_cpu[0].methods["deeplift"].manifest["device"]
    for g, a, c in zip(on_gpu, again, on_cpu, strict=True):
        assert (
            g.methods["integrated_gradients"].attributions
            == a.methods["integrated_gradients"].attributions
        )
        for method, result in g.methods.items():
            for name, value in result.attributions.items():
                assert value == pytest.approx(
                    c.methods[method].attributions[name], abs=1e-4
                )
