"""The faithfulness checker: a notice whose reasons, directions or numbers differ from
the stored record fails, one alteration at a time; a failing notice is not issued and
the refusal is audited."""

from __future__ import annotations

import copy
from typing import Any
from unittest import mock

import pytest

from compliance.models import AuditEvent, Notice
from compliance.notices import NoticeUnfaithful, notice_check, notice_issue
from compliance.notices.render import notice_html
from compliance.notices.services import notice_compose
from compliance.principals import SYSTEM_OPERATOR


def _composed(decision: Any, language: str = "en") -> tuple[dict[str, Any], str]:
    content = notice_compose(decision, language).content
    return content, notice_html(content, public_id="NOT-TEST", version=1)


def _check(decision: Any, content: dict[str, Any]) -> list[str]:
    html = notice_html(content, public_id="NOT-TEST", version=1)
    return notice_check(content, html, decision=decision).failures


@pytest.mark.django_db
def test_the_notice_as_written_passes(credit_refusal: Any) -> None:
    content, html = _composed(credit_refusal)
    result = notice_check(content, html, decision=credit_refusal)
    assert result.passed, result.failures
    assert len(content["reasons"]) == 4
    assert content["recourse"]["status"] == "found"


@pytest.mark.django_db
def test_reasons_in_another_order_fail(credit_refusal: Any) -> None:
    content, _ = _composed(credit_refusal)
    altered = copy.deepcopy(content)
    altered["reasons"][0], altered["reasons"][1] = (
        altered["reasons"][1],
        altered["reasons"][0],
    )
    failures = _check(credit_refusal, altered)
    assert any("out of order" in f for f in failures), failures


@pytest.mark.django_db
def test_a_flipped_direction_fails(credit_refusal: Any) -> None:
    content, _ = _composed(credit_refusal)
    altered = copy.deepcopy(content)
    altered["reasons"][2]["direction"] = "favourable"
    failures = _check(credit_refusal, altered)
    name = altered["reasons"][2]["feature"]
    assert any(f.startswith(f"{name}: stated favourable") for f in failures), failures


@pytest.mark.django_db
def test_an_altered_value_fails(credit_refusal: Any) -> None:
    content, _ = _composed(credit_refusal)
    altered = copy.deepcopy(content)
    reason = next(r for r in altered["reasons"] if isinstance(r["value"], int))
    reason["value"] += 1
    failures = _check(credit_refusal, altered)
    assert any("the decision's input" in f for f in failures), failures


@pytest.mark.django_db
def test_a_sentence_that_misquotes_the_value_fails(credit_refusal: Any) -> None:
    content, _ = _composed(credit_refusal)
    altered = copy.deepcopy(content)
    reason = altered["reasons"][0]
    reason["sentence"] = reason["sentence"].replace(reason["value_text"], "999")
    failures = _check(credit_refusal, altered)
    assert any("does not quote the value" in f for f in failures), failures


@pytest.mark.django_db
def test_an_altered_counterfactual_target_fails(credit_refusal: Any) -> None:
    content, _ = _composed(credit_refusal)
    altered = copy.deepcopy(content)
    change = altered["recourse"]["changes"][0]
    change["to"] = change["from"]
    failures = _check(credit_refusal, altered)
    assert any("target" in f for f in failures), failures


@pytest.mark.django_db
def test_a_protected_attribute_named_fails(credit_refusal: Any) -> None:
    content, _ = _composed(credit_refusal)
    altered = copy.deepcopy(content)
    altered["reasons"][3]["feature"] = "age_in_years"
    failures = _check(credit_refusal, altered)
    assert any("age_in_years is named though it is protected" in f for f in failures)


@pytest.mark.django_db
def test_html_that_drops_a_reason_fails(credit_refusal: Any) -> None:
    content, html = _composed(credit_refusal)
    sentence = content["reasons"][1]["sentence"]
    cut = html.replace(sentence, "")
    assert not notice_check(content, cut, decision=credit_refusal).passed


@pytest.mark.django_db
def test_an_unfaithful_notice_is_not_issued_and_the_refusal_is_audited(
    credit_refusal: Any,
) -> None:
    real = notice_compose

    def swapped(decision: Any, language: str) -> Any:
        composed = real(decision, language)
        reasons = composed.content["reasons"]
        reasons[0], reasons[1] = reasons[1], reasons[0]
        return composed

    with (
        mock.patch("compliance.notices.services.notice_compose", swapped),
        pytest.raises(NoticeUnfaithful) as refused,
    ):
        notice_issue(principal=SYSTEM_OPERATOR, decision=credit_refusal, language="en")
    assert "out of order" in refused.value.detail
    assert not Notice.objects.filter(decision=credit_refusal).exists()
    event = AuditEvent.objects.get(action="notice.refused")
    assert event.payload["language"] == "en"
    assert any("out of order" in f for f in event.payload["failures"])
