"""Recourse that holds: counterfactuals clear the threshold by a margin, stay inside the
observed data, cost changes by MAD and by the schema's category costs, never take a
non-actionable direction, and come as up to three diverse options ranked by cost."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import torch

import explain
from demo import credit
from demo.train import build_artefacts
from explain.counterfactual import (
    MAX_OPTIONS,
    SPARSITY_PENALTY,
    Counterfactual,
    counterfactual_search,
    feature_scale,
)
from explain.errors import SchemaError
from tests.explain.test_counterfactual import LABELS, LOAN_SCHEMA, ROW, linear_model


def _schema(**changes: dict[str, Any]) -> explain.FeatureSchema:
    """LOAN_SCHEMA with extra fields on the named features (and ``recourse``)."""
    data = copy.deepcopy(LOAN_SCHEMA)
    for feature in data["features"]:
        feature.update(changes.get(feature["name"], {}))
    if "recourse" in changes:
        data["recourse"] = changes["recourse"]
    return explain.parse_feature_schema(data)


def _search(model, schema, row=ROW, **kw):
    return counterfactual_search(
        model, schema, row, class_labels=LABELS, threshold=0.5, **kw
    )


def _score(model, schema, row: dict[str, Any]) -> float:
    return float(explain.predict_proba(model, schema.encode([row]))[0])


def _changed(row: dict[str, Any], found: Counterfactual) -> dict[str, Any]:
    return {**row, **{name: c["to"] for name, c in found.changes.items()}}


def _options(found: Counterfactual) -> list[Counterfactual]:
    return [found, *found.alternatives]


# -- margin ------------------------------------------------------------------------


def test_the_counterfactual_clears_the_threshold_by_the_default_margin():
    schema = explain.parse_feature_schema(LOAN_SCHEMA)
    model = linear_model(schema, {"income": -2.0})  # boundary at income 3000
    found = _search(model, schema).counterfactual
    at_the_edge = _search(model, schema, margin=0.0).counterfactual
    assert found is not None and at_the_edge is not None
    rerun = _score(model, schema, _changed(ROW, found))
    assert found.margin == 0.05
    assert rerun <= 0.5 - 0.05 and found.score_after == pytest.approx(rerun, abs=1e-6)
    # the margin is real distance: P = 0.45 needs logit -0.2007, income ~ 3150.5
    assert found.changes["income"]["to"] > 3150 > at_the_edge.changes["income"]["to"]
    assert _score(model, schema, _changed(ROW, at_the_edge)) > 0.45


def test_an_ai_systems_schema_sets_its_own_margin_and_an_argument_overrides_it():
    schema = _schema(recourse={"margin": 0.2})
    model = linear_model(schema, {"income": -2.0})
    found = _search(model, schema).counterfactual
    assert found is not None and found.margin == 0.2
    assert _score(model, schema, _changed(ROW, found)) <= 0.3
    narrower = _search(model, schema, margin=0.1).counterfactual
    assert narrower is not None and 0.3 < narrower.score_after <= 0.4
    with pytest.raises(ValueError, match="margin"):
        _search(model, schema, margin=0.5)


def test_no_change_clears_the_margin_gives_none_with_a_note_naming_it():
    schema = _schema(income={"max": 3100})  # the margin needs ~3150
    model = linear_model(schema, {"income": -2.0})
    result = _search(model, schema)
    assert result.counterfactual is None
    assert "margin of 0.05" in (result.note or "")
    assert _search(model, schema, margin=0.0).counterfactual is not None


# -- plausibility ------------------------------------------------------------------


def test_numeric_changes_stay_on_values_seen_in_the_training_data():
    seen = [800, 1900, 2500, 3400, 3900, 5200]
    schema = _schema(income={"observed": {"min": 800, "max": 5200, "values": seen}})
    model = linear_model(schema, {"income": -2.0})
    found = _search(model, schema).counterfactual
    assert found is not None
    assert found.changes["income"]["to"] == 3400  # the first seen value past 3150


def test_changes_never_leave_the_observed_range_even_when_that_would_flip():
    # only an income beyond the observed maximum would flip on income alone, so the
    # search must take the (dearer) debt route instead
    schema = _schema(
        income={"observed": {"min": 500, "max": 3100}},
        debt={"observed": {"min": 100, "max": 40000}},
    )
    model = linear_model(schema, {"income": -2.0, "debt": 0.5}, row_logit=1.0)
    found = _search(model, schema).counterfactual
    assert found is not None
    for option in _options(found):
        income = option.changes.get("income", {}).get("to", ROW["income"])
        assert 500 <= income <= 3100
        debt = option.changes.get("debt", {}).get("to", ROW["debt"])
        assert 100 <= debt <= 40000
    assert "debt" in found.changes


# -- costs ---------------------------------------------------------------------------


def test_numeric_costs_are_in_median_absolute_deviations_when_declared():
    schema = _schema(income={"observed": {"min": 0, "max": 20000, "mad": 500}})
    assert feature_scale(schema, schema.by_name()["income"]) == 500
    model = linear_model(schema, {"income": -2.0})
    found = _search(model, schema).counterfactual
    assert found is not None and list(found.changes) == ["income"]
    step = found.changes["income"]["to"] - ROW["income"]
    assert found.cost == pytest.approx(step / 500 + SPARSITY_PENALTY)
    # without the MAD the same step costs in standard deviations (1500)
    plain = explain.parse_feature_schema(LOAN_SCHEMA)
    assert feature_scale(plain, plain.by_name()["income"]) == 1500


def test_category_changes_cost_what_the_schema_says():
    schema = _schema(
        purpose={"category_changes": {"car": {"education": 2.5, "house": 0.4}}}
    )
    model = linear_model(
        schema, {"purpose": {"car": 3.0, "education": -3.0, "house": -3.0}}
    )
    found = _search(model, schema).counterfactual
    assert found is not None
    assert found.changes == {"purpose": {"from": "car", "to": "house"}}
    assert found.cost == pytest.approx(0.4 + SPARSITY_PENALTY)
    # another category of the same feature is not another route: no alternative
    assert found.alternatives == ()
    dearer = _schema(purpose={"category_changes": {"car": {"education": 2.5}}})
    found = _search(model, dearer).counterfactual
    assert found is not None and found.changes["purpose"]["to"] == "education"
    assert found.cost == pytest.approx(2.5 + SPARSITY_PENALTY)


# -- actionability -------------------------------------------------------------------


def test_a_category_change_the_schema_does_not_list_is_never_proposed():
    # "house" would flip alone and cheapest, but only car -> education is actionable
    schema = _schema(purpose={"category_changes": {"car": {"education": 1.0}}})
    model = linear_model(
        schema,
        {"purpose": {"car": 2.0, "education": 0.5, "house": -6.0}, "income": -1.0},
        row_logit=2.0,
    )
    found = _search(model, schema).counterfactual
    assert found is not None
    for option in _options(found):
        purpose = option.changes.get("purpose")
        assert purpose is None or purpose["to"] == "education"


def test_demo_credit_never_proposes_giving_up_a_financial_product(credit_demo):
    schema, model, refused = credit_demo
    given_up = {
        "status_of_existing_checking_account": {"no checking account"},
        "savings_account_and_bonds": {"unknown/ no savings account"},
        "telephone": {"none"},
    }
    allowed = {
        name: {(f, t) for f, t, _ in spec.category_changes}
        for name, spec in schema.by_name().items()
        if spec.category_changes is not None
    }
    proposed = 0
    for _row, result in refused:
        if result.counterfactual is None:
            continue
        for option in _options(result.counterfactual):
            for name, change in option.changes.items():
                assert change["to"] not in given_up.get(name, set())
                if name in allowed:
                    assert (change["from"], change["to"]) in allowed[name]
                    proposed += 1
    assert proposed > 0  # the category routes are used, in the allowed directions


# -- diversity -----------------------------------------------------------------------


def test_up_to_three_diverse_options_ranked_by_cost():
    schema = explain.parse_feature_schema(LOAN_SCHEMA)
    model = linear_model(
        schema,
        {"income": -1.0, "debt": 0.8, "grade": {"A": -4.0}, "has_guarantor": -0.5},
        row_logit=1.2,
    )
    found = _search(model, schema).counterfactual
    assert found is not None
    options = _options(found)
    assert len(options) == MAX_OPTIONS
    costs = [option.cost for option in options]
    assert costs == sorted(costs)
    sets = [frozenset(option.changes) for option in options]
    for i, later in enumerate(sets):
        assert not any(later >= earlier for earlier in sets[:i])  # a new route each
    for option in options:
        assert option.verified and (option is found or option.alternatives == ())
        assert _score(model, schema, _changed(ROW, option)) <= 0.45


def test_demo_credit_options_hold_on_every_refused_row(credit_demo):
    schema, model, refused = credit_demo
    specs = schema.by_name()
    found = 0
    for row, result in refused:
        if result.counterfactual is None:
            assert result.note
            continue
        found += 1
        options = _options(result.counterfactual)
        assert 1 <= len(options) <= MAX_OPTIONS
        assert [o.cost for o in options] == sorted(o.cost for o in options)
        for option in options:
            changed = _changed(row, option)
            assert explain.validate_feature_values(schema, changed) == {}
            assert _score(model, schema, changed) <= 0.5 - 0.05 + 1e-6
            for name, change in option.changes.items():
                spec = specs[name]
                if spec.kind == "numeric":  # a value the training data has
                    assert float(change["to"]) in spec.observed_values
    assert found >= len(refused) // 2


# -- schemas with and without the new fields -------------------------------------------


def test_schemas_without_the_recourse_fields_still_work():
    schema = explain.parse_feature_schema(LOAN_SCHEMA)
    assert schema.recourse_margin == 0.05
    income = schema.by_name()["income"]
    assert income.observed_values == () and income.mad is None
    assert schema.by_name()["purpose"].category_changes is None
    model = linear_model(schema, {"purpose": {"car": 3.0}}, bias=-1.0)
    found = _search(model, schema).counterfactual
    assert found is not None and found.cost == pytest.approx(1.0 + SPARSITY_PENALTY)


@pytest.mark.parametrize(
    ("changes", "path"),
    [
        ({"income": {"observed": {"min": 10, "max": 5}}}, "features[0].observed.max"),
        (
            {"income": {"observed": {"min": 0, "max": 9, "values": [3, 12]}}},
            "features[0].observed.values",
        ),
        (
            {"income": {"observed": {"min": 0, "max": 9, "mad": 0}}},
            "features[0].observed.mad",
        ),
        ({"purpose": {"observed": {"min": 0, "max": 1}}}, "features[8].observed"),
        (
            {"purpose": {"category_changes": {"car": {"boat": 1.0}}}},
            "features[8].category_changes",
        ),
        (
            {"purpose": {"category_changes": {"car": {"house": -1}}}},
            "features[8].category_changes",
        ),
        ({"income": {"category_changes": {}}}, "features[0].category_changes"),
        ({"recourse": {"margin": 0.5}}, "recourse.margin"),
        ({"recourse": {"margin": "0.1"}}, "recourse.margin"),
    ],
)
def test_bad_recourse_fields_are_refused_naming_the_field(changes, path):
    with pytest.raises(SchemaError) as caught:
        _schema(**changes)
    assert path in caught.value.errors


@pytest.fixture(scope="module")
def credit_demo():
    """The demo credit model, its schema and its refused held-out samples' results."""
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
    rows, _ = credit.load_credit_rows()
    with torch.no_grad():
        scores = explain.predict_proba(model, schema.encode(rows))
    refused = [row for row, s in zip(rows, scores.tolist(), strict=True) if s >= 0.5]
    results = [
        counterfactual_search(
            model,
            schema,
            row,
            class_labels=version["class_labels"],
            threshold=version["decision_threshold"],
        )
        for row in refused[:40]
    ]
    return schema, model, list(zip(refused[:40], results, strict=True))


