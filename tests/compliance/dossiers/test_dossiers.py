"""Dossiers for real demo cases, read back from the PDF bytes."""

from __future__ import annotations

import hashlib
import io
import json
from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from pypdf import PdfReader

from compliance import decisions as intake
from compliance import dossiers, explanations
from compliance.audit import audit_chain_verify
from compliance.dossiers import DossierHandler
from compliance.jobs import (
    jobs_claim,
    jobs_process,
    jobs_sweep,
    lease_complete,
    publisher_register,
)
from compliance.models import AuditEvent, Dossier, Job
from compliance.principals import SYSTEM_OPERATOR, Principal
from compliance.registry import services as registry
from compliance.reviews import review_record
from compliance.tenancy import services as tenancy
from tests import factories

HEADINGS = [
    "1. Identification",
    "2. Summary",
    "3. Inputs as the model saw them",
    "4. Output",
    "5. Principal reasons",
    "6. What would change the decision",
    "7. How the system works",
    "8. Explanation quality and reproducibility",
    "9. Human oversight",
    "10. Notices and rights",
    "11. Audit extract",
    "12. Integrity",
]
JUSTIFICATION = "Checked the inputs against the application file; the refusal stands."


def _case(
    artefacts,
    name: str,
    jurisdiction: str,
    *,
    subject_ref: str = "",
    justification: str = JUSTIFICATION,
) -> Any:
    weights, manifest = artefacts[name]
    org = tenancy.organization_create(
        name=f"{name} org", slug=f"{name}-org", jurisdiction=jurisdiction
    )
    client, _ = factories.make_client(org, f"{name}-engine")
    officer = factories.make_member(org, "officer", f"{name}-officer")
    admin = Principal(organization=org, role="admin")
    ai = registry.ai_system_register(
        principal=admin, blind_first_review=False, **manifest["ai_system"]
    )
    mv = registry.model_version_register(
        principal=admin, ai_system=ai, weights=weights, **manifest["model_version"]
    )
    adverse = next(
        s
        for s in manifest["sample_decisions"]
        if s["outcome"] != manifest["model_version"]["favourable_class"]
    )
    data = {**adverse, "model_version": mv.pk, "decided_at": timezone.now()}
    if subject_ref:
        data["subject_ref"] = subject_ref
    principal = Principal(organization=org, role="client", client_system=client)
    decision, _ = intake.decision_submit(
        principal=principal, submission=intake.Submission.from_validated(data)
    )
    explanations.explanation_request(
        principal=SYSTEM_OPERATOR,
        decision=decision,
        methods=["integrated_gradients", "deeplift"],
    )
    jobs_process(kind="explanation", worker="test", limit=10)
    review_record(
        principal=Principal(organization=org, role="officer", user=officer),
        decision=decision,
        action="uphold",
        justification=justification,
    )
    decision.refresh_from_db()
    return decision


def _auditor_of(org: Any) -> Principal:
    return Principal(organization=org, role="auditor")


def _auditor(dossier: Dossier) -> Principal:
    return _auditor_of(dossier.organization)


def _text(pdf: bytes) -> tuple[str, int]:
    reader = PdfReader(io.BytesIO(pdf))
    return "\n".join(page.extract_text() for page in reader.pages), len(reader.pages)


@pytest.mark.parametrize(
    ("name", "jurisdiction"), [("credit", "EU+US"), ("diagnosis", "EU")]
)
def test_a_demo_dossier_has_every_section_and_element(
    db, demo_artefacts, name, jurisdiction, settings
):
    decision = _case(demo_artefacts, name, jurisdiction)
    fetcher = dossiers.SafeFetcher()
    dossier = dossiers.dossier_issue(
        decision=decision, principal=SYSTEM_OPERATOR, fetcher=fetcher
    )
    text, pages = _text(bytes(dossier.pdf))
    flat = " ".join(text.split())
    for heading in HEADINGS:
        assert heading in flat, heading
    explanation = decision.explanations.get(method="integrated_gradients")
    assert len(explanation.reasons) == 4
    for reason in explanation.reasons:
        assert " ".join(reason["text"].split()) in flat
    cf = explanation.run.counterfactual
    if cf:
        for line in cf["descriptions"]:
            assert " ".join(line.split()) in flat
    else:
        assert explanation.run.counterfactual_note.split(";")[0] in flat
    assert "Completeness gap" in flat and "Infidelity" in flat and "Sensitivity" in flat
    assert JUSTIFICATION in flat
    assert decision.model_version.weights_sha256 in flat.replace(" ", "")
    assert "sha256 is recorded in Inspectoscope's dossier register" in flat
    assert f"Verify this document at {settings.DOSSIER_VERIFY_URL}" in flat
    assert f"page 1 of {pages}" in flat and f"page {pages} of {pages}" in flat
    assert f"version {dossier.version}" in flat and dossier.public_id in flat
    assert ("Regulation B" in flat) == (name == "credit")
    assert "GDPR Art. 22(3)" in flat and "Art. 86" in flat
    assert fetcher.refused == [] and all(
        u.startswith("inspectoscope-static:") for u in fetcher.requested
    )
    assert bytes(dossier.pdf).startswith(b"%PDF-") and dossier.pages == pages


