"""Per-language texts in the feature schema (``translations``, ``outcome_labels``)
and how ``explain.texts`` reads them, falling back to the base text with a mark."""

from __future__ import annotations

from typing import Any

import pytest

import explain
from demo import credit, diagnosis
from explain import texts
from explain.reason_vocabulary import reason_texts_check

TRANSLATIONS_MESSAGE = (
    "Must map language codes (two lower-case letters) to {label, reason, unit, "
    "categories}, each a non-empty text of at most 300 characters."
)


def _schema(**feature: Any) -> dict[str, Any]:
    return {
        "features": [
            {
                "name": "purpose",
                "label": "Purpose",
                "kind": "categorical",
                "categories": ["car (new)", "repairs"],
                "reason": "Other: purpose of the credit",
                **feature,
            }
        ]
    }


def test_translations_parse_and_are_read_per_language() -> None:
    schema = explain.parse_feature_schema(
        {
            **_schema(
                translations={
                    "de": {
                        "label": "Zweck",
                        "reason": "Zweck des Kredits",
                        "categories": {"car (new)": "ein Neuwagen"},
                    },
                    "en": {"categories": {"car (new)": "a new car"}},
                }
            ),
            "outcome_labels": {"de": {"bad": "hohes Risiko"}},
        }
    )
    spec = schema.features[0]
    assert texts.feature_label(spec, "de") == texts.Text("Zweck", False)
    assert texts.feature_reason(spec, "de") == texts.Text("Zweck des Kredits", False)
    assert texts.category_label(spec, "car (new)", "de").text == "ein Neuwagen"
    assert texts.category_label(spec, "car (new)", "en").text == "a new car"
    assert texts.outcome_label(schema, "bad", "de") == texts.Text("hohes Risiko", False)


def test_a_missing_variant_falls_back_to_the_base_text_marked() -> None:
    schema = explain.parse_feature_schema(_schema())
    spec = schema.features[0]
    # English is the base language: its own texts are no fallback
    assert texts.feature_label(spec, "en") == texts.Text("Purpose", False)
    assert texts.feature_label(spec, "de") == texts.Text("Purpose", True)
    assert texts.category_label(spec, "repairs", "de") == texts.Text("repairs", True)
    assert texts.outcome_label(schema, "bad", "de") == texts.Text("bad", True)
    # Reg B's "Other:" prefix means nothing to the person reading it
    assert texts.feature_reason(spec, "en").text == "Purpose of the credit"


@pytest.mark.parametrize(
    ("translations", "path", "message"),
    [
        ({"DE": {"label": "Zweck"}}, "features[0].translations", TRANSLATIONS_MESSAGE),
        ({"de": {"colour": "x"}}, "features[0].translations", TRANSLATIONS_MESSAGE),
        ({"de": {"label": "  "}}, "features[0].translations", TRANSLATIONS_MESSAGE),
        (
            {"de": {"label": "x" * 301}},
            "features[0].translations",
            TRANSLATIONS_MESSAGE,
        ),
        ({"de": "Zweck"}, "features[0].translations", TRANSLATIONS_MESSAGE),
        (
            {"de": {"categories": {"boat": "ein Boot"}}},
            "features[0].translations.de.categories",
            "Not declared categories: boat.",
        ),
    ],
)
def test_bad_translations_are_refused_at_their_path(
    translations: Any, path: str, message: str
) -> None:
    with pytest.raises(explain.SchemaError) as refused:
        explain.parse_feature_schema(_schema(translations=translations))
    assert refused.value.errors == {path: [message]}


def test_category_names_only_on_categorical_features() -> None:
    with pytest.raises(explain.SchemaError) as refused:
        explain.parse_feature_schema(
            {
                "features": [
                    {
                        "name": "amount",
                        "kind": "numeric",
                        "translations": {"de": {"categories": {"x": "y"}}},
                    }
                ]
            }
        )
    assert refused.value.errors == {
        "features[0].translations.de.categories": [
            "Only categorical features have category names."
        ]
    }


def test_outcome_labels_need_language_codes() -> None:
    with pytest.raises(explain.SchemaError) as refused:
        explain.parse_feature_schema(
            {**_schema(), "outcome_labels": {"german": {"bad": "schlecht"}}}
        )
    assert list(refused.value.errors) == ["outcome_labels"]


def test_the_plain_english_reason_is_held_to_the_reg_b_vocabulary() -> None:
    schema = explain.parse_feature_schema(
        _schema(translations={"en": {"reason": "Your income is too low"}})
    )
    errors = reason_texts_check(schema)
    assert list(errors) == ["features.0.translations.en.reason"]
    assert "names 'income'" in errors["features.0.translations.en.reason"][0]


def _demo_schemas() -> list[explain.FeatureSchema]:
    credit_rows, _ = credit.load_credit_rows()
    diagnosis_rows, _ = diagnosis.load_diagnosis_rows()
    return [
        explain.parse_feature_schema(credit.build_credit_schema(credit_rows[:200])),
        explain.parse_feature_schema(
            diagnosis.build_diagnosis_schema(diagnosis_rows[:100])
        ),
    ]


def test_every_demo_text_has_a_german_variant_and_plain_english_categories() -> None:
    for schema in _demo_schemas():
        assert reason_texts_check(schema) == {}
        for spec in schema.features:
            assert not texts.feature_label(spec, "de").fallback, spec.name
            assert not texts.feature_reason(spec, "de").fallback, spec.name
            assert not texts.feature_unit(spec, "de").fallback, spec.name
            for category in spec.categories:
                assert not texts.category_label(spec, category, "de").fallback
                assert spec.translations["en"]["categories"][category]
        for language in ("en", "de"):
            assert set(schema.outcome_labels[language]) == {
                *("good", "bad"),
            } or set(schema.outcome_labels[language]) == {"benign", "malignant"}
    credit_schema = _demo_schemas()[0]
    same = [
        s.name
        for s in credit_schema.features
        if texts.feature_label(s, "de").text == s.label
    ]
    assert same == []  # every German label is German
