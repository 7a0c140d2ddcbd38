"""Counterfactuals that stay inside the observed data, and the batched search: every
row's candidates scored in one forward pass per step, with the same answers as alone."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import torch

import explain
from demo import credit, training
from explain.counterfactual import (
    MAX_OPTIONS,
    PlausibilityReference,
    counterfactual_search,
    counterfactual_search_batch,
)
from tests.explain.test_counterfactual import LABELS, LOAN_SCHEMA, ROW, linear_model

# two numeric features on the same scale (MAD 10); the background lies on a line
# along y at x = 50, 5 apart, so each background row's nearest neighbour is 0.5 away
PLANE_SCHEMA: dict[str, Any] = {
    "features": [
        {
            "name": name,
            "label": name.upper(),
            "kind": "numeric",
            "min": 0,
            "max": 100,
            "observed": {"min": 0, "max": 100, "mad": 10},
            "actionable_direction": "any",
        }
        for name in ("x", "y")
    ],
    "background": [{"x": 50.0, "y": float(y)} for y in range(50, 101, 5)],
}
PLANE_ROW = {"x": 50.0, "y": 50.0}


def _plane_schema(*, background: bool = True) -> explain.FeatureSchema:
    data = copy.deepcopy(PLANE_SCHEMA)
    if not background:
        del data["background"]
    return explain.parse_feature_schema(data)


def _plane_model(schema: explain.FeatureSchema) -> torch.nn.Module:
    """logit = 1 - 0.07 (x - 50) - 0.045 (y - 50): at margin 0.05 (P <= 0.45) the
    cheapest flip is x up by ~17 (1.7 MADs, off the background's line), the plausible
    one y up by ~27 (2.7 MADs, along it)."""
    model = explain.build_model("logistic_regression", schema)
    with torch.no_grad():
        model.linear.weight.copy_(torch.tensor([[-0.07, -0.045]]))
        model.linear.bias.fill_(1.0 + 0.07 * 50 + 0.045 * 50)
    return model


def _search(model, schema, row, **kw):
    return counterfactual_search(
        model, schema, row, class_labels=LABELS, threshold=0.5, **kw
    )


def _score(model, schema, row: dict[str, Any]) -> float:
    return float(explain.predict_proba(model, schema.encode([row]))[0])


def _options(found):
    return [found, *found.alternatives]


# -- plausibility --------------------------------------------------------------------


def test_the_bound_is_the_95th_percentile_of_the_backgrounds_own_neighbour_distances():
    reference = PlausibilityReference.from_schema(_plane_schema())
    assert reference is not None
    assert reference.bound == pytest.approx(0.5)
    distances = reference.row_distances(
        _plane_schema(), [PLANE_ROW, {"x": 70.0, "y": 52.0}, {"x": 50.0, "y": 57.5}]
    )
    assert distances == pytest.approx([0.0, 2.2, 0.25])
    # an outlying background row (10 from its neighbour) moves the 95th percentile
    # of the 12 neighbour distances (11 of 0.5), not all the way to the maximum
    data = copy.deepcopy(PLANE_SCHEMA)
    data["background"].append({"x": 0.0, "y": 0.0})
    widened = PlausibilityReference.from_schema(explain.parse_feature_schema(data))
    assert widened is not None
    assert widened.bound == pytest.approx(0.5 + 0.45 * 9.5)
    assert PlausibilityReference.from_schema(_plane_schema(background=False)) is None


def test_the_cheapest_flip_far_from_the_data_gives_way_to_a_plausible_one():
    # without a background sample the search moves x off the data (the cheapest)
    bare = _plane_schema(background=False)
    cheapest = _search(_plane_model(bare), bare, PLANE_ROW).counterfactual
    assert cheapest is not None and set(cheapest.changes) == {"x"}
    assert cheapest.plausibility is None
    # with it, that flip is refused and y, along the background, is proposed
    schema = _plane_schema()
    model = _plane_model(schema)
    found = _search(model, schema, PLANE_ROW).counterfactual
    assert found is not None
    for option in _options(found):
        assert "x" not in option.changes
        changed = {**PLANE_ROW, **{n: c["to"] for n, c in option.changes.items()}}
        assert _score(model, schema, changed) <= 0.45
        plausibility = option.plausibility
        assert plausibility is not None
        assert plausibility["bound"] == pytest.approx(0.5)
        assert plausibility["original_distance"] == pytest.approx(0.0)
        assert plausibility["distance"] <= plausibility["bound"]
        reference = PlausibilityReference.from_schema(schema)
        assert reference is not None
        assert plausibility["distance"] == pytest.approx(
            reference.row_distances(schema, [changed])[0], abs=1e-6
        )
    assert found.cost > cheapest.cost  # plausibility has a price, and it is paid


def test_a_row_already_far_from_the_data_may_stay_as_far():
    schema = _plane_schema()
    model = _plane_model(schema)
    row = {"x": 30.0, "y": 60.0}  # 2 MADs off the line, farther than the bound 0.5
    found = _search(model, schema, row).counterfactual
    assert found is not None
    plausibility = found.plausibility
    assert plausibility is not None
    assert plausibility["original_distance"] == pytest.approx(2.0)
    assert plausibility["bound"] == pytest.approx(2.0)
    assert plausibility["distance"] <= 2.0 + 1e-9


def test_no_plausible_flip_gives_none_with_a_note_naming_the_refused_changes():
    data = copy.deepcopy(PLANE_SCHEMA)
    data["features"][1]["actionable_direction"] = "none"  # only x may move
    schema = explain.parse_feature_schema(data)
    result = _search(_plane_model(schema), schema, PLANE_ROW)
    assert result.counterfactual is None
    assert result.note is not None
    assert "of the training data" in result.note and "refused" in result.note


# -- margin, diversity, determinism ----------------------------------------------------


def test_every_returned_option_clears_the_threshold_by_the_margin():
    schema = explain.parse_feature_schema(LOAN_SCHEMA)
    model = linear_model(
        schema,
        {"income": -1.0, "debt": 0.8, "grade": {"A": -4.0}, "has_guarantor": -0.5},
        row_logit=1.2,
    )
    for margin in (0.05, 0.2):
        found = _search(model, schema, ROW, margin=margin).counterfactual
        assert found is not None
        for option in _options(found):
            changed = {**ROW, **{n: c["to"] for n, c in option.changes.items()}}
            assert _score(model, schema, changed) <= 0.5 - margin + 1e-7
            assert option.score_after <= 0.5 - margin + 1e-7
            assert option.margin == margin


def test_alternatives_change_different_feature_sets():
    schema = explain.parse_feature_schema(LOAN_SCHEMA)
    model = linear_model(
        schema,
        {"income": -1.0, "debt": 0.8, "grade": {"A": -4.0}, "has_guarantor": -0.5},
        row_logit=1.2,
    )
    found = _search(model, schema, ROW).counterfactual
    assert found is not None
    sets = [frozenset(option.changes) for option in _options(found)]
    assert len(sets) == MAX_OPTIONS
    for i, later in enumerate(sets):
        assert not any(later >= earlier for earlier in sets[:i])


def _credit_rows() -> tuple[torch.nn.Module, explain.FeatureSchema, list[dict]]:
    """The demo credit model, its schema (with its background sample) and the first
    12 refused applicants."""
    rows, labels = credit.load_credit_rows()
    trained = training.train_demo_model(
        rows, labels, credit.build_credit_schema, credit.TRAINING
    )
    model, schema = trained.model.eval(), trained.schema
    scores = explain.predict_proba(model, schema.encode(rows)).tolist()
    refused = [row for row, score in zip(rows, scores, strict=True) if score >= 0.5]
    return model, schema, refused[:12]


@pytest.fixture(scope="module")
def credit_refused():
    return _credit_rows()


def test_the_demo_search_is_deterministic_under_a_seed(credit_refused):
    model, schema, rows = credit_refused
    kw: dict[str, Any] = {"class_labels": LABELS, "threshold": 0.5, "seed": 3}
    first = counterfactual_search_batch(model, schema, rows, **kw)
    second = counterfactual_search_batch(model, schema, rows, **kw)
    assert first == second
    found = [r.counterfactual for r in first if r.counterfactual is not None]
    assert found and all(cf.plausibility is not None for cf in found)
    for cf in found:
        for option in _options(cf):
            assert option.plausibility is not None
            assert option.plausibility["distance"] <= option.plausibility["bound"]


def test_a_row_gets_the_same_answer_alone_as_inside_a_batch(credit_refused):
    model, schema, rows = credit_refused
    kw: dict[str, Any] = {"class_labels": LABELS, "threshold": 0.5}
    batched = counterfactual_search_batch(model, schema, rows, **kw)
    alone = [counterfactual_search(model, schema, row, **kw) for row in rows]
    assert len(batched) == len(alone) == len(rows)
    for together, single in zip(batched, alone, strict=True):
        assert together.note == single.note
        a, b = together.counterfactual, single.counterfactual
        assert (a is None) == (b is None)
        if a is None or b is None:
            continue
        assert [o.changes for o in _options(a)] == [o.changes for o in _options(b)]
        assert [o.cost for o in _options(a)] == [o.cost for o in _options(b)]
        assert a.evaluations == b.evaluations
        assert a.score_after == pytest.approx(b.score_after, abs=1e-6)


class _CountingModel(torch.nn.Module):
    def __init__(self, inner: torch.nn.Module):
        super().__init__()
        self.inner = inner
        self.calls = 0

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return self.inner(inputs)


def test_a_batch_runs_one_forward_pass_per_step_for_all_rows(credit_refused):
    model, schema, rows = credit_refused
    kw: dict[str, Any] = {"class_labels": LABELS, "threshold": 0.5}
    per_row = []
    for row in rows:
        counting = _CountingModel(model)
        counterfactual_search(counting, schema, row, **kw)
        per_row.append(counting.calls)
    counting = _CountingModel(model)
    counterfactual_search_batch(counting, schema, rows, **kw)
    # the batch takes as many passes as its longest search, not the sum of them
    assert counting.calls == max(per_row) < sum(per_row)


def test_the_engine_stores_each_options_plausibility():
    schema = _plane_schema()
    stored = explain.explain_batch(
        _plane_model(schema),
        [PLANE_ROW],
        schema=schema,
        class_labels=list(LABELS),
        favourable_class=LABELS[0],
        threshold=0.5,
        methods=["saliency"],
        parameters={"quality": {"infidelity": False, "sensitivity": False}},
    )[0].counterfactual
    assert stored is not None
    for option in [stored, *stored["alternatives"]]:
        assert "x" not in option["changes"]
        plausibility = option["plausibility"]
        assert plausibility["bound"] == pytest.approx(0.5)
        assert plausibility["distance"] <= plausibility["bound"]
