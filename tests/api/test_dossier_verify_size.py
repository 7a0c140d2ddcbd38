"""One documented limit for every dossier verification (DOSSIER_VERIFY_MAX_BYTES):
the API, the public API and both web pages refuse a larger file with a 413 that names
the limit, and hash uploads in chunks, so a file just under the limit verifies."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile, TemporaryUploadedFile
from django.test import Client
from rest_framework.test import APIClient

from tests.conftest import client_for
from tests.web.test_views import _as

PATHS = [
    "/api/v1/dossiers/verify/",
    "/api/v1/public/verify/",
    "/dossiers/verify",
    "/verify/",
]


def _post(world: Any, path: str, size: int) -> Any:
    upload = SimpleUploadedFile("d.pdf", b"%PDF" + b"\0" * (size - 4))
    if path == "/api/v1/dossiers/verify/":
        return client_for(world, "client").post(
            path, {"pdf": upload}, format="multipart"
        )
    if path == "/api/v1/public/verify/":
        return APIClient().post(path, {"pdf": upload}, format="multipart")
    browser = _as(world, "auditor") if path == "/dossiers/verify" else Client()
    return browser.post(path, {"pdf": upload})


def _message(response: Any) -> str:
    if response["Content-Type"].startswith("application/json"):
        return str(response.json()["detail"])
    return response.content.decode()


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("over", [1, 100 * 1024], ids=["just-over", "far-over"])
def test_a_file_over_the_limit_is_refused_naming_the_limit(world, settings, path, over):
    settings.DOSSIER_VERIFY_MAX_BYTES = 200_000
    response = _post(world, path, 200_000 + over)
    assert response.status_code == 413, response.content[:300]
    assert "200000 bytes" in _message(response)
    if path.startswith("/api/"):
        assert response.json()["code"] == "request_too_large"


@pytest.mark.parametrize("path", PATHS)
def test_a_file_just_under_the_default_limit_verifies_hashed_in_chunks(
    world, settings, monkeypatch, path
):
    assert settings.DOSSIER_VERIFY_MAX_BYTES == 5 * 1024 * 1024
    reads: list[Any] = []

    def read(self: Any, *args: Any) -> bytes:
        reads.append(args)
        return self.file.read(*args)

    monkeypatch.setattr(TemporaryUploadedFile, "read", read)
    response = _post(world, path, 5 * 1024 * 1024 - 1)
    assert response.status_code == 200, response.content[:300]
    assert reads and all(args and 0 < args[0] <= 1024 * 1024 for args in reads)
    if path == "/api/v1/dossiers/verify/":
        assert response.json()["verified"] is False
    elif path == "/api/v1/public/verify/":
        assert response.json()["genuine"] is False
    else:  # the page shows the hash it computed
        data = b"%PDF" + b"\0" * (5 * 1024 * 1024 - 5)
        assert hashlib.sha256(data).hexdigest() in response.content.decode()


def test_a_large_json_body_to_a_verify_path_keeps_the_ordinary_limit(settings):
    body = '{"sha256": "' + "0" * (2 * 1024 * 1024) + '"}'
    response = APIClient().post(
        "/api/v1/public/verify/", body, content_type="application/json"
    )
    assert response.status_code == 413
    assert str(settings.REQUEST_BODY_MAX_BYTES) in response.json()["detail"]
