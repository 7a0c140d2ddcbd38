"""Reason texts may name only quantities their feature measures (issue 15)."""

from __future__ import annotations

import copy

import explain
from demo.credit import CATEGORICAL_FEATURES, NUMERIC_FEATURES
from explain.reason_vocabulary import reason_texts_check, reason_unused_quantities
from explain.schema import FeatureSpec
from tests.schemas import TINY_SCHEMA


def _feature(name: str, label: str, reason: str, description: str = "") -> FeatureSpec:
    return FeatureSpec(
        name=name, label=label, kind="numeric", reason=reason, description=description
    )


def test_a_reason_naming_income_for_the_credit_amount_is_refused():
    feature = _feature(
        "credit_amount",
        "Credit amount",
        "Income insufficient for amount of credit requested",
        "Amount of credit requested, in Deutsche Mark.",
    )
    assert reason_unused_quantities(feature) == [("income", "income")]
    errors = reason_texts_check([feature])
    assert list(errors) == ["features.0.reason"]
    assert "'credit_amount'" in errors["features.0.reason"][0]
    assert "'income'" in errors["features.0.reason"][0]


def test_another_feature_denoting_the_quantity_does_not_excuse_the_reason():
    features = [
        _feature("disposable_income_rate", "Instalment rate", "Excessive obligations"),
        _feature(
            "other_plans", "Other plans", "Excessive obligations in relation to income"
        ),
    ]
    assert list(reason_texts_check(features)) == ["features.1.reason"]


def test_a_reason_naming_what_its_feature_measures_passes():
    features = [
        # the name, the label and the description all count, with plural/singular folded
        _feature(
            "installment_rate_in_percentage_of_disposable_income",
            "Instalment rate",
            "Excessive obligations in relation to income",
        ),
        _feature("present_employment_since", "Employment", "Length of employment"),
        _feature("job", "Job", "Other: type of employment"),
        _feature(
            "property", "Property", "Collateral (property)", "Usable as collateral."
        ),
        _feature("purpose", "Purpose", "Loan purpose"),
        _feature("age", "Age", ""),
    ]
    assert reason_texts_check(features) == {}


def test_the_test_schema_and_the_demo_schemas_pass():
    assert reason_texts_check(explain.parse_feature_schema(TINY_SCHEMA)) == {}
    for name, spec in {**NUMERIC_FEATURES, **CATEGORICAL_FEATURES}.items():
        feature = _feature(name, spec["label"], spec["reason"], spec["description"])
        assert reason_unused_quantities(feature) == [], name


def test_a_schema_with_an_income_reason_on_a_non_income_feature_is_refused():
    schema = copy.deepcopy(TINY_SCHEMA)
    schema["features"][2]["reason"] = "Income insufficient for the loan purpose"
    errors = reason_texts_check(explain.parse_feature_schema(schema))
    assert list(errors) == ["features.2.reason"]
