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


def _explain(methods: list[str]) -> explain.RowExplanation:
    return explain.explain_batch(
        _linear(),
        [ROW],
        schema=SCHEMA,
        methods=methods,
        parameters={"counterfactual": False},
        **CLASSES,
    )[0]


def test_two_disagreeing_methods_each_give_their_own_reasons_and_warnings():
    # Integrated Gradients from the training baseline: w * (x - b)
    #   income +2, debt -1, savings +0.5, tenure -1.2, age 0
    # Input x Gradient (from zero): w * x
    #   income -3, debt +1, savings -1, tenure -2, age +12
    row = _explain(["integrated_gradients", "input_x_gradient"])
    ig, ixg = row.methods["integrated_gradients"], row.methods["input_x_gradient"]
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
    assert row.warnings == [{**ixg.warnings[0], "methods": ["input_x_gradient"]}]
    assert not hasattr(row, "reasons")
    assert "reasons" not in row.to_dict()
    assert row.to_dict()["methods"]["input_x_gradient"]["reasons"] == ixg.reasons


def test_the_primary_method_is_the_first_requested():
    row = _explain(["input_x_gradient", "integrated_gradients"])
    assert row.primary_method == "input_x_gradient"
    assert [r["feature"] for r in row.methods["input_x_gradient"].reasons] == ["debt"]
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
