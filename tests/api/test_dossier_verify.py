from __future__ import annotations

from rest_framework.test import APIClient


def test_an_empty_sha256_next_to_a_file_is_a_400(world):
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {world.client_key}")
    boundary = "795b2c3eece9201f6526c43c81645ec5"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="sha256"\r\n\r\n\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="pdf"; filename="x.pdf"\r\n\r\n'
        ).encode()
        + b"%PDF-1.7"
        + f"\r\n--{boundary}--\r\n".encode()
    )
    response = api.generic(
        "POST",
        "/api/v1/dossiers/verify/",
        body,
        content_type=f"multipart/form-data; boundary={boundary}",
    )
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
