"""A decision's final outcome: uphold and overturn make it final, four-eyes overturns
wait for a second officer, a reviewer never silently contradicts their own review."""

from __future__ import annotations

import pytest

from compliance.errors import Conflict, PermissionDenied
from compliance.models import AuditEvent, Decision, Review
from compliance.principals import Operator, Principal
from compliance.registry import services as registry
from compliance.reviews import (
    review_awaiting_confirmation,
    review_confirm,
    review_record,
)
from tests import factories

WHY = "The applicant's income was verified by phone and is sufficient."
BECAUSE = "I misread the payslip on my first pass."


def _officer(world, user=None):
    return Principal(organization=world.org, role="officer", user=user or world.officer)


@pytest.fixture
def second_officer(world):
    return factories.make_member(world.org, "officer", "acme-officer-2")


def _four_eyes(world, on):
    registry.ai_system_update(
        operator=Operator(), ai_system=world.ai_system, four_eyes_overturn=on
    )
    world.decision.refresh_from_db()


def _events(action):
    return AuditEvent.objects.filter(action=action)


def test_an_uphold_makes_the_decision_final_with_the_models_outcome(world):
    review_record(
        principal=_officer(world),
        decision=world.decision,
        action="uphold",
        justification=WHY,
    )
    decision = Decision.objects.get(pk=world.decision.pk)
    assert decision.status == Decision.Status.FINAL
    assert decision.final_outcome == decision.outcome
    assert decision.final_outcome_by == world.officer and decision.finalized_at
    event = _events("review.uphold").get()
    assert event.payload["old"]["status"] == "unreviewed"
    assert event.payload["new"] == {
        "status": "final",
        "final_outcome": decision.outcome,
        "final_outcome_by": world.officer.pk,
    }


def test_annex_iii_systems_need_four_eyes_by_default(world):
    assert world.ai_system.annex_iii_category
    assert world.ai_system.four_eyes_overturn is None
    assert world.ai_system.four_eyes_required
    plain = factories.make_ai_system(world.org, "No annex")
    registry.ai_system_update(
        operator=Operator(), ai_system=plain, annex_iii_category=""
    )
    plain.refresh_from_db()
    assert not plain.four_eyes_required


def test_a_four_eyes_overturn_waits_for_a_second_officer(world, second_officer):
    overturn = review_record(
        principal=_officer(world),
        decision=world.decision,
        action="overturn",
        justification=WHY,
    )
    decision = Decision.objects.get(pk=world.decision.pk)
    assert decision.status == Decision.Status.REVIEWED
    assert decision.final_outcome == "" and decision.finalized_at is None
    assert review_awaiting_confirmation(decision=decision) == overturn
    assert _events("review.confirmation_requested").get().payload["review"] == (
        overturn.pk
    )

    # the reviewer cannot confirm their own overturn
    with pytest.raises(PermissionDenied):
        review_confirm(principal=_officer(world), decision=decision)
    assert not _events("review.confirmed").exists()

    review_confirm(
        principal=_officer(world, second_officer), decision=decision, note="Agreed."
    )
    decision.refresh_from_db()
    assert decision.status == Decision.Status.FINAL
    assert decision.final_outcome == overturn.human_outcome != decision.outcome
    assert decision.final_outcome_by == world.officer
    confirmed = _events("review.confirmed").get()
    assert confirmed.actor.endswith("acme-officer-2")
    assert confirmed.payload["old"]["status"] == "reviewed"
    assert confirmed.payload["new"]["final_outcome"] == overturn.human_outcome
    # nothing waits any more
    with pytest.raises(Conflict):
        review_confirm(principal=_officer(world, second_officer), decision=decision)


def test_without_four_eyes_an_overturn_is_final_at_once(world):
    _four_eyes(world, False)
    overturn = review_record(
        principal=_officer(world),
        decision=world.decision,
        action="overturn",
        justification=WHY,
    )
    decision = Decision.objects.get(pk=world.decision.pk)
    assert decision.status == Decision.Status.FINAL
    assert decision.final_outcome == overturn.human_outcome
    assert not _events("review.confirmation_requested").exists()


def test_an_auditor_may_not_confirm(world, second_officer):
    review_record(
        principal=_officer(world),
        decision=world.decision,
        action="overturn",
        justification=WHY,
    )
    auditor = Principal(organization=world.org, role="auditor", user=world.auditor)
    with pytest.raises(PermissionDenied):
        review_confirm(principal=auditor, decision=world.decision)


