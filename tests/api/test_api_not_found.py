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
