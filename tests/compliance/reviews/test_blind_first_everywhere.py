"""Blind-first review hides the model's answer from a reviewer everywhere (issue 13,
item 6): the case queue, its filters, the case page, the API (decisions, their
filters, explanations, reviews, dossier PDFs) and the dossier list, until that
reviewer's preliminary view of the case is recorded. Client systems (the source of
the decision) and auditors (read-only, they never review) always see it."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.utils import timezone

from compliance.explanations import explanation_request
from compliance.jobs import jobs_process
from compliance.models import Decision, Dossier
from compliance.principals import SYSTEM_OPERATOR, Principal
from compliance.reviews import preliminary_view_record, review_record
from compliance.reviews.selectors import blind_pending, blind_pending_annotate
from tests import factories

WHY = "Checked the application file against the model inputs; the outcome stands."
HIDDEN = "hidden until your preliminary view"
REVIEWERS = ["officer", "admin"]


def _principal(world, persona: str) -> Principal:
    if persona == "client":
        return Principal(
            organization=world.org, role="client", client_system=world.client_system
        )
    return Principal(organization=world.org, role=persona, user=getattr(world, persona))


def _browser(world, persona: str) -> Client:
    browser = Client()
    browser.force_login(getattr(world, persona))
    return browser


def _preliminary(world, persona: str) -> None:
    preliminary_view_record(
        principal=_principal(world, persona),
        decision=world.decision,
        outcome=world.decision.outcome,
    )


def _blind_first(world, on: bool = True) -> None:
    world.ai_system.blind_first_review = on
    world.ai_system.save(update_fields=["blind_first_review"])
    world.decision = Decision.objects.get(pk=world.decision.pk)  # as a request reads it


@pytest.fixture
def blind(world):
    """Blind-first on for the world's AI system; its decision has a stored explanation
    and a dossier row."""
    _blind_first(world)
    explanation_request(
        principal=SYSTEM_OPERATOR, decision=world.decision, methods=["saliency"]
    )
    assert jobs_process(kind="explanation", worker="w", limit=5) >= 1
    Dossier.objects.create(
        public_id="DOS-BLIND0000001",
        decision=world.decision,
        organization=world.org,
        version=1,
        pdf=b"%PDF-1.7 test",
        sha256="cd" * 32,
        size_bytes=13,
        pages=1,
        issued_by="test",
        issued_at=timezone.now(),
    )
    return world


def _score_text(decision: Decision) -> str:
    return f"{float(decision.score):.3f}"


# --- the rule --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("persona", "hidden"),
    [("officer", True), ("admin", True), ("auditor", False), ("client", False)],
)
def test_the_rule_hides_the_answer_from_reviewers_only(blind, persona, hidden):
    principal = _principal(blind, persona)
    assert blind_pending(principal=principal, decision=blind.decision) is hidden
    annotated = blind_pending_annotate(
        principal=principal, queryset=Decision.objects.filter(pk=blind.decision.pk)
    ).get()
    assert annotated.blind_pending is hidden  # the queryset form agrees


@pytest.mark.parametrize("persona", REVIEWERS)
def test_the_rule_lifts_with_the_reviewers_own_preliminary_view(blind, persona):
    other = "admin" if persona == "officer" else "officer"
    _preliminary(blind, other)  # someone else's view lifts nothing for this one
    principal = _principal(blind, persona)
    assert blind_pending(principal=principal, decision=blind.decision)
    _preliminary(blind, persona)
    assert not blind_pending(principal=principal, decision=blind.decision)
    queryset = Decision.objects.filter(pk=blind.decision.pk)
    annotated = blind_pending_annotate(principal=principal, queryset=queryset).get()
    assert annotated.blind_pending is False


def test_without_blind_first_nothing_is_hidden(world):
    for persona in REVIEWERS:
        principal = _principal(world, persona)
        assert not blind_pending(principal=principal, decision=world.decision)


# --- the case queue and its filters ----------------------------------------------


def _queue_rows(page: str) -> list[str]:
    body = (
        page.split("<tbody>", 1)[1].split("</tbody>", 1)[0] if "<tbody>" in page else ""
    )
    return re.findall(r"<tr>(.*?)</tr>", body, flags=re.S)


@pytest.mark.parametrize("persona", REVIEWERS)
def test_the_queue_hides_outcome_score_and_final_outcome(blind, persona):
    # another reviewer looked and upheld: the final outcome is the model's outcome
    second = factories.make_member(blind.org, "officer", "acme-officer-2")
    other = Principal(organization=blind.org, role="officer", user=second)
    preliminary_view_record(
        principal=other, decision=blind.decision, outcome=blind.decision.outcome
    )
    review_record(
        principal=other, decision=blind.decision, action="uphold", justification=WHY
    )
    blind.decision.refresh_from_db()
    browser = _browser(blind, persona)
    [row] = _queue_rows(browser.get("/cases/").content.decode())
    assert HIDDEN in row
    assert _score_text(blind.decision) not in row
    # neither the outcome nor the final outcome (the uphold repeats it) is in the row
    assert re.search(rf"\b{blind.decision.outcome}\b", row) is None, row
    _preliminary(blind, persona)
    [row] = _queue_rows(browser.get("/cases/").content.decode())
    assert HIDDEN not in row
    assert _score_text(blind.decision) in row
    assert f">{blind.decision.outcome}<" in row
    assert f"Final: {blind.decision.outcome}" in row


@pytest.mark.parametrize("persona", REVIEWERS)
def test_the_queue_outcome_filter_reveals_nothing_of_hidden_cases(blind, persona):
    browser = _browser(blind, persona)
    labels = blind.model_version.class_labels
    for label in labels:  # neither outcome selects the hidden case
        page = browser.get("/cases/", {"outcome": label}).content.decode()
        assert _queue_rows(page) == []
        assert "(0 cases)" in page or "No case matches" in page
    page = browser.get("/cases/", {"outcome": labels[0]}).content.decode()
    assert "1 case whose output is hidden" in page  # says why, not what
    _preliminary(blind, persona)
    page = browser.get("/cases/", {"outcome": blind.decision.outcome}).content.decode()
    assert len(_queue_rows(page)) == 1


def test_the_queue_shows_everything_without_blind_first_and_to_auditors(blind):
    page = _browser(blind, "auditor").get(
        "/cases/", {"outcome": blind.decision.outcome}
    )
    [row] = _queue_rows(page.content.decode())
    assert _score_text(blind.decision) in row and HIDDEN not in row
    _blind_first(blind, on=False)
    page = _browser(blind, "officer").get(
        "/cases/", {"outcome": blind.decision.outcome}
    )
    [row] = _queue_rows(page.content.decode())
    assert _score_text(blind.decision) in row and HIDDEN not in row


# --- the case page -----------------------------------------------------------------


def test_the_case_page_hides_the_final_outcome_and_reviews_while_blind(blind):
    second = factories.make_member(blind.org, "officer", "acme-officer-2")
    other = Principal(organization=blind.org, role="officer", user=second)
    preliminary_view_record(
        principal=other, decision=blind.decision, outcome=blind.decision.outcome
    )
    review_record(
        principal=other, decision=blind.decision, action="uphold", justification=WHY
    )
    browser = _browser(blind, "officer")
    page = browser.get(f"/cases/{blind.decision.pk}/").content.decode()
    assert "Your preliminary view" in page
    assert "the model's outcome, upheld" not in page
    assert WHY not in page  # the other officer's review
    assert "Reproduced" not in page and "svg" not in page.split("<h1", 1)[1]
    _preliminary(blind, "officer")
    page = browser.get(f"/cases/{blind.decision.pk}/").content.decode()
    assert "the model's outcome, upheld" in page and WHY in page


# --- the dossier list page ---------------------------------------------------------


def test_the_dossier_list_offers_no_pdf_of_a_hidden_case(blind):
    browser = _browser(blind, "officer")
    dossier = Dossier.objects.get(decision=blind.decision)
    page = browser.get("/dossiers/").content.decode()
    assert f"/api/v1/dossiers/{dossier.pk}/pdf/" not in page and HIDDEN in page
    _preliminary(blind, "officer")
    page = browser.get("/dossiers/").content.decode()
    assert f"/api/v1/dossiers/{dossier.pk}/pdf/" in page
    auditor = _browser(blind, "auditor").get("/dossiers/").content.decode()
    assert f"/api/v1/dossiers/{dossier.pk}/pdf/" in auditor


# --- the API -------------------------------------------------------------------------

ANSWER = ["score", "outcome", "reproduced_score"]
FINAL = ["final_outcome"]


@pytest.mark.parametrize("persona", REVIEWERS)
def test_the_decision_api_hides_the_answer_until_the_preliminary_view(
    blind, api_as, persona
):
    api = api_as(persona)
    url = f"/api/v1/decisions/{blind.decision.pk}/"
    body = api.get(url).json()
    assert body["blind_pending"] is True
    assert all(body[f] is None for f in ANSWER + FINAL), body
    assert body["features"] == blind.decision.features  # the inputs stay
    # so do the status and the reproduction flag: why it waits, not what it says
    stored = Decision.objects.get(pk=blind.decision.pk)
    assert body["status"] == stored.status
    assert body["prediction_consistent"] is stored.prediction_consistent
    [listed] = api.get("/api/v1/decisions/").json()["results"]
    assert listed == body
    _preliminary(blind, persona)
    body = api.get(url).json()
    assert body["blind_pending"] is False
    assert body["outcome"] == blind.decision.outcome
    assert body["score"] == float(blind.decision.score)
    assert body["reproduced_score"] is not None


@pytest.mark.parametrize("persona", ["auditor", "client"])
def test_the_decision_api_shows_the_answer_to_clients_and_auditors(
    blind, api_as, persona
):
    body = api_as(persona).get(f"/api/v1/decisions/{blind.decision.pk}/").json()
    assert body["blind_pending"] is False
    assert body["outcome"] == blind.decision.outcome
    assert body["score"] == float(blind.decision.score)


@pytest.mark.parametrize("persona", REVIEWERS)
def test_the_api_outcome_filter_reveals_nothing_of_hidden_cases(blind, api_as, persona):
    api = api_as(persona)
    for label in blind.model_version.class_labels:
        body = api.get("/api/v1/decisions/", {"outcome": label}).json()
        assert body["count"] == 0, label
    _preliminary(blind, persona)
    body = api.get("/api/v1/decisions/", {"outcome": blind.decision.outcome}).json()
    assert body["count"] == 1
    auditor = api_as("auditor").get(
        "/api/v1/decisions/", {"outcome": blind.decision.outcome}
    )
    assert auditor.json()["count"] == 1


@pytest.mark.parametrize("persona", REVIEWERS)
@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/decisions/{decision}/explanations/",
        "/api/v1/decisions/{decision}/reviews/",
        "/api/v1/dossiers/{dossier}/pdf/",
    ],
)
def test_explanations_reviews_and_dossier_pdfs_wait_for_the_preliminary_view(
    blind, api_as, persona, path
):
    dossier = Dossier.objects.get(decision=blind.decision)
    url = path.format(decision=blind.decision.pk, dossier=dossier.pk)
    api = api_as(persona)
    refused = api.get(url)
    assert refused.status_code == 403
    assert refused.json()["code"] == "blind_pending"
    assert "preliminary view" in refused.json()["detail"]
    _preliminary(blind, persona)
    answered = api.get(url)
    assert answered.status_code == 200
    if "explanations" in url:
        assert [e["method"] for e in answered.json()] == ["saliency"]


@pytest.mark.parametrize("persona", ["auditor", "client"])
def test_explanations_are_shown_to_clients_and_auditors(blind, api_as, persona):
    response = api_as(persona).get(
        f"/api/v1/decisions/{blind.decision.pk}/explanations/"
    )
    assert response.status_code == 200 and len(response.json()) == 1


def test_without_blind_first_the_api_shows_a_reviewer_everything(blind, api_as):
    _blind_first(blind, on=False)
    api = api_as("officer")
    body = api.get(f"/api/v1/decisions/{blind.decision.pk}/").json()
    assert body["blind_pending"] is False and body["outcome"] is not None
    explained = api.get(f"/api/v1/decisions/{blind.decision.pk}/explanations/")
    assert explained.status_code == 200 and len(explained.json()) == 1


def test_the_schema_documents_the_marker_and_the_hidden_fields(world, api_as):
    schema = api_as("anonymous").get("/api/schema/?format=json").json()
    decision = schema["components"]["schemas"]["DecisionOutput"]
    props = decision["properties"]
    assert props["blind_pending"]["type"] == "boolean"
    assert "preliminary view" in props["blind_pending"]["description"]
    for name in ANSWER + FINAL:
        kind = props[name].get("type")
        assert (isinstance(kind, list) and "null" in kind) or props[name].get(
            "nullable"
        ), (name, props[name])


def test_the_schema_documents_the_blind_pending_refusals(world, api_as):
    schema = api_as("anonymous").get("/api/schema/?format=json").json()
    for path in [
        "/api/v1/decisions/{id}/explanations/",
        "/api/v1/decisions/{id}/reviews/",
        "/api/v1/dossiers/{id}/pdf/",
    ]:
        refused = schema["paths"][path]["get"]["responses"]["403"]
        assert "blind_pending" in refused["description"], path
        assert refused["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/Error"
        }


def test_a_blind_reviewer_cannot_confirm_an_overturn_unseen(blind):
    """Four-eyes: the overturn's outcome tells the model's answer, so a second officer
    confirms only after recording their own preliminary view."""
    from compliance.models.decisions import ReviewConfirmation

    first = Principal(organization=blind.org, role="admin", user=blind.admin)
    preliminary_view_record(
        principal=first, decision=blind.decision, outcome=blind.decision.outcome
    )
    review_record(
        principal=first, decision=blind.decision, action="overturn", justification=WHY
    )
    browser = _browser(blind, "officer")
    refused = browser.post(f"/cases/{blind.decision.pk}/confirm", follow=True)
    assert "preliminary view" in refused.content.decode()
    assert not ReviewConfirmation.objects.exists()
    _preliminary(blind, "officer")
    browser.post(f"/cases/{blind.decision.pk}/confirm")
    assert ReviewConfirmation.objects.count() == 1


def test_the_confirm_service_itself_refuses_a_blind_reviewer(blind):
    """Not only the case page: whatever calls review_confirm (a future API route, a
    command) meets the rule in the service."""
    from compliance.errors import PermissionDenied
    from compliance.models.decisions import ReviewConfirmation
    from compliance.reviews import review_confirm

    first = Principal(organization=blind.org, role="admin", user=blind.admin)
    preliminary_view_record(
        principal=first, decision=blind.decision, outcome=blind.decision.outcome
    )
    review_record(
        principal=first, decision=blind.decision, action="overturn", justification=WHY
    )
    second = _principal(blind, "officer")
    with pytest.raises(PermissionDenied, match="preliminary view"):
        review_confirm(principal=second, decision=blind.decision)
    assert not ReviewConfirmation.objects.exists()
    _preliminary(blind, "officer")
    review_confirm(principal=second, decision=blind.decision)
    assert ReviewConfirmation.objects.count() == 1
