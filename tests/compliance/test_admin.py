from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from compliance.models import ApiKey, AuditEvent


@pytest.fixture
def superuser_client(world, client):
    get_user_model().objects.create_superuser("root", password="pw-123456789")
    client.login(username="root", password="pw-123456789")
    return client


def test_creating_a_key_in_the_admin_shows_it_once_and_audits_it(
    world, superuser_client
):
    response = superuser_client.post(
        "/admin/compliance/apikey/add/",
        {
            "client_system": world.client_system.pk,
            "name": "from admin",
            "expiry_date_0": "",
            "expiry_date_1": "",
        },
        follow=True,
    )
    assert response.status_code == 200
    text = response.content.decode()
    key = re.search(r"The API key for .*? is: ([\w]+\.[\w]+)", text).group(1)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    assert api.get("/api/v1/decisions/").status_code == 200
    stored = ApiKey.objects.get(prefix=key.split(".")[0])
    assert AuditEvent.objects.filter(
        action="api_key.created", object_id=stored.prefix
    ).exists()


def test_revoking_keys_in_the_admin_audits_it(world, superuser_client):
    api_key = ApiKey.objects.get(prefix=world.client_key.split(".")[0])
    superuser_client.post(
        "/admin/compliance/apikey/",
        {"action": "revoke_keys", "_selected_action": [api_key.pk]},
    )
    api_key.refresh_from_db()
    assert api_key.revoked and api_key.revoked_at
    assert AuditEvent.objects.filter(
        action="api_key.revoked", object_id=api_key.prefix
    ).exists()


@pytest.mark.parametrize("model", ["auditevent", "decision", "modelversion"])
def test_records_are_read_only_in_the_admin(world, superuser_client, model):
    from compliance.models import AuditEvent, Decision, ModelVersion

    obj = {
        "auditevent": AuditEvent,
        "decision": Decision,
        "modelversion": ModelVersion,
    }[model].objects.first()
    assert superuser_client.get(f"/admin/compliance/{model}/").status_code == 200
    assert superuser_client.get(f"/admin/compliance/{model}/add/").status_code == 403
    assert (
        superuser_client.post(
            f"/admin/compliance/{model}/{obj.pk}/delete/", {"post": "yes"}
        ).status_code
        == 403
    )
    assert (
        superuser_client.get(f"/admin/compliance/{model}/{obj.pk}/change/").status_code
        == 200
    )  # view only
