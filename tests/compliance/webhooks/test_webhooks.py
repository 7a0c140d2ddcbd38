"""Webhooks (issue 17 item 2): deliveries signed and received, retried after a 500,
redelivered with the same event id, given up after the retry window, the endpoint
disabled after persistent failure (audited), private targets refused, the outbox kept
with its transaction, drills never reported."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone

from compliance import decisions as intake
from compliance.audit import audit_event_append
from compliance.errors import Conflict, PermissionDenied, ValidationFailed
from compliance.jobs import jobs_process
from compliance.models import (
    AuditEvent,
    Job,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from compliance.principals import ADMIN, AUDITOR, OFFICER, Operator, Principal
from compliance.registry.services import ai_system_update
from compliance.reviews.drills import drill_create
from compliance.reviews.services import review_record
from compliance.webhooks import (
    backoff_seconds,
    delivery_redeliver,
    endpoint_create,
    endpoint_update,
    signature_verify,
)
from compliance.webhooks.targets import TargetRefused, address_refusal, target_check
from tests import factories
from tests.compliance.webhooks.conftest import verify

pytestmark = pytest.mark.django_db(transaction=True)
ALL = [
    "decision.received",
    "explanation.completed",
    "explanation.failed",
    "dossier.issued",
    "notice.issued",
    "review.recorded",
    "decision.finalized",
]


def admin(world: Any) -> Principal:
    return Principal(organization=world.org, role=ADMIN, user=world.admin)


def submit(world: Any, external_id: str) -> Any:
    payload = factories.decision_payload(world.model_version, external_id=external_id)
    payload["decided_at"] = timezone.now()
    decision, _ = intake.decision_submit(
        principal=Principal(
            organization=world.org, role="client", client_system=world.client_system
        ),
        submission=intake.Submission.from_validated(payload),
    )
    return decision


def deliver() -> int:
    """Run every webhook job that is due (as a worker would)."""
    done = 0
    while n := jobs_process(kind="webhook", worker="test", limit=16):
        done += n
    return done


def due_now() -> None:
    """Pretend the back-off passed: every queued webhook job is due."""
    Job.objects.filter(kind="webhook", status="queued").update(available_at=None)


@pytest.fixture
def endpoint(world: Any, receiver: Any) -> tuple[WebhookEndpoint, str]:
    return endpoint_create(
        principal=admin(world), url=receiver.url, events=ALL, description="core"
    )


def test_a_delivery_is_signed_and_the_receiver_verifies_it(world, receiver, endpoint):
    hook, secret = endpoint
    assert secret.startswith("whsec_") and len(secret) > 40
    decision = submit(world, "loan-wh-1")
    assert deliver() == 1
    [got] = receiver.received
    assert verify(secret, got.headers["Inspectoscope-Signature"], got.body)
    assert signature_verify(secret, got.headers["Inspectoscope-Signature"], got.body)
    assert not verify("whsec_wrong", got.headers["Inspectoscope-Signature"], got.body)
    assert not verify(secret, got.headers["Inspectoscope-Signature"], got.body + b" ")
    document = got.document
    assert document["type"] == "decision.received"
    assert got.headers["Inspectoscope-Event"] == "decision.received"
    assert got.headers["Inspectoscope-Event-Id"] == document["id"]
    assert document["id"].startswith("evt_")
    assert document["organization"] == world.org.slug
    assert document["data"]["decision"]["external_id"] == "loan-wh-1"
    assert document["data"]["decision"]["id"] == decision.pk
    assert document["data"]["decision"]["path"] == f"/api/v1/decisions/{decision.pk}/"
    delivery = WebhookDelivery.objects.get(endpoint=hook)
    assert delivery.status == "delivered" and delivery.attempts == 1
    [attempt] = WebhookAttempt.objects.filter(delivery=delivery)
    assert attempt.status_code == 200 and attempt.response_excerpt == "answer 200"


def test_a_stale_signature_is_refused_by_the_check():
    header = "t=1000,v1=" + "0" * 64
    assert not signature_verify("whsec_x", header, b"{}", now=1000 + 301)


def test_a_500_is_retried_with_back_off_and_the_same_event_id(
    world, receiver, endpoint, settings
):
    settings.WEBHOOK_BACKOFF_BASE_SECONDS = 30
    receiver.answers = [500, 200]
    submit(world, "loan-wh-2")
    before = timezone.now()
    deliver()
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "pending" and delivery.attempts == 1
    assert delivery.last_status_code == 500
    wait = (delivery.next_attempt_at - before).total_seconds()
    assert 15 - 1 <= wait <= 30 + 1  # half to all of the base: jitter
    retry = Job.objects.get(kind="webhook", status="queued")
    assert retry.available_at == delivery.next_attempt_at
    assert deliver() == 0  # not due yet
    due_now()
    assert deliver() == 1
    delivery.refresh_from_db()
    assert delivery.status == "delivered" and delivery.attempts == 2
    codes = list(
        WebhookAttempt.objects.filter(delivery=delivery).values_list(
            "status_code", flat=True
        )
    )
    assert codes == [500, 200]
    first, second = receiver.received
    assert first.body == second.body
    assert (
        first.headers["Inspectoscope-Event-Id"]
        == second.headers["Inspectoscope-Event-Id"]
    )
    assert second.headers["Inspectoscope-Attempt"] == "2"


def test_back_off_doubles_up_to_its_cap_with_jitter(settings):
    settings.WEBHOOK_BACKOFF_BASE_SECONDS = 10
    settings.WEBHOOK_BACKOFF_MAX_SECONDS = 100

    class Fixed:
        def __init__(self, value: float) -> None:
            self.value = value

        def random(self) -> float:
            return self.value

    assert [backoff_seconds(n, Fixed(1.0)) for n in (1, 2, 3, 4, 5, 9)] == [
        10,
        20,
        40,
        80,
        100,
        100,
    ]
    assert backoff_seconds(3, Fixed(0.0)) == 20  # half of it at the least


def test_redelivery_sends_the_same_event_again_and_is_audited(
    world, receiver, endpoint
):
    submit(world, "loan-wh-3")
    deliver()
    delivery = WebhookDelivery.objects.get()
    delivery_redeliver(principal=admin(world), delivery=delivery)
    assert deliver() == 1
    first, again = receiver.received
    assert first.body == again.body
    assert again.headers["Inspectoscope-Event-Id"] == delivery.event_id
    manual = WebhookAttempt.objects.filter(delivery=delivery).order_by("number")
    assert [a.manual for a in manual] == [False, True]
    assert AuditEvent.objects.filter(action="webhook.redelivery_requested").exists()
    with pytest.raises(PermissionDenied):
        delivery_redeliver(
            principal=Principal(organization=world.org, role=AUDITOR), delivery=delivery
        )


def test_a_delivery_is_given_up_after_the_retry_window(
    world, receiver, endpoint, settings
):
    settings.WEBHOOK_RETRY_WINDOW_SECONDS = 0
    receiver.answers = [503]
    submit(world, "loan-wh-4")
    deliver()
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "failed" and delivery.next_attempt_at is None
    assert not Job.objects.filter(kind="webhook", status="queued").exists()
    event = AuditEvent.objects.get(action="webhook.delivery_failed")
    assert event.payload["last_status_code"] == 503


def test_an_endpoint_failing_persistently_is_disabled_and_audited(
    world, receiver, endpoint, settings
):
    hook, _ = endpoint
    settings.WEBHOOK_DISABLE_AFTER_SECONDS = 0
    settings.WEBHOOK_DISABLE_MIN_FAILURES = 3
    receiver.answers = [500]
    for n in range(2):
        submit(world, f"loan-wh-5-{n}")
    deliver()  # two failures: not yet
    hook.refresh_from_db()
    assert hook.enabled and hook.consecutive_failures == 2
    due_now()
    deliver()  # the third failure disables it; the other pending delivery stops
    hook.refresh_from_db()
    assert not hook.enabled and hook.disabled_at is not None
    assert "in a row" in hook.disabled_reason
    event = AuditEvent.objects.get(action="webhook.disabled")
    assert event.payload["automatic"] is True
    assert not WebhookDelivery.objects.filter(status="pending").exists()
    sent = len(receiver.received)
    due_now()
    deliver()
    submit(world, "loan-wh-5-late")  # no delivery for a disabled endpoint
    deliver()
    assert len(receiver.received) == sent
    assert WebhookDelivery.objects.count() == 2
    with pytest.raises(Conflict):
        delivery_redeliver(
            principal=admin(world), delivery=WebhookDelivery.objects.first()
        )
    endpoint_update(principal=admin(world), endpoint=hook, changes={"enabled": True})
    hook.refresh_from_db()
    assert hook.enabled and hook.consecutive_failures == 0
    assert AuditEvent.objects.filter(action="webhook.enabled").exists()


def test_a_success_ends_a_run_of_failures(world, receiver, endpoint, settings):
    hook, _ = endpoint
    settings.WEBHOOK_DISABLE_AFTER_SECONDS = 0
    settings.WEBHOOK_DISABLE_MIN_FAILURES = 3
    receiver.answers = [500, 500, 200]
    submit(world, "loan-wh-6")
    deliver()
    due_now()
    deliver()
    hook.refresh_from_db()
    assert hook.consecutive_failures == 2
    due_now()
    deliver()
    hook.refresh_from_db()
    assert hook.enabled and hook.consecutive_failures == 0 and not hook.failing_since


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/hooks",
        "https://localhost:8443/hooks",
        "https://10.1.2.3/hooks",
        "https://192.168.0.10/hooks",
        "https://172.16.5.5/hooks",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/hooks",
        "https://[fe80::1]/hooks",
        "https://[::ffff:10.0.0.1]/hooks",
        "https://0.0.0.0/hooks",
        "https://100.64.0.1/hooks",
    ],
)
def test_private_loopback_and_link_local_targets_are_refused(world, url):
    with pytest.raises(ValidationFailed) as refused:
        endpoint_create(principal=admin(world), url=url, events=ALL)
    assert "url" in refused.value.errors
    assert "public addresses only" in refused.value.errors["url"][0]
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("http://93.184.215.14/hooks", "Use https://"),
        ("ftp://93.184.215.14/hooks", "Use an https:// URL"),
        ("https://user:pw@93.184.215.14/hooks", "no credentials"),
        ("https:///hooks", "names no host"),
        ("https://93.184.215.14/a b", "no spaces"),
        ("https://no-such-host.invalid/hooks", "does not resolve"),
        ("", "Give the receiver's URL"),
    ],
)
def test_bad_urls_are_refused_with_the_reason(world, url, words):
    with pytest.raises(ValidationFailed) as refused:
        endpoint_create(principal=admin(world), url=url, events=ALL)
    assert words in refused.value.errors["url"][0]


def test_public_addresses_pass_and_private_ones_are_named():
    assert address_refusal("93.184.215.14") is None
    assert address_refusal("2606:4700::1111") is None
    assert address_refusal("127.0.0.1") == "a loopback address"
    assert address_refusal("169.254.169.254") == "a link-local address"
    assert address_refusal("10.0.0.1") == "a private address"
    assert target_check("https://93.184.215.14:8443/x?y=1").path == "/x?y=1"


def test_a_target_allowed_at_registration_is_checked_again_at_delivery(
    world, receiver, endpoint, settings
):
    settings.WEBHOOK_ALLOWED_TARGETS = []  # the operator took the allowance back
    settings.WEBHOOK_RETRY_WINDOW_SECONDS = 0
    submit(world, "loan-wh-7")
    deliver()
    assert receiver.received == []
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "failed"
    assert delivery.last_error.startswith("Refused:")
    with pytest.raises(TargetRefused):
        target_check(receiver.url)


def test_events_are_checked_and_kept_in_order(world, receiver):
    with pytest.raises(ValidationFailed) as refused:
        endpoint_create(
            principal=admin(world), url=receiver.url, events=["decision.received", "x"]
        )
    assert "events[1]" in refused.value.errors
    with pytest.raises(ValidationFailed):
        endpoint_create(principal=admin(world), url=receiver.url, events=[])
    hook, _ = endpoint_create(
        principal=admin(world),
        url=receiver.url,
        events=["decision.finalized", "decision.received", "decision.received"],
    )
    assert hook.events == ["decision.received", "decision.finalized"]


def test_only_admins_register_endpoints(world, receiver):
    for role in (OFFICER, AUDITOR, "client"):
        with pytest.raises(PermissionDenied):
            endpoint_create(
                principal=Principal(organization=world.org, role=role),
                url=receiver.url,
                events=ALL,
            )


def test_an_endpoint_gets_only_the_events_it_chose(world, receiver):
    endpoint_create(
        principal=admin(world), url=receiver.url, events=["decision.finalized"]
    )
    decision = submit(world, "loan-wh-8")
    deliver()
    assert receiver.received == []
    officer = Principal(organization=world.org, role=OFFICER, user=world.officer)
    review_record(
        principal=officer,
        decision=decision,
        action="uphold",
        justification="Checked the application against the policy; agreed.",
    )
    deliver()
    [got] = receiver.received
    assert got.document["type"] == "decision.finalized"
    assert got.document["data"]["decision"]["final_outcome"] == decision.outcome


def test_a_review_is_reported_with_its_action(world, receiver, endpoint):
    decision = submit(world, "loan-wh-9")
    deliver()
    officer = Principal(organization=world.org, role=OFFICER, user=world.officer)
    review_record(
        principal=officer,
        decision=decision,
        action="escalate",
        justification="Needs a second look by the credit committee.",
    )
    deliver()
    types = [r.document["type"] for r in receiver.received]
    assert types == ["decision.received", "review.recorded"]
    assert receiver.received[1].document["data"]["action"] == "escalate"


def test_an_event_rolled_back_is_never_sent(world, receiver, endpoint):
    with pytest.raises(RuntimeError), transaction.atomic():
        audit_event_append(
            actor="test",
            organization=world.org,
            action="decision.submitted",
            object_type="decision",
            object_id=world.decision.pk,
            payload={},
        )
        assert WebhookDelivery.objects.count() == 1  # stored with the event ...
        raise RuntimeError("the submission failed later")
    assert WebhookDelivery.objects.count() == 0  # ... and gone with it
    assert deliver() == 0 and receiver.received == []


def test_training_drills_are_never_reported(world, receiver, endpoint):
    ai_system_update(operator=Operator(), ai_system=world.ai_system, drill_rate=0.5)
    drill = drill_create(
        principal=admin(world),
        source=world.decision,
        correct_outcome=world.decision.outcome,
    )
    officer = Principal(organization=world.org, role=OFFICER, user=world.officer)
    review_record(
        principal=officer,
        decision=drill.decision,
        action="uphold",
        justification="Checked the application against the policy; agreed.",
    )
    deliver()
    assert receiver.received == []
    assert not WebhookDelivery.objects.exists()


def test_jobs_of_deleted_endpoints_send_nothing(world, receiver, endpoint):
    from compliance.webhooks import endpoint_delete

    hook, _ = endpoint
    submit(world, "loan-wh-10")
    endpoint_delete(principal=admin(world), endpoint=hook)
    assert deliver() == 1  # the job ran and skipped
    assert receiver.received == []
    assert WebhookDelivery.objects.get().last_error == "The endpoint was deleted."


def test_timeouts_are_recorded_as_failed_attempts(world, settings):
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)  # accepts, never answers
    port = listener.getsockname()[1]
    settings.WEBHOOK_ALLOWED_TARGETS = [f"127.0.0.1:{port}"]
    settings.WEBHOOK_TIMEOUT_SECONDS = 0.5
    try:
        endpoint_create(
            principal=admin(world), url=f"http://127.0.0.1:{port}/", events=ALL
        )
        submit(world, "loan-wh-11")
        deliver()
    finally:
        listener.close()
    attempt = WebhookAttempt.objects.get()
    assert attempt.status_code is None and "within 0.5 s" in attempt.error
    assert WebhookDelivery.objects.get().status == "pending"


def test_delivery_jobs_are_jobs_of_the_engine(world, receiver, endpoint):
    submit(world, "loan-wh-12")
    job = Job.objects.get(kind="webhook")
    assert job.status == "queued" and job.organization == world.org
    assert job.decision is None  # client systems' job reads never show them
    deliver()
    job.refresh_from_db()
    assert job.status == "done"
    assert timezone.now() - job.finished_at < timedelta(minutes=1)


@pytest.mark.parametrize(
    ("action", "payload", "types"),
    [
        ("decision.submitted", {}, ["decision.received"]),
        ("explanation.stored", {"job": 1}, ["explanation.completed"]),
        ("explanation.failed", {"decision": 1}, ["explanation.failed"]),
        ("dossier.issued", {}, ["dossier.issued"]),
        ("notice.issued", {}, ["notice.issued"]),
        ("review.escalate", {"new": {"status": "escalated"}}, ["review.recorded"]),
        (
            "review.uphold",
            {"old": {"status": "needs_review"}, "new": {"status": "final"}},
            ["review.recorded", "decision.finalized"],
        ),
        (
            "review.confirmed",
            {
                "old": {"status": "reviewed", "final_outcome": ""},
                "new": {"status": "final", "final_outcome": "good"},
            },
            ["review.recorded", "decision.finalized"],
        ),
        ("dossier.downloaded", {}, []),
        ("explanation.requested", {}, []),
        ("drill.created", {}, []),
    ],
)
def test_which_audit_events_are_reported(action, payload, types):
    from compliance.webhooks.events import webhook_types

    event = AuditEvent(action=action, payload=payload, object_type="decision")
    assert webhook_types(event) == types


def test_a_completed_explanation_is_reported(world, receiver, endpoint):
    from compliance.explanations import explanation_request
    from compliance.principals import SYSTEM_OPERATOR

    explanation_request(
        principal=SYSTEM_OPERATOR, decision=world.decision, methods=["saliency"]
    )
    assert jobs_process(kind="explanation", worker="test", limit=4) == 1
    deliver()
    [got] = receiver.received
    assert got.document["type"] == "explanation.completed"
    assert got.document["data"]["methods"] == ["saliency"]
    assert got.document["data"]["decision"]["id"] == world.decision.pk
