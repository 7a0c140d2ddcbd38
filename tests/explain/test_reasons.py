"""Each method's reasons and warnings come from its own attributions."""

from __future__ import annotations

import pytest
import torch

import explain
from explain.reasons import merge_warnings

# five numeric features in their own units (no preprocessing: mean 0, std 1)
SCHEMA = explain.parse_feature_schema(
    {
        "features": [
            {"name": "income", "kind": "numeric", "reason": "Income too low"},
            {"name": "debt", "kind": "numeric", "reason": "Debt too high"},
            {"name": "savings", "kind": "numeric"},
            {"name": "tenure", "kind": "numeric"},
            {"name": "age", "kind": "numeric", "protected": True},
        ],
        "baseline": {"income": 5, "debt": 2, "savings": 3, "tenure": 4, "age": 40},
    }
)
ROW = {"income": 3, "debt": 1, "savings": 2, "tenure": 10, "age": 40}
CLASSES = {
    "class_labels": ["good", "bad"],
    "favourable_class": "good",
    "threshold": 0.5,
}


def _linear() -> torch.nn.Module:
    model = explain.build_model("logistic_regression", SCHEMA)
    with torch.no_grad():
        model.linear.weight.copy_(torch.tensor([[-1.0, 1.0, -0.5, -0.2, 0.3]]))
        model.linear.bias.zero_()
    return model.eval()


def _explain(methods: list[str], **given: dict) -> explain.RowExplanation:
    return explain.explain_batch(
        _linear(),
        [ROW],
        schema=SCHEMA,
        methods=methods,
        parameters={"counterfactual": False, **given},
        **CLASSES,
    )[0]


# Kernel SHAP from the all-zero baseline is exact here (five features): w * x
ZERO_KERNEL = {"kernel_shap": {"baseline": "zeros"}}


def test_two_disagreeing_methods_each_give_their_own_reasons_and_warnings():
    # Integrated Gradients from the training baseline: w * (x - b)
    #   income +2, debt -1, savings +0.5, tenure -1.2, age 0
    # Kernel SHAP (from zero): w * x
    #   income -3, debt +1, savings -1, tenure -2, age +12
    row = _explain(["integrated_gradients", "kernel_shap"], **ZERO_KERNEL)
    ig, ixg = row.methods["integrated_gradients"], row.methods["kernel_shap"]
    assert ig.attributions == pytest.approx(
        {"income": 2.0, "debt": -1.0, "savings": 0.5, "tenure": -1.2, "age": 0.0},
        abs=1e-5,
    )
    assert [r["feature"] for r in ig.reasons] == ["income", "savings"]
    assert ig.reasons[0]["text"] == "Income too low"
    assert [r["feature"] for r in ixg.reasons] == ["debt"]
    assert ixg.reasons[0]["text"] == "Debt too high"
    # age carries nothing for IG (and ranks fifth) but most of input x gradient
    assert ig.warnings == []
    assert [(w["code"], w["feature"]) for w in ixg.warnings] == [
        ("protected_attribute_influence", "age")
    ]
    assert row.primary_method == "integrated_gradients"
    assert row.warnings == [{**ixg.warnings[0], "methods": ["kernel_shap"]}]
    assert not hasattr(row, "reasons")
    assert "reasons" not in row.to_dict()
    assert row.to_dict()["methods"]["kernel_shap"]["reasons"] == ixg.reasons


def test_the_primary_method_is_the_first_requested():
    row = _explain(["kernel_shap", "integrated_gradients"], **ZERO_KERNEL)
    assert row.primary_method == "kernel_shap"
    assert row.reasons_method == "kernel_shap"
    assert [r["feature"] for r in row.methods["kernel_shap"].reasons] == ["debt"]
    assert [r["feature"] for r in row.methods["integrated_gradients"].reasons] == [
        "income",
        "savings",
    ]


def test_merged_warnings_keep_one_per_feature_and_name_every_method():
    age = {"code": "protected_attribute_influence", "feature": "age"}
    merged = merge_warnings(
        {
            "deeplift": [{**age, "share": 0.2, "rank": 1}],
            "saliency": [{**age, "share": 0.4, "rank": 1}],
            "kernel_shap": [],
        }
    )
    assert merged == [
        {**age, "share": 0.2, "rank": 1, "methods": ["deeplift", "saliency"]}
    ]


@pytest.mark.parametrize("method", ["input_x_gradient", "saliency"])
def test_local_sensitivities_give_no_reasons_and_say_why(method):
    # input x gradient would rank debt first (w * x: +1), saliency debt (w: +1)
    alone = _explain([method])
    explained = alone.methods[method]
    assert explained.reasons == []
    assert "gives no principal reasons" in explained.reasons_note
    assert alone.reasons_method is None
    assert explained.baseline_kind == "none"
    assert explained.baseline == {}
    # with a completeness-bearing method requested too, that one gives the reasons
    both = _explain([method, "integrated_gradients"])
    assert both.primary_method == method
    assert both.reasons_method == "integrated_gradients"
    assert [r["feature"] for r in both.methods["integrated_gradients"].reasons] == [
        "income",
        "savings",
    ]
