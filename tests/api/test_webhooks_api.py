"""Webhooks over the API and in the web UI: admins register (the secret once), change,
disable, rotate, delete and redeliver; auditors read; officers, client systems and
other organisations get nothing."""

from __future__ import annotations

from typing import Any

import pytest

from compliance.models import AuditEvent, WebhookDelivery, WebhookEndpoint
from compliance.principals import ADMIN, Principal
from compliance.webhooks import endpoint_create
from tests.conftest import PERSONAS

A, C, OFF, U, D, X = PERSONAS
URL = "http://127.0.0.1:9/hooks"  # allowlisted below; nothing listens (discard port)


@pytest.fixture(autouse=True)
def _allowlisted(settings: Any) -> None:
    settings.WEBHOOK_ALLOWED_TARGETS = ["127.0.0.1:9"]


@pytest.fixture
def hook(world: Any) -> WebhookEndpoint:
    endpoint, _ = endpoint_create(
        principal=Principal(organization=world.org, role=ADMIN, user=world.admin),
        url=URL,
        events=["decision.received"],
    )
    return endpoint


@pytest.fixture
def delivery(world: Any, hook: WebhookEndpoint) -> WebhookDelivery:
    from tests.compliance.webhooks.test_webhooks import submit

    submit(world, "loan-api-wh")
    return WebhookDelivery.objects.get(endpoint=hook)


MATRIX = [
    (
        "get",
        "/api/v1/webhooks/",
        None,
        {A: 401, C: 403, OFF: 403, U: 200, D: 200, X: 403},
    ),
    (
        "post",
        "/api/v1/webhooks/",
        {"url": URL, "events": ["decision.finalized"]},
        {A: 401, C: 403, OFF: 403, U: 403, D: 201, X: 403},
    ),
    (
        "get",
        "/api/v1/webhooks/{hook}/",
        None,
        {A: 401, C: 403, OFF: 403, U: 200, D: 200, X: 403},
    ),
    (
        "patch",
        "/api/v1/webhooks/{hook}/",
        {"description": "changed"},
        {A: 401, C: 403, OFF: 403, U: 403, D: 200, X: 403},
    ),
    (
        "post",
        "/api/v1/webhooks/{hook}/secret/",
        None,
        {A: 401, C: 403, OFF: 403, U: 403, D: 200, X: 403},
    ),
    (
        "get",
        "/api/v1/webhooks/{hook}/deliveries/",
        None,
        {A: 401, C: 403, OFF: 403, U: 200, D: 200, X: 403},
    ),
    (
        "get",
        "/api/v1/webhooks/{hook}/deliveries/{delivery}/",
        None,
        {A: 401, C: 403, OFF: 403, U: 200, D: 200, X: 403},
    ),
    (
        "post",
        "/api/v1/webhooks/{hook}/deliveries/{delivery}/redeliver/",
        None,
        {A: 401, C: 403, OFF: 403, U: 403, D: 202, X: 403},
    ),
    (
        "delete",
        "/api/v1/webhooks/{hook}/",
        None,
        {A: 401, C: 403, OFF: 403, U: 403, D: 204, X: 403},
    ),
]


@pytest.mark.parametrize(
    ("method", "path", "body", "persona", "expected"),
    [
        (method, path, body, persona, expected[persona])
        for method, path, body, expected in MATRIX
        for persona in PERSONAS
    ],
)
def test_webhook_api_roles(
    world, api_as, hook, delivery, method, path, body, persona, expected
):
    url = path.format(hook=hook.pk, delivery=delivery.pk)
    kwargs = {"data": body, "format": "json"} if body is not None else {}
    response = getattr(api_as(persona), method)(url, **kwargs)
    assert response.status_code == expected, response.content
    if expected >= 400:
        assert set(response.json()) == {"code", "detail", "errors"}


def test_another_organisations_admin_finds_nothing(world, hook, delivery):
    from rest_framework.test import APIClient

    from tests import factories

    stranger = factories.make_member(world.other_org, "admin")
    api = APIClient()
    api.force_login(stranger)
    assert api.get(f"/api/v1/webhooks/{hook.pk}/").status_code == 404
    assert api.get("/api/v1/webhooks/").json()["results"] == []
    redeliver = f"/api/v1/webhooks/{hook.pk}/deliveries/{delivery.pk}/redeliver/"
    assert api.post(redeliver).status_code == 404


