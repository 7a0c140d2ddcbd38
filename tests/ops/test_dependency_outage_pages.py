"""A dependency that is away is a 503 with Retry-After on every page, never a 500:
also where the error happens outside a view (the session middleware reading the
database), which the API's exception handler never sees."""

from __future__ import annotations

import pytest
import redis
from django.contrib.sessions.backends.db import SessionStore
from django.db import InterfaceError, OperationalError
from django.test import Client

from tests import factories


@pytest.fixture
def signed_in(db):
    org = factories.make_org()
    officer = factories.make_member(org, "officer")
    client = Client(raise_request_exception=False)
    client.force_login(officer)
    return client


def _database_away(monkeypatch, exc: Exception) -> None:
    def load(self):  # the session row cannot be read: the database is away
        raise exc

    monkeypatch.setattr(SessionStore, "load", load)


@pytest.mark.parametrize(
    "exc",
    [
        OperationalError("connection to server at 127.0.0.1 failed"),
        InterfaceError("connection already closed"),
        redis.ConnectionError("Connection refused"),
    ],
)
def test_a_page_answers_503_with_retry_after_when_a_dependency_is_away(
    signed_in, monkeypatch, exc
):
    _database_away(monkeypatch, exc)
    response = signed_in.get("/cases/")
    assert response.status_code == 503
    assert int(response["Retry-After"]) > 0
    assert b"Temporarily unavailable" in response.content


def test_the_api_answers_503_json_when_the_session_cannot_be_read(
    signed_in, monkeypatch
):
    _database_away(monkeypatch, OperationalError("the database system is starting up"))
    response = signed_in.get("/api/v1/decisions/")
    assert response.status_code == 503
    assert int(response["Retry-After"]) > 0
    assert response.json()["code"] == "unavailable"


def test_any_other_error_is_still_a_logged_500(signed_in, monkeypatch):
    _database_away(monkeypatch, ZeroDivisionError("a bug"))
    response = signed_in.get("/cases/")
    assert response.status_code == 500 and "Retry-After" not in response
