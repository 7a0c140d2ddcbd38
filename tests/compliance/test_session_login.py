from __future__ import annotations

from django.test import Client

from compliance.models import AuditEvent, Decision


def test_an_officer_signs_in_and_reads_decisions_through_the_session(world):
    browser = Client(enforce_csrf_checks=True)
    page = browser.get("/accounts/login/")
    assert page.status_code == 200 and b'name="csrfmiddlewaretoken"' in page.content
    response = browser.post(
        "/accounts/login/",
        {
            "username": "acme-officer",
            "password": "pw-123456789",
            "csrfmiddlewaretoken": page.cookies["csrftoken"].value,
        },
    )
    assert response.status_code == 302
    assert AuditEvent.objects.order_by("-sequence").first().action == "user.login"
    assert browser.get("/api/v1/decisions/").status_code == 200
    landing = browser.get("/", follow=True)
    assert landing.redirect_chain == [("/cases/", 302)]
    assert "acme-officer · officer · Org acme-bank" in landing.content.decode()


def test_a_session_write_without_a_csrf_token_is_refused(world):
    browser = Client(enforce_csrf_checks=True)
    browser.login(username="acme-admin", password="pw-123456789")
    before = Decision.objects.count()
    response = browser.post(
        "/api/v1/ai-systems/", {"name": "x"}, content_type="application/json"
    )
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    assert Decision.objects.count() == before


def test_a_wrong_password_is_shown_as_an_error(world):
    response = Client().post(
        "/accounts/login/", {"username": "acme-officer", "password": "nope"}
    )
    assert response.status_code == 200
    assert (
        b"didn&#x27;t match" in response.content or b"didn't match" in response.content
    )