PAYLOADS = [
    "<script>alert(1)</script>",
    '<link rel="attachment" href="file:///etc/passwd">',
    '<img src="http://169.254.169.254/latest/meta-data/">',
    "x{background:url(http://evil.invalid/css)}",
]


def test_client_text_is_escaped_and_fetches_nothing(db, demo_artefacts):
    payload = " ".join(PAYLOADS)
    decision = _case(
        demo_artefacts,
        "credit",
        "EU+US",
        subject_ref=payload[:200],
        justification=f"Reviewed. {payload}",
    )
    # a category name carrying markup, as a feature value
    decision.features = {**decision.features}
    fetcher = dossiers.SafeFetcher()
    dossier = dossiers.dossier_issue(
        decision=decision, principal=SYSTEM_OPERATOR, fetcher=fetcher
    )
    text, _ = _text(bytes(dossier.pdf))
    flat = " ".join(text.split())
    assert fetcher.refused == []
    assert fetcher.requested == ["inspectoscope-static:/dossier/dossier.css"]
    assert "<script>alert(1)</script>" in flat
    assert "169.254.169.254" in flat
    assert b"/EmbeddedFile" not in bytes(dossier.pdf)


def test_a_category_carrying_markup_is_shown_as_text(db):
    schema = json.loads(json.dumps(factories.TINY_SCHEMA))
    schema["features"][2]["categories"] = [
        "car",
        "<img src=http://evil.invalid/a.png>",
        "other",
    ]
    schema["features"][2]["reason"] = "Loan purpose"
    schema["baseline"] = {
        "income": 3000.0,
        "age": 40,
        "purpose": "other",
        "has_guarantor": False,
    }
    org = factories.make_org()
    client, _ = factories.make_client(org)
    officer = factories.make_member(org, "officer")
    admin = Principal(organization=org, role="admin")
    ai = factories.make_ai_system(org)
    mv = registry.model_version_register(
        principal=admin,
        ai_system=ai,
        version="1",
        architecture="logistic_regression",
        hyperparameters={},
        feature_schema=schema,
        class_labels=["good", "bad"],
        favourable_class="good",
        decision_threshold=0.5,
        weights=factories.tiny_weights(schema),
    )
    features = dict(
        factories.VALID_FEATURES, purpose="<img src=http://evil.invalid/a.png>"
    )
    data = {
        "model_version": mv.pk,
        "external_id": "markup-1",
        "subject_ref": "s-1",
        "features": features,
        "score": 0.4,
        "outcome": "good",
        "decided_at": timezone.now(),
    }
    decision, _ = intake.decision_submit(
        principal=Principal(organization=org, role="client", client_system=client),
        submission=intake.Submission.from_validated(data),
    )
    explanations.explanation_request(
        principal=SYSTEM_OPERATOR, decision=decision, methods=["deeplift"]
    )
    jobs_process(kind="explanation", worker="t", limit=5)
    review_record(
        principal=Principal(organization=org, role="officer", user=officer),
        decision=decision,
        action="escalate",
        justification="Escalated for a second opinion on the purpose field.",
    )
    fetcher = dossiers.SafeFetcher()
    try:
        dossier = dossiers.dossier_issue(
            decision=decision, principal=SYSTEM_OPERATOR, fetcher=fetcher
        )
    except dossiers.DossierIncomplete as exc:  # a favourable decision needs no reasons
        pytest.fail(str(exc))
    assert fetcher.refused == []
    assert "<img src=http://evil.invalid/a.png>" in " ".join(
        _text(bytes(dossier.pdf))[0].split()
    )


