"""Rendering a dossier to PDF with WeasyPrint, fetching nothing but our own static
files."""

from __future__ import annotations

import io
import mimetypes
from pathlib import Path
from typing import Any

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone

from compliance.dossiers.content import dossier_content_complete
from compliance.models import Decision

STATIC_SCHEME = "inspectoscope-static:"


class SafeFetcher:
    """WeasyPrint URL fetcher: serves only our static files; records and refuses the rest."""

    def __init__(self) -> None:
        self.requested: list[str] = []
        self.refused: list[str] = []

    def __call__(self, url: str) -> Any:
        from weasyprint.urls import URLFetcherResponse

        self.requested.append(url)
        if url.startswith(STATIC_SCHEME):
            root = (Path(settings.BASE_DIR) / "static").resolve()
            path = (root / url[len(STATIC_SCHEME) :].lstrip("/")).resolve()
            if path.is_relative_to(root) and path.is_file():
                mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
                return URLFetcherResponse(
                    url, body=path.read_bytes(), headers={"Content-Type": mime}
                )
        self.refused.append(url)
        raise ValueError(
            f"Dossier rendering fetches nothing outside the app: {url[:80]}"
        )


def _fetcher_class() -> Any:
    from weasyprint.urls import URLFetcher

    class _Fetcher(URLFetcher):
        def __init__(self, policy: SafeFetcher):
            super().__init__(allow_redirects=False)
            self.policy = policy

        def fetch(self, url: str, headers: Any = None) -> Any:
            return self.policy(url)

    return _Fetcher


def _verify_api_url() -> str:
    """The public API endpoint on the verification page's origin."""
    page = str(settings.DOSSIER_VERIFY_URL or "")
    scheme, _, rest = page.partition("://")
    origin = f"{scheme}://{rest.split('/', 1)[0]}" if rest else ""
    return f"{origin}/api/v1/public/verify"


def dossier_render(
    decision: Decision,
    *,
    public_id: str,
    version: int,
    fetcher: SafeFetcher | None = None,
) -> tuple[bytes, int]:
    """Render the PDF bytes and page count, or raise DossierIncomplete."""
    from weasyprint import HTML

    content = dossier_content_complete(decision)
    html = render_to_string(
        "dossier/dossier.html",
        {
            **content.context,
            "public_id": public_id,
            "version": version,
            "issued_at": timezone.now(),
            "verify_url": settings.DOSSIER_VERIFY_URL,
            "verify_api_url": _verify_api_url(),
        },
    )
    policy = fetcher or SafeFetcher()
    document = HTML(
        string=html, base_url=STATIC_SCHEME + "/", url_fetcher=_fetcher_class()(policy)
    ).render()
    buffer = io.BytesIO()
    document.write_pdf(buffer)
    return buffer.getvalue(), len(document.pages)
