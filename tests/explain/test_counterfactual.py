"""Counterfactual search: minimal, verified, actionable changes that flip an outcome."""

from __future__ import annotations

import json
import math
import random
import time
from typing import Any

import pytest
import torch

import explain
from demo import credit
from demo.train import build_artefacts
from explain.counterfactual import (
    UNBOUNDED_SEARCH_SCALES,
    Counterfactual,
    counterfactual_search,
    counterfactual_search_batch,
    describe_change,
    feature_scale,
    format_number,
)

LABELS = ["good", "bad"]

LOAN_SCHEMA: dict[str, Any] = {
    "features": [
        {
            "name": "income",
            "label": "Monthly income",
            "kind": "numeric",
            "unit": "EUR",
            "min": 0,
            "max": 20000,
            "actionable_direction": "increase",
        },
        {
            "name": "debt",
            "label": "Outstanding debt",
            "kind": "numeric",
            "unit": "EUR",
            "min": 0,
            "max": 50000,
            "actionable_direction": "decrease",
        },
        {
            "name": "months_employed",
            "label": "Months employed",
            "kind": "numeric",
            "unit": "months",
            "min": 0,
            "max": 480,
            "integer": True,
            "actionable_direction": "any",
        },
        {
            "name": "rate_level",
            "label": "Instalment rate level",
            "kind": "numeric",
            "min": 1,
            "max": 4,
            "integer": True,
            "actionable_direction": "decrease",
        },
        {
            "name": "savings",
            "label": "Savings",
            "kind": "numeric",
            "unit": "EUR",
            "actionable_direction": "any",
        },
        {
            "name": "age",
            "label": "Age",
            "kind": "numeric",
            "unit": "years",
            "min": 18,
            "max": 100,
            "integer": True,
            "immutable": True,
            "protected": True,
            "actionable_direction": "none",
        },
        {
            "name": "sex",
            "label": "Sex",
            "kind": "categorical",
            "categories": ["f", "m", "x"],
            "protected": True,
            "actionable_direction": "any",
        },
        {
            "name": "country",
            "label": "Country of birth",
            "kind": "categorical",
            "categories": ["de", "fr", "it"],
            "immutable": True,
            "actionable_direction": "any",
        },
        {
            "name": "purpose",
            "label": "Purpose",
            "kind": "categorical",
            "categories": ["car", "education", "house"],
            "actionable_direction": "any",
        },
        {
            "name": "grade",
            "label": "Account grade",
            "kind": "categorical",
            "categories": ["C", "B", "A"],
            "actionable_direction": "increase",
        },
        {
            "name": "has_guarantor",
            "label": "Has a guarantor",
            "kind": "binary",
            "actionable_direction": "increase",
        },
        {
            "name": "has_overdraft",
            "label": "Has an overdraft",
            "kind": "binary",
            "actionable_direction": "decrease",
        },
    ],
    "preprocessing": {
        "income": {"mean": 3000.0, "std": 1500.0},
        "debt": {"mean": 5000.0, "std": 2000.0},
        "months_employed": {"mean": 36.0, "std": 24.0},
        "savings": {"mean": 2000.0, "std": 1000.0},
        "age": {"mean": 40.0, "std": 12.0},
    },
}

ROW: dict[str, Any] = {
    "income": 2500.0,
    "debt": 6000.0,
    "months_employed": 12,
    "rate_level": 3,
    "savings": 1500.0,
    "age": 35,
    "sex": "f",
    "country": "de",
    "purpose": "car",
    "grade": "B",
    "has_guarantor": False,
    "has_overdraft": 1,
}

PROTECTED_OR_IMMUTABLE = {"age", "sex", "country"}


@pytest.fixture(scope="module")
def schema() -> explain.FeatureSchema:
    return explain.parse_feature_schema(LOAN_SCHEMA)


