"""TOTP two-factor authentication (issue 13, item 1): required for platform superusers
and organisation admins, optional for others, throttled like passwords. Tokens are
computed from the device's key, as an authenticator app does."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice

from compliance.models import AuditEvent
from compliance.web import login_limits
from tests import factories

PASSWORD = "pw-123456789"


@pytest.fixture(autouse=True)
def _fresh_counters():
    cache.clear()
    login_limits._local_counts.clear()
    yield
    cache.clear()


def _sign_in(username: str, path: str = "/accounts/login/") -> tuple[Client, object]:
    browser = Client()
    response = browser.post(path, {"username": username, "password": PASSWORD})
    return browser, response


def test_an_admin_without_a_device_must_enrol_before_reaching_anything(world):
    browser, response = _sign_in("acme-admin")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/two-factor/enrol/")
    # every page and the API through the session wait for the second step
    cases = browser.get("/cases/")
    assert (
        cases.status_code == 302 and "/accounts/two-factor/enrol/" in cases["Location"]
    )
    api = browser.get("/api/v1/decisions/")
    assert api.status_code == 403 and api.json()["code"] == "two_factor_required"
    assert browser.get("/audit/").status_code == 302

    page = browser.get(response["Location"])
    text = page.content.decode()
    assert page.status_code == 200 and "<svg" in text
    uri = re.search(r'<code id="otpauth-uri">([^<]+)</code>', text).group(1)
    assert uri.startswith("otpauth://totp/") and "secret=" in uri
    device = TOTPDevice.objects.get(user=world.admin)
    assert (
        not device.confirmed
        and device.key
        and device.config_url.replace("&", "&amp;") == uri
    )

    wrong = browser.post("/accounts/two-factor/enrol/", {"token": "000000"})
    assert wrong.status_code == 200 and "did not match" in wrong.content.decode()
    assert browser.get("/cases/").status_code == 302
    device.refresh_from_db()
    device.throttle_reset()  # django-otp's own back-off after a wrong code
    done = browser.post(
        "/accounts/two-factor/enrol/",
        {"token": factories.totp_token(device), "next": "/cases/"},
    )
    assert done.status_code == 302 and done["Location"] == "/cases/"
    device.refresh_from_db()
    assert device.confirmed
    assert browser.get("/cases/").status_code == 200
    assert browser.get("/api/v1/decisions/").status_code == 200
    actions = set(
        AuditEvent.objects.filter(object_id=str(world.admin.pk)).values_list(
            "action", flat=True
        )
    )
    assert {"user.two_factor_enrolled", "user.two_factor_failed"} <= actions


def test_an_enrolled_admin_signs_in_with_a_token(world):
    device = factories.totp_device(world.admin)
    browser, response = _sign_in("acme-admin")
    assert response["Location"].startswith("/accounts/two-factor/verify/")
    assert browser.get("/cases/").status_code == 302
    page = browser.get(response["Location"])
    assert page.status_code == 200 and 'autocomplete="one-time-code"' in (
        page.content.decode()
    )
    done = browser.post(
        "/accounts/two-factor/verify/", {"token": factories.totp_token(device)}
    )
    assert done.status_code == 302 and done["Location"] == "/"
    assert browser.get("/cases/").status_code == 200
    # the same code again (a replay) is refused in a new session
    other, _ = _sign_in("acme-admin")
    device.refresh_from_db()
    replay = factories.totp_token(device)
    device.last_t += 1
    device.save()
    assert (
        other.post("/accounts/two-factor/verify/", {"token": replay}).status_code == 200
    )
    assert other.get("/cases/").status_code == 302


def test_a_superuser_needs_a_verified_device_for_the_admin(world):
    root = get_user_model().objects.create_superuser("root", password=PASSWORD)
    device = factories.totp_device(root)
    browser, response = _sign_in("root", path="/admin/login/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/two-factor/verify/")
    assert "next=%2Fadmin%2F" in response["Location"]
    admin_page = browser.get("/admin/")
    assert admin_page.status_code == 302
    assert admin_page["Location"].startswith("/accounts/two-factor/verify/")
    assert browser.get("/admin/compliance/apikey/").status_code == 302
    done = browser.post(
        "/accounts/two-factor/verify/",
        {"token": factories.totp_token(device), "next": "/admin/"},
    )
    assert done["Location"] == "/admin/"
    assert browser.get("/admin/").status_code == 200


def test_an_officer_is_not_asked_but_may_opt_in(world):
    browser, response = _sign_in("acme-officer")
    assert response.status_code == 302 and response["Location"] == "/"
    assert browser.get("/cases/").status_code == 200
    page = browser.get("/accounts/two-factor/enrol/")
    assert page.status_code == 200 and "<svg" in page.content.decode()
    device = TOTPDevice.objects.get(user=world.officer)
    browser.post("/accounts/two-factor/enrol/", {"token": factories.totp_token(device)})
    device.refresh_from_db()
    assert device.confirmed
    # from now on the officer's sign-ins take the token step too
    again, response = _sign_in("acme-officer")
    assert response["Location"].startswith("/accounts/two-factor/verify/")
    assert again.get("/cases/").status_code == 302


def test_the_token_step_is_throttled_like_passwords(world, settings):
    settings.LOGIN_ATTEMPTS_PER_MINUTE = 3
    settings.OTP_TOTP_THROTTLE_FACTOR = 0  # leave django-otp's own back-off aside
    device = factories.totp_device(world.admin)
    browser, _ = _sign_in("acme-admin")
    codes = [
        browser.post("/accounts/two-factor/verify/", {"token": "000000"}).status_code
        for _ in range(3)
    ]
    assert codes == [200] * 3
    locked = browser.post(
        "/accounts/two-factor/verify/", {"token": factories.totp_token(device)}
    )
    assert locked.status_code == 429 and int(locked["Retry-After"]) == 60
    assert browser.get("/cases/").status_code == 302
    # the password step of the same account is locked as well
    assert _sign_in("acme-admin")[1].status_code == 429


def test_an_operator_resets_a_lost_device(world):
    from compliance.principals import Operator
    from compliance.tenancy.services import two_factor_reset

    factories.totp_device(world.admin)
    root = get_user_model().objects.create_superuser("root", password=PASSWORD)
    assert two_factor_reset(user=world.admin, operator=Operator.for_user(root)) == 1
    assert not TOTPDevice.objects.filter(user=world.admin).exists()
    assert AuditEvent.objects.filter(
        action="user.two_factor_reset", object_id=str(world.admin.pk)
    ).exists()
    _, response = _sign_in("acme-admin")
    assert response["Location"].startswith("/accounts/two-factor/enrol/")
