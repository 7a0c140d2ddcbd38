"""Every page: allowed and denied per role, other organisations' cases 404, auditors
cannot POST, a review needs a justification."""

from __future__ import annotations

import pytest
from django.test import Client

from compliance.jobs import jobs_process
from compliance.models import AuditEvent, Decision, Job, Review

GOOD = "Checked the application file against the model inputs; the outcome stands."


def _as(world, persona: str) -> Client:
    browser = Client()
    user = {
        "officer": world.officer,
        "auditor": world.auditor,
        "admin": world.admin,
        "other_org": world.other_officer,
    }.get(persona)
    if user is not None:
        browser.force_login(user)
    return browser


PAGES = [
    lambda w: "/cases/",
    lambda w: f"/cases/{w.decision.pk}/",
    lambda w: "/dossiers/",
    lambda w: "/dossiers/verify",
    lambda w: "/audit/",
]


@pytest.mark.parametrize("page", range(len(PAGES)))
@pytest.mark.parametrize("persona", ["officer", "auditor", "admin"])
def test_members_see_every_page(world, page, persona):
    response = _as(world, persona).get(PAGES[page](world))
    assert response.status_code == 200
    assert "script-src 'self'" in response["Content-Security-Policy"]
    assert (
        "unsafe-inline"
        not in response["Content-Security-Policy"].split("script-src")[1].split(";")[0]
    )


@pytest.mark.parametrize("page", range(len(PAGES)))
def test_anonymous_visitors_are_sent_to_sign_in(world, page):
    response = Client().get(PAGES[page](world))
    assert response.status_code == 302 and response["Location"].startswith(
        "/accounts/login/"
    )


def test_a_person_without_a_role_is_refused(world):
    from django.contrib.auth import get_user_model

    browser = Client()
    browser.force_login(get_user_model().objects.create_user("drifter", password="x"))
    response = browser.get("/cases/")
    assert response.status_code == 403 and b"Not allowed" in response.content


def test_another_organisations_case_is_404(world):
    assert (
        _as(world, "other_org").get(f"/cases/{world.decision.pk}/").status_code == 404
    )
    for action in ("review", "explain", "dossier"):
        response = _as(world, "other_org").post(
            f"/cases/{world.decision.pk}/{action}",
            {"action": "uphold", "justification": GOOD},
        )
        assert response.status_code == 404


def test_the_queue_shows_only_the_organisations_cases_with_counts(world):
    page = _as(world, "officer").get("/cases/").content.decode()
    assert world.decision.external_id in page
    assert world.other_decision.external_id not in page
    assert "1</strong> unreviewed" in page


def test_the_queue_filters(world):
    browser = _as(world, "officer")
    assert (
        world.decision.external_id
        in browser.get("/cases/", {"status": "unreviewed"}).content.decode()
    )
    assert (
        world.decision.external_id
        not in browser.get("/cases/", {"status": "escalated"}).content.decode()
    )
    assert (
        world.decision.external_id
        not in browser.get("/cases/", {"flag": "not_reproduced"}).content.decode()
    )
    assert (
        browser.get(
            "/cases/", {"decided_after": "not-a-date", "page": "99"}
        ).status_code
        == 200
    )


@pytest.mark.parametrize("action", ["review", "explain", "dossier"])
def test_auditors_cannot_post(world, action):
    auditor = _as(world, "auditor")  # signing in is itself an audit event
    before = (
        Review.objects.count(),
        Job.objects.count(),
        AuditEvent.objects.count(),
    )
    response = auditor.post(
        f"/cases/{world.decision.pk}/{action}",
        {"action": "uphold", "justification": GOOD},
    )
    assert response.status_code == 403
    assert (
        Review.objects.count(),
        Job.objects.count(),
        AuditEvent.objects.count(),
    ) == before


