"""Every free-text field a reviewer writes has a documented maximum
(compliance/platform/text_limits.py): longer text is refused naming the field (the
service, so every adapter) and shown as a form error on the case page; nothing is
stored and nothing is silently cut."""

from __future__ import annotations

import pytest
from django.test import Client

from compliance.errors import ValidationFailed
from compliance.models import AuditEvent, PreliminaryView, Review
from compliance.models.decisions import ReviewConfirmation
from compliance.platform import text_limits
from compliance.principals import Principal
from compliance.reviews import (
    MAX_JUSTIFICATION,
    preliminary_view_record,
    review_confirm,
    review_record,
)
from tests import factories

WHY = "Checked the application file against the model inputs; it does not hold. "


def _officer(world, user=None) -> Principal:
    return Principal(organization=world.org, role="officer", user=user or world.officer)


def _text(length: int) -> str:
    return (WHY * (length // len(WHY) + 1))[: length - 1] + "."


def test_the_caps_are_documented_in_one_place():
    assert MAX_JUSTIFICATION == text_limits.REVIEW_JUSTIFICATION == 4000
    assert text_limits.FREE_TEXT_MAX == {
        "statement": 5000,
        "justification": 4000,
        "supersede_reason": 2000,
        "confirmation_note": 2000,
        "preliminary_note": 2000,
        "reissue_reason": 2000,
        "intended_purpose": 5000,
        "instructions_for_use": 20000,
        "known_limitations": 20000,
        "training_data_summary": 20000,
    }


def test_a_justification_over_the_cap_is_refused_naming_the_field(world):
    with pytest.raises(ValidationFailed) as info:
        review_record(
            principal=_officer(world),
            decision=world.decision,
            action="uphold",
            justification=_text(MAX_JUSTIFICATION + 1),
        )
    assert list(info.value.errors) == ["justification"]
    assert (
        "at most 4,000 characters (this has 4,001)"
        in info.value.errors["justification"][0]
    )
    assert not Review.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="review.").exists()
    # exactly at the cap is accepted, whole (surrounding whitespace does not count)
    review = review_record(
        principal=_officer(world),
        decision=world.decision,
        action="escalate",
        justification="  " + _text(MAX_JUSTIFICATION) + "\n",
    )
    assert len(review.justification) == MAX_JUSTIFICATION


def test_a_supersede_reason_over_the_cap_is_refused(world):
    review_record(
        principal=_officer(world),
        decision=world.decision,
        action="escalate",
        justification=_text(60),
    )
    with pytest.raises(ValidationFailed) as info:
        review_record(
            principal=_officer(world),
            decision=world.decision,
            action="escalate",
            justification=_text(60),
            supersede_reason=_text(text_limits.SUPERSEDE_REASON + 1),
        )
    assert list(info.value.errors) == ["supersede_reason"]
    assert Review.objects.count() == 1


def test_a_confirmation_note_over_the_cap_is_refused_not_cut(world):
    review_record(
        principal=_officer(world),
        decision=world.decision,
        action="overturn",
        justification=_text(60),
    )
    second = factories.make_member(world.org, "officer", "acme-officer-2")
    with pytest.raises(ValidationFailed) as info:
        review_confirm(
            principal=_officer(world, second),
            decision=world.decision,
            note=_text(text_limits.CONFIRMATION_NOTE + 1),
        )
    assert list(info.value.errors) == ["note"]
    assert not ReviewConfirmation.objects.exists()


def test_a_preliminary_note_over_the_cap_is_refused_not_cut(world):
    with pytest.raises(ValidationFailed) as info:
        preliminary_view_record(
            principal=_officer(world),
            decision=world.decision,
            outcome=world.decision.outcome,
            note=_text(text_limits.PRELIMINARY_NOTE + 1),
        )
    assert list(info.value.errors) == ["note"]
    assert not PreliminaryView.objects.exists()


def test_the_case_page_shows_the_cap_as_a_form_error(world):
    browser = Client()
    browser.force_login(world.officer)
    page = browser.post(
        f"/cases/{world.decision.pk}/review",
        {"action": "uphold", "justification": _text(888_000)},
        follow=True,
    ).content.decode()
    assert "Justification: at most 4,000 characters (this has 888,000)." in page
    assert "Your review was recorded." not in page
    assert not Review.objects.exists()


def test_the_case_page_text_boxes_carry_the_caps_as_maxlength(world):
    """The browser stops typing at the cap the service enforces."""
    world.ai_system.blind_first_review = True
    world.ai_system.save(update_fields=["blind_first_review"])
    browser = Client()
    browser.force_login(world.officer)
    blind_page = browser.get(f"/cases/{world.decision.pk}/").content.decode()
    assert f'name="note" rows="2" maxlength="{text_limits.PRELIMINARY_NOTE}"' in (
        blind_page
    )
    world.ai_system.blind_first_review = False
    world.ai_system.save(update_fields=["blind_first_review"])
    page = browser.get(f"/cases/{world.decision.pk}/").content.decode()
    assert f'maxlength="{text_limits.REVIEW_JUSTIFICATION}"' in page