def linear_model(
    schema: explain.FeatureSchema,
    weights: dict[str, float | dict[str, float]],
    bias: float = 0.0,
    *,
    row_logit: float | None = None,
) -> torch.nn.Module:
    """Logistic regression with hand-set weights on the standardised inputs.

    A numeric or binary feature takes one weight; a categorical one a weight per
    category (unlisted categories weigh 0). With ``row_logit`` the bias is set so that
    ``ROW`` gets exactly that logit.
    """
    model = explain.build_model("logistic_regression", schema)
    groups = schema.column_groups()
    specs = schema.by_name()
    with torch.no_grad():
        model.linear.weight.zero_()
        model.linear.bias.fill_(bias)
        for name, weight in weights.items():
            if isinstance(weight, dict):
                for category, value in weight.items():
                    column = groups[name][specs[name].categories.index(category)]
                    model.linear.weight[0, column] = value
            else:
                model.linear.weight[0, groups[name][0]] = weight
        if row_logit is not None:
            current = float(model(schema.encode([ROW]))[0])
            model.linear.bias += row_logit - current
    return model


def search(model: torch.nn.Module, schema: explain.FeatureSchema, row: dict, **kw):
    # these tests check the boundary geometry, so at margin 0 (the default margin
    # is tested in tests/explain/test_recourse.py)
    kw.setdefault("margin", 0.0)
    return counterfactual_search(
        model, schema, row, class_labels=LABELS, threshold=0.5, **kw
    )


def rerun_outcome(model: torch.nn.Module, schema: explain.FeatureSchema, row: dict):
    """The outcome and score of a row from a model run of its own."""
    score = float(explain.predict_proba(model, schema.encode([row]))[0])
    return (LABELS[1] if score >= 0.5 else LABELS[0]), score


def changed_row(row: dict[str, Any], found: Counterfactual) -> dict[str, Any]:
    changed = dict(row)
    for name, change in found.changes.items():
        assert change["from"] == row[name]
        changed[name] = change["to"]
    return changed


def assert_valid_counterfactual(
    model: torch.nn.Module,
    schema: explain.FeatureSchema,
    row: dict[str, Any],
    found: Counterfactual,
) -> dict[str, Any]:
    """Every promise a counterfactual makes, checked independently of the search."""
    specs = schema.by_name()
    changed = changed_row(row, found)
    assert explain.validate_feature_values(schema, changed) == {}
    outcome_before, score_before = rerun_outcome(model, schema, row)
    outcome_after, score_after = rerun_outcome(model, schema, changed)
    assert found.verified is True
    assert found.outcome_before == outcome_before
    assert found.outcome_after == outcome_after != outcome_before
    assert found.score_before == pytest.approx(score_before, abs=1e-6)
    assert found.score_after == pytest.approx(score_after, abs=1e-6)
    assert 1 <= len(found.changes) <= 3
    assert len(found.descriptions) == len(found.changes)
    json.dumps(found.changes)  # JSON-friendly values
    for name, change in found.changes.items():
        spec = specs[name]
        old, new = change["from"], change["to"]
        assert not spec.immutable and not spec.protected
        assert spec.actionable_direction != "none"
        assert new != old
        if spec.kind == "numeric":
            assert type(new) in (int, float)
            if spec.integer:
                assert isinstance(new, int)
            if spec.min is not None:
                assert new >= spec.min
            if spec.max is not None:
                assert new <= spec.max
            if spec.min is None or spec.max is None:
                span = UNBOUNDED_SEARCH_SCALES * feature_scale(schema, spec)
                assert abs(new - old) <= span + 1e-9
            if spec.actionable_direction == "increase":
                assert new > old
            if spec.actionable_direction == "decrease":
                assert new < old
        elif spec.kind == "categorical":
            assert new in spec.categories
            moved_by = spec.categories.index(new) - spec.categories.index(old)
            if spec.actionable_direction == "increase":
                assert moved_by > 0
            if spec.actionable_direction == "decrease":
                assert moved_by < 0
        else:
            assert type(new) is type(old)
            if spec.actionable_direction == "increase":
                assert not old and new
            if spec.actionable_direction == "decrease":
                assert old and not new
    for name in PROTECTED_OR_IMMUTABLE & set(row):
        assert changed[name] == row[name]
    return changed


