"""The request counter's labels come from fixed sets: requests with random methods
(or to random paths) add no series to /metrics."""

from __future__ import annotations

import secrets

from django.test import Client

from compliance.platform.observability import LATENCY, REQUESTS, method_label


def _series() -> set[tuple[tuple[str, str], ...]]:
    return {
        tuple(sorted(sample.labels.items()))
        for metric in [*REQUESTS.collect(), *LATENCY.collect()]
        for sample in metric.samples
    }


def test_random_methods_and_paths_create_no_new_series(world, api_as):
    client = Client()
    # the fixed label values these requests may use, once each
    client.generic("BREW", "/api/v1/decisions/")
    client.generic("BREW", f"/no-such-page-{secrets.token_hex(4)}")
    before = _series()
    for _ in range(50):
        method = secrets.token_hex(6).upper()
        client.generic(method, "/api/v1/decisions/")
        client.generic(method, f"/no-such-page-{secrets.token_hex(8)}")
    assert _series() == before
    methods = {dict(s).get("method") for s in before}
    assert "other" in methods and "BREW" not in methods


def test_known_methods_keep_their_own_label():
    assert method_label("GET") == "GET"
    assert method_label("DELETE") == "DELETE"
    assert method_label("BREW") == "other"
    assert method_label("get") == "other"
    assert method_label(None) == "other"
