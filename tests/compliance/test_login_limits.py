"""Failed sign-in limits (issue 13, item 1): keyed on the normalised username, failures
only, per address and account and per account per hour, on the site's and the admin's
sign-in."""

from __future__ import annotations

import warnings

import pytest
from django.core.cache import cache
from django.core.cache.backends.base import CacheKeyWarning
from django.test import Client

from compliance.models import AuditEvent
from compliance.web import login_limits

PASSWORD = "pw-123456789"


@pytest.fixture(autouse=True)
def _fresh_counters():
    cache.clear()
    login_limits._local_counts.clear()
    yield
    cache.clear()
    login_limits._local_counts.clear()


def _post(username, password="wrong", *, address="10.0.0.1", path="/accounts/login/"):  # noqa: S107
    return Client(REMOTE_ADDR=address).post(
        path, {"username": username, "password": password}
    )


SPELLINGS = [
    " acme-officer",
    "acme-officer\t",
    "acme-officer\u3000",  # ideographic space
    "\uff41\uff43\uff4d\uff45\uff0d\uff4f\uff46\uff46\uff49\uff43\uff45\uff52",  # full-width
    "ACME-Officer",
]


def test_every_spelling_of_a_name_shares_one_counter(world, settings):
    settings.LOGIN_ATTEMPTS_PER_MINUTE = 3
    assert [_post("acme-officer").status_code for _ in range(3)] == [200] * 3
    for spelling in SPELLINGS:
        # the form would sign these in (strip, NFKC): the limit holds for them too
        response = _post(spelling, PASSWORD)
        assert response.status_code == 429, spelling
        assert int(response["Retry-After"]) == 60


def test_successful_sign_ins_do_not_count(world, settings):
    settings.LOGIN_ATTEMPTS_PER_MINUTE = 3
    assert [_post("acme-officer", PASSWORD).status_code for _ in range(5)] == [302] * 5
    assert [_post("acme-officer").status_code for _ in range(3)] == [200] * 3
    assert _post("acme-officer").status_code == 429


def test_the_hourly_account_limit_holds_from_every_address(world, settings):
    settings.LOGIN_ATTEMPTS_PER_MINUTE = 1000
    settings.LOGIN_FAILURES_PER_ACCOUNT_PER_HOUR = 5
    codes = [_post("acme-officer", address=f"10.0.1.{i}").status_code for i in range(5)]
    assert codes == [200] * 5
    # a sixth address, even with the right password
    locked = _post("acme-officer", PASSWORD, address="10.0.2.1")
    assert locked.status_code == 429
    assert 60 < int(locked["Retry-After"]) <= 7200
    page = locked.content.decode()
    assert "Try again in" in page and "UTC" in page and "every address" in page
    # another account is not affected
    assert _post("acme-auditor", PASSWORD, address="10.0.2.1").status_code == 302
    # the lockout is audited once, in the person's organisation's trail
    events = AuditEvent.objects.filter(action="user.login_locked")
    assert events.count() == 1
    event = events.get()
    assert event.payload["scope"] == "account"
    assert event.object_id == str(world.officer.pk) and event.organization == world.org


def test_no_rolling_hour_holds_more_than_the_hourly_limit(world, settings, monkeypatch):
    settings.LOGIN_ATTEMPTS_PER_MINUTE = 1000
    settings.LOGIN_FAILURES_PER_ACCOUNT_PER_HOUR = 4
    clock = [7200.0 * 1000 + 3590]  # ten seconds before an hour's bucket ends
    monkeypatch.setattr(login_limits.time, "time", lambda: clock[0])
    assert [_post("acme-officer").status_code for _ in range(4)] == [200] * 4
    clock[0] += 20  # the next hour's bucket: still within an hour of those four
    assert _post("acme-officer").status_code == 429
    clock[0] += 3600  # the four fell out of every window that includes now
    assert _post("acme-officer").status_code == 200


def test_the_address_window_passes_after_a_minute(world, settings, monkeypatch):
    settings.LOGIN_ATTEMPTS_PER_MINUTE = 2
    clock = [1_000_020.0]
    monkeypatch.setattr(login_limits.time, "time", lambda: clock[0])
    assert [_post("acme-officer").status_code for _ in range(2)] == [200, 200]
    assert _post("acme-officer", PASSWORD).status_code == 429
    clock[0] += 61
    assert _post("acme-officer", PASSWORD).status_code == 302


def test_any_username_is_a_safe_cache_key(world, settings):
    settings.LOGIN_ATTEMPTS_PER_MINUTE = 2
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheKeyWarning)
        codes = [_post("a b\x01c\t" + "x" * 400).status_code for _ in range(3)]
    assert codes == [200, 200, 429]


def test_the_admin_sign_in_has_the_same_limits(world, settings):
    from django.contrib.auth import get_user_model

    get_user_model().objects.create_superuser("root", password=PASSWORD)
    settings.LOGIN_ATTEMPTS_PER_MINUTE = 3
    codes = [_post("root", path="/admin/login/").status_code for _ in range(3)]
    assert codes == [200] * 3
    for spelling in ["root", " root", "ROOT\u3000"]:
        locked = _post(spelling, PASSWORD, path="/admin/login/")
        assert locked.status_code == 429 and int(locked["Retry-After"]) == 60
    # the site's sign-in shares the counter
    assert _post("root", PASSWORD).status_code == 429


def test_a_lockout_is_metered(world, settings):
    settings.LOGIN_ATTEMPTS_PER_MINUTE = 2
    metric = login_limits.LOCKOUTS.labels(scope="address")
    before = metric._value.get()
    for _ in range(4):
        _post("acme-officer")
    assert metric._value.get() == before + 1
    assert (
        AuditEvent.objects.filter(
            action="user.login_locked", payload__scope="address"
        ).count()
        == 1
    )
