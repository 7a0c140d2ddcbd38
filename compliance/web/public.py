"""Pages for anyone, signed in or not: verifying a dossier (the address every dossier
prints). Rate-limited per IP; answers never carry content."""

from __future__ import annotations

import hashlib
import math
import re
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from compliance.dossiers import dossier_verify_public
from compliance.platform.throttles import PublicVerifyRateThrottle

MAX_VERIFY_UPLOAD = 20 * 1024 * 1024
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
    if (upload is None) == (not typed):
        context["error"] = "Choose the dossier's PDF file, or enter its sha256."
    elif upload is not None and (upload.size or 0) > MAX_VERIFY_UPLOAD:
        context["error"] = "The file is larger than any dossier we issue (20 MB)."
    elif upload is None and not SHA256.match(typed):
        context["error"] = "A sha256 is 64 hexadecimal characters."
    else:
        data = upload.read() if upload is not None else None
        sha256 = hashlib.sha256(data).hexdigest() if data is not None else typed.lower()
        context["sha256"] = sha256
        context["answer"] = dossier_verify_public(sha256=sha256)
    status = 400 if "error" in context else 200
    return render(request, "public/verify.html", context, status=status)
