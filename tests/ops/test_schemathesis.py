"""Property-based requests generated from /api/schema/ (schemathesis), with and without a key.

Every response must be a non-5xx and conform to the schema (status codes, bodies).

Deterministic by default (``derandomize=True``, no example database, a fixed number of
examples), so ``make test`` gets the same requests on every run. To explore by hand:

    SCHEMATHESIS_RANDOM=1 SCHEMATHESIS_EXAMPLES=100 pytest tests/ops/test_schemathesis.py
"""

from __future__ import annotations

import os
from collections import Counter

import pytest

schemathesis = pytest.importorskip(
    "schemathesis", reason="schemathesis is pinned in requirements.txt; install it"
)
from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis.core.failures import FailureGroup  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    negative_data_rejection,
    positive_data_acceptance,
)

from config.wsgi import application  # noqa: E402

MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "25"))
DERANDOMIZE = os.environ.get("SCHEMATHESIS_RANDOM", "") != "1"

schema = schemathesis.openapi.from_wsgi("/api/schema/", application)
STATS: Counter[str] = Counter()


@pytest.fixture(scope="module", autouse=True)
def _summary(request):
    yield
    plugins = request.config.pluginmanager
    reporter = plugins.get_plugin("terminalreporter")
    capture = plugins.get_plugin("capturemanager")
    line = (
        f"schemathesis: {STATS['requests']} requests, "
        f"{STATS['server_errors']} server errors, "
        f"{STATS['violations']} schema violations "
        f"(max_examples={MAX_EXAMPLES}, derandomize={DERANDOMIZE})"
    )
    if reporter is not None and capture is not None:
        with capture.global_and_fixture_disabled():
            reporter.ensure_newline()
            reporter.write_line(line)


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


def _excluded_checks(case) -> list:
    excluded = []
    if case.operation.label == "POST /api/v1/decisions/":
        # The feature object's rules live in each model version's schema, which OpenAPI
        # cannot express: a body valid for OpenAPI may still be rejected (400), rightly.
        excluded.append(positive_data_acceptance)
    if case.operation.label == "POST /api/v1/decisions/bulk/":
        # Each decision is answered on its own (per-item 400 inside a 200: one bad item
        # never sinks the others, tests/api/test_bulk_intake.py), and each item's
        # features follow its model version's schema, as for single submissions.
        excluded += [negative_data_rejection, positive_data_acceptance]
    if case.operation.label == "POST /api/v1/decisions/{id}/dossiers/":
        # Issuing needs a stored explanation of the decision: a state rule, not a request
        # shape, so an existing id is rightly refused (400 dossier_incomplete,
        # tests/compliance/test_dossiers.py) though OpenAPI sees a valid request.
        excluded.append(positive_data_acceptance)
    if case.operation.label == "POST /api/v1/decisions/{id}/notices/":
        # Like a dossier, a notice needs a stored explanation with reasons: a state
        # rule (400 notice_incomplete, tests/api/test_notices_api.py).
        excluded.append(positive_data_acceptance)
    if case.operation.label == "POST /api/v1/decisions/{id}/contests/":
        # The person's words are refused when they hold NUL, lone surrogates or
        # bidirectional controls (compliance.platform.text, as every free text in the
        # API): a rule OpenAPI's pattern cannot state whole (tests/compliance/reviews/
        # test_contests.py).
        excluded.append(positive_data_acceptance)
    if (
        case.operation.label == "POST /api/v1/decisions/{id}/explanations/"
        and isinstance(case.body, dict)
        and case.body.get("parameters")
    ):
        # Which keys "parameters" may hold depends on the methods requested, and each
        # method has its own rules (explain.resolve_request): OpenAPI cannot tie them
        # to "methods", so a valid-looking object may rightly be a 400.
        excluded.append(positive_data_acceptance)
    if (
        case.operation.label == "GET /api/v1/decisions/"
        and isinstance(case.query, dict)
        and "page" in case.query
        and "cursor" in case.query
    ):
        # page numbers or a cursor, not both (400 naming cursor,
        # tests/api/test_cursor_pagination.py): OpenAPI cannot say two parameters
        # exclude each other.
        excluded.append(positive_data_acceptance)
    if isinstance(case.query, dict) and case.query.get("cursor"):
        # a cursor is opaque: only the next/previous links of a page hold one of ours,
        # any other string (though of the documented alphabet) is rightly a 400
        excluded.append(positive_data_acceptance)
    if _has_an_empty_multipart_part(case):
        # The in-process transport (Werkzeug's encoder) writes an empty multipart part
        # without its blank line, and Django's parser drops such a part: "sha256 = ''"
        # next to a pdf arrives as the pdf alone (a valid request), an empty pdf as no
        # pdf (an invalid one). Sent as clients send them, these are a 400 and a 200
        # (tests/api/test_dossier_verify.py, tests/api/test_dossier_verify_input.py).
        excluded += [negative_data_rejection, positive_data_acceptance]
    return excluded


def _has_an_empty_multipart_part(case) -> bool:
    return (
        (case.media_type or "").startswith("multipart/")
        and isinstance(case.body, dict)
        and any(
            getattr(value, "data", value) in ("", b"") for value in case.body.values()
        )
    )


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    derandomize=DERANDOMIZE,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
@pytest.mark.parametrize("with_key", [True, False], ids=["key", "anonymous"])
def test_generated_requests(case, world, with_key):
    headers = {"Authorization": f"Api-Key {world.client_key}"} if with_key else {}
    response = case.call(headers=headers)
    STATS["requests"] += 1
    if response.status_code >= 500:
        STATS["server_errors"] += 1
    assert response.status_code < 500, response.text[:300]
    try:
        # the headers tell the "ignored auth" check that the key is ours, not generated:
        # it then re-sends without it and with a wrong one, expecting a 401
        case.validate_response(
            response, headers=headers, excluded_checks=_excluded_checks(case)
        )
    except (AssertionError, FailureGroup):
        STATS["violations"] += 1
        raise