def test_auditors_see_no_review_or_issue_buttons(world):
    page = _as(world, "auditor").get(f"/cases/{world.decision.pk}/").content.decode()
    assert "Record review" not in page and "Issue dossier" not in page
    officer_page = (
        _as(world, "officer").get(f"/cases/{world.decision.pk}/").content.decode()
    )
    assert "Record review" in officer_page and "Issue dossier" in officer_page


@pytest.mark.parametrize("justification", ["", "ok", "   looks fine   "])
def test_a_review_needs_a_written_justification(world, justification):
    response = _as(world, "officer").post(
        f"/cases/{world.decision.pk}/review",
        {"action": "uphold", "justification": justification},
        follow=True,
    )
    assert "Write at least 30 characters." in response.content.decode()
    assert not Review.objects.exists()


@pytest.mark.parametrize(
    ("action", "status", "human"),
    [
        ("uphold", Decision.Status.FINAL, ""),
        # an Annex III system: the overturn waits for a second officer (four-eyes)
        ("overturn", Decision.Status.REVIEWED, "other"),
        ("escalate", Decision.Status.ESCALATED, ""),
    ],
)
def test_a_review_is_recorded_beside_the_untouched_decision(
    world, action, status, human
):
    outcome = world.decision.outcome
    response = _as(world, "officer").post(
        f"/cases/{world.decision.pk}/review",
        {"action": action, "justification": GOOD},
        follow=True,
    )
    assert "Your review was recorded." in response.content.decode()
    review = Review.objects.get()
    world.decision.refresh_from_db()
    assert world.decision.outcome == outcome and world.decision.status == status
    if human:
        assert review.human_outcome and review.human_outcome != outcome
    assert AuditEvent.objects.filter(action=f"review.{action}").exists()
    assert GOOD in response.content.decode()


def test_requesting_an_explanation_shows_the_job(world):
    response = _as(world, "officer").post(f"/cases/{world.decision.pk}/explain")
    job = Job.objects.get()
    assert response.status_code == 302 and response["Location"].endswith(
        f"?job={job.pk}"
    )
    page = _as(world, "officer").get(response["Location"]).content.decode()
    assert f'data-job-url="/api/v1/jobs/{job.pk}/"' in page


def test_issuing_a_dossier_without_an_explanation_says_what_is_missing(world):
    response = _as(world, "officer").post(
        f"/cases/{world.decision.pk}/dossier", follow=True
    )
    assert "an explanation of the decision" in response.content.decode()


def test_the_audit_page_verifies_the_chain(world):
    """As a job for the auditor's organisation only, reporting only its count."""
    response = _as(world, "auditor").post("/audit/")
    assert response.status_code == 302
    job = Job.objects.get(kind="audit_verify")
    assert job.organization == world.org and job.decision is None
    assert response["Location"] == f"/audit/?verification={job.pk}"
    pending = _as(world, "auditor").get(response["Location"])
    assert "Checking the chain" in pending.content.decode()
    assert pending["Refresh"] == "2"
    assert jobs_process(kind="audit_verify", worker="test", limit=1) == 1
    own = AuditEvent.objects.filter(organization=world.org).count() - 1  # its event
    assert own < AuditEvent.objects.count()
    page = _as(world, "auditor").get(response["Location"]).content.decode()
    assert f"Chain intact: {own} events of {world.org.name} verified" in page
    assert AuditEvent.objects.filter(
        action="audit_verify.done", organization=world.org
    ).exists()
    # another organisation's officer sees nothing of it
    other = _as(world, "other_org").get(response["Location"]).content.decode()
    assert "Chain intact" not in other and "Checking the chain" not in other
    filtered = (
        _as(world, "auditor")
        .get("/audit/", {"action": "decision.submitted"})
        .content.decode()
    )
    assert "decision.submitted" in filtered and "api_key.created</td>" not in filtered


def test_the_verify_page_answers_for_unknown_files(world):
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = _as(world, "auditor").post(
        "/dossiers/verify", {"pdf": SimpleUploadedFile("x.pdf", b"%PDF-1.7 not ours")}
    )
    assert "Not issued by this service" in response.content.decode()
    assert (
        "Choose a PDF"
        in _as(world, "auditor").post("/dossiers/verify").content.decode()
    )


