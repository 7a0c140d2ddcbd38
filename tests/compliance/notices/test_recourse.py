"""Recourse a person can act on: targets rounded to whole units away from where the
person stands, and re-verified with the model (margin and plausibility)."""

from __future__ import annotations

from typing import Any

import pytest

import explain
from compliance.notices.recourse import (
    actionable_recourse,
    actionable_step,
    round_actionable,
)
from compliance.registry.loading import model_version_load

AMOUNT = explain.FeatureSpec(
    name="credit_amount", label="Credit amount", kind="numeric", unit="DM", min=0
)
RATIO = explain.FeatureSpec(name="ratio", label="Ratio", kind="numeric", min=0, max=1)
MONTHS = explain.FeatureSpec(
    name="duration", label="Duration", kind="numeric", unit="months", max=72
)


def test_whole_units_are_the_step_for_months_and_currencies() -> None:
    assert actionable_step(AMOUNT) == 1.0
    assert actionable_step(MONTHS) == 1.0
    assert actionable_step(RATIO) is None


def test_rounding_goes_away_from_where_the_person_stands() -> None:
    assert round_actionable(AMOUNT, 4870, 3127.46) == 3127  # a decrease: down
    assert round_actionable(AMOUNT, 1000, 1200.2) == 1201  # an increase: up
    assert round_actionable(MONTHS, 24, 11.3) == 11
    assert round_actionable(MONTHS, 24, 71.5) == 72  # kept inside max
    assert round_actionable(RATIO, 0.5, 0.3333) == 0.3333  # no step: as found


SCHEMA = explain.parse_feature_schema(
    {
        "features": [
            {"name": "credit_amount", "kind": "numeric", "unit": "DM", "min": 0},
            {"name": "duration", "kind": "numeric", "unit": "months", "min": 1},
        ],
        "recourse": {"margin": 0.05},
    }
)
ROW = {"credit_amount": 5000, "duration": 24}


def _scorer(threshold_amount: float) -> Any:
    """A model that refuses (probability 0.9) above ``threshold_amount`` DM and
    approves with room (0.2) at or below it; rows seen are recorded."""
    seen: list[dict[str, Any]] = []

    def score(rows: list[dict[str, Any]]) -> list[float]:
        seen.extend(rows)
        return [0.9 if r["credit_amount"] > threshold_amount else 0.2 for r in rows]

    score.seen = seen  # type: ignore[attr-defined]
    return score


def _counterfactual(to: float, alternative_to: float | None = None) -> dict[str, Any]:
    cf: dict[str, Any] = {"changes": {"credit_amount": {"from": 5000, "to": to}}}
    if alternative_to is not None:
        cf["alternatives"] = [
            {"changes": {"credit_amount": {"from": 5000, "to": alternative_to}}}
        ]
    return cf


def _recourse(cf: dict[str, Any], score: Any) -> Any:
    return actionable_recourse(
        schema=SCHEMA,
        row=ROW,
        counterfactual=cf,
        threshold=0.5,
        scored_is_favourable=False,
        score=score,
    )


def test_the_rounded_target_is_re_verified_with_the_model() -> None:
    score = _scorer(3000)
    found = _recourse(_counterfactual(2999.6), score)
    assert found.status == "found"
    assert found.changes == ({"feature": "credit_amount", "from": 5000, "to": 2999},)
    assert score.seen == [{"credit_amount": 2999, "duration": 24}]  # the rounded row
    assert found.probability_after == 0.2
    assert found.margin == 0.05


def test_an_option_that_no_longer_clears_the_margin_is_not_offered() -> None:
    # 0.47 is below the threshold 0.5 but not by the margin 0.05: not offered; the
    # alternative that clears it is
    def score(rows: list[dict[str, Any]]) -> list[float]:
        return [0.47 if r["credit_amount"] > 2000 else 0.1 for r in rows]

    found = _recourse(_counterfactual(2999.6, alternative_to=1500.4), score)
    assert found.status == "found"
    assert found.option == 1
    assert found.changes[0]["to"] == 1500


def test_no_option_that_holds_is_said_plainly() -> None:
    found = _recourse(_counterfactual(2999.6), _scorer(100))
    assert found.status == "none"
    assert found.note == "none_held_after_rounding"
    assert _recourse({}, _scorer(100)).status == "none"


def test_a_change_of_an_excluded_feature_is_never_offered() -> None:
    found = actionable_recourse(
        schema=SCHEMA,
        row=ROW,
        counterfactual=_counterfactual(2999.6),
        threshold=0.5,
        scored_is_favourable=False,
        score=_scorer(3000),
        excluded=("credit_amount",),
    )
    assert found.status == "none"


@pytest.mark.django_db
def test_the_demo_recourse_clears_the_margin_by_the_real_model(
    credit_refusal: Any,
) -> None:
    from compliance.notices.services import notice_compose

    content = notice_compose(credit_refusal, "en").content
    recourse = content["recourse"]
    assert recourse["status"] == "found"
    mv = credit_refusal.model_version
    model, schema = model_version_load(mv)
    row = dict(credit_refusal.features)
    for change in recourse["changes"]:
        spec = schema.by_name()[change["feature"]]
        if spec.kind == "numeric" and actionable_step(spec):
            assert float(change["to"]).is_integer()
        row[change["feature"]] = change["to"]
    probability = float(explain.predict_proba(model, schema.encode([row]))[0])
    assert probability == pytest.approx(recourse["probability_after"])
    assert probability <= mv.decision_threshold - recourse["margin"]
