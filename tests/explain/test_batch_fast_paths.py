"""explain_batch's column-wise validation, encoding and row hashes, each pinned to
the row-by-row definition it replaces."""

from __future__ import annotations

import math
import random
from typing import Any

import numpy as np
import pytest
import torch

import explain
from explain.engine import _canonical_sha256, _row_hashes
from explain.schema import first_invalid_row, validate_feature_values
from tests.schemas import TINY_BASELINE, TINY_SCHEMA

SCHEMA = explain.parse_feature_schema({**TINY_SCHEMA, "baseline": TINY_BASELINE})


def _rows(n: int = 60, seed: int = 0) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    return [
        {
            "income": rng.choice([rng.uniform(0, 100000), rng.randint(0, 100000)]),
            "age": rng.choice([rng.randint(18, 100), float(rng.randint(18, 100))]),
            "purpose": rng.choice(["car", "education", "other"]),
            "has_guarantor": rng.choice([True, False, 0, 1, 0.0, 1.0]),
        }
        for _ in range(n)
    ]


def _encode_row_by_row(
    schema: explain.FeatureSchema, rows: list[dict[str, Any]]
) -> torch.Tensor:
    """The encoding as defined before the column-wise one: one list per row."""
    matrix = []
    for row in rows:
        out: list[float] = []
        for spec in schema.features:
            if spec.kind == "categorical":
                out.extend(float(row[spec.name] == c) for c in spec.categories)
            else:
                out.append(float(row[spec.name]))
        matrix.append(out)
    return torch.tensor(matrix, dtype=torch.float32).reshape(
        len(rows), schema.input_width
    )


def test_encoding_equals_the_row_by_row_definition():
    rows = _rows(200)
    rows[3]["income"] = 1e-45  # below float32's smallest normal: rounds the same
    rows[4]["income"] = 12345.678901234567
    encoded = SCHEMA.encode(rows)
    assert encoded.dtype == torch.float32
    assert encoded.shape == (200, SCHEMA.input_width)
    assert torch.equal(encoded, _encode_row_by_row(SCHEMA, rows))
    assert torch.equal(SCHEMA.encode(rows[:1]), _encode_row_by_row(SCHEMA, rows[:1]))


def test_encoding_an_unknown_category_still_fails():
    rows = _rows(3)
    rows[1]["purpose"] = "boat"
    with pytest.raises(KeyError):
        SCHEMA.encode(rows)


VALID_EDGES = [
    ("income", 0),
    ("income", 100000.0),
    ("income", np.float64(5.5)),
    ("age", 18.0),
    ("has_guarantor", 1.0),
    ("has_guarantor", -0.0),
    ("has_guarantor", np.float64(1.0)),
]
INVALID_EDGES = [
    ("income", math.nan),
    ("income", math.inf),
    ("income", -math.inf),
    ("income", 2**53 + 1),
    ("income", -(2**53) - 1),
    ("income", 10**400),
    ("income", True),
    ("income", "12"),
    ("income", "NaN"),
    ("income", None),
    ("income", -0.5),
    ("income", 100000.01),
    ("income", np.float64("nan")),
    ("age", 30.5),
    ("age", np.int64(40)),
    ("age", 17),
    ("age", 2**53 + 1),
    ("purpose", "boat"),
    ("purpose", 1),
    ("purpose", None),
    ("purpose", ["car"]),
    ("has_guarantor", 2),
    ("has_guarantor", 0.5),
    ("has_guarantor", math.nan),
    ("has_guarantor", "true"),
    ("has_guarantor", None),
]


@pytest.mark.parametrize(("name", "value"), VALID_EDGES)
def test_a_batch_with_a_valid_edge_value_passes(name, value):
    rows = _rows()
    rows[17][name] = value
    assert validate_feature_values(SCHEMA, rows[17]) == {}
    assert first_invalid_row(SCHEMA, rows) is None


@pytest.mark.parametrize(("name", "value"), INVALID_EDGES)
def test_the_first_invalid_row_is_named_as_the_row_check_names_it(name, value):
    rows = _rows()
    rows[17][name] = value
    rows[40][name] = value
    expected = validate_feature_values(SCHEMA, rows[17])
    assert name in expected
    assert first_invalid_row(SCHEMA, rows) == (17, expected)


def test_missing_and_unknown_features_are_named():
    rows = _rows()
    del rows[5]["age"]
    rows[9]["colour"] = "red"
    assert first_invalid_row(SCHEMA, rows) == (
        5,
        validate_feature_values(SCHEMA, rows[5]),
    )


def test_row_hashes_equal_the_canonical_json_of_each_row():
    rows = _rows(100)
    assert _row_hashes(rows) == [_canonical_sha256(row) for row in rows]


def test_row_hashes_survive_awkward_keys_and_values():
    rows = [
        {
            'a,"b"': 'x"},{"y',
            "b": 1e16,
            "c": True,
            "é": "ü\n,}",
            "n": 10**20,
            "z": -0.0,
        },
        {'a,"b"': "", "b": 2, "c": 0, "é": "q", "n": -3, "z": 1.5e-300},
        {'a,"b"': "%s", "b": 0.1, "c": False, "é": "\u2028", "n": 0, "z": 7},
    ]
    assert _row_hashes(rows) == [_canonical_sha256(row) for row in rows]
    one_key = [{"only": 1}, {"only": 2.5}]
    assert _row_hashes(one_key) == [_canonical_sha256(row) for row in one_key]
    mixed = [{"v": 1, "w": "a"}, {"v": "1", "w": np.float64(2.0)}]
    assert _row_hashes(mixed) == [_canonical_sha256(row) for row in mixed]
    ragged = [{"v": 1}, {"w": 1}]
    assert _row_hashes(ragged) == [_canonical_sha256(row) for row in ragged]


def test_explain_batch_records_each_rows_canonical_hash():
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = explain.build_model("mlp", SCHEMA, {"hidden": [8]}).eval()
    rows = _rows(30)
    results = explain.explain_batch(
        model,
        rows,
        schema=SCHEMA,
        class_labels=["good", "bad"],
        favourable_class="good",
        threshold=0.5,
        parameters={"counterfactual": False},
    )
    hashes = [
        r.methods["integrated_gradients"].manifest["input_sha256"] for r in results
    ]
    assert hashes == [_canonical_sha256(row) for row in rows]