def test_people_land_on_the_case_queue(world):
    assert _as(world, "officer").get("/")["Location"] == "/cases/"
    assert Client().get("/").status_code == 200


def test_blind_first_review_hides_the_output_until_a_preliminary_view(world):
    world.ai_system.blind_first_review = True
    world.ai_system.save(update_fields=["blind_first_review"])
    officer = _as(world, "officer")
    page = officer.get(f"/cases/{world.decision.pk}/").content.decode()
    assert "Your preliminary view" in page and "Reproduced" not in page
    assert "Record review" not in page
    refused = officer.post(
        f"/cases/{world.decision.pk}/review",
        {"action": "uphold", "justification": GOOD},
        follow=True,
    )
    assert "Record your preliminary view before reviewing." in refused.content.decode()
    assert not Review.objects.exists()
    officer.post(f"/cases/{world.decision.pk}/preliminary", {"outcome": "good"})
    page = officer.get(f"/cases/{world.decision.pk}/").content.decode()
    assert "Reproduced" in page and "Record review" in page
    event = AuditEvent.objects.get(action="review.preliminary_view")
    assert event.payload["agrees_with_model"] == (world.decision.outcome == "good")
    # auditors are never blindfolded: they do not review
    assert (
        "Reproduced"
        in _as(world, "auditor").get(f"/cases/{world.decision.pk}/").content.decode()
    )


def test_the_case_history_includes_the_explanation_requests(world):
    officer = _as(world, "officer")
    officer.post(f"/cases/{world.decision.pk}/explain")
    page = officer.get(f"/cases/{world.decision.pk}/").content.decode()
    assert "explanation.requested" in page and "decision.submitted" in page


@pytest.mark.parametrize(
    ("params", "shows_the_case"),
    [
        ({"ai_system": "9" * 5000}, False),  # beyond int() and bigint
        ({"ai_system": "99999999999999999999"}, False),
        ({"ai_system": "²"}, True),  # a digit to str.isdigit, not to int(): ignored
        ({"ai_system": "-1"}, True),
        ({"ai_system": "0" * 5000 + "1"}, None),  # leading zeros: the id itself
        ({"outcome": "deny\x00"}, False),
    ],
)
def test_odd_queue_filters_never_fail(world, params, shows_the_case):
    response = _as(world, "officer").get("/cases/", params)
    assert response.status_code == 200
    if shows_the_case is None:  # the filter names the case's own AI system
        shows_the_case = params["ai_system"].lstrip("0") == str(world.ai_system.pk)
    assert (world.decision.external_id in response.content.decode()) is shows_the_case


def test_the_reasons_follow_the_method_switcher(world):
    from compliance.explanations import explanation_request
    from compliance.jobs import jobs_process
    from compliance.models import Explanation
    from compliance.principals import SYSTEM_OPERATOR

    explanation_request(
        principal=SYSTEM_OPERATOR,
        decision=world.decision,
        methods=["integrated_gradients", "saliency"],
    )
    jobs_process(kind="explanation", worker="w", limit=5)
    officer = _as(world, "officer")
    shown = {}
    for row in Explanation.objects.filter(decision=world.decision):
        page = officer.get(
            f"/cases/{world.decision.pk}/", {"method": row.method}
        ).content.decode()
        section = page.split("Principal reasons", 1)[1].split("</ol>", 1)[0]
        shown[row.method] = section
        for reason in row.reasons:
            assert f"{reason['attribution']:.3f}" in section, (row.method, reason)
    assert shown["saliency"] != shown["integrated_gradients"]


def test_the_method_switcher_shows_human_names(world):
    from compliance.dossiers.templatetags import method_name

    assert method_name("integrated_gradients") == "Integrated Gradients"
    assert method_name("kernel_shap") == "Kernel SHAP"
    assert method_name("shapley_sampling") == "Shapley Value Sampling"
    assert method_name("unknown") == "unknown"
