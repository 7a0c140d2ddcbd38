"""Pages for anyone, signed in or not: verifying a dossier (the address every dossier
prints). Rate-limited per IP; answers never carry content."""

from __future__ import annotations

import math
import re
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from compliance.dossiers import dossier_upload_sha256, dossier_verify_public
from compliance.errors import TooLarge
from compliance.platform.throttles import PublicVerifyRateThrottle

SHA256 = re.compile(r"\A[0-9a-fA-F]{64}\Z")


@require_http_methods(["GET", "POST"])
def dossier_verify_page(request: HttpRequest) -> HttpResponse:
    """Upload a dossier PDF or enter its sha256: genuine or not, who issued it, which
    version, when, and whether a newer version supersedes it."""
    context: dict[str, Any] = {}
    if request.method != "POST":
        return render(request, "public/verify.html", context)
    throttle = PublicVerifyRateThrottle()
    if not throttle.allow_request(request, None):
        context["error"] = (
            "Too many verifications from your address; try again in "
            f"{math.ceil(throttle.wait() or 1)} seconds."
        )
        return render(request, "public/verify.html", context, status=429)
    upload = request.FILES.get("pdf")
    typed = request.POST.get("sha256", "").strip()
    status = 400
    if (upload is None) == (not typed):
        context["error"] = "Choose the dossier's PDF file, or enter its sha256."
    elif upload is None and not SHA256.match(typed):
        context["error"] = "A sha256 is 64 hexadecimal characters."
    else:
        try:  # hashed in chunks; above DOSSIER_VERIFY_MAX_BYTES it says the limit
            sha256 = (
                dossier_upload_sha256(upload) if upload is not None else typed.lower()
            )
        except TooLarge as exc:
            context["error"], status = exc.detail, 413
        else:
            context["sha256"] = sha256
            context["answer"] = dossier_verify_public(sha256=sha256)
    if "error" not in context:
        status = 200
    return render(request, "public/verify.html", context, status=status)