def test_an_escalation_leaves_the_decision_open(world):
    review_record(
        principal=_officer(world),
        decision=world.decision,
        action="escalate",
        justification=WHY,
    )
    decision = Decision.objects.get(pk=world.decision.pk)
    assert decision.status == Decision.Status.ESCALATED and not decision.final_outcome


def test_the_same_reviewers_contradicting_review_is_refused_without_a_reason(world):
    _four_eyes(world, False)
    review_record(
        principal=_officer(world),
        decision=world.decision,
        action="uphold",
        justification=WHY,
    )
    events = AuditEvent.objects.count()
    with pytest.raises(Conflict) as refused:
        review_record(
            principal=_officer(world),
            decision=world.decision,
            action="overturn",
            justification=WHY,
        )
    assert "supersede_reason" in refused.value.errors
    assert Review.objects.count() == 1 and AuditEvent.objects.count() == events
    decision = Decision.objects.get(pk=world.decision.pk)
    assert decision.final_outcome == decision.outcome


def test_the_same_reviewer_supersedes_their_review_with_a_reason(world):
    _four_eyes(world, False)
    first = review_record(
        principal=_officer(world),
        decision=world.decision,
        action="uphold",
        justification=WHY,
    )
    second = review_record(
        principal=_officer(world),
        decision=world.decision,
        action="overturn",
        justification=WHY,
        supersede_reason=BECAUSE,
    )
    assert second.supersedes == first and second.supersede_reason == BECAUSE
    first.refresh_from_db()
    assert first.superseded_by == second  # the first row itself is unchanged
    assert first.action == "uphold"
    decision = Decision.objects.get(pk=world.decision.pk)
    assert decision.final_outcome == second.human_outcome
    event = _events("review.overturn").get()
    assert event.payload["supersedes"] == {"review": first.pk, "action": "uphold"}
    assert event.payload["supersede_reason"] == BECAUSE
    assert event.payload["old"]["final_outcome"] == decision.outcome


def test_a_final_decision_takes_no_review_from_someone_else(world, second_officer):
    review_record(
        principal=_officer(world),
        decision=world.decision,
        action="uphold",
        justification=WHY,
    )
    with pytest.raises(Conflict):
        review_record(
            principal=_officer(world, second_officer),
            decision=world.decision,
            action="overturn",
            justification=WHY,
            supersede_reason=BECAUSE,
        )
    assert Review.objects.count() == 1


def test_a_superseding_overturn_on_a_four_eyes_system_waits_again(
    world, second_officer
):
    review_record(
        principal=_officer(world),
        decision=world.decision,
        action="uphold",
        justification=WHY,
    )
    review_record(
        principal=_officer(world),
        decision=world.decision,
        action="overturn",
        justification=WHY,
        supersede_reason=BECAUSE,
    )
    decision = Decision.objects.get(pk=world.decision.pk)
    assert decision.status == Decision.Status.REVIEWED
    assert decision.final_outcome == "" and decision.final_outcome_by is None
    review_confirm(principal=_officer(world, second_officer), decision=decision)
    decision.refresh_from_db()
    assert decision.status == Decision.Status.FINAL


def test_another_officers_review_of_a_waiting_overturn_replaces_it(
    world, second_officer
):
    review_record(
        principal=_officer(world),
        decision=world.decision,
        action="overturn",
        justification=WHY,
    )
    review_record(
        principal=_officer(world, second_officer),
        decision=world.decision,
        action="uphold",
        justification=WHY,
    )
    decision = Decision.objects.get(pk=world.decision.pk)
    assert decision.status == Decision.Status.FINAL
    assert decision.final_outcome == decision.outcome
    assert review_awaiting_confirmation(decision=decision) is None


def test_review_services_refuse_a_denied_principal_before_writing(world):
    auditor = Principal(organization=world.org, role="auditor", user=world.auditor)
    with pytest.raises(PermissionDenied):
        review_confirm(principal=auditor, decision=world.decision)
    other = Principal(
        organization=world.other_org, role="officer", user=world.other_officer
    )
    from compliance.errors import NotFound

    with pytest.raises(NotFound):
        review_confirm(principal=other, decision=world.decision)
