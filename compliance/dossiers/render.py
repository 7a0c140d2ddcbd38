"""Rendering a dossier to PDF with WeasyPrint, in a child process with its own
timeout (``DOSSIER_RENDER_TIMEOUT_SECONDS``), fetching nothing but our own static
files. A render that takes longer is stopped (the child is killed) and fails with a
true message, well inside the worker's time limits; so does content over
``MAX_HTML_CHARS`` before anything is rendered."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone

from compliance.dossiers.content import DossierContent, dossier_content_complete
from compliance.errors import DomainError
from compliance.models import Decision
from compliance.platform import pdf_render
from compliance.platform.child import ChildTimeout, child_run

STATIC_SCHEME = pdf_render.STATIC_SCHEME
CHILD = Path(pdf_render.__file__).resolve()
# the HTML of the largest dossier the bounds allow (300 features, every text at its
# cap, 40 events) is under a quarter of this; more means a bound is missing
MAX_HTML_CHARS = 1_000_000


class DossierRenderFailed(DomainError):  # noqa: N818 (a domain error, named for users)
    """The render did not produce a PDF: too slow, too large, or it broke. The same
    content fails the same way, so the job fails rather than retrying."""

    status_code = 422
    code = "dossier_render_failed"
    reason = "render_failed"


class DossierRenderTimeout(DossierRenderFailed):
    reason = "render_timeout"


class DossierTooLarge(DossierRenderFailed):
    reason = "too_large"


@dataclass
class SafeFetcher:
    """What a render asked for and what was refused (the policy runs in the child:
    only our static files, under ``inspectoscope-static:``)."""

    requested: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Measure:
    chars: int
    events: int
    reviews: int

    def __str__(self) -> str:
        return (
            f"the content is {self.chars:,} characters of HTML with {self.events} "
            f"audit rows and {self.reviews} reviews"
        )


def _timeout() -> float:
    return float(settings.DOSSIER_RENDER_TIMEOUT_SECONDS)


def html_to_pdf(
    html: str, *, fetcher: SafeFetcher | None = None, about: Any = ""
) -> tuple[bytes, int]:
    """PDF bytes and page count of ``html``, rendered in a child process that is
    killed after ``DOSSIER_RENDER_TIMEOUT_SECONDS``."""
    timeout = _timeout()
    request = json.dumps(
        {
            "html": html,
            "static_root": str(Path(settings.BASE_DIR) / "static"),
            "cpu_seconds": int(timeout) + 1,
        }
    ).encode()
    try:
        # -P: the script's folder (compliance/platform: its numbers.py) is not put on
        # sys.path, where it would shadow the standard library's
        result = child_run([sys.executable, "-P", str(CHILD)], request, timeout=timeout)
    except ChildTimeout:
        raise DossierRenderTimeout(
            f"Rendering the dossier took longer than {timeout:g} s "
            f"(DOSSIER_RENDER_TIMEOUT_SECONDS) and was stopped; {about}. Nothing was "
            "issued."
        ) from None
    if result.returncode != 0:
        raise DossierRenderFailed(
            f"Rendering the dossier failed after {result.seconds:.1f} s "
            f"(exit status {result.returncode}: {result.last_error_line()}); {about}. "
            "Nothing was issued."
        )
    head, _, pdf = result.stdout.partition(b"\n")
    meta = json.loads(head)
    if fetcher is not None:
        fetcher.requested.extend(meta["requested"])
        fetcher.refused.extend(meta["refused"])
    if len(pdf) != meta["size"]:
        raise DossierRenderFailed(
            f"The dossier renderer returned {len(pdf)} of {meta['size']} bytes."
        )
    return pdf, int(meta["pages"])


def _verify_api_url() -> str:
    """The public API endpoint on the verification page's origin."""
    page = str(settings.DOSSIER_VERIFY_URL or "")
    scheme, _, rest = page.partition("://")
    origin = f"{scheme}://{rest.split('/', 1)[0]}" if rest else ""
    return f"{origin}/api/v1/public/verify/"


def dossier_html(content: DossierContent, *, public_id: str, version: int) -> str:
    """The dossier's HTML from its (bounded) content."""
    return render_to_string(
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


def dossier_render(
    decision: Decision,
    *,
    public_id: str,
    version: int,
    fetcher: SafeFetcher | None = None,
) -> tuple[bytes, int]:
    """Render the PDF bytes and page count, or raise DossierIncomplete,
    DossierTooLarge or DossierRenderTimeout / DossierRenderFailed."""
    content = dossier_content_complete(decision)
    html = dossier_html(content, public_id=public_id, version=version)
    about = _Measure(
        chars=len(html),
        events=content.context["extract"].rows,
        reviews=len(content.context["reviews"]),
    )
    if len(html) > MAX_HTML_CHARS:
        raise DossierTooLarge(
            f"The dossier's content is too large to render ({about}; at most "
            f"{MAX_HTML_CHARS:,} characters). Nothing was issued."
        )
    return html_to_pdf(html, fetcher=fetcher, about=about)
