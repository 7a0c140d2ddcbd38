"""Public verification (no key, no login): genuine or not, who issued it, which
version, when, superseded or not; never content. Rate-limited per IP."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from compliance import dossiers
from compliance.principals import SYSTEM_OPERATOR
from demo.train import DEMOS, build_artefacts
from tests.compliance.dossiers.test_dossiers import _case

ANSWER_KEYS = {
    "genuine",
    "kind",
    "language",
    "organization",
    "dossier",
    "version",
    "issued_at",
    "superseded",
}


@pytest.fixture(scope="module")
def demo_artefacts() -> dict[str, tuple[bytes, dict[str, Any]]]:
    return {"credit": build_artefacts(DEMOS["credit"])}


@pytest.fixture
def issued(db, demo_artefacts) -> dict[str, Any]:
    """A real signed dossier in two versions: v1 (superseded) and v2 (current)."""
    decision = _case(demo_artefacts, "credit", "EU+US", subject_ref="applicant-4711")
    v1 = dossiers.dossier_issue(decision=decision, principal=SYSTEM_OPERATOR)
    v2 = dossiers.dossier_issue(
        decision=decision,
        principal=SYSTEM_OPERATOR,
        reissue_reason="The deployer's contact details changed.",
    )
    return {"decision": decision, "v1": v1, "v2": v2}


def _post_pdf(api: APIClient, pdf: bytes) -> Any:
    upload = SimpleUploadedFile("dossier.pdf", pdf, content_type="application/pdf")
    return api.post("/api/v1/public/verify/", {"pdf": upload}, format="multipart")


def _leaks(body: str, decision: Any) -> list[str]:
    """What of the decision's content or identity appears in an answer."""
    secrets = [decision.subject_ref, decision.external_id, decision.outcome]
    secrets += [str(v) for v in decision.features.values() if len(str(v)) > 3]
    return [s for s in secrets if s and s in body]


def test_a_genuine_current_dossier_is_named_without_its_content(issued):
    api = APIClient()  # no key, no session
    v2, decision = issued["v2"], issued["decision"]
    response = _post_pdf(api, bytes(v2.pdf))
    assert response.status_code == 200
    body = response.json()
    assert set(body) == ANSWER_KEYS
    assert body["genuine"] is True and body["superseded"] is False
    assert body["organization"] == decision.organization.name
    assert (body["dossier"], body["version"]) == (v2.public_id, 2)
    assert body["issued_at"].startswith(v2.issued_at.strftime("%Y-%m-%dT%H:%M"))
    assert _leaks(response.content.decode(), decision) == []
    assert str(decision.pk) not in (body["dossier"], str(body["version"]))


def test_a_superseded_version_says_so_by_file_and_by_hash(issued):
    api = APIClient()
    v1 = issued["v1"]
    by_file = _post_pdf(api, bytes(v1.pdf)).json()
    by_hash = api.post(
        "/api/v1/public/verify/", {"sha256": v1.sha256.upper()}, format="json"
    ).json()
    for body in (by_file, by_hash):
        assert body["genuine"] is True and body["superseded"] is True
        assert (body["dossier"], body["version"]) == (v1.public_id, 1)


