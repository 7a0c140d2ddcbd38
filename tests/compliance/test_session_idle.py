"""Idle session timeout (issue 13, "Also"): a session ends after
SESSION_IDLE_TIMEOUT_SECONDS without a request, besides the absolute cookie age."""

from __future__ import annotations

from django.test import Client

from compliance.models import AuditEvent
from compliance.web import sessions


def test_a_session_idle_longer_than_the_timeout_is_signed_out(world, monkeypatch):
    clock = [1_000_000.0]
    monkeypatch.setattr(sessions, "_now", lambda: clock[0])
    browser = Client()
    response = browser.post(
        "/accounts/login/", {"username": "acme-officer", "password": "pw-123456789"}
    )
    assert response.status_code == 302
    clock[0] += 29 * 60  # active again within 30 minutes: still signed in
    assert browser.get("/cases/").status_code == 200
    clock[0] += 29 * 60  # measured from the last request, not from sign-in
    assert browser.get("/cases/").status_code == 200
    clock[0] += 30 * 60 + 1
    page = browser.get("/cases/")
    assert page.status_code == 302 and page["Location"].startswith("/accounts/login/")
    assert browser.get("/api/v1/decisions/").status_code in (401, 403)
    assert AuditEvent.objects.filter(action="user.logout").count() == 1


def test_the_idle_timeout_is_a_setting(world, settings, monkeypatch):
    settings.SESSION_IDLE_TIMEOUT_SECONDS = 60
    clock = [2_000_000.0]
    monkeypatch.setattr(sessions, "_now", lambda: clock[0])
    browser = Client()
    browser.post(
        "/accounts/login/", {"username": "acme-officer", "password": "pw-123456789"}
    )
    clock[0] += 59
    assert browser.get("/cases/").status_code == 200
    clock[0] += 61
    assert browser.get("/cases/").status_code == 302


def test_api_key_requests_start_no_session(world):
    from rest_framework.test import APIClient

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {world.client_key}")
    assert api.get("/api/v1/decisions/").status_code == 200
    assert "sessionid" not in api.cookies
