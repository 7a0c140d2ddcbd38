"""Sign-in with a per-username-and-address attempt limit (429 with Retry-After)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

WINDOW_SECONDS = 60


class ThrottledLoginView(auth_views.LoginView):
    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        username = (request.POST.get("username") or "")[:150].lower()
        key = f"login-attempts:{request.META.get('REMOTE_ADDR', '')}:{username}"
        attempts = cache.get_or_set(key, 0, WINDOW_SECONDS) or 0
        if attempts >= settings.LOGIN_ATTEMPTS_PER_MINUTE:
            response = render(request, "registration/too_many.html", status=429)
            response["Retry-After"] = str(WINDOW_SECONDS)
            return response
        try:
            cache.incr(key)
        except ValueError:  # expired between get and incr
            cache.set(key, 1, WINDOW_SECONDS)
        return super().post(request, *args, **kwargs)
