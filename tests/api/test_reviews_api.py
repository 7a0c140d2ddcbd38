"""The final outcome and the reviews of a decision, over the API, for the client
system that submitted it (and the organisation's people), nobody else."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from compliance.principals import Principal
from compliance.reviews import review_confirm, review_record
from tests import factories

WHY = "The applicant's income was verified by phone and is sufficient."


@pytest.fixture
def finalized(world):
    """The world's decision overturned by one officer and confirmed by another."""
    second = factories.make_member(world.org, "officer", "acme-officer-2")
    overturn = review_record(
        principal=Principal(organization=world.org, role="officer", user=world.officer),
        decision=world.decision,
        action="overturn",
        justification=WHY,
    )
    review_confirm(
        principal=Principal(organization=world.org, role="officer", user=second),
        decision=world.decision,
    )
    world.decision.refresh_from_db()
    return world, overturn


def test_the_submitting_client_reads_the_final_outcome(finalized, api_as):
    world, overturn = finalized
    body = api_as("client").get(f"/api/v1/decisions/{world.decision.pk}/").json()
    assert body["status"] == "final"
    assert body["final_outcome"] == overturn.human_outcome != body["outcome"]
    assert body["final_outcome_by"] == "acme-officer"
    assert body["finalized_at"].endswith("Z")
    listed = api_as("client").get("/api/v1/decisions/").json()["results"]
    assert [d["final_outcome"] for d in listed] == [overturn.human_outcome]


def test_the_submitting_client_reads_the_reviews(finalized, api_as):
    world, overturn = finalized
    response = api_as("client").get(f"/api/v1/decisions/{world.decision.pk}/reviews/")
    assert response.status_code == 200
    [review] = response.json()
    assert review["id"] == overturn.pk
    assert review["reviewer"] == "acme-officer"
    assert review["action"] == "overturn"
    assert review["human_outcome"] == overturn.human_outcome
    assert review["justification"] == WHY
    assert review["confirmed_by"] == "acme-officer-2"
    assert review["confirmed_at"].endswith("Z")
    assert review["supersedes"] is None and review["superseded_by"] is None


def test_an_undecided_decision_has_no_final_outcome(world, api_as):
    body = api_as("client").get(f"/api/v1/decisions/{world.decision.pk}/").json()
    assert body["final_outcome"] == ""
    assert body["final_outcome_by"] is None and body["finalized_at"] is None
    reviews = api_as("client").get(f"/api/v1/decisions/{world.decision.pk}/reviews/")
    assert reviews.json() == []


def test_another_client_system_of_the_same_organisation_reads_nothing(
    finalized, api_as
):
    world, _ = finalized
    _, key = factories.make_client(world.org, "second-engine")
    neighbour = APIClient()
    neighbour.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    pk = world.decision.pk
    assert neighbour.get(f"/api/v1/decisions/{pk}/").status_code == 404
    assert neighbour.get(f"/api/v1/decisions/{pk}/reviews/").status_code == 404
    assert neighbour.get("/api/v1/decisions/").json()["results"] == []


def test_another_organisation_reads_nothing(finalized):
    world, _ = finalized
    outsider = APIClient()
    outsider.credentials(HTTP_AUTHORIZATION=f"Api-Key {world.other_client_key}")
    pk = world.decision.pk
    assert outsider.get(f"/api/v1/decisions/{pk}/").status_code == 404
    assert outsider.get(f"/api/v1/decisions/{pk}/reviews/").status_code == 404
    assert (
        api_client_as_other_officer(world)
        .get(f"/api/v1/decisions/{pk}/reviews/")
        .status_code
        == 404
    )


def api_client_as_other_officer(world):
    api = APIClient()
    api.force_login(world.other_officer)
    return api


def test_the_organisations_auditor_reads_the_reviews(finalized, api_as):
    world, _ = finalized
    response = api_as("auditor").get(f"/api/v1/decisions/{world.decision.pk}/reviews/")
    assert response.status_code == 200 and len(response.json()) == 1


def test_a_superseded_review_is_listed_with_its_successor(world, api_as):
    officer = Principal(organization=world.org, role="officer", user=world.officer)
    first = review_record(
        principal=officer, decision=world.decision, action="escalate", justification=WHY
    )
    second = review_record(
        principal=officer,
        decision=world.decision,
        action="uphold",
        justification=WHY,
        supersede_reason="The senior officer answered my question.",
    )
    rows = api_as("client").get(f"/api/v1/decisions/{world.decision.pk}/reviews/")
    assert [(r["id"], r["superseded_by"], r["supersedes"]) for r in rows.json()] == [
        (first.pk, second.pk, None),
        (second.pk, None, first.pk),
    ]
    assert rows.json()[1]["supersede_reason"] == (
        "The senior officer answered my question."
    )


def test_the_written_out_representation_matches_drfs_for_a_final_decision(finalized):
    from rest_framework import serializers

    from compliance.api.serializers import DecisionOutputSerializer
    from compliance.models import Decision

    world, _ = finalized
    decision = Decision.objects.get(pk=world.decision.pk)
    serializer = DecisionOutputSerializer(decision)
    generic = serializers.ModelSerializer.to_representation(serializer, decision)
    assert dict(serializer.data) == dict(generic)
    assert generic["final_outcome_by"] == "acme-officer"


def test_review_list_refuses_another_client_systems_decision(world):
    from compliance.errors import NotFound
    from compliance.reviews import review_list

    neighbour, _ = factories.make_client(world.org, "second-engine")
    principal = Principal(
        organization=world.org, role="client", client_system=neighbour
    )
    with pytest.raises(NotFound):
        review_list(principal=principal, decision=world.decision)


def test_an_ai_system_registers_with_its_four_eyes_setting(world, api_as):
    api = api_as("admin")
    base = {"provider": "Acme", "intended_purpose": "Triage"}
    annex = api.post(
        "/api/v1/ai-systems/",
        {**base, "name": "Annex", "annex_iii_category": "5(a)"},
        format="json",
    ).json()
    assert annex["four_eyes_overturn"] is None and annex["four_eyes_required"] is True
    off = api.post(
        "/api/v1/ai-systems/",
        {
            **base,
            "name": "Annex, one pair of eyes",
            "annex_iii_category": "5(a)",
            "four_eyes_overturn": False,
        },
        format="json",
    ).json()
    assert off["four_eyes_required"] is False
    plain = api.post(
        "/api/v1/ai-systems/", {**base, "name": "Plain"}, format="json"
    ).json()
    assert plain["four_eyes_required"] is False
