"""Hostile text (issue item 8): NUL, lone surrogates and bidirectional controls are
refused with a 400 naming the field, store nothing and leave no file behind; a NUL
audit filter selects nothing; a failed model version registration deletes the
weights it saved. Run on SQLite and on PostgreSQL (where NUL used to be a 500)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from compliance.models import (
    AISystem,
    AuditEvent,
    Decision,
    Job,
    ModelVersion,
    PreliminaryView,
    Review,
)
from compliance.platform.text import json_problem, text_problem
from compliance.principals import Principal
from compliance.registry import services as registry
from tests import factories
from tests.schemas import TINY_SCHEMA

GOOD = "Checked the application file against the model inputs; the outcome stands."
NUL, SURROGATE, RLO = "\u0000", "\ud800", "\u202e"


# --- the shared validator ---------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        (f"a{NUL}b", "NUL"),
        (f"a{SURROGATE}", "surrogate"),
        (f"loan-{RLO}1234", "U+202E"),
        ("\u2066x\u2069", "U+2066"),
        ("x\u200f", "U+200F"),
        ("x\u061c", "U+061C"),
    ],
)
def test_hostile_characters_are_named(text, needle):
    problem = text_problem(text)
    assert problem is not None and needle in problem


@pytest.mark.parametrize(
    "text", ["applicant-8f3a", "Zoë's café 🚗", "مرحبا", "שלום", "a\u200db", "\n\t"]
)
def test_ordinary_text_passes(text):
    assert text_problem(text) is None


def test_json_problems_name_the_path_of_the_first_offender():
    assert json_problem({"a": [1, {"b": f"x{NUL}"}]}) == (
        "a.1.b",
        "Must not contain NUL characters.",
    )
    assert json_problem({"a": {SURROGATE: 1}})[0] == "a.<key>"  # type: ignore[index]
    assert json_problem(["ok", f"{RLO}"])[0] == "1"  # type: ignore[index]
    assert json_problem({"a": [1, 2.5, None, True, {"b": "fine"}]}) is None


# --- API probes: each a 400 naming the field, nothing stored, no file left ---------


def _media_files() -> set[str]:
    root = Path(settings.MEDIA_ROOT)
    return {str(p) for p in root.rglob("*") if p.is_file()}


def _counts() -> tuple[int, ...]:
    models = (Decision, AISystem, ModelVersion, Job, AuditEvent)
    return tuple(m.objects.count() for m in models)


def _schema_with(**feature0: Any) -> str:
    schema = json.loads(json.dumps(TINY_SCHEMA))
    schema["features"][0].update(feature0)
    return json.dumps(schema)


def _model_version(world: Any, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "ai_system": world.ai_system.pk,
        "version": "2.0.0",
        "architecture": "logistic_regression",
        "feature_schema": json.dumps(TINY_SCHEMA),
        "class_labels": json.dumps(["good", "bad"]),
        "favourable_class": "good",
        "decision_threshold": "0.4",
        "performance_metrics": json.dumps({"roc_auc": 0.8}),
        "weights": SimpleUploadedFile("m.safetensors", factories.tiny_weights(seed=5)),
    }
    body.update(overrides)
    return body


def _decision(world: Any, **overrides: Any) -> dict[str, Any]:
    return {**factories.decision_payload(world.model_version), **overrides}


# (name, url, persona, body, format, field)
PROBES: list[tuple[str, str, str, Any, str, str]] = [
    # decisions: identifiers that could be spoofed in a dossier, and NUL / surrogates
    ("external_id RLO", "decisions", "client", {"external_id": f"loan-{RLO}9"}, "json", "external_id"),
    ("external_id LRI", "decisions", "client", {"external_id": "loan-\u2066x\u2069"}, "json", "external_id"),
    ("external_id NUL", "decisions", "client", {"external_id": f"loan{NUL}"}, "json", "external_id"),
    ("subject_ref RLO", "decisions", "client", {"subject_ref": f"app-{RLO}fa38"}, "json", "subject_ref"),
    ("subject_ref RLM", "decisions", "client", {"subject_ref": "app\u200f-1"}, "json", "subject_ref"),
    ("subject_ref surrogate", "decisions", "client", {"subject_ref": f"a{SURROGATE}"}, "json", "subject_ref"),
    ("outcome ALM", "decisions", "client", {"outcome": "good\u061c"}, "json", "outcome"),
    ("feature key surrogate", "decisions", "client", {"features": {SURROGATE: 1}}, "json", "features"),
    ("feature key NUL", "decisions", "client", {"features": {f"income{NUL}": 1}}, "json", "features"),
    # explanation parameters
    ("parameters surrogate key", "explanations", "client", {"parameters": {SURROGATE: 1}}, "json", "parameters"),
    ("parameters nested surrogate key", "explanations", "client", {"parameters": {"integrated_gradients": {SURROGATE: 1}}}, "json", "parameters"),
    ("parameters NUL value", "explanations", "client", {"parameters": {"baseline": f"x{NUL}"}}, "json", "parameters"),
    ("methods RLO", "explanations", "client", {"methods": [f"deeplift{RLO}"]}, "json", "methods"),
    # model versions: JSON documents and free text
    ("feature_schema NUL", "model-versions", "admin", {"feature_schema": _schema_with(description=f"x{NUL}")}, "multipart", "feature_schema"),
    ("feature_schema surrogate", "model-versions", "admin", {"feature_schema": _schema_with(description=SURROGATE)}, "multipart", "feature_schema"),
    ("feature_schema RLO", "model-versions", "admin", {"feature_schema": _schema_with(description=f"inc{RLO}")}, "multipart", "feature_schema"),
    ("metrics NUL key", "model-versions", "admin", {"performance_metrics": json.dumps({f"auc{NUL}": 0.8})}, "multipart", "performance_metrics"),
    ("metrics surrogate value", "model-versions", "admin", {"performance_metrics": json.dumps({"note": SURROGATE})}, "multipart", "performance_metrics"),
    ("hyperparameters NUL", "model-versions", "admin", {"hyperparameters": json.dumps({"note": NUL})}, "multipart", "hyperparameters"),
    ("hyperparameters surrogate key", "model-versions", "admin", {"hyperparameters": json.dumps({SURROGATE: 1})}, "multipart", "hyperparameters"),
    ("class_labels NUL", "model-versions", "admin", {"class_labels": json.dumps(["good", f"bad{NUL}"])}, "multipart", "class_labels"),
    ("class_labels surrogate", "model-versions", "admin", {"class_labels": json.dumps(["good", SURROGATE])}, "multipart", "class_labels"),
    ("version RLO", "model-versions", "admin", {"version": f"2.0{RLO}.0"}, "multipart", "version"),
    ("training summary RLO", "model-versions", "admin", {"training_data_summary": f"German credit {RLO}"}, "multipart", "training_data_summary"),
    # AI systems: free text shown in dossiers
    ("name RLO", "ai-systems", "admin", {"name": f"Credit {RLO}scoring", "provider": "p", "intended_purpose": "x"}, "json", "name"),
    ("purpose LRO", "ai-systems", "admin", {"name": "n", "provider": "p", "intended_purpose": "x\u202d"}, "json", "intended_purpose"),
]  # fmt: skip


def _request(world: Any, api: Any, kind: str, changes: Any) -> Any:
    if kind == "decisions":
        body = _decision(world, **changes)
        return api.post(
            "/api/v1/decisions/", json.dumps(body), content_type="application/json"
        )
    if kind == "explanations":
        url = f"/api/v1/decisions/{world.decision.pk}/explanations/"
        return api.post(url, json.dumps(changes), content_type="application/json")
    if kind == "model-versions":
        return api.post(
            "/api/v1/model-versions/",
            _model_version(world, **changes),
            format="multipart",
        )
    return api.post(f"/api/v1/{kind}/", json.dumps(changes), content_type="application/json")  # fmt: skip


@pytest.mark.parametrize(
    ("kind", "persona", "changes", "fmt", "field"),
    [p[1:] for p in PROBES],
    ids=[p[0] for p in PROBES],
)
def test_hostile_text_is_a_400_naming_the_field(world, api_as, kind, persona, changes, fmt, field):  # fmt: skip
    api = api_as(persona)  # signing in is audited: count after it
    before, files = _counts(), _media_files()
    response = _request(world, api, kind, changes)
    assert response.status_code == 400, response.content[:300]
    body = response.json()
    assert set(body) == {"code", "detail", "errors"}
    # the field itself, or an item of it ("methods.0")
    assert [k for k in body["errors"] if k.split(".")[0] == field], body
    assert _counts() == before
    assert _media_files() == files


def test_clean_probes_still_succeed(world, api_as):
    """The probes' baselines are valid requests: the 400s above are the text's."""
    client, admin = api_as("client"), api_as("admin")
    assert _request(world, client, "decisions", {}).status_code == 201
    assert _request(world, client, "explanations", {}).status_code == 202
    assert _request(world, admin, "model-versions", {}).status_code == 201


# --- failed registrations leave no weight file --------------------------------------


def _register(world: Any, version: str) -> ModelVersion:
    return registry.model_version_register(
        principal=Principal(organization=world.org, role="admin", user=world.admin),
        ai_system=world.ai_system,
        version=version,
        architecture="logistic_regression",
        hyperparameters={},
        feature_schema=TINY_SCHEMA,
        class_labels=["good", "bad"],
        favourable_class="good",
        decision_threshold=0.4,
        weights=factories.tiny_weights(seed=9),
    )


def test_a_failed_registration_deletes_the_weights_it_saved(world, monkeypatch):
    files = _media_files()

    def broken(**_: Any) -> None:
        raise RuntimeError("audit store down")

    monkeypatch.setattr(registry, "audit_event_append", broken)
    with pytest.raises(RuntimeError):
        _register(world, "3.0.0")
    assert _media_files() == files
    assert not ModelVersion.objects.filter(version="3.0.0").exists()


def test_a_failed_registration_keeps_other_versions_weights(world, monkeypatch):
    """Same weights twice: the second save gets its own file name, and deleting it on
    failure leaves the first version's file alone."""
    kept = _register(world, "3.0.0")
    files = _media_files()

    def broken(**_: Any) -> None:
        raise RuntimeError("audit store down")

    monkeypatch.setattr(registry, "audit_event_append", broken)
    with pytest.raises(RuntimeError):
        _register(world, "3.0.1")
    assert _media_files() == files
    with kept.weights.open("rb") as fh:
        assert fh.read() == factories.tiny_weights(seed=9)


