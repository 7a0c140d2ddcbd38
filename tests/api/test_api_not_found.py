"""Under /api/ a wrong path is a JSON 404, in DEBUG too, never a redirect that turns a
POST into a GET (issue 17, item 1)."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient


@pytest.mark.django_db
@pytest.mark.parametrize("debug", [False, True])
def test_the_other_slash_form_is_a_json_404_naming_the_route(
    world: Any, settings: Any, debug: bool
) -> None:
    settings.DEBUG = debug
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {world.client_key}")
    response = api.post("/api/v1/decisions", {}, format="json")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["code"] == "not_found" and "/api/v1/decisions/" in body["detail"]
    # a non-integer id: JSON, not Django's HTML page
    nonint = api.get("/api/v1/decisions/abc/")
    assert nonint.status_code == 404 and nonint.json()["detail"] == "No such endpoint."
    # the routes themselves answer as before
    assert api.get("/api/v1/decisions/").status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("/api/v1/dossiers/verify", "/api/v1/dossiers/verify/"),
        ("/api/v1/public/verify", "/api/v1/public/verify/"),
        ("/api/v1/dossiers/1/pdf", "/api/v1/dossiers/<int:pk>/pdf/"),
        ("/api/v1/notices/1/pdf", "/api/v1/notices/<int:pk>/pdf/"),
        ("/api/v1/notices/1/html", "/api/v1/notices/<int:pk>/html/"),
    ],
)
def test_the_routes_without_a_slash_are_json_404s_naming_the_new_one(
    world: Any, old: str, new: str
) -> None:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {world.client_key}")
    for method in ("get", "post"):
        response = getattr(api, method)(old)
        assert response.status_code == 404, (method, old)
        assert response["Content-Type"] == "application/json"
        assert f"the API's path is {old}/ " in response.json()["detail"]
        assert new.split("<", 1)[0] in old + "/"


def test_every_api_route_ends_with_a_slash() -> None:
    from django.urls import get_resolver

    api = next(
        p for p in get_resolver().url_patterns if str(p.pattern).startswith("api/v1/")
    )
    routes = [str(p.pattern) for p in api.url_patterns]
    assert routes and all(route.endswith("/") for route in routes), routes


@pytest.mark.django_db
def test_an_unexpected_error_under_the_api_is_json_in_debug_too(
    world: Any, settings: Any
) -> None:
    from unittest import mock

    settings.DEBUG = True
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {world.client_key}")
    with mock.patch(
        "compliance.api.views.AISystemListApi.list", side_effect=RuntimeError("boom")
    ):
        response = api.get("/api/v1/ai-systems/")
    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == "server_error"
    assert "boom" not in response.content.decode()
