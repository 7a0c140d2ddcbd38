"""The case page: the final outcome at the top, a second officer's confirmation of a
four-eyes overturn, and a reviewer superseding their own review with a reason."""

from __future__ import annotations

import pytest
from django.test import Client

from compliance.models import AuditEvent, Decision, Review
from tests import factories

WHY = "Checked the application file against the model inputs; it does not hold."
BECAUSE = "The payslip I relied on was the wrong year."


@pytest.fixture
def second_officer(world):
    return factories.make_member(world.org, "officer", "acme-officer-2")


def _browser(user):
    browser = Client()
    browser.force_login(user)
    return browser


def _page(browser, world):
    return browser.get(f"/cases/{world.decision.pk}/").content.decode()


def test_a_four_eyes_overturn_is_confirmed_by_a_second_officer_on_the_page(
    world, second_officer
):
    first = _browser(world.officer)
    first.post(
        f"/cases/{world.decision.pk}/review",
        {"action": "overturn", "justification": WHY},
    )
    page = _page(first, world)
    assert "a second officer must confirm it (four-eyes)" in page
    assert "Confirm the overturn" not in page  # not for the overturn's own reviewer
    # the reviewer cannot confirm by posting either
    refused = first.post(f"/cases/{world.decision.pk}/confirm", follow=True)
    assert "not by its reviewer" in refused.content.decode()
    assert not AuditEvent.objects.filter(action="review.confirmed").exists()

    second = _browser(second_officer)
    assert "Confirm the overturn" in _page(second, world)
    done = second.post(f"/cases/{world.decision.pk}/confirm", follow=True)
    assert "Overturn confirmed; the decision is final." in done.content.decode()
    decision = Decision.objects.get(pk=world.decision.pk)
    assert decision.status == Decision.Status.FINAL
    page = _page(second, world)
    final = page[page.index('id="final-h"') : page.index('id="rev-h"')]
    assert decision.final_outcome in final and "overturned" in final
    assert "confirmed by acme-officer-2" in page


def test_an_auditor_cannot_confirm(world):
    _browser(world.officer).post(
        f"/cases/{world.decision.pk}/review",
        {"action": "overturn", "justification": WHY},
    )
    auditor = _browser(world.auditor)
    assert "Confirm the overturn" not in _page(auditor, world)
    assert auditor.post(f"/cases/{world.decision.pk}/confirm").status_code == 403


def test_a_reviewer_changes_their_review_only_with_a_reason(world):
    officer = _browser(world.officer)
    url = f"/cases/{world.decision.pk}/review"
    officer.post(url, {"action": "uphold", "justification": WHY})
    page = _page(officer, world)
    assert "the model's outcome, upheld" in page
    assert 'name="supersede_reason"' in page
    refused = officer.post(
        url, {"action": "escalate", "justification": WHY}, follow=True
    )
    assert "Say why your review changes" in refused.content.decode()
    assert Review.objects.count() == 1
    officer.post(
        url, {"action": "escalate", "justification": WHY, "supersede_reason": BECAUSE}
    )
    assert Review.objects.count() == 2
    page = _page(officer, world)
    assert BECAUSE in page and "(superseded)" in page
    assert Decision.objects.get(pk=world.decision.pk).status == "escalated"
