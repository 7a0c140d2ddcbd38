"""POST /dossiers/verify takes what its schema says: a sha256 string (JSON or form) or
one PDF file (multipart), exactly one of them (findings of schemathesis runs)."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

URL = "/api/v1/dossiers/verify/"
SHA = "ab" * 32


@pytest.mark.parametrize(
    "sha256",
    [
        int("1" * 64),  # a JSON number whose digits read as hex
        " " + SHA,
        SHA + "\n",
        SHA + " ",
    ],
    ids=["number", "leading space", "trailing newline", "trailing space"],
)
def test_a_sha256_that_is_not_exactly_64_hex_characters_is_a_400(world, api_as, sha256):
    response = api_as("client").post(URL, {"sha256": sha256}, format="json")
    assert response.status_code == 400 and "sha256" in response.json()["errors"]


def test_a_well_formed_unknown_sha256_is_not_verified(world, api_as):
    response = api_as("client").post(URL, {"sha256": SHA}, format="json")
    assert response.status_code == 200 and response.json()["verified"] is False


def test_an_empty_file_is_simply_not_one_of_ours(world, api_as):
    response = api_as("client").post(
        URL, {"pdf": SimpleUploadedFile("empty.pdf", b"")}, format="multipart"
    )
    assert response.status_code == 200, response.content
    assert response.json()["verified"] is False


def test_the_schema_says_exactly_one_of_sha256_or_pdf(world, api_as):
    schema = api_as("client").get("/api/schema/", {"format": "json"}).json()
    body = schema["paths"][URL]["post"]["requestBody"]
    assert body["required"] is True
    as_json = body["content"]["application/json"]["schema"]
    assert as_json["required"] == ["sha256"]
    assert as_json["additionalProperties"] is False
    as_form = body["content"]["multipart/form-data"]["schema"]
    assert set(as_form["properties"]) == {"sha256", "pdf"}
    assert as_form["minProperties"] == as_form["maxProperties"] == 1
    assert as_form["additionalProperties"] is False
