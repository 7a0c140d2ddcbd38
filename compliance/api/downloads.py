"""Downloads of stored documents (dossier and notice PDFs, notice HTML): the bytes as
stored, as ``application/pdf`` or, for a client that asks for it (generated clients
read ``application/octet-stream`` as bytes), ``application/octet-stream``. The Accept
header picks between them; it never turns a download into a 406."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from rest_framework.negotiation import DefaultContentNegotiation

PDF = "application/pdf"
OCTET_STREAM = "application/octet-stream"
PDF_RESPONSES: dict[Any, Any] = {
    (200, PDF): OpenApiTypes.BINARY,
    (200, OCTET_STREAM): OpenApiTypes.BINARY,
}
HTML_RESPONSES: dict[Any, Any] = {
    (200, "text/html"): OpenApiTypes.STR,
    (200, OCTET_STREAM): OpenApiTypes.BINARY,
}


class DownloadNegotiation(DefaultContentNegotiation):
    """The document's own media type is chosen by the view, not by a renderer: errors
    still render as JSON."""

    def select_renderer(
        self, request: Any, renderers: Any, format_suffix: Any = None
    ) -> tuple[Any, str]:
        return (renderers[0], renderers[0].media_type)


def download_media_type(request: Any, own: str) -> str:
    """``own`` unless the Accept header names octet-stream and not ``own``."""
    accept = request.headers.get("Accept", "")
    base = own.split(";", 1)[0]
    if OCTET_STREAM in accept and base not in accept:
        return OCTET_STREAM
    return own