def test_linear_model_change_matches_the_analytic_boundary(schema):
    # logit = -2 * (income - 3000) / 1500: the boundary (P = 0.5) is income = 3000,
    # and P >= 0.5 is still "bad", so the minimal flip is just above 3000 EUR.
    model = linear_model(schema, {"income": -2.0})
    result = search(model, schema, ROW)

    found = result.counterfactual
    assert result.note is None and found is not None
    assert found.outcome_before == "bad" and found.outcome_after == "good"
    assert list(found.changes) == ["income"]
    new_income = found.changes["income"]["to"]
    assert 3000 < new_income <= 3000 + 10  # resolution: 10 ** (log10(1500) - 2)
    assert found.cost == pytest.approx((new_income - 2500) / 1500 + 0.1)
    assert found.descriptions == [
        f"Increase Monthly income from 2500 to {new_income:g} EUR"
    ]
    assert 0 < found.evaluations <= 20000
    assert_valid_counterfactual(model, schema, ROW, found)


def test_two_numeric_features_share_the_change_when_that_is_cheaper(schema):
    # logit = 0.5 - z_income + z_debt = 4/3 at ROW. Income +4/3 std or debt -4/3 std
    # each cost 4/3 + 0.1; splitting the change costs the same distance plus a second
    # sparsity penalty, so the cheapest answer is a single change of 4/3 std.
    model = linear_model(schema, {"income": -1.0, "debt": 1.0}, bias=0.5)
    result = search(model, schema, ROW)
    found = result.counterfactual
    assert found is not None and len(found.changes) == 1
    assert found.cost == pytest.approx(4 / 3 + 0.1, abs=0.01)
    assert_valid_counterfactual(model, schema, ROW, found)


def test_the_cheaper_of_a_numeric_and_a_categorical_change_is_chosen(schema):
    # logit 2 at ROW: income would need +2 std (cost 2.1); purpose "education"
    # flips it for cost 1.1
    model = linear_model(
        schema, {"income": -1.0, "purpose": {"education": -3.0}}, row_logit=2.0
    )
    found = search(model, schema, ROW).counterfactual
    assert found is not None
    assert found.changes == {"purpose": {"from": "car", "to": "education"}}
    assert found.descriptions == ["Change Purpose from 'car' to 'education'"]
    assert found.cost == pytest.approx(1.1)
    assert_valid_counterfactual(model, schema, ROW, found)


def test_immutable_and_protected_features_never_change_even_when_cheapest(schema):
    model = linear_model(
        schema,
        {
            "age": -20.0,
            "sex": {"m": -20.0, "x": -20.0},
            "country": {"fr": -20.0, "it": -20.0},
            "income": -1.0,
        },
        bias=1.0,
    )
    found = search(model, schema, ROW).counterfactual
    assert found is not None
    assert set(found.changes) == {"income"}
    changed = assert_valid_counterfactual(model, schema, ROW, found)
    assert {k: changed[k] for k in PROTECTED_OR_IMMUTABLE} == {
        k: ROW[k] for k in PROTECTED_OR_IMMUTABLE
    }


def test_no_actionable_change_gives_none_with_a_note(schema):
    model = linear_model(
        schema, {"age": -3.0, "sex": {"m": -9.0}, "country": {"it": -9.0}}, bias=1.0
    )
    result = search(model, schema, ROW)
    assert result.counterfactual is None
    assert result.note.startswith("No actionable change of up to 3 features flips")


def test_no_mutable_feature_at_all_gives_none_with_a_note():
    data = json.loads(json.dumps(LOAN_SCHEMA))
    for feature in data["features"]:
        feature["immutable"] = True
    schema = explain.parse_feature_schema(data)
    model = linear_model(schema, {"income": -2.0})
    result = search(model, schema, ROW)
    assert result.counterfactual is None
    assert result.note.startswith("No actionable change possible")


def test_directions_are_respected_even_when_the_other_way_would_flip(schema):
    # every feature helps only in the direction its schema forbids: less income,
    # more debt, a higher rate level, a worse grade, no guarantor, an overdraft
    helpful_only_backwards = {
        "income": 3.0,
        "debt": -3.0,
        "rate_level": -3.0,
        "grade": {"C": -9.0},
        "has_guarantor": 2.0,
        "has_overdraft": -2.0,
    }
    model = linear_model(schema, helpful_only_backwards, row_logit=1.0)
    result = search(model, schema, ROW)
    assert result.counterfactual is None
    assert result.note.startswith("No actionable change")

    # a helpful purpose is then the only way
    model = linear_model(
        schema, {**helpful_only_backwards, "purpose": {"house": -5.0}}, row_logit=1.0
    )
    found = search(model, schema, ROW).counterfactual
    assert found is not None
    assert found.changes == {"purpose": {"from": "car", "to": "house"}}
    assert_valid_counterfactual(model, schema, ROW, found)