# -- through the engine ----------------------------------------------------------------


def _explain(model, schema, parameters):
    return explain.explain_batch(
        model,
        [ROW],
        schema=schema,
        class_labels=list(LABELS),
        favourable_class=LABELS[0],
        threshold=0.5,
        methods=["saliency"],
        parameters={
            "quality": {"infidelity": False, "sensitivity": False},
            **parameters,
        },
    )[0]


def test_the_engine_stores_every_option_and_takes_a_margin_per_request():
    schema = explain.parse_feature_schema(LOAN_SCHEMA)
    model = linear_model(
        schema,
        {"income": -1.0, "debt": 0.8, "grade": {"A": -4.0}, "has_guarantor": -0.5},
        row_logit=1.2,
    )
    stored = _explain(model, schema, {}).counterfactual
    assert stored is not None and stored["margin"] == pytest.approx(0.05)
    assert len(stored["alternatives"]) == MAX_OPTIONS - 1
    costs = [stored["cost"], *(alt["cost"] for alt in stored["alternatives"])]
    assert costs == sorted(costs)
    assert all(
        alt["verified"] and "alternatives" not in alt for alt in stored["alternatives"]
    )
    wider = _explain(model, schema, {"counterfactual": {"margin": 0.2}}).counterfactual
    assert wider is not None and wider["margin"] == pytest.approx(0.2)
    assert wider["score_after"] <= 0.5 - 0.2 + 1e-6
    off = _explain(model, schema, {"counterfactual": False})
    assert off.counterfactual is None


@pytest.mark.parametrize(
    "value", [{"margin": 0.5}, {"margin": -0.1}, {"margin": True}, {"other": 1}, "yes"]
)
def test_a_bad_counterfactual_parameter_is_refused_naming_it(value):
    with pytest.raises(explain.BadParameter, match="counterfactual"):
        explain.resolve_request(["saliency"], {"counterfactual": value})
