from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from rest_framework.test import APIClient

from compliance.models import ApiKey, AuditEvent
from compliance.principals import SYSTEM_OPERATOR
from compliance.tenancy import services as tenancy

URL = "/api/v1/decisions/"


def _get(key: str) -> object:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    return api.get(URL)


def test_only_a_hash_of_the_key_is_stored(world):
    stored = ApiKey.objects.get(prefix=world.client_key.split(".")[0])
    assert world.client_key not in stored.hashed_key
    assert world.client_key.split(".")[1] not in stored.id


def test_a_revoked_key_is_refused_with_401(world):
    assert _get(world.client_key).status_code == 200
    api_key = ApiKey.objects.get(prefix=world.client_key.split(".")[0])
    tenancy.api_key_revoke(api_key=api_key, operator=SYSTEM_OPERATOR)
    response = _get(world.client_key)
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"
    assert AuditEvent.objects.filter(
        action="api_key.revoked", object_id=api_key.prefix
    ).exists()


def test_an_expired_key_is_refused_with_401(world):
    _, key = tenancy.api_key_create(
        client_system=world.client_system,
        name="short",
        expires_at=timezone.now() + timedelta(seconds=30),
    )
    assert _get(key).status_code == 200
    ApiKey.objects.filter(prefix=key.split(".")[0]).update(
        expiry_date=timezone.now() - timedelta(seconds=1)
    )
    response = _get(key)
    assert response.status_code == 401
    assert "expired" in response.json()["detail"]


@pytest.mark.parametrize(
    "header",
    [
        "Api-Key ",
        "Api-Key nonsense",
        "Api-Key abc.def",
        "Api-Key " + "x" * 500,
    ],
)
def test_malformed_or_unknown_keys_are_refused_with_401(world, header):
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=header)
    response = api.get(URL)
    assert response.status_code == 401
    assert response.json()["code"] in {"authentication_failed", "not_authenticated"}


def test_a_wrong_secret_with_a_real_prefix_is_refused(world):
    prefix = world.client_key.split(".")[0]
    assert _get(f"{prefix}.{'A' * 32}").status_code == 401


def test_create_client_system_prints_a_working_key_on_its_last_line(world, capsys):
    call_command(
        "create_client_system",
        "--org",
        world.org.slug,
        "--name",
        "batch-engine",
        "--print-key",  # issue 13: otherwise the key goes to a 0600 file
    )
    last_line = capsys.readouterr().out.strip().splitlines()[-1]
    assert _get(last_line).status_code == 200
    assert AuditEvent.objects.filter(
        action="client_system.created", payload__name="batch-engine"
    ).exists()


def test_create_client_system_refuses_an_unknown_org(db):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="No organisation"):
        call_command("create_client_system", "--org", "nope", "--name", "x")


def test_a_login_is_an_audit_event(world, client):
    assert client.login(username="acme-officer", password="pw-123456789")
    event = AuditEvent.objects.order_by("-sequence").first()
    assert event.action == "user.login" and event.organization_id == world.org.pk