def test_dossiers_are_immutable_versioned_and_verifiable(db, demo_artefacts, client):
    decision = _case(demo_artefacts, "credit", "EU+US")
    first = dossiers.dossier_issue(decision=decision, principal=SYSTEM_OPERATOR)
    a = dossiers.dossier_download(dossier=first, principal=_auditor(first))
    b = dossiers.dossier_download(dossier=first, principal=_auditor(first))
    assert a == b and hashlib.sha256(a).hexdigest() == first.sha256
    assert AuditEvent.objects.filter(action="dossier.downloaded").count() == 2
    second = dossiers.dossier_issue(
        decision=decision,
        principal=SYSTEM_OPERATOR,
        reissue_reason="The deployer's address was corrected.",
    )
    assert (first.version, second.version) == (1, 2) and first.sha256 != second.sha256
    assert second.reissue_reason == "The deployer's address was corrected."
    first.refresh_from_db()
    assert bytes(first.pdf) == a  # the first version is untouched
    org = decision.organization
    for dossier in (first, second):
        assert (
            dossiers.dossier_verify(principal=_auditor_of(org), pdf=bytes(dossier.pdf))
            == dossier
        )
        assert (
            dossiers.dossier_verify(principal=_auditor_of(org), sha256=dossier.sha256)
            == dossier
        )
    tampered = bytearray(a)
    tampered[len(tampered) // 2] ^= 0x01
    assert (
        dossiers.dossier_verify(principal=_auditor_of(org), pdf=bytes(tampered)) is None
    )
    other_org = factories.make_org()
    assert (
        dossiers.dossier_verify(principal=_auditor_of(other_org), sha256=first.sha256)
        is None
    )


def test_a_dossier_without_an_explanation_is_refused_with_what_is_missing(world):
    with pytest.raises(dossiers.DossierIncomplete) as info:
        dossiers.dossier_request(principal=SYSTEM_OPERATOR, decision=world.decision)
    assert "an explanation of the decision" in info.value.detail
    assert not Job.objects.filter(kind="dossier").exists()
    assert not Dossier.objects.exists()


def test_missing_reason_texts_are_named(db, demo_artefacts):
    weights, manifest = demo_artefacts["credit"]
    manifest = json.loads(json.dumps(manifest))  # the session's copy stays intact
    for feature in manifest["model_version"]["feature_schema"]["features"]:
        feature["reason"] = ""
    decision = _case({"credit": (weights, manifest)}, "credit", "EU+US")
    with pytest.raises(dossiers.DossierIncomplete) as info:
        dossiers.dossier_issue(decision=decision, principal=SYSTEM_OPERATOR)
    assert "reason texts in the feature schema" in info.value.detail
    assert not Dossier.objects.filter(decision=decision).exists()


def test_the_api_issues_lists_downloads_and_verifies(db, demo_artefacts):
    from rest_framework.test import APIClient

    decision = _case(demo_artefacts, "diagnosis", "EU")
    officer = decision.organization.memberships.get(role="officer").user
    api = APIClient()
    api.force_login(officer)
    response = api.post(f"/api/v1/decisions/{decision.pk}/dossiers/", format="json")
    assert response.status_code == 202 and response["Location"].endswith(
        f"/api/v1/jobs/{response.json()['id']}/"
    )
    job_id = response.json()["id"]
    assert _render_queued(worker="test") == 1
    job = api.get(f"/api/v1/jobs/{job_id}/").json()
    assert job["status"] == "done" and job["kind"] == "dossier" and job["dossier"]
    listed = api.get("/api/v1/dossiers/", {"decision": decision.pk}).json()["results"]
    assert [d["version"] for d in listed] == [1]
    pdf = api.get(f"/api/v1/dossiers/{job['dossier']}/pdf/")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert listed[0]["public_id"] in pdf["Content-Disposition"]
    assert hashlib.sha256(pdf.content).hexdigest() == listed[0]["sha256"]
    by_file = api.post(
        "/api/v1/dossiers/verify/",
        {"pdf": SimpleUploadedFile("d.pdf", pdf.content)},
        format="multipart",
    )
    assert by_file.json()["verified"] is True and by_file.json()["version"] == 1
    unknown = api.post("/api/v1/dossiers/verify/", {"sha256": "0" * 64}, format="json")
    assert unknown.json() == {
        "verified": False,
        "detail": "Not issued by this service.",
    }
    bad = api.post("/api/v1/dossiers/verify/", {"sha256": "xyz"}, format="json")
    assert bad.status_code == 400 and "sha256" in bad.json()["errors"]


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (13.254999999999999, "13.255"),
        (0.0062959999999999995, "0.006296"),
        (True, "yes"),
        (48, "48"),
        ("radio/television", "radio/television"),
        (None, "none"),
    ],
)
def test_feature_values_are_shown_without_float_noise(value, shown):
    from compliance.dossiers.templatetags import feature_value

    assert feature_value(value) == shown


