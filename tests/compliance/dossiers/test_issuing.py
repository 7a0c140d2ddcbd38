"""Idempotent issuing: unchanged content returns the version already issued; a new
version needs a change (a new explanation, a new review) or a reissue reason."""

from __future__ import annotations

from rest_framework.test import APIClient

from compliance import dossiers, explanations
from compliance.jobs import jobs_process
from compliance.models import AuditEvent, Dossier, Job
from compliance.principals import SYSTEM_OPERATOR
from tests import factories
from tests.compliance.dossiers.test_dossiers import _case


def _api_for(decision) -> APIClient:
    """An officer of the decision's organisation (a client system reads only the
    decisions it submitted)."""
    api = APIClient()
    api.force_login(factories.make_member(decision.organization, "officer", "o-2"))
    return api


def test_issuing_twice_with_unchanged_content_returns_the_same_version(
    db, demo_artefacts
):
    decision = _case(demo_artefacts, "diagnosis", "EU")
    first = dossiers.dossier_issue(decision=decision, principal=SYSTEM_OPERATOR)
    again = dossiers.dossier_issue(decision=decision, principal=SYSTEM_OPERATOR)
    assert again.pk == first.pk and again.version == 1
    assert Dossier.objects.filter(decision=decision).count() == 1
    assert AuditEvent.objects.filter(action="dossier.issued").count() == 1
    # a job asked for the same content finds that version, and renders nothing
    job = dossiers.dossier_request(principal=SYSTEM_OPERATOR, decision=decision)
    jobs_process(kind="dossier", worker="w1", limit=1)
    job.refresh_from_db()
    assert job.status == "done" and job.dossier_id == first.pk
    assert Dossier.objects.filter(decision=decision).count() == 1


def test_a_new_explanation_or_a_reissue_reason_makes_a_new_version(db, demo_artefacts):
    decision = _case(demo_artefacts, "diagnosis", "EU")
    first = dossiers.dossier_issue(decision=decision, principal=SYSTEM_OPERATOR)
    explanations.explanation_request(
        principal=SYSTEM_OPERATOR, decision=decision, methods=["saliency"]
    )
    jobs_process(kind="explanation", worker="w1", limit=10)
    second = dossiers.dossier_issue(decision=decision, principal=SYSTEM_OPERATOR)
    assert (first.version, second.version) == (1, 2)
    assert second.content_sha256 != first.content_sha256
    third = dossiers.dossier_issue(
        decision=decision,
        principal=SYSTEM_OPERATOR,
        reissue_reason="  Printed copy lost; reissued at the regulator's request.  ",
    )
    assert third.version == 3 and third.content_sha256 == second.content_sha256
    assert third.reissue_reason == (
        "Printed copy lost; reissued at the regulator's request."
    )
    event = AuditEvent.objects.filter(action="dossier.issued").latest("id")
    assert event.payload["reissue_reason"] == third.reissue_reason
    # and unchanged content after the reissue returns the reissued (newest) version
    assert dossiers.dossier_issue(decision=decision, principal=SYSTEM_OPERATOR) == third


def test_the_api_answers_200_with_the_existing_version_when_nothing_changed(
    db, demo_artefacts
):
    decision = _case(demo_artefacts, "diagnosis", "EU")
    api = _api_for(decision)
    url = f"/api/v1/decisions/{decision.pk}/dossiers/"
    queued = api.post(url)
    assert queued.status_code == 202
    # asked again before a worker ran: the same job, nothing new queued
    assert api.post(url).json()["id"] == queued.json()["id"]
    jobs_process(kind="dossier", worker="w1", limit=1)
    dossier = Job.objects.get(pk=queued.json()["id"]).dossier
    again = api.post(url, {}, format="json")
    assert again.status_code == 200
    body = again.json()
    assert (body["id"], body["version"], body["superseded"]) == (
        dossier.pk,
        1,
        False,
    )
    assert again["Location"].endswith(f"/api/v1/dossiers/{dossier.pk}/")
    assert Job.objects.filter(kind="dossier").count() == 1
    # an explicit reason issues a new version
    reissued = api.post(url, {"reissue_reason": "Corrected address."}, format="json")
    assert reissued.status_code == 202 and reissued.json()["id"] != queued.json()["id"]
    jobs_process(kind="dossier", worker="w1", limit=1)
    versions = list(
        Dossier.objects.filter(decision=decision).values_list("version", flat=True)
    )
    assert sorted(versions) == [1, 2]
    listed = api.get(f"/api/v1/dossiers/?decision={decision.pk}").json()["results"]
    assert {d["version"]: d["superseded"] for d in listed} == {1: True, 2: False}


def test_a_reissue_reason_is_bounded_and_unknown_fields_are_refused(db, demo_artefacts):
    decision = _case(demo_artefacts, "diagnosis", "EU")
    api = _api_for(decision)
    url = f"/api/v1/decisions/{decision.pk}/dossiers/"
    too_long = api.post(url, {"reissue_reason": "x" * 2001}, format="json")
    assert too_long.status_code == 400
    assert api.post(url, {"reason": "typo"}, format="json").status_code == 400
    assert not Job.objects.filter(kind="dossier").exists()