# --- web: review justification, notes, audit filters --------------------------------


def _officer(world: Any, user: Any = None) -> Client:
    browser = Client()
    browser.force_login(user or world.officer)
    return browser


@pytest.mark.parametrize("bad", [NUL, RLO, "\u2067"])
def test_a_hostile_justification_is_a_form_error(world, bad):
    response = _officer(world).post(
        f"/cases/{world.decision.pk}/review",
        {"action": "uphold", "justification": f"{GOOD}{bad}"},
        follow=True,
    )
    assert response.status_code == 200
    assert "Must not contain" in response.content.decode()
    assert not Review.objects.exists()


@pytest.mark.parametrize("bad", [NUL, "\u202b"])
def test_a_hostile_preliminary_note_is_a_form_error(world, bad):
    world.ai_system.blind_first_review = True
    world.ai_system.save(update_fields=["blind_first_review"])
    response = _officer(world).post(
        f"/cases/{world.decision.pk}/preliminary",
        {"outcome": "good", "note": f"looks{bad} fine"},
        follow=True,
    )
    assert response.status_code == 200
    assert "Must not contain" in response.content.decode()
    assert not PreliminaryView.objects.exists()


def test_a_hostile_confirmation_note_is_a_form_error(world):
    _officer(world).post(
        f"/cases/{world.decision.pk}/review",
        {"action": "overturn", "justification": GOOD},
    )
    review = Review.objects.get()
    second = factories.make_member(world.org, "officer", "second-officer")
    response = _officer(world, second).post(
        f"/cases/{world.decision.pk}/confirm", {"note": f"ok{NUL}"}, follow=True
    )
    assert response.status_code == 200
    assert "Must not contain" in response.content.decode()
    review.refresh_from_db()
    assert not hasattr(review, "confirmation") or review.confirmation is None


@pytest.mark.parametrize(
    "params",
    [
        {"action": f"decision{NUL}"},
        {"object_id": f"1{NUL}"},
        {"action": "decision.submitted", "object_id": NUL},
    ],
)
def test_a_nul_audit_filter_selects_nothing(world, params):
    response = _officer(world).get("/audit/", params)
    assert response.status_code == 200
    assert list(response.context["page"].object_list) == []


def test_audit_filters_still_select(world):
    response = _officer(world).get(
        "/audit/", {"object_id": str(world.decision.pk), "action": "decision.submitted"}
    )
    assert response.status_code == 200
    assert len(response.context["page"].object_list) == 1
