"""Notices as the person receives them: every section in English and German (text
read back from the PDF), Reg B elements exactly where they apply, no protected
attribute in any demo notice, readable English, tagged PDF/UA."""

from __future__ import annotations

import io
import re
from html import unescape
from typing import Any

import pytest
import textstat
from pypdf import PdfReader

from compliance.models import AuditEvent, Notice
from compliance.notices import notice_issue
from compliance.notices.content import excluded_features
from compliance.notices.services import notice_compose
from compliance.principals import SYSTEM_OPERATOR
from explain import parse_feature_schema
from tests.compliance.notices.conftest import notice_case

SECTIONS = {
    "en": [
        "Our decision",
        "How the decision was made",
        "The main reasons",
        "What would change the outcome",
        "Your rights",
    ],
    "de": [
        "Unsere Entscheidung",
        "Wie die Entscheidung getroffen wurde",
        "Die wichtigsten Gründe",
        "Was das Ergebnis ändern würde",
        "Ihre Rechte",
    ],
}
REG_B = [
    "Equal Credit Opportunity Act",
    "prohibits creditors from discriminating",
    "federal agency that administers compliance",
    "Consumer Financial Protection Bureau",
    "Creditor",
]
# the longest a readable notice may be, as a US school grade (Flesch-Kincaid)
MAX_GRADE = 9.0


def _pdf_text(notice: Notice) -> tuple[str, PdfReader]:
    reader = PdfReader(io.BytesIO(bytes(notice.pdf)))
    text = "\n".join(page.extract_text() for page in reader.pages)
    return re.sub(r"\s+", " ", text), reader


def visible_text(html: str) -> str:
    body = re.sub(r"<(style|title)[^>]*>.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", body))).strip()


@pytest.mark.django_db
@pytest.mark.parametrize("language", ["en", "de"])
def test_a_credit_refusal_notice_has_every_section(
    credit_refusal: Any, language: str
) -> None:
    notice = notice_issue(
        principal=SYSTEM_OPERATOR, decision=credit_refusal, language=language
    )
    text, reader = _pdf_text(notice)
    for heading in SECTIONS[language]:
        assert heading in text, heading
    assert 1 <= notice.pages <= 2
    assert credit_refusal.external_id in text  # the reference to quote
    assert notice.public_id in text
    for reason in notice.content["reasons"]:
        assert reason["value_text"] in text
    # no logits, method ids or internal ids
    for word in ("logit", "integrated_gradients", "Integrated Gradients", "infidelity"):
        assert word not in text
    assert f"#{credit_refusal.pk}" not in text
    assert notice.language == language
    assert AuditEvent.objects.filter(
        action="notice.issued", payload__notice=notice.public_id
    ).exists()


@pytest.mark.django_db
def test_reg_b_elements_for_a_us_credit_refusal(credit_refusal: Any) -> None:
    notice = notice_issue(
        principal=SYSTEM_OPERATOR, decision=credit_refusal, language="en"
    )
    text, _ = _pdf_text(notice)
    for element in REG_B:
        assert element in text, element
    assert "has refused your application for credit" in text  # action taken
    assert "1 Example Street" in text  # the creditor's address
    assert len(notice.content["reasons"]) <= 4


@pytest.mark.django_db
def test_no_reg_b_for_an_eu_diagnosis_and_the_clinician_decides(diagnosis: Any) -> None:
    notice = notice_issue(principal=SYSTEM_OPERATOR, decision=diagnosis, language="en")
    text, _ = _pdf_text(notice)
    for element in REG_B:
        assert element not in text, element
    assert "What happens next" in text
    assert "The AI system does not make the diagnosis. A doctor does." in text
    assert "Your doctor decides on your diagnosis and care" in text
    assert "What would change the outcome" not in text  # no recourse for a diagnosis
    assert notice.content["recourse"]["status"] == "not_offered"


@pytest.mark.django_db
def test_notices_are_tagged_pdf_ua(credit_refusal: Any) -> None:
    notice = notice_issue(
        principal=SYSTEM_OPERATOR, decision=credit_refusal, language="de"
    )
    _, reader = _pdf_text(notice)
    root = reader.trailer["/Root"]
    assert bool(root["/MarkInfo"]["/Marked"])
    assert "/StructTreeRoot" in root
    assert root["/Lang"] == "de"
    assert b"pdfuaid" in root["/Metadata"].get_object().get_data()


@pytest.mark.django_db
def test_a_missing_translation_is_recorded_as_a_warning(credit_refusal: Any) -> None:
    mv = credit_refusal.model_version
    schema = dict(mv.feature_schema)
    schema["features"] = [
        {k: v for k, v in f.items() if k != "translations"} for f in schema["features"]
    ]
    schema.pop("outcome_labels", None)
    type(mv).objects.filter(pk=mv.pk).update(feature_schema=schema)
    credit_refusal.refresh_from_db()
    composed = notice_compose(credit_refusal, "de")
    first = composed.content["reasons"][0]["feature"]
    assert f"no de text for the label of {first}; the base text was used" in (
        composed.warnings
    )
    assert notice_compose(credit_refusal, "en").warnings == []


def _all_demo_notices(demo_artefacts: dict[str, Any]) -> list[tuple[Any, Any]]:
    """Every adverse demo decision of both demos, each in a fresh organisation."""
    cases = []
    for name, jurisdiction in (("credit", "EU+US"), ("diagnosis", "EU")):
        manifest = demo_artefacts[name][1]
        adverse = [
            s
            for s in manifest["sample_decisions"]
            if s["outcome"] != manifest["model_version"]["favourable_class"]
        ]
        for index in range(len(adverse)):
            decision = notice_case(
                demo_artefacts,
                name,
                jurisdiction,
                index=index,
                review=index % 2 == 0,
                slug=f"{name}-all-{index}",
            )
            cases.append((name, decision))
    return cases


@pytest.mark.django_db
def test_every_demo_notice_is_faithful_readable_and_names_nothing_protected(
    demo_artefacts: dict[str, Any],
) -> None:
    grades: list[float] = []
    for _name, decision in _all_demo_notices(demo_artefacts):
        mv = decision.model_version
        schema = parse_feature_schema(mv.feature_schema)
        excluded = excluded_features(schema, mv)
        protected_labels = [s.label for s in schema.features if s.name in excluded]
        for language in ("en", "de"):
            notice = notice_issue(
                principal=SYSTEM_OPERATOR, decision=decision, language=language
            )
            assert notice.check_result["passed"], notice.check_result
            named = {r["feature"] for r in notice.content["reasons"]}
            named |= {c["feature"] for c in notice.content["recourse"]["changes"]}
            assert not named & set(excluded), (decision.external_id, named)
            reasons_text = " ".join(r["sentence"] for r in notice.content["reasons"])
            for label in protected_labels:
                assert label not in reasons_text
            if language == "en":
                grades.append(textstat.flesch_kincaid_grade(visible_text(notice.html)))
    assert len(grades) == 12
    print(  # the distribution, for the note (pytest -s)
        "Flesch-Kincaid grades of the English demo notices: "
        + ", ".join(f"{g:.1f}" for g in sorted(grades))
    )
    assert max(grades) <= MAX_GRADE, sorted(grades)
