"""TOTP two-factor authentication (django-otp), the step after the password.

Required for platform superusers and organisation admins (a membership with role
"admin"); anyone else may set it up, and once they have, their sign-ins need it too.
Until the session is verified with a token, such a person reaches nothing but these
pages and sign-out: pages redirect here, the API answers 403 ``two_factor_required``
(the web UI, the API through the session, and Django admin alike).

Enrolment shows the ``otpauth://`` URI, its QR code (inline SVG) and the secret for
typing in, and is confirmed with a first token. Wrong tokens count against the same
limits as wrong passwords (``login_limits``), on top of django-otp's own back-off.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import qrcode
import qrcode.image.svg
from django import forms
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from compliance.models import Membership
from compliance.tenancy.services import two_factor_record
from compliance.web.login_limits import (
    LoginLimiter,
    attempt_failed,
    client_address,
    too_many_attempts,
)

DEVICE_NAME = "authenticator"
# reachable before the second step: these pages, signing out, static files, probes
OPEN_PREFIXES = (
    "/accounts/two-factor/",
    "/accounts/logout/",
    "/static/",
    "/healthz",
    "/readyz",
    "/metrics",
)


def two_factor_required(user: Any) -> bool:
    """Platform superusers and organisation admins must use a second factor."""
    if getattr(user, "is_superuser", False):
        return True
    return Membership.objects.filter(user=user, role=Membership.Role.ADMIN).exists()


def confirmed_device(user: Any) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("pk").first()


def _verified(user: Any) -> bool:
    is_verified = getattr(user, "is_verified", None)
    return bool(is_verified and is_verified())


def second_step_url(request: HttpRequest, next_url: str) -> str | None:
    """Where a signed-in person must go before anything else: the token step, the
    enrolment, or nowhere (None)."""
    user = request.user
    if _verified(user):
        return None
    query = "?" + urlencode({"next": next_url}) if next_url else ""
    if confirmed_device(user) is not None:
        return reverse("web:two-factor-verify") + query
    if two_factor_required(user):
        return reverse("web:two-factor-enrol") + query
    return None


class TwoFactorMiddleware:
    """After OTPMiddleware: a session that still owes its second step reaches only
    ``OPEN_PREFIXES``."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and getattr(user, "pk", None) is not None
            and not request.path.startswith(OPEN_PREFIXES)
        ):
            target = second_step_url(request, request.get_full_path())
            if target is not None:
                if request.path.startswith("/api/"):
                    return JsonResponse(
                        {
                            "code": "two_factor_required",
                            "detail": "Complete two-factor authentication first: "
                            f"{target.split('?')[0]}",
                            "errors": {},
                        },
                        status=403,
                    )
                return HttpResponseRedirect(target)
        return self.get_response(request)


class TokenForm(forms.Form):
    token = forms.CharField(
        max_length=8,
        label="Six-digit code from your authenticator app",
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "inputmode": "numeric",
                "pattern": "[0-9]*",
                "autofocus": True,
            }
        ),
    )

    def clean_token(self) -> str:
        token = re.sub(r"\s", "", self.cleaned_data["token"])
        if not token.isdigit():
            raise forms.ValidationError("Digits only.")
        return token


def _next(request: HttpRequest) -> str:
    wanted = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        wanted,
        allowed_hosts={request.get_host()},
        require_https=request.is_secure(),
    ):
        return wanted
    return str(settings.LOGIN_REDIRECT_URL)


def _check_token(
    request: HttpRequest, device: TOTPDevice, form: TokenForm
) -> HttpResponse | bool:
    """The token step's limits and check: a 429 response, or whether it matched."""
    user = request.user
    limiter = LoginLimiter(
        username=user.get_username(), address=client_address(request)
    )
    refusal = limiter.reserve()
    if refusal is not None:
        return too_many_attempts(request, refusal)
    if not form.is_valid():  # no code given: not a guess, nothing counted
        limiter.succeeded()
        return False
    allowed, _ = device.verify_is_allowed()
    if allowed and device.verify_token(form.cleaned_data["token"]):
        limiter.succeeded()
        return True
    attempt_failed(
        limiter, username=user.get_username(), address=client_address(request)
    )
    two_factor_record(user=user, action="user.two_factor_failed", payload={})
    form.add_error(
        None,
        "That code did not match. Check the time on your device and try again."
        if allowed
        else "Too many wrong codes: wait a moment before the next one.",
    )
    return False


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def two_factor_verify(request: HttpRequest) -> HttpResponse:
    device = confirmed_device(request.user)
    if device is None:
        return HttpResponseRedirect(
            reverse("web:two-factor-enrol") + "?" + urlencode({"next": _next(request)})
        )
    if _verified(request.user):
        return HttpResponseRedirect(_next(request))
    form = TokenForm(request.POST or None)
    if request.method == "POST":
        outcome = _check_token(request, device, form)
        if isinstance(outcome, HttpResponse):
            return outcome
        if outcome:
            otp_login(request, device)
            two_factor_record(
                user=request.user, action="user.two_factor_verified", payload={}
            )
            return HttpResponseRedirect(_next(request))
    return render(
        request,
        "registration/two_factor_verify.html",
        {"form": form, "next": _next(request)},
    )


def qr_svg(uri: str) -> str:
    """The URI's QR code as an inline SVG element (no XML declaration)."""
    image = qrcode.make(uri, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    svg = image.to_string(encoding="unicode")
    return re.sub(r"^<\?xml[^>]*\?>\s*", "", svg)


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def two_factor_enrol(request: HttpRequest) -> HttpResponse:
    user = request.user
    if confirmed_device(user) is not None:
        # a second device is added only by an administrator resetting the first
        return HttpResponseRedirect(
            reverse("web:two-factor-verify") + "?" + urlencode({"next": _next(request)})
        )
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by(
        "pk"
    ).first() or TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)
    form = TokenForm(request.POST or None)
    if request.method == "POST":
        outcome = _check_token(request, device, form)
        if isinstance(outcome, HttpResponse):
            return outcome
        if outcome:
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            TOTPDevice.objects.filter(user=user, confirmed=False).delete()
            otp_login(request, device)
            two_factor_record(user=user, action="user.two_factor_enrolled", payload={})
            return HttpResponseRedirect(_next(request))
    uri = device.config_url
    secret = re.search(r"secret=([A-Z2-7]+)", uri)
    return render(
        request,
        "registration/two_factor_enrol.html",
        {
            "form": form,
            "next": _next(request),
            "otpauth_uri": uri,
            "secret": secret.group(1) if secret else "",
            "qr_svg": mark_safe(qr_svg(uri)),  # noqa: S308 - generated by qrcode
            "required": two_factor_required(user),
        },
    )
