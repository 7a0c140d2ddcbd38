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

from compliance.dossiers.render import html_to_pdf

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
    return html_to_pdf(html, about=f"the notice is {len(html):,} characters of HTML")
