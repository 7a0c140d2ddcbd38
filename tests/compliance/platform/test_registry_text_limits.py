"""An AI system's description and a model version's documentation have documented caps
(compliance/platform/text_limits.py), enforced by the registry services whatever the
caller (API, admin, command), and refused naming the field; the dossier prints them."""

from __future__ import annotations

import pytest

from compliance.errors import ValidationFailed
from compliance.models import AISystem
from compliance.platform import text_limits
from compliance.principals import SYSTEM_OPERATOR, Principal
from compliance.registry import services as registry
from tests import factories


def _register(org, **fields):
    return registry.ai_system_register(
        principal=Principal(organization=org, role="admin"),
        **{
            "name": "Scoring",
            "provider": "Acme",
            "intended_purpose": "Credit",
            **fields,
        },
    )


@pytest.mark.parametrize(
    ("field", "cap"),
    [
        ("intended_purpose", text_limits.INTENDED_PURPOSE),
        ("known_limitations", text_limits.KNOWN_LIMITATIONS),
        ("instructions_for_use", text_limits.INSTRUCTIONS_FOR_USE),
        ("provider", text_limits.SHORT_TEXT),
    ],
)
def test_registering_or_changing_an_ai_system_refuses_text_over_its_cap(db, field, cap):
    org = factories.make_org()
    with pytest.raises(ValidationFailed) as refused:
        _register(org, **{field: "x" * (cap + 1)})
    assert field in refused.value.errors
    assert f"at most {cap:,} characters" in refused.value.errors[field][0]
    assert not AISystem.objects.exists()
    ai = _register(org, **{field: "x" * cap})  # at the cap: fine
    with pytest.raises(ValidationFailed) as refused:
        registry.ai_system_update(
            operator=SYSTEM_OPERATOR, ai_system=ai, **{field: "y" * (cap + 1)}
        )
    assert field in refused.value.errors
    ai.refresh_from_db()
    assert getattr(ai, field) == "x" * cap


def test_changing_an_ai_system_refuses_hostile_text(db):
    ai = _register(factories.make_org())
    with pytest.raises(ValidationFailed) as refused:
        registry.ai_system_update(
            operator=SYSTEM_OPERATOR, ai_system=ai, known_limitations="a\u202eb"
        )
    assert "known_limitations" in refused.value.errors


def test_a_model_versions_training_summary_over_its_cap_is_refused(db):
    org = factories.make_org()
    ai = factories.make_ai_system(org)
    mv = factories.make_model_version(ai)
    arguments = {
        field: getattr(mv, field)
        for field in (
            "architecture",
            "hyperparameters",
            "feature_schema",
            "class_labels",
            "favourable_class",
            "decision_threshold",
        )
    }
    with pytest.raises(ValidationFailed) as refused:
        registry.model_version_register(
            principal=Principal(organization=org, role="admin"),
            ai_system=ai,
            version="9.9.9",
            weights=factories.tiny_weights(),
            training_data_summary="x" * (text_limits.TRAINING_DATA_SUMMARY + 1),
            **arguments,
        )
    assert "training_data_summary" in refused.value.errors
    assert ai.model_versions.count() == 1
