from __future__ import annotations

import copy
import json
import math

import pytest
import torch
from jsonschema import Draft202012Validator

import explain
from demo import credit, diagnosis
from explain.rng import seeded_rng
from explain.schema import first_invalid_row
from tests.schemas import TINY_SCHEMA, VALID_FEATURES


def tiny_weights(seed: int = 0) -> bytes:
    """Safetensors bytes of a tiny logistic regression (no Django needed)."""
    with seeded_rng(seed):
        model = explain.build_model(
            "logistic_regression", explain.parse_feature_schema(TINY_SCHEMA)
        )
    return explain.model_to_safetensors(model)


@pytest.fixture
def schema() -> explain.FeatureSchema:
    return explain.parse_feature_schema(TINY_SCHEMA)


def test_encoding_lays_out_one_hot_columns_per_categorical_feature(schema):
    assert schema.column_groups() == {
        "income": [0],
        "age": [1],
        "purpose": [2, 3, 4],
        "has_guarantor": [5],
    }
    row = schema.encode([dict(VALID_FEATURES, purpose="education", has_guarantor=True)])
    assert row.tolist() == [[2500.0, 35.0, 0.0, 1.0, 0.0, 1.0]]


def test_the_model_standardises_with_the_schemas_statistics(schema):
    model = explain.build_model("logistic_regression", schema)
    x = schema.encode([VALID_FEATURES])
    expected = (2500.0 - 3000.0) / 1500.0
    assert math.isclose(model.standardize(x)[0, 0].item(), expected, rel_tol=1e-6)


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        (float("nan"), "Non-finite"),
        (float("inf"), "Non-finite"),
        ("NaN", "Non-finite"),
        ("12", "Must be a number"),
        (True, "Must be a number"),
        (-5, "at least 0 EUR"),
    ],
)
def test_feature_values_are_checked(schema, value, fragment):
    errors = explain.validate_feature_values(schema, dict(VALID_FEATURES, income=value))
    assert list(errors) == ["income"] and fragment in errors["income"][0]


def test_schema_errors_name_their_path():
    with pytest.raises(explain.SchemaError) as info:
        explain.parse_feature_schema(
            {
                "features": [
                    {"name": "a", "kind": "numeric", "min": 5, "max": 1},
                    {"name": "a", "kind": "numeric"},
                    {"name": "c", "kind": "categorical", "categories": []},
                ],
                "preprocessing": {
                    "a": {"mean": 0, "std": 0},
                    "ghost": {"mean": 0, "std": 1},
                },
            }
        )
    assert set(info.value.errors) == {
        "features[0].max",
        "features[1].name",
        "features[2].categories",
        "preprocessing.a.std",
        "preprocessing.ghost",
    }


def test_weights_round_trip_and_a_hash_mismatch_is_refused(schema):
    data = tiny_weights()
    model = explain.load_model(
        architecture="logistic_regression",
        schema=schema,
        hyperparameters={},
        weights=data,
        expected_sha256=explain.sha256_hex(data),
    )
    assert not model.training
    with pytest.raises(explain.WeightsHashMismatch):
        explain.load_model(
            architecture="logistic_regression",
            schema=schema,
            hyperparameters={},
            weights=data,
            expected_sha256="0" * 64,
        )


def test_non_finite_weights_are_refused(schema):
    model = explain.build_model("logistic_regression", schema)
    with torch.no_grad():
        model.linear.weight[0, 0] = float("nan")
    with pytest.raises(explain.WeightsIncompatible, match="NaN"):
        explain.load_model(
            architecture="logistic_regression",
            schema=schema,
            hyperparameters={},
            weights=explain.model_to_safetensors(model),
            expected_sha256=None,
        )


def test_an_unknown_architecture_is_named(schema):
    with pytest.raises(
        explain.UnknownArchitecture, match="known: logistic_regression, mlp"
    ):
        explain.build_model("transformer", schema)


@pytest.mark.parametrize(
    "bad",
    [
        {"income": float("nan")},
        {"income": -1},
        {"income": "5"},
        {"age": 30.5},
        {"age": True},
        {"purpose": "yacht"},
        {"purpose": 1},
        {"has_guarantor": 2},
        {"has_guarantor": "no"},
    ],
)
def test_the_batch_check_finds_the_same_rows_as_the_row_check(schema, bad):
    rows = [dict(VALID_FEATURES) for _ in range(5)]
    assert first_invalid_row(schema, rows) is None
    rows[3].update(bad)
    index, errors = first_invalid_row(schema, rows)
    assert index == 3 and errors == explain.validate_feature_values(schema, rows[3])
    extra = [dict(VALID_FEATURES), dict(VALID_FEATURES, shoe_size=3)]
    assert first_invalid_row(schema, extra)[0] == 1


def test_encode_places_one_hot_and_numeric_columns_exactly():
    import torch

    import explain

    schema = explain.parse_feature_schema(
        {
            "features": [
                {"name": "age", "kind": "numeric", "min": 18, "max": 100},
                {
                    "name": "purpose",
                    "kind": "categorical",
                    "categories": ["car", "tv", "edu"],
                },
                {"name": "amount", "kind": "numeric", "min": 0, "max": 1e6},
            ]
        }
    )
    rows = [
        {"age": 30, "purpose": "tv", "amount": 1234.5},
        {"age": 71.25, "purpose": "edu", "amount": 0},
        {"age": 18, "purpose": "car", "amount": 1e6},
    ]
    expected = torch.tensor(
        [
            [30, 0, 1, 0, 1234.5],
            [71.25, 0, 0, 1, 0],
            [18, 1, 0, 0, 1e6],
        ],
        dtype=torch.float32,
    )
    encoded = schema.encode(rows)
    assert encoded.dtype == torch.float32
    assert torch.equal(encoded, expected)
    assert schema.encode([]).shape == (0, 5)


