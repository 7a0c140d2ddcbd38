"""Find a decision by the client's reference or the subject's pseudonym (issue 17,
item 5): exact filters on the API and a search box on the case queue."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient


@pytest.mark.django_db
def test_the_api_filters_by_external_id_and_subject_ref(world: Any) -> None:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {world.client_key}")
    found = api.get(
        "/api/v1/decisions/", {"external_id": world.decision.external_id}
    ).json()
    assert [d["id"] for d in found["results"]] == [world.decision.pk]
    by_subject = api.get(
        "/api/v1/decisions/", {"subject_ref": world.decision.subject_ref}
    ).json()
    assert world.decision.pk in [d["id"] for d in by_subject["results"]]
    assert (
        api.get("/api/v1/decisions/", {"external_id": "nobody"}).json()["results"] == []
    )
    # NUL can never be stored: nothing found, not an error
    assert api.get("/api/v1/decisions/", {"external_id": "a\x00b"}).status_code == 200
    # another organisation's reference finds nothing
    other = api.get(
        "/api/v1/decisions/", {"external_id": world.other_decision.external_id}
    ).json()
    assert other["results"] == []


@pytest.mark.django_db
def test_officers_find_a_case_by_reference(world: Any) -> None:
    browser = Client()
    browser.force_login(world.officer)
    page = browser.get("/cases/", {"q": world.decision.external_id}).content.decode()
    assert f"#{world.decision.pk} {world.decision.external_id}" in page
    none = browser.get("/cases/", {"q": "no-such-reference"}).content.decode()
    assert f"#{world.decision.pk} " not in none
    assert browser.get("/cases/", {"q": "x\x00"}).status_code == 200
