"""Property-based requests generated from /api/schema/ (schemathesis), with and without a key.

Every response must be a non-5xx and conform to the schema (status codes, bodies).
"""

from __future__ import annotations

import pytest

schemathesis = pytest.importorskip(
    "schemathesis", reason="schemathesis is a dev requirement"
)
from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    ignored_auth,
    negative_data_rejection,
    positive_data_acceptance,
)

from config.wsgi import application  # noqa: E402

schema = schemathesis.openapi.from_wsgi("/api/schema/", application)
STATS = {"requests": 0, "server_errors": 0}


@pytest.fixture(autouse=True)
def _keep_the_test_connection_open():
    """Like Django's test client: the WSGI handler must not close the test transaction."""
    from django.core import signals
    from django.db import close_old_connections

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@schema.parametrize()
@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
@pytest.mark.parametrize("with_key", [True, False], ids=["key", "anonymous"])
def test_generated_requests(case, world, with_key):
    headers = {"Authorization": f"Api-Key {world.client_key}"} if with_key else {}
    response = case.call(headers=headers)
    STATS["requests"] += 1
    assert response.status_code < 500, response.text[:300]
    # with two security schemes (API key or session cookie) a valid key next to a junk
    # cookie is a correct 200, which the "ignored auth" check misreads as a bypass
    excluded = [ignored_auth]
    if case.operation.label == "POST /api/v1/decisions/":
        # the feature object's rules live in each model version's schema, which OpenAPI
        # cannot express: a body valid for OpenAPI may still be rejected (400), rightly
        excluded.append(positive_data_acceptance)
    if case.operation.label == "POST /api/v1/dossiers/verify":
        # the in-process transport drops empty multipart fields, so "sha256 = ''" plus a
        # file arrives as a file alone, a valid request (sent as-is, it gets a 400:
        # tests/api/test_dossier_verify.py)
        excluded.append(negative_data_rejection)
        # exactly one of sha256 / pdf is required, which the generated schema shows as
        # two optional fields: an empty form is rightly a 400
        excluded.append(positive_data_acceptance)
    case.validate_response(response, excluded_checks=excluded)
