"""The demo's tree model (issue 18, item 4): trained deterministically (the same ONNX
bytes twice), read as a tree ensemble that reproduces onnxruntime, registered through
the registry with tree_shap offered, and its sample scores reproduced on intake."""

from __future__ import annotations

import pytest

pytest.importorskip("lightgbm", reason="lightgbm is pinned in requirements.txt")

from compliance.principals import Principal  # noqa: E402
from compliance.registry import services as registry  # noqa: E402
from compliance.registry.loading import scores_reproduce  # noqa: E402
from demo import credit_trees  # noqa: E402
from tests import factories  # noqa: E402


@pytest.fixture(scope="module")
def trained():
    return credit_trees.train_tree_model()


def test_training_is_deterministic(trained, tmp_path):
    """The same bytes again, and from ``python -m demo.credit_trees`` in another
    process (the converter lists its opsets in an order that depended on what the
    process had imported: sorted now)."""
    import subprocess
    import sys

    import onnx

    again = credit_trees.train_tree_model()
    assert again[0] == trained[0]
    assert trained[1]["roc_auc"] > 0.65
    domains = [o.domain for o in onnx.load_from_string(trained[0]).opset_import]
    assert domains == sorted(domains)
    subprocess.run(
        [sys.executable, "-m", "demo.credit_trees", "--out", str(tmp_path)],
        capture_output=True,
        check=True,
    )
    assert (tmp_path / "onnx" / "credit_trees.onnx").read_bytes() == trained[0]


def test_the_tree_model_registers_with_tree_shap_and_reproduces_its_samples(
    db, trained
):
    data, metrics, schema_data, rows = trained
    manifest = credit_trees.tree_manifest(data, metrics, schema_data, rows)
    org = factories.make_org()
    ai = factories.make_ai_system(org)
    fields = dict(manifest["model_version"])
    mv = registry.model_version_register(
        principal=Principal(organization=org, role="admin"),
        ai_system=ai,
        onnx=data,
        **fields,
    )
    assert mv.execution == "onnx_runtime"
    assert "tree_shap" in mv.methods and "integrated_gradients" not in mv.methods
    assert mv.onnx_plan["checks"]["trees_difference"] <= 1e-5
    samples = manifest["sample_decisions"]
    assert len(samples) == 12
    assert {s["outcome"] for s in samples} == {"good", "bad"}
    reproduced = scores_reproduce(mv, [s["features"] for s in samples])
    for sample, score in zip(samples, reproduced, strict=True):
        assert score == pytest.approx(sample["score"], abs=1e-5)
