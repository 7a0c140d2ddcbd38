"""The Idempotency-Key header on every POST of the API: same key and same body, the
same response (nothing done twice); same key and another body, 409."""

from __future__ import annotations

from datetime import timedelta

from django.test import Client
from django.utils import timezone

from compliance.models import AuditEvent, Decision, IdempotencyKey, Job
from tests import factories

URL = "/api/v1/decisions/"


def test_the_same_key_and_body_get_the_same_response_and_nothing_twice(world, api_as):
    api = api_as("client")
    payload = factories.decision_payload(world.model_version)
    first = api.post(URL, payload, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    counts = (Decision.objects.count(), AuditEvent.objects.count())
    again = api.post(URL, payload, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.content == first.content
    assert again["Idempotent-Replayed"] == "true"
    assert not first.has_header("Idempotent-Replayed")
    assert (Decision.objects.count(), AuditEvent.objects.count()) == counts


def test_the_same_key_with_another_body_is_a_409_and_stores_nothing(world, api_as):
    api = api_as("client")
    api.post(
        URL,
        factories.decision_payload(world.model_version),
        format="json",
        HTTP_IDEMPOTENCY_KEY="k-2",
    )
    counts = (Decision.objects.count(), AuditEvent.objects.count())
    other = api.post(
        URL,
        factories.decision_payload(world.model_version),
        format="json",
        HTTP_IDEMPOTENCY_KEY="k-2",
    )
    assert other.status_code == 409
    assert other.json()["code"] == "idempotency_key_reused"
    assert "Idempotency-Key" in other.json()["errors"]
    assert (Decision.objects.count(), AuditEvent.objects.count()) == counts


def test_a_replay_does_not_run_the_view_again(world, api_as):
    api = api_as("officer")
    url = f"/api/v1/decisions/{world.decision.pk}/explanations/"
    body = {"methods": ["saliency"]}
    first = api.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="explain-1")
    events = AuditEvent.objects.count()
    again = api.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="explain-1")
    assert first.status_code == 202 and again.status_code == 202
    assert again.content == first.content and again["Location"] == first["Location"]
    assert again["Idempotent-Replayed"] == "true"
    assert Job.objects.filter(kind="explanation").count() == 1
    assert AuditEvent.objects.count() == events


def test_a_key_is_forgotten_after_its_time(world, api_as, settings):
    api = api_as("client")
    api.post(
        URL,
        factories.decision_payload(world.model_version),
        format="json",
        HTTP_IDEMPOTENCY_KEY="k-old",
    )
    IdempotencyKey.objects.filter(key="k-old").update(
        created_at=timezone.now()
        - timedelta(seconds=settings.IDEMPOTENCY_KEY_TTL_SECONDS + 1)
    )
    fresh = api.post(
        URL,
        factories.decision_payload(world.model_version),
        format="json",
        HTTP_IDEMPOTENCY_KEY="k-old",
    )
    assert fresh.status_code == 201 and not fresh.has_header("Idempotent-Replayed")
    assert IdempotencyKey.objects.filter(key="k-old").count() == 1


def test_keys_belong_to_their_caller(world, api_as):
    payload = factories.decision_payload(world.model_version)
    mine = api_as("client").post(URL, payload, format="json", HTTP_IDEMPOTENCY_KEY="k")
    other_client = api_as("other_org")  # another organisation's officer, same key
    theirs = other_client.post(
        "/api/v1/public/verify/",
        {"sha256": "0" * 64},
        format="json",
        HTTP_IDEMPOTENCY_KEY="k",
    )
    assert mine.status_code == 201 and theirs.status_code == 200
    assert IdempotencyKey.objects.filter(key="k").count() == 2


def test_refused_credentials_are_not_remembered(world, api_as):
    payload = factories.decision_payload(world.model_version)
    refused = Client().post(
        URL,
        payload,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Api-Key {world.client_key}x",
        HTTP_IDEMPOTENCY_KEY="k-3",
    )
    assert refused.status_code == 401
    assert not IdempotencyKey.objects.filter(key="k-3").exists()


def test_a_malformed_key_is_a_400(world, api_as):
    response = api_as("client").post(
        URL,
        factories.decision_payload(world.model_version),
        format="json",
        HTTP_IDEMPOTENCY_KEY="has spaces",
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_idempotency_key"
    assert (
        not Decision.objects.filter(external_id__startswith="loan-")
        .exclude(pk__in=[world.decision.pk, world.other_decision.pk])
        .exists()
    )


def test_gets_and_pages_outside_the_api_ignore_the_header(world, api_as):
    api = api_as("client")
    one = api.get(URL, HTTP_IDEMPOTENCY_KEY="k-4")
    two = api.get(URL, HTTP_IDEMPOTENCY_KEY="k-4")
    assert one.status_code == two.status_code == 200
    assert not two.has_header("Idempotent-Replayed")
    assert not IdempotencyKey.objects.exists()


def test_the_schema_documents_the_header_on_every_post(world, api_as):
    schema = api_as("anonymous").get("/api/schema/?format=json").json()
    posts = [item["post"] for item in schema["paths"].values() if "post" in item]
    assert posts
    for operation in posts:
        names = [p["name"] for p in operation.get("parameters", [])]
        assert "Idempotency-Key" in names
        assert "409" in operation["responses"]