def test_integer_features_stay_whole_and_within_range(schema):
    # logit 1.3 - z_months: the boundary is +31.2 months (std 24), so 12 -> 44 is the
    # smallest whole number of months that flips; rate level may only go down
    model = linear_model(
        schema, {"months_employed": -1.0, "rate_level": -0.1}, row_logit=1.3
    )
    found = search(model, schema, ROW).counterfactual
    assert found is not None
    assert found.changes == {"months_employed": {"from": 12, "to": 44}}
    assert isinstance(found.changes["months_employed"]["to"], int)
    assert found.cost == pytest.approx(32 / 24 + 0.1)
    assert found.descriptions == ["Increase Months employed from 12 to 44 months"]
    assert_valid_counterfactual(model, schema, ROW, found)


def test_binary_features_flip_and_keep_their_type(schema):
    model = linear_model(schema, {"has_guarantor": -2.0, "has_overdraft": 0.5}, 1.0)
    found = search(model, schema, ROW).counterfactual
    assert found is not None
    assert found.changes["has_guarantor"] == {"from": False, "to": True}
    assert found.descriptions[0] == "Change Has a guarantor from 'no' to 'yes'"
    assert_valid_counterfactual(model, schema, ROW, found)


def test_a_favourable_outcome_is_flipped_the_other_way(schema):
    model = linear_model(schema, {"debt": 2.0}, bias=-2.0)  # less debt -> less risk
    result = search(model, schema, {**ROW, "debt": 20000.0})
    assert result.counterfactual is not None
    assert result.counterfactual.outcome_before == "bad"
    model = linear_model(schema, {"months_employed": 1.0}, bias=-1.0)
    found = search(model, schema, ROW).counterfactual
    assert found is not None
    assert (found.outcome_before, found.outcome_after) == ("good", "bad")
    assert_valid_counterfactual(model, schema, ROW, found)


def test_random_linear_models_never_break_a_constraint(schema):
    generator = random.Random(7)
    specs = schema.features
    found_count = 0
    for seed in range(25):
        torch.manual_seed(seed)
        model = explain.build_model("logistic_regression", schema)
        with torch.no_grad():
            model.linear.weight.mul_(8.0)
        for _ in range(3):
            row: dict[str, Any] = {}
            for spec in specs:
                if spec.kind == "numeric":
                    low = spec.min if spec.min is not None else -1000.0
                    high = spec.max if spec.max is not None else 9000.0
                    high = min(high, low + 20000)
                    value = generator.uniform(low, high)
                    row[spec.name] = int(round(value)) if spec.integer else value
                elif spec.kind == "categorical":
                    row[spec.name] = generator.choice(spec.categories)
                else:
                    row[spec.name] = generator.choice([True, False])
            result = search(model, schema, row, max_evaluations=4000)
            if result.counterfactual is None:
                assert result.note
                continue
            found_count += 1
            assert_valid_counterfactual(model, schema, row, result.counterfactual)
    assert found_count >= 60


def test_two_changes_when_needed_and_the_budget_is_respected(schema):
    # no single change flips: needs both purpose and guarantor
    model = linear_model(
        schema, {"purpose": {"house": -2.0}, "has_guarantor": -2.0}, row_logit=3.0
    )
    found = search(model, schema, ROW).counterfactual
    assert found is not None
    assert set(found.changes) == {"purpose", "has_guarantor"}
    assert found.cost == pytest.approx(2.2)
    assert_valid_counterfactual(model, schema, ROW, found)

    result = search(model, schema, ROW, max_evaluations=20)
    assert result.counterfactual is None
    assert "within budget" in result.note
    assert "of at most 20)" in result.note


