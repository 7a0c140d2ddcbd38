"""Sign-in with a per-username-and-address attempt limit (429 with Retry-After).

The attempts are counted in the shared cache (Redis in production). When it is
unreachable the count falls back to this process's memory, so sign-in keeps working
and the limit still holds per process; the fallback is metered as the ``login`` scope
of ``inspectoscope_throttle_fail_open_total`` and logged.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.core.cache import BaseCache, cache
from django.core.cache.backends.locmem import LocMemCache
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from compliance.platform.throttles import (
    STORE_ERRORS,
    store_available,
    store_failed,
)

WINDOW_SECONDS = 60

# the per-process count used while the shared cache is unreachable
_local_attempts = LocMemCache("inspectoscope-login-attempts", {"MAX_ENTRIES": 10_000})


def _attempts_so_far(store: BaseCache, key: str) -> int:
    """Attempts already made in the window; counts this one if it is let through."""
    attempts = store.get_or_set(key, 0, WINDOW_SECONDS) or 0
    if attempts < settings.LOGIN_ATTEMPTS_PER_MINUTE:
        try:
            store.incr(key)
        except ValueError:  # expired between get and incr
            store.set(key, 1, WINDOW_SECONDS)
    return int(attempts)


class ThrottledLoginView(auth_views.LoginView):
    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        username = (request.POST.get("username") or "")[:150].lower()
        key = f"login-attempts:{request.META.get('REMOTE_ADDR', '')}:{username}"
        attempts = None
        if store_available():
            try:
                attempts = _attempts_so_far(cache, key)
            except STORE_ERRORS as exc:
                store_failed("login", exc)
        else:
            store_failed("login", None)
        if attempts is None:
            attempts = _attempts_so_far(_local_attempts, key)
        if attempts >= settings.LOGIN_ATTEMPTS_PER_MINUTE:
            response = render(request, "registration/too_many.html", status=429)
            response["Retry-After"] = str(WINDOW_SECONDS)
            return response
        return super().post(request, *args, **kwargs)
