"""A notice's HTML (self-contained: its style sheet inline, nothing fetched) and its
PDF (tagged PDF/UA-1, rendered like dossiers in a child process with a timeout)."""

from __future__ import annotations

import base64
import hashlib
from functools import cache
from pathlib import Path
from typing import Any

from django.conf import settings
from django.template.loader import render_to_string
from django.utils.translation import override

from compliance.dossiers.render import DossierRenderFailed, DossierRenderTimeout
from compliance.platform.child import ChildTimeout
from compliance.platform.warm_render import RenderFailed, render_warm

# the largest notice (four reasons, three changes, every text at its cap) is a few
# tens of kB
MAX_NOTICE_HTML_CHARS = 200_000


@cache
def notice_css() -> str:
    return (Path(settings.BASE_DIR) / "static" / "notice" / "notice.css").read_text()


def notice_style_csp() -> str:
    """The Content-Security-Policy a served notice needs: its one inline style
    sheet, by hash (no 'unsafe-inline'), and nothing else."""
    digest = base64.b64encode(hashlib.sha256(notice_css().encode()).digest()).decode()
    return (
        f"default-src 'none'; style-src 'sha256-{digest}'; img-src 'none'; "
        "frame-ancestors 'self'; base-uri 'none'; form-action 'none'"
    )


def notice_html(content: dict[str, Any], *, public_id: str, version: int) -> str:
    with override(content["language"]):
        return render_to_string(
            "notice/notice.html",
            {
                "c": content,
                "css": notice_css(),
                "public_id": public_id,
                "version": version,
                "verify_url": settings.DOSSIER_VERIFY_URL,
            },
        )


def notice_pdf(html: str) -> tuple[bytes, int]:
    """The tagged PDF and its page count, rendered by the renderer that stays up
    (``compliance.platform.warm_render``) within ``DOSSIER_RENDER_TIMEOUT_SECONDS``."""
    timeout = float(settings.DOSSIER_RENDER_TIMEOUT_SECONDS)
    try:
        pdf, header, seconds = render_warm(
            html, static_root=Path(settings.BASE_DIR) / "static", timeout=timeout
        )
    except ChildTimeout:
        raise DossierRenderTimeout(
            f"Rendering the notice took longer than {timeout:g} s "
            "(DOSSIER_RENDER_TIMEOUT_SECONDS) and was stopped; nothing was issued."
        ) from None
    except RenderFailed as exc:
        raise DossierRenderFailed(
            f"Rendering the notice failed: {exc}; nothing was issued."
        ) from None
    if len(pdf) != header.get("size"):
        raise DossierRenderFailed(
            f"The renderer returned {len(pdf)} of {header.get('size')} bytes."
        )
    return pdf, int(header["pages"])