def test_search_is_deterministic_and_batch_matches_single_rows(schema):
    model = linear_model(schema, {"income": -1.0, "months_employed": -0.7}, bias=1.0)
    rows = [ROW, {**ROW, "income": 900.0}, {**ROW, "months_employed": 200}]
    singles = [search(model, schema, row) for row in rows]
    batch = counterfactual_search_batch(
        model, schema, rows, class_labels=LABELS, threshold=0.5, margin=0.0
    )
    assert batch == singles == [search(model, schema, row) for row in rows]


def test_an_invalid_row_or_argument_is_refused(schema):
    model = linear_model(schema, {"income": -1.0})
    with pytest.raises(ValueError, match="income"):
        search(model, schema, {**ROW, "income": float("nan")})
    with pytest.raises(ValueError, match="class_labels"):
        counterfactual_search(model, schema, ROW, class_labels=["a"], threshold=0.5)
    with pytest.raises(ValueError, match="max_changes"):
        search(model, schema, ROW, max_changes=0)


def test_numbers_and_changes_are_described_in_plain_words(schema):
    specs = schema.by_name()
    assert format_number(24.0) == "24"
    assert format_number(0.1 + 0.2) == "0.3"
    assert format_number(3127.456) == "3127.46"
    assert format_number(123456.0) == "123456"
    assert format_number(-0.000125) == "-0.000125"
    assert (
        describe_change(specs["debt"], 6000.0, 4500.0)
        == "Decrease Outstanding debt from 6000 to 4500 EUR"
    )
    assert (
        describe_change(specs["rate_level"], 3, 2)
        == "Decrease Instalment rate level from 3 to 2"
    )
    assert (
        describe_change(specs["grade"], "B", "A")
        == "Change Account grade from 'B' to 'A'"
    )
    assert (
        describe_change(specs["has_overdraft"], 1, 0)
        == "Change Has an overdraft from 'yes' to 'no'"
    )


@pytest.fixture(scope="module")
def credit_demo() -> tuple[explain.FeatureSchema, torch.nn.Module, dict[str, Any]]:
    weights, document = build_artefacts(credit.DEFINITION)
    version = document["model_version"]
    schema = explain.parse_feature_schema(version["feature_schema"])
    model = explain.load_model(
        architecture=version["architecture"],
        schema=schema,
        hyperparameters=version["hyperparameters"],
        weights=weights,
        expected_sha256=None,
    )
    return schema, model, document


def test_demo_credit_adverse_decisions_get_verified_actionable_counterfactuals(
    credit_demo, capsys
):
    schema, model, document = credit_demo
    version = document["model_version"]
    labels = version["class_labels"]
    threshold = version["decision_threshold"]
    adverse = [d for d in document["sample_decisions"] if d["outcome"] == "bad"]
    assert adverse
    found, evaluations, seconds = 0, [], []
    for decision in adverse:
        row = decision["features"]
        started = time.perf_counter()
        result = counterfactual_search(
            model, schema, row, class_labels=labels, threshold=threshold
        )
        seconds.append(time.perf_counter() - started)
        if result.counterfactual is None:
            assert result.note
            continue
        counterfactual = result.counterfactual
        found += 1
        evaluations.append(counterfactual.evaluations)
        changed = changed_row(row, counterfactual)
        assert explain.validate_feature_values(schema, changed) == {}
        score = float(explain.predict_proba(model, schema.encode([changed]))[0])
        assert score < threshold and counterfactual.outcome_after == "good"
        assert counterfactual.verified
        for name in credit.IMMUTABLE_FEATURES:
            assert changed[name] == row[name]
        assert not set(counterfactual.changes) & set(credit.IMMUTABLE_FEATURES)
        specs = schema.by_name()
        assert all(
            specs[name].actionable_direction != "none"
            for name in counterfactual.changes
        )
    assert found >= len(adverse) // 2
    with capsys.disabled():
        print(
            f"\ncredit demo: {found}/{len(adverse)} adverse samples got a verified "
            f"counterfactual; evaluations per row {sorted(evaluations)}; seconds per "
            f"row max {max(seconds):.3f}, mean {sum(seconds) / len(seconds):.3f}"
        )
    assert math.isfinite(sum(seconds))