def _render_queued(*, worker: str) -> int:
    return jobs_process(kind="dossier", worker=worker, limit=1)


def _died(job: Job, *, worker: str = "first") -> Job:
    """A worker claimed the job and died: its lease ran out with the job running."""
    Job.objects.filter(pk=job.pk).update(
        status="running",
        lease_until=timezone.now() - timedelta(seconds=1),
        lease_token="t-" + worker,
        attempts=1,
        worker=worker,
    )
    job.refresh_from_db()
    return job


def test_a_dossier_job_whose_worker_died_is_swept_and_completed(db, demo_artefacts):
    decision = _case(demo_artefacts, "diagnosis", "EU")
    job = _died(dossiers.dossier_request(principal=SYSTEM_OPERATOR, decision=decision))
    sent = mock.Mock()
    previous = publisher_register(sent)
    try:
        swept = jobs_sweep()
    finally:
        publisher_register(previous)
    assert swept["reclaimed"] == 1 and swept["woken"] == 1
    sent.assert_called_once_with("dossier", "")
    reclaim = AuditEvent.objects.get(action="dossier.lease_reclaimed")
    assert (reclaim.actor, reclaim.object_id) == ("system", str(job.pk))
    assert reclaim.organization_id == decision.organization_id
    assert reclaim.payload == {
        "kind": "dossier",
        "decision": decision.pk,
        "attempts": 1,
        "lease_until": job.lease_until.isoformat(timespec="microseconds"),
        "worker": "first",
        "lease_token": "t-first",
    }
    assert audit_chain_verify().ok
    assert _render_queued(worker="second") == 1
    job.refresh_from_db()
    assert job.status == "done" and job.dossier and job.attempts == 2


def test_a_worker_taking_over_an_expired_dossier_lease_records_it(db, demo_artefacts):
    decision = _case(demo_artefacts, "diagnosis", "EU")
    job = _died(dossiers.dossier_request(principal=SYSTEM_OPERATOR, decision=decision))
    assert _render_queued(worker="second") == 1
    job.refresh_from_db()
    assert job.status == "done" and job.attempts == 2
    reclaim = AuditEvent.objects.get(action="dossier.lease_reclaimed")
    assert reclaim.actor == "worker:second"
    assert reclaim.payload["worker"] == "first" and reclaim.payload["attempts"] == 1
    # a job that is still leased to a live worker is left alone, and records nothing
    again = dossiers.dossier_request(principal=SYSTEM_OPERATOR, decision=decision)
    Job.objects.filter(pk=again.pk).update(
        status="running", lease_until=timezone.now() + timedelta(minutes=5)
    )
    assert _render_queued(worker="third") == 0
    assert Job.objects.get(pk=again.pk).status == "running"
    assert AuditEvent.objects.filter(action="dossier.lease_reclaimed").count() == 1
    assert audit_chain_verify().ok


