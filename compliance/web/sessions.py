"""Idle session timeout: a signed-in session ends after ``SESSION_IDLE_TIMEOUT_SECONDS``
without a request (default 30 minutes), besides the absolute ``SESSION_COOKIE_AGE``.

The time of the last request is kept in the session, rewritten at most once a minute
so ordinary browsing does not save the session on every request. An idle session is
signed out (an audited logout); the request then goes on as anonymous, so a page
redirects to sign-in and the API answers 403.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse

LAST_SEEN_KEY = "inspectoscope_last_seen"
REFRESH_EVERY_SECONDS = 60


def _now() -> float:
    return time.time()


class IdleTimeoutMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        session = getattr(request, "session", None)
        user = getattr(request, "user", None)
        if session is not None and user is not None and user.is_authenticated:
            now = _now()
            last_seen = session.get(LAST_SEEN_KEY)
            idle_limit = int(settings.SESSION_IDLE_TIMEOUT_SECONDS)
            if last_seen is not None and now - float(last_seen) > idle_limit:
                logout(request)  # flushes the session; request.user is anonymous
            elif last_seen is None or now - float(last_seen) >= REFRESH_EVERY_SECONDS:
                session[LAST_SEEN_KEY] = int(now)
        response = self.get_response(request)
        # a session signed in by this request starts its idle clock now
        session = getattr(request, "session", None)
        user = getattr(request, "user", None)
        if (
            session is not None
            and user is not None
            and user.is_authenticated
            and getattr(user, "pk", None) is not None  # a person, not an API key
            and LAST_SEEN_KEY not in session
        ):
            session[LAST_SEEN_KEY] = int(_now())
        return response
