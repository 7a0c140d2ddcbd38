"""`Authorization: Api-Key <key>` authentication for client systems."""

from __future__ import annotations

from typing import Any, cast

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from compliance.models import ApiKey, ClientSystem, Organization
from compliance.platform.fastpath import fetch_joined
from compliance.principals import ClientSystemUser

KEYWORD = "Api-Key"


class ApiKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request: Any) -> tuple[ClientSystemUser, ApiKey] | None:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None
        scheme, _, key = header.partition(" ")
        if scheme.lower() != KEYWORD.lower():
            return None
        key = key.strip()
        if not key or len(key) > 200:
            raise exceptions.AuthenticationFailed("Malformed API key.")
        prefix, _, _ = key.partition(".")
        api_key = fetch_joined(
            [
                (ApiKey, None),
                (ClientSystem, "client_system"),
                (Organization, "organization"),
            ],
            "t0.prefix = %s AND NOT t0.revoked",
            [prefix],
        )
        api_key = cast(ApiKey | None, api_key)
        if api_key is None or not api_key.is_valid(key):
            raise exceptions.AuthenticationFailed("Invalid or revoked API key.")
        if api_key.has_expired:
            raise exceptions.AuthenticationFailed("This API key has expired.")
        return ClientSystemUser(api_key.client_system), api_key

    def authenticate_header(self, request: Any) -> str:
        return KEYWORD


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "compliance.api.authentication.ApiKeyAuthentication"
    name = "ApiKeyAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Api-Key <key>`, as printed once by create_client_system.",
        }
