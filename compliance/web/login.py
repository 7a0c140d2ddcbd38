"""Sign-in (the site's and the admin's) with limits on failed attempts.

Failures are limited per address and account and per account per hour
(``compliance/web/login_limits.py``); a locked attempt answers 429 with Retry-After and
a page saying when to try again. A person who must use, or has set up, two-factor
authentication continues to the token step (``compliance/web/two_factor.py``).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import REDIRECT_FIELD_NAME
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect

from compliance.web.login_limits import (
    LoginLimiter,
    attempt_failed,
    client_address,
    too_many_attempts,
)


class ThrottledLoginView(auth_views.LoginView):
    """Django's sign-in with the attempt limits and the two-factor step."""

    limiter: LoginLimiter

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        self.limiter = LoginLimiter(
            username=request.POST.get("username"), address=client_address(request)
        )
        refusal = self.limiter.reserve()
        if refusal is not None:
            return too_many_attempts(request, refusal)
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form: Any) -> HttpResponse:
        attempt_failed(
            self.limiter,
            username=str(self.request.POST.get("username") or ""),
            address=client_address(self.request),
        )
        return super().form_invalid(form)

    def form_valid(self, form: Any) -> HttpResponse:
        self.limiter.succeeded()
        response = super().form_valid(form)
        from compliance.web.two_factor import second_step_url

        second_step = second_step_url(self.request, self.get_success_url())
        return HttpResponseRedirect(second_step) if second_step else response


def admin_login(request: HttpRequest, extra_context: dict | None = None) -> Any:
    """The admin site's sign-in (as ``AdminSite.login``) through the same limits and
    two-factor step."""
    from django.contrib import admin
    from django.contrib.admin.forms import AdminAuthenticationForm
    from django.urls import reverse
    from django.utils.translation import gettext as _

    site = admin.site
    if request.method == "GET" and site.has_permission(request):
        return HttpResponseRedirect(reverse("admin:index", current_app=site.name))
    context = {
        **site.each_context(request),
        "title": _("Log in"),
        "subtitle": None,
        "app_path": request.get_full_path(),
        "username": request.user.get_username(),
    }
    if (
        REDIRECT_FIELD_NAME not in request.GET
        and REDIRECT_FIELD_NAME not in request.POST
    ):
        context[REDIRECT_FIELD_NAME] = reverse("admin:index", current_app=site.name)
    context.update(extra_context or {})
    request.current_app = site.name
    return ThrottledLoginView.as_view(
        extra_context=context,
        authentication_form=site.login_form or AdminAuthenticationForm,
        template_name=site.login_template or "admin/login.html",
        next_page=reverse("admin:index", current_app=site.name),
    )(request)


def password_reset_off(request: HttpRequest, **kwargs: Any) -> HttpResponse:
    """Password reset is switched off (no mail is configured, so it could only fail
    silently): its routes answer 404; the sign-in page says to ask an administrator."""
    from compliance.web.views import not_found

    return not_found(request)