def _keywords_used(schema: dict) -> set[str]:
    used = set(schema)
    for key in ("items", "additionalProperties", "if", "then"):
        if isinstance(schema.get(key), dict):
            used |= _keywords_used(schema[key])
    for sub in schema.get("properties", {}).values():
        used |= _keywords_used(sub)
    return used


# JSON Schema 2020-12 keywords the document may use: all of them are valid in an
# OpenAPI 3.1 Schema Object, and none refers to another document
PUBLISHABLE_KEYWORDS = {
    "$schema",
    "title",
    "description",
    "type",
    "required",
    "properties",
    "additionalProperties",
    "items",
    "minItems",
    "maxItems",
    "uniqueItems",
    "minLength",
    "maxLength",
    "pattern",
    "enum",
    "const",
    "exclusiveMinimum",
    "if",
    "then",
}


def test_the_feature_schema_json_schema_is_valid_and_self_contained():
    document = explain.FEATURE_SCHEMA_JSON_SCHEMA
    Draft202012Validator.check_schema(document)
    assert json.loads(json.dumps(document)) == document
    assert _keywords_used(document) <= PUBLISHABLE_KEYWORDS
    assert "$ref" not in json.dumps(document)


def test_the_demo_schemas_and_the_test_schema_validate():
    credit_rows, _ = credit.load_credit_rows()
    diagnosis_rows, _ = diagnosis.load_diagnosis_rows()
    validator = Draft202012Validator(explain.FEATURE_SCHEMA_JSON_SCHEMA)
    for data, rows in (
        (credit.build_credit_schema(credit_rows), credit_rows),
        (diagnosis.build_diagnosis_schema(diagnosis_rows), diagnosis_rows),
        (TINY_SCHEMA, [VALID_FEATURES]),
    ):
        parsed = explain.parse_feature_schema(data)
        full = {
            **data,
            "baseline": explain.baseline_from_rows(parsed, rows),
            "background": rows[:20],
        }
        for document in (data, full):
            assert list(validator.iter_errors(document)) == []
            assert explain.parse_feature_schema(document).names == parsed.names


@pytest.mark.parametrize(
    ("data", "errors"),
    [
        (
            [],
            {"feature_schema": ["Must be a JSON object with a 'features' list."]},
        ),
        ({}, {"features": ["Must be a non-empty list of features."]}),
        (
            {"features": [{"name": "a", "kind": "text"}]},
            {"features[0].kind": ["Must be one of numeric, categorical, binary."]},
        ),
        (
            {"features": [{"name": " ", "kind": "numeric", "protected": "yes"}]},
            {
                "features[0].name": [
                    "Must be a non-empty string of at most 100 characters."
                ],
                "features[0].protected": ["Must be true or false."],
            },
        ),
        (
            {"features": [{"name": "p", "kind": "categorical"}]},
            {"features[0].categories": ["Must be a non-empty list of strings."]},
        ),
        (
            {"features": [{"name": "p", "kind": "categorical", "categories": [1]}]},
            {"features[0].categories": ["Must be a non-empty list of strings."]},
        ),
        (
            {
                "features": [
                    {"name": "p", "kind": "categorical", "categories": ["x"] * 2}
                ]
            },
            {"features[0].categories": ["Categories must be unique."]},
        ),
        (
            {
                "features": [{"name": "a", "kind": "numeric"}],
                "preprocessing": {"a": {"mean": float("nan")}},
            },
            {
                "preprocessing.a.std": ["Must be a positive finite number."],
                "preprocessing.a.mean": ["Must be a finite number."],
            },
        ),
        (
            {
                "features": [{"name": "a", "kind": "numeric", "max": float("inf")}],
                "preprocessing": {"a": {"mean": 0, "std": float("inf")}},
            },
            {
                "features[0].max": ["Must be a finite number."],
                "preprocessing.a.std": ["Must be a positive finite number."],
            },
        ),
        (
            {
                "features": [{"name": "b", "kind": "binary"}],
                "preprocessing": {"b": {"mean": 0, "std": 1}},
            },
            {"preprocessing.b": ["Only numeric features are standardised."]},
        ),
        (
            {"features": [{"name": "a", "kind": "numeric"}], "baseline": {"a": None}},
            {"baseline.a": ["Must be a number, got null."]},
        ),
        (
            {
                "features": [{"name": "a", "kind": "numeric"}],
                "background": [{"a": 1}, {"a": 1, "b": 2}],
            },
            {
                "background[1].b": [
                    "Unknown feature: not in the model version's feature schema."
                ]
            },
        ),
    ],
)
def test_schema_errors_are_human_and_keyed_by_path(data, errors):
    with pytest.raises(explain.SchemaError) as info:
        explain.parse_feature_schema(data)
    assert info.value.errors == errors


def test_a_parsed_schema_does_not_follow_later_changes_to_its_json():
    data = copy.deepcopy({**TINY_SCHEMA, "baseline": dict(VALID_FEATURES)})
    first = explain.parse_feature_schema(data)
    data["baseline"]["income"] = 1.0
    data["features"][0]["label"] = "Changed"
    second = explain.parse_feature_schema(data)
    assert first.baseline["income"] == VALID_FEATURES["income"]
    assert first.features[0].label == "Monthly income"
    assert (second.baseline["income"], second.features[0].label) == (1.0, "Changed")