def test_a_dossier_job_out_of_attempts_fails_with_an_audit_event(
    db, demo_artefacts, settings
):
    decision = _case(demo_artefacts, "diagnosis", "EU")
    job = dossiers.dossier_request(principal=SYSTEM_OPERATOR, decision=decision)
    Job.objects.filter(pk=job.pk).update(attempts=settings.JOB_MAX_ATTEMPTS)
    assert _render_queued(worker="w1") == 1  # handled: failed at the claim
    job.refresh_from_db()
    assert job.status == "failed" and "Gave up" in job.error
    event = AuditEvent.objects.get(action="dossier.failed")
    assert (event.actor, event.object_id) == ("worker:w1", str(job.pk))
    assert event.payload["reason"] == "attempts_exhausted"
    assert event.payload["attempts"] == settings.JOB_MAX_ATTEMPTS
    assert not Dossier.objects.filter(decision=decision).exists()
    assert audit_chain_verify().ok


def test_a_dossier_job_whose_render_breaks_fails_with_an_audit_event(
    db, demo_artefacts
):
    decision = _case(demo_artefacts, "diagnosis", "EU")
    job = dossiers.dossier_request(principal=SYSTEM_OPERATOR, decision=decision)
    with mock.patch(
        "compliance.dossiers.handler.dossier_render_next",
        side_effect=RuntimeError("boom"),
    ):
        assert _render_queued(worker="w1") == 1
    job.refresh_from_db()
    assert job.status == "failed" and "boom" in job.error
    event = AuditEvent.objects.get(action="dossier.failed")
    assert event.payload["reason"] == "unexpected_error"
    assert "RuntimeError: boom" in event.payload["error"]
    assert audit_chain_verify().ok


def test_a_dossier_job_past_its_time_limit_fails_with_a_true_message(
    db, demo_artefacts
):
    class RuntimeTimeLimit(Exception):
        """Stands in for the runtime's time-limit exception (Celery's in workers/)."""

    decision = _case(demo_artefacts, "diagnosis", "EU")
    job = dossiers.dossier_request(principal=SYSTEM_OPERATOR, decision=decision)
    with mock.patch(
        "compliance.dossiers.handler.dossier_render_next",
        side_effect=RuntimeTimeLimit(),
    ):
        jobs_process(
            kind="dossier", worker="w1", limit=1, time_limit_errors=(RuntimeTimeLimit,)
        )
    job.refresh_from_db()
    assert job.status == "failed" and "longer than the time limit" in job.error
    assert AuditEvent.objects.get(action="dossier.failed").payload["reason"] == (
        "time_limit"
    )


def test_a_worker_whose_job_was_taken_over_records_no_outcome(db, demo_artefacts):
    decision = _case(demo_artefacts, "diagnosis", "EU")
    job = dossiers.dossier_request(principal=SYSTEM_OPERATOR, decision=decision)

    def taken_over_meanwhile(*args, **kwargs):
        Job.objects.filter(pk=job.pk).update(lease_token="second", worker="second")
        raise RuntimeError("slow worker's render broke")

    with mock.patch(
        "compliance.dossiers.handler.dossier_render_next",
        side_effect=taken_over_meanwhile,
    ):
        _render_queued(worker="first")
    job.refresh_from_db()
    assert (job.status, job.worker) == ("running", "second")  # left to its new holder
    assert not AuditEvent.objects.filter(action="dossier.failed").exists()


def test_a_worker_whose_lease_was_taken_over_issues_no_dossier(db, demo_artefacts):
    """The slow worker renders, its lease is taken over and the new holder issues
    version 1; the slow worker's store then writes no Dossier row and no
    ``dossier.issued`` event (it used to create both before checking its lease)."""
    decision = _case(demo_artefacts, "diagnosis", "EU")
    job = dossiers.dossier_request(principal=SYSTEM_OPERATOR, decision=decision)
    slow = jobs_claim(kind="dossier", worker="slow", limit=1)
    outcomes = DossierHandler().run(slow.jobs, lambda _: None)
    Job.objects.filter(pk=job.pk).update(lease_until=timezone.now() - timedelta(1))
    assert _render_queued(worker="fast") == 1
    issued_before = AuditEvent.objects.filter(action="dossier.issued").count()
    assert lease_complete(slow, list(zip(slow.jobs, outcomes, strict=True))) == 0
    assert Dossier.objects.filter(decision=decision).count() == 1
    assert AuditEvent.objects.filter(action="dossier.issued").count() == issued_before
    job.refresh_from_db()
    assert job.status == "done" and job.worker == "fast"
    assert job.dossier.version == 1 and job.dossier.issued_by == job.requested_by
