"""The notice endpoints: issue (a job of the job engine), list by decision, read,
download PDF and HTML exactly as issued; the language chosen per request."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from rest_framework.test import APIClient

from compliance.jobs import jobs_process
from compliance.models import AuditEvent, Job, Notice
from compliance.tenancy import services as tenancy
from tests.compliance.notices.conftest import notice_case


@pytest.fixture
def case(db: Any, demo_artefacts: dict[str, Any]) -> Any:
    return notice_case(demo_artefacts, "credit", "EU+US", slug="api-notice-org")


def _client(decision: Any) -> APIClient:
    # a second key for the client system that submitted the decision
    _, key = tenancy.api_key_create(
        client_system=decision.client_system,
        name="notice test key",
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    return client


def _issue(client: APIClient, decision: Any, **kwargs: Any) -> Any:
    return client.post(
        f"/api/v1/decisions/{decision.pk}/notices/", format="json", **kwargs
    )


@pytest.mark.django_db
def test_issue_poll_read_and_download(case: Any) -> None:
    client = _client(case)
    response = _issue(client, case, data={"lang": "de"})
    assert response.status_code == 202, response.json()
    job = response.json()
    assert job["kind"] == "notice"
    assert response["Location"].endswith(f"/api/v1/jobs/{job['id']}/")
    jobs_process(kind="notice", worker="test", limit=5)
    job = client.get(f"/api/v1/jobs/{job['id']}/").json()
    assert job["status"] == "done", job
    notice = client.get(f"/api/v1/notices/{job['notice']}/").json()
    assert notice["language"] == "de"
    assert notice["decision"] == case.pk
    assert notice["check"]["passed"] is True
    listed = client.get(f"/api/v1/notices/?decision={case.pk}").json()["results"]
    assert [n["id"] for n in listed] == [notice["id"]]
    pdf = client.get(notice["pdf"])
    assert pdf.status_code == 200
    assert pdf["Content-Type"] == "application/pdf"
    assert hashlib.sha256(pdf.content).hexdigest() == notice["sha256"]
    assert pdf["X-Content-SHA256"] == notice["sha256"]
    html = client.get(notice["html"])
    assert html.status_code == 200
    assert html["Content-Language"] == "de"
    assert "unsafe-inline" not in html["Content-Security-Policy"]
    assert "style-src 'sha256-" in html["Content-Security-Policy"]
    assert hashlib.sha256(html.content).hexdigest() == notice["html_sha256"]
    assert "Ihre Rechte" in html.content.decode()
    downloads = AuditEvent.objects.filter(action="notice.downloaded")
    assert sorted(e.payload["form"] for e in downloads) == ["html", "pdf"]
    # unchanged: the same notice, no new job
    again = _issue(client, case, data={"lang": "de"})
    assert again.status_code == 200
    assert again.json()["id"] == notice["id"]


@pytest.mark.django_db
def test_the_language_comes_from_the_query_the_body_or_accept_language(
    case: Any,
) -> None:
    client = _client(case)
    _issue(client, case, data={}, HTTP_ACCEPT_LANGUAGE="fr-FR, de;q=0.8, en;q=0.5")
    _issue(client, case, data={})  # nothing asked: English
    for _ in range(2):  # one render per claim
        jobs_process(kind="notice", worker="test", limit=5)
    assert sorted(Notice.objects.values_list("language", flat=True)) == ["de", "en"]
    response = client.post(
        f"/api/v1/decisions/{case.pk}/notices/?lang=en", {}, format="json"
    )
    assert response.status_code == 200  # the English one exists, unchanged


@pytest.mark.django_db
def test_an_unknown_language_is_a_400_naming_lang(case: Any) -> None:
    response = _issue(_client(case), case, data={"lang": "fr"})
    assert response.status_code == 400
    body = response.json()
    assert body["errors"]["lang"] == ["Must be one of: en, de."]
    assert not Job.objects.filter(kind="notice").exists()


@pytest.mark.django_db
def test_no_notice_without_an_explanation(world: Any) -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {world.client_key}")
    response = client.post(
        f"/api/v1/decisions/{world.decision.pk}/notices/", {}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "notice_incomplete"


@pytest.mark.django_db
def test_another_organisations_notices_are_not_found(case: Any, world: Any) -> None:
    notice_client = _client(case)
    _issue(notice_client, case, data={})
    jobs_process(kind="notice", worker="test", limit=5)
    notice = Notice.objects.get()
    other = APIClient()
    other.credentials(HTTP_AUTHORIZATION=f"Api-Key {world.client_key}")
    assert other.get(f"/api/v1/notices/{notice.pk}/").status_code == 404
    assert other.get(f"/api/v1/notices/{notice.pk}/pdf/").status_code == 404
    assert other.get(f"/api/v1/notices/{notice.pk}/html/").status_code == 404
    assert other.get("/api/v1/notices/").json()["results"] == []
    response = other.post(f"/api/v1/decisions/{case.pk}/notices/", {}, format="json")
    assert response.status_code == 404


@pytest.mark.django_db
def test_a_notice_is_signed_and_publicly_verifiable_by_pdf_or_html(case: Any) -> None:
    client = _client(case)
    _issue(client, case, data={"lang": "en"})
    jobs_process(kind="notice", worker="test", limit=5)
    notice = Notice.objects.get()
    assert b"/ByteRange" in bytes(notice.pdf)  # PAdES-signed like dossiers
    public = APIClient()
    for digest in (notice.sha256, notice.html_sha256):
        body = public.post(
            "/api/v1/public/verify/", {"sha256": digest}, format="json"
        ).json()
        assert body["genuine"] is True
        assert body["kind"] == "notice"
        assert body["dossier"] == notice.public_id
        assert body["language"] == "en"
        assert body["superseded"] is False
    assert AuditEvent.objects.filter(action="notice.verified").count() == 2
    page = public.post("/verify/", {"sha256": notice.sha256})
    assert f"Notice {notice.public_id}" in page.content.decode()


@pytest.mark.django_db
def test_a_notice_job_that_fails_the_check_issues_nothing_and_is_audited(
    case: Any,
) -> None:
    from unittest import mock

    from compliance.notices import services

    real = services.notice_compose

    def flipped(decision: Any, language: str) -> Any:
        composed = real(decision, language)
        composed.content["reasons"][0]["direction"] = "favourable"
        return composed

    client = _client(case)
    job = _issue(client, case, data={"lang": "en"}).json()
    with mock.patch.object(services, "notice_compose", flipped):
        jobs_process(kind="notice", worker="test", limit=5)
    job = client.get(f"/api/v1/jobs/{job['id']}/").json()
    assert job["status"] == "failed"
    assert "does not match the stored explanation" in job["error"]
    assert "stated favourable" in job["error"]
    assert not Notice.objects.exists()
    failed = AuditEvent.objects.get(action="notice.failed")
    assert failed.payload["reason"] == "unfaithful"