def test_a_tampered_or_unknown_file_is_not_genuine_and_says_nothing_more(issued):
    api = APIClient()
    tampered = bytearray(bytes(issued["v2"].pdf))
    tampered[len(tampered) // 2] ^= 0x01
    unknown = b"%PDF-1.7\n% not one of ours\n"
    for pdf in (bytes(tampered), unknown):
        response = _post_pdf(api, pdf)
        assert response.status_code == 200
        assert response.json() == {
            "genuine": False,
            "kind": None,
            "language": None,
            "organization": None,
            "dossier": None,
            "version": None,
            "issued_at": None,
            "superseded": None,
        }
    response = api.post(
        "/api/v1/public/verify/",
        {"sha256": hashlib.sha256(b"unknown").hexdigest()},
        format="json",
    )
    assert response.json()["genuine"] is False


def test_the_keyed_endpoint_reports_superseded_too(issued, client):
    from tests import factories

    org = issued["decision"].organization
    _, key = factories.make_client(org, "verifier")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    v1, v2 = issued["v1"], issued["v2"]
    one = api.post("/api/v1/dossiers/verify/", {"sha256": v1.sha256}, format="json")
    two = api.post("/api/v1/dossiers/verify/", {"sha256": v2.sha256}, format="json")
    assert one.json()["verified"] and one.json()["superseded"] is True
    assert two.json()["verified"] and two.json()["superseded"] is False
    # another client system of the organisation lists none of them (only the
    # dossiers of decisions it submitted); a member lists both, marked
    other = api.get(f"/api/v1/dossiers/?decision={issued['decision'].pk}").json()
    assert other["results"] == []
    member = APIClient()
    member.force_login(factories.make_member(org, "auditor"))
    listed = member.get(f"/api/v1/dossiers/?decision={issued['decision'].pk}").json()
    assert {d["version"]: d["superseded"] for d in listed["results"]} == {
        1: True,
        2: False,
    }


def test_the_public_page_answers_for_a_file_and_for_a_hash(issued, client):
    v1, v2 = issued["v1"], issued["v2"]
    assert client.get("/verify/").status_code == 200
    page = client.post(
        "/verify/",
        {"pdf": SimpleUploadedFile("d.pdf", bytes(v2.pdf), "application/pdf")},
    )
    text = page.content.decode()
    assert page.status_code == 200 and "Genuine." in text and v2.public_id in text
    assert "This is the latest version." in text
    assert _leaks(text.split("<h1>", 1)[1], issued["decision"]) == []
    page = client.post("/verify/", {"sha256": v1.sha256})
    assert "Superseded" in page.content.decode()
    page = client.post("/verify/", {"sha256": "0" * 64})
    assert "Not genuine" in page.content.decode()
    assert client.post("/verify/", {"sha256": "nothex"}).status_code == 400


def test_it_is_rate_limited_per_ip(db, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "public_verify": "3/min",
        },
    }
    from django.core.cache import cache

    cache.clear()
    body = json.dumps({"sha256": "a" * 64})
    api = APIClient(REMOTE_ADDR="203.0.113.7")
    codes = [
        api.post(
            "/api/v1/public/verify/", body, content_type="application/json"
        ).status_code
        for _ in range(4)
    ]
    assert codes == [200, 200, 200, 429]
    # the page shares the address's budget
    assert (
        APIClient(REMOTE_ADDR="203.0.113.7")
        .post("/verify/", {"sha256": "a" * 64})
        .status_code
        == 429
    )
    # another address still has its own
    other = APIClient(REMOTE_ADDR="198.51.100.2")
    assert (
        other.post(
            "/api/v1/public/verify/", body, content_type="application/json"
        ).status_code
        == 200
    )
    cache.clear()


def test_every_verification_is_an_audit_event_naming_only_the_hash(issued):
    from compliance.models import AuditEvent
    from compliance.principals import Principal

    v2 = issued["v2"]
    api = APIClient()
    assert _post_pdf(api, bytes(v2.pdf)).json()["genuine"] is True
    assert _post_pdf(api, b"%PDF-1.7 not ours").json()["genuine"] is False
    auditor = Principal(organization=v2.organization, role="auditor")
    assert dossiers.dossier_verify(principal=auditor, sha256=v2.sha256) == v2
    events = list(AuditEvent.objects.filter(action="dossier.verified").order_by("id"))
    assert [
        (e.organization_id, e.payload["genuine"], e.payload["via"]) for e in events
    ] == [
        (v2.organization_id, True, "public"),
        (None, False, "public"),  # an unknown file: the platform's chain
        (v2.organization_id, True, "api"),
    ]
    assert events[0].payload["dossier"] == v2.public_id
    assert (
        events[1].payload["sha256"] == hashlib.sha256(b"%PDF-1.7 not ours").hexdigest()
    )
    assert not any(_leaks(json.dumps(e.payload), issued["decision"]) for e in events)