def test_the_secret_is_shown_once(world, api_as):
    admin = api_as("admin")
    created = admin.post(
        "/api/v1/webhooks/",
        {"url": URL, "events": ["decision.received"], "description": "ops"},
        format="json",
    )
    assert created.status_code == 201
    body = created.json()
    assert body["secret"].startswith("whsec_")
    assert created["Location"].endswith(f"/api/v1/webhooks/{body['id']}/")
    assert WebhookEndpoint.objects.get(pk=body["id"]).secret == body["secret"]
    again = admin.get(f"/api/v1/webhooks/{body['id']}/").json()
    assert "secret" not in again
    assert body["secret"] not in str(admin.get("/api/v1/webhooks/").json())
    event = AuditEvent.objects.get(action="webhook.created")
    assert body["secret"] not in str(event.payload)
    rotated = admin.post(f"/api/v1/webhooks/{body['id']}/secret/").json()["secret"]
    assert rotated != body["secret"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "https://10.0.0.1/x", "events": ["decision.received"]}, "url"),
        ({"url": "http://example.com/x", "events": ["decision.received"]}, "url"),
        ({"url": URL, "events": ["decision.nope"]}, "events[0]"),
        ({"url": URL, "events": []}, "events"),
        ({"url": URL}, "events"),
        ({"url": URL, "events": ["decision.received"], "secret": "x"}, "secret"),
    ],
)
def test_bad_registrations_are_400s_naming_the_field(world, api_as, body, field):
    response = api_as("admin").post("/api/v1/webhooks/", body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]
    assert not WebhookEndpoint.objects.exists()


def test_disable_enable_and_the_delivery_log(world, api_as, hook, delivery):
    admin = api_as("admin")
    off = admin.patch(f"/api/v1/webhooks/{hook.pk}/", {"enabled": False}, format="json")
    assert off.status_code == 200 and off.json()["enabled"] is False
    assert off.json()["disabled_reason"].startswith("Disabled by")
    url = f"/api/v1/webhooks/{hook.pk}/deliveries/{delivery.pk}/redeliver/"
    refused = admin.post(url)
    assert refused.status_code == 409
    on = admin.patch(f"/api/v1/webhooks/{hook.pk}/", {"enabled": True}, format="json")
    assert on.json()["enabled"] is True
    assert admin.post(url).status_code == 202
    log = admin.get(f"/api/v1/webhooks/{hook.pk}/deliveries/").json()
    assert [d["event_type"] for d in log["results"]] == ["decision.received"]
    detail = admin.get(f"/api/v1/webhooks/{hook.pk}/deliveries/{delivery.pk}/").json()
    assert detail["body"]["type"] == "decision.received"
    assert detail["attempt_log"] == []
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"webhook.disabled", "webhook.enabled"} <= actions


def test_deleting_keeps_the_log_readable(world, api_as, hook, delivery):
    admin = api_as("admin")
    assert admin.delete(f"/api/v1/webhooks/{hook.pk}/").status_code == 204
    shown = admin.get(f"/api/v1/webhooks/{hook.pk}/").json()
    assert shown["deleted_at"] and shown["enabled"] is False
    log = admin.get(f"/api/v1/webhooks/{hook.pk}/deliveries/").json()
    assert log["results"][0]["status"] == "failed"
    patch = admin.patch(
        f"/api/v1/webhooks/{hook.pk}/", {"enabled": True}, format="json"
    )
    assert patch.status_code == 409


def test_the_web_page_registers_and_shows_the_secret_once(world, client):
    client.force_login(world.admin)
    page = client.post(
        "/webhooks/",
        {"url": URL, "events": ["decision.received", "review.recorded"]},
    )
    assert page.status_code == 200
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.secret in page.content.decode()
    listing = client.get("/webhooks/").content.decode()
    assert endpoint.secret not in listing and URL in listing
    bad = client.post("/webhooks/", {"url": "https://10.0.0.1/", "events": ["x"]})
    assert bad.status_code == 400 and "public addresses only" in bad.content.decode()
    detail = client.get(f"/webhooks/{endpoint.pk}/")
    assert detail.status_code == 200 and "Nothing was sent" in detail.content.decode()
    client.post(f"/webhooks/{endpoint.pk}/change", {"action": "disable"})
    endpoint.refresh_from_db()
    assert not endpoint.enabled


def test_the_web_page_is_read_only_for_auditors(world, client, hook, delivery):
    client.force_login(world.auditor)
    page = client.get(f"/webhooks/{hook.pk}/").content.decode()
    assert delivery.event_id in page and "Redeliver</button>" not in page
    assert client.post("/webhooks/", {"url": URL}).status_code == 403
    assert (
        client.post(f"/webhooks/{hook.pk}/change", {"action": "delete"}).status_code
        == 403
    )
    client.force_login(world.officer)
    assert client.get("/webhooks/").status_code == 403


def test_deleting_on_the_web_page_asks_first(world, client, hook):
    client.force_login(world.admin)
    asked = client.post(f"/webhooks/{hook.pk}/change", {"action": "delete"})
    assert asked.status_code == 200 and "Delete it" in asked.content.decode()
    hook.refresh_from_db()
    assert hook.deleted_at is None  # nothing happened yet
    client.post(f"/webhooks/{hook.pk}/change", {"action": "delete", "confirm": "yes"})
    hook.refresh_from_db()
    assert hook.deleted_at is not None
