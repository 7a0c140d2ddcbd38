"""The demo's receiver: registered by `manage.py demo_webhook` as demo-bank's admin
would, it checks every delivery's signature with the secret the command wrote and
prints what it got; a forged delivery is answered 401."""

from __future__ import annotations

import socket
import threading
import urllib.error
import urllib.request
from typing import Any

import pytest
from django.core.management import call_command

from compliance.models import WebhookDelivery, WebhookEndpoint
from demo import webhook_receiver
from tests import factories
from tests.compliance.webhooks.test_webhooks import deliver, submit

pytestmark = pytest.mark.django_db(transaction=True)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_demo_receiver_checks_and_prints_deliveries(
    world: Any, tmp_path, settings, capsys
):
    factories.make_member(world.org, "admin", "acme-admin-2")
    port = _free_port()
    settings.WEBHOOK_ALLOWED_TARGETS = [f"127.0.0.1:{port}"]
    secret_file = tmp_path / "secret"
    url = f"http://127.0.0.1:{port}/inspectoscope"
    call_command(
        "demo_webhook", org=world.org.slug, url=url, secret_file=str(secret_file)
    )
    endpoint = WebhookEndpoint.objects.get()
    assert secret_file.read_text() == endpoint.secret
    thread = threading.Thread(
        target=webhook_receiver.serve, args=(port, secret_file), daemon=True
    )
    thread.start()
    for _ in range(50):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            break
        except OSError:
            threading.Event().wait(0.05)
    submit(world, "loan-demo-wh")
    deliver()
    assert WebhookDelivery.objects.get().status == "delivered"
    out = capsys.readouterr().out
    assert "decision.received" in out and "signature valid" in out
    forged = urllib.request.Request(  # noqa: S310 (loopback)
        url,
        data=b"{}",
        method="POST",
        headers={"Inspectoscope-Signature": "t=1,v1=00"},
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(forged, timeout=5)  # noqa: S310
    assert refused.value.code == 401
    # run again: the same endpoint, a new secret written for the receiver
    call_command(
        "demo_webhook", org=world.org.slug, url=url, secret_file=str(secret_file)
    )
    assert WebhookEndpoint.objects.count() == 1
    endpoint.refresh_from_db()
    assert secret_file.read_text() == endpoint.secret
