"""Every bad submission is a 400 (or 413) naming the field path, and writes nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest

from compliance.models import AuditEvent, Decision
from tests import factories

URL = "/api/v1/decisions/"


def _post_raw(
    api: Any, body: str | bytes, content_type: str = "application/json"
) -> Any:
    return api.generic("POST", URL, body, content_type=content_type)


def _assert_rejected(
    response: Any, status: int, path: str | None, before: tuple[int, int]
) -> None:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"code", "detail", "errors"}
    if path is not None:
        assert path in body["errors"], body
        assert all(isinstance(m, str) and m for m in body["errors"][path])
    assert (Decision.objects.count(), AuditEvent.objects.count()) == before


def _counts() -> tuple[int, int]:
    return Decision.objects.count(), AuditEvent.objects.count()


def _features(**changes: Any) -> dict[str, Any]:
    features = dict(factories.VALID_FEATURES)
    for key, value in changes.items():
        if value is _DROP:
            features.pop(key)
        else:
            features[key] = value
    return features


_DROP = object()

FEATURE_CASES = [
    ("unknown feature", _features(shoe_size=42), "features.shoe_size"),
    ("missing feature", _features(income=_DROP), "features.income"),
    ("numeric as string", _features(income="2500"), "features.income"),
    ("numeric as boolean", _features(income=True), "features.income"),
    ("numeric as null", _features(income=None), "features.income"),
    ("categorical as number", _features(purpose=3), "features.purpose"),
    ("binary as string", _features(has_guarantor="yes"), "features.has_guarantor"),
    ("binary as 2", _features(has_guarantor=2), "features.has_guarantor"),
    ("below min", _features(income=-1), "features.income"),
    ("above max", _features(age=150), "features.age"),
    ("not a whole number", _features(age=35.5), "features.age"),
    ("category not declared", _features(purpose="yacht"), "features.purpose"),
    ("NaN as a string", _features(income="NaN"), "features.income"),
    ("Infinity as a string", _features(income="Infinity"), "features.income"),
    ("-Infinity as a string", _features(income="-Infinity"), "features.income"),
]


@pytest.mark.parametrize(
    ("case", "features", "path"), FEATURE_CASES, ids=[c[0] for c in FEATURE_CASES]
)
def test_it_rejects_bad_features(world, api_as, case, features, path):
    before = _counts()
    payload = factories.decision_payload(world.model_version)
    payload["features"] = features
    response = api_as("client").post(URL, payload, format="json")
    _assert_rejected(response, 400, path, before)
    assert response.json()["code"] == "validation_error"


NON_FINITE_LITERALS = ["NaN", "Infinity", "-Infinity", "1e400", "-1e400"]


@pytest.mark.parametrize("literal", NON_FINITE_LITERALS)
@pytest.mark.parametrize("where", ["feature", "score"])
def test_it_rejects_non_finite_json_literals(world, api_as, literal, where):
    before = _counts()
    payload = factories.decision_payload(world.model_version)
    placeholder = "__NONFINITE__"
    if where == "feature":
        payload["features"]["income"] = placeholder
        path = "features.income"
    else:
        payload["score"] = placeholder
        path = "score"
    body = json.dumps(payload).replace(f'"{placeholder}"', literal)
    _assert_rejected(_post_raw(api_as("client"), body), 400, path, before)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("score", 1.5),
        ("score", -0.1),
        ("score", "0.5"),
        ("score", True),
        ("score", "NaN"),
        ("outcome", "maybe"),
        ("outcome", 1),
        ("decided_at", "yesterday"),
        ("decided_at", "2026-11-20T10:15:00"),
        ("decided_at", "2999-01-01T00:00:00Z"),
        ("model_version", 999999),
        ("model_version", "abc"),
        ("model_version", True),
        ("external_id", ""),
        ("external_id", 123),
        ("external_id", "x" * 201),
        ("subject_ref", None),
        ("features", [1, 2]),
        ("features", "income=3"),
    ],
)
def test_it_rejects_bad_top_level_fields(world, api_as, field, value):
    before = _counts()
    payload = factories.decision_payload(world.model_version)
    payload[field] = value
    _assert_rejected(
        api_as("client").post(URL, payload, format="json"), 400, field, before
    )


@pytest.mark.parametrize(
    "field",
    [
        "model_version",
        "external_id",
        "subject_ref",
        "features",
        "score",
        "outcome",
        "decided_at",
    ],
)
def test_it_rejects_a_missing_top_level_field(world, api_as, field):
    before = _counts()
    payload = factories.decision_payload(world.model_version)
    del payload[field]
    _assert_rejected(
        api_as("client").post(URL, payload, format="json"), 400, field, before
    )


def test_it_rejects_an_unknown_top_level_field(world, api_as):
    before = _counts()
    payload = factories.decision_payload(world.model_version, applicant_name="Jane Doe")
    _assert_rejected(
        api_as("client").post(URL, payload, format="json"),
        400,
        "applicant_name",
        before,
    )


def test_it_rejects_a_retired_model_version(world, api_as):
    world.model_version.is_active = False
    world.model_version.save(update_fields=["is_active"])
    before = _counts()
    payload = factories.decision_payload(world.model_version)
    _assert_rejected(
        api_as("client").post(URL, payload, format="json"), 400, "model_version", before
    )


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        ("{not json", "application/json", 400),
        ("[1, 2, 3]", "application/json", 400),
        ("", "application/json", 400),
        (b"\xff\xfe\x00", "application/json", 400),
        ("[" * 5000 + "]" * 5000, "application/json", 400),
        ("model_version=1", "application/x-www-form-urlencoded", 415),
        ("<decision/>", "application/xml", 415),
    ],
    ids=["malformed", "list", "empty", "not-utf8", "deep-nesting", "form", "xml"],
)
def test_it_rejects_bodies_that_are_not_a_json_object(
    world, api_as, body, content_type, status
):
    before = _counts()
    _assert_rejected(
        _post_raw(api_as("client"), body, content_type), status, None, before
    )


def test_it_answers_413_for_a_body_over_one_mebibyte(world, api_as):
    before = _counts()
    payload = factories.decision_payload(
        world.model_version, subject_ref="x" * (1024 * 1024)
    )
    response = api_as("client").post(URL, payload, format="json")
    _assert_rejected(response, 413, None, before)
    assert response.json()["code"] == "request_too_large"


def test_a_valid_submission_is_stored_with_its_audit_event(world, api_as):
    before = _counts()
    payload = factories.decision_payload(world.model_version)
    response = api_as("client").post(URL, payload, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["external_id"] == payload["external_id"]
    assert body["prediction_consistent"] is True
    assert (Decision.objects.count(), AuditEvent.objects.count()) == (
        before[0] + 1,
        before[1] + 1,
    )
    event = AuditEvent.objects.order_by("-sequence").first()
    assert (event.action, event.object_id) == ("decision.submitted", str(body["id"]))


def test_a_score_the_model_does_not_reproduce_is_recorded_not_rejected(world, api_as):
    payload = factories.decision_payload(world.model_version)
    payload["score"] = round(1 - payload["score"], 3)
    response = api_as("client").post(URL, payload, format="json")
    assert response.status_code == 201
    assert response.json()["prediction_consistent"] is False


HUGE = "1" + "0" * 400


@pytest.mark.parametrize(
    ("where", "path"),
    [("score", "score"), ("feature", "features.income")],
)
def test_a_huge_integer_is_a_400_not_a_500(world, api_as, where, path):
    before = _counts()
    payload = factories.decision_payload(world.model_version)
    if where == "score":
        payload["score"] = "__HUGE__"
    else:
        payload["features"]["income"] = "__HUGE__"
    body = json.dumps(payload).replace('"__HUGE__"', HUGE)
    _assert_rejected(_post_raw(api_as("client"), body), 400, path, before)


@pytest.mark.parametrize(
    "query",
    [
        {"ai_system": "abc"},
    ],
)
def test_out_of_range_filters_are_a_400(world, api_as, query):
    response = api_as("officer").get(URL, query)
    assert response.status_code == 400, response.content
    assert set(query) <= set(response.json()["errors"])


@pytest.mark.parametrize(
    "query",
    [
        {"decided_after": "0001-01-01T00:00:00+05:00"},
        {"decided_before": "9999-12-31T23:59:59-05:00"},
        {"decided_after": "0300-12-23T19:53:01-21:45"},
    ],
)
def test_dates_at_the_edge_of_time_are_clamped_not_a_500(world, api_as, query):
    response = api_as("officer").get(URL, query)
    assert response.status_code == 200
    assert response.json()["count"] == 1


@pytest.mark.parametrize("value", ["9" * 30, "-1"])
def test_ids_no_row_can_have_select_nothing(world, api_as, value):
    response = api_as("officer").get(URL, {"ai_system": value, "model_version": value})
    assert response.status_code == 200 and response.json()["count"] == 0


@pytest.mark.parametrize("value", ["1.5", "-9.9e271", "null"])
def test_ids_that_are_not_whole_numbers_are_a_400(world, api_as, value):
    response = api_as("officer").get(URL, {"model_version": value})
    assert response.status_code == 400 and "model_version" in response.json()["errors"]
