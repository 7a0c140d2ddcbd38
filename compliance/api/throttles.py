"""Rate limits per API key and per signed-in person (shared cache: Redis in production)."""

from __future__ import annotations

from typing import Any

from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from compliance.principals import ClientSystemUser


class _SettingsRateThrottle(SimpleRateThrottle):
    """Reads its rate from the current settings (DRF's copy is fixed at import)."""

    def get_rate(self) -> str | None:
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)


class ApiKeyRateThrottle(_SettingsRateThrottle):
    """Requests per API key (its prefix identifies it; the secret is never a cache key)."""

    scope = "api_key"

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        if isinstance(request.user, ClientSystemUser) and request.auth is not None:
            return self.cache_format % {
                "scope": self.scope,
                "ident": request.auth.prefix,
            }
        return None


class PersonRateThrottle(_SettingsRateThrottle):
    scope = "person"

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        user = request.user
        if user and user.is_authenticated and not isinstance(user, ClientSystemUser):
            return self.cache_format % {"scope": self.scope, "ident": user.pk}
        return None


class AnonymousRateThrottle(_SettingsRateThrottle):
    scope = "anonymous"

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        if request.user and request.user.is_authenticated:
            return None
        return self.cache_format % {
            "scope": self.scope,
            "ident": self.get_ident(request),
        }
