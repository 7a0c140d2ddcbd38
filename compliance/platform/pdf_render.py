"""HTML to PDF with WeasyPrint, in a child process of its own, so the parent can
stop a render that takes too long. The PDF is tagged PDF/UA-1 (``PDF_VARIANT``), so
screen readers can read it.

Two ways in, the same render: one request per interpreter (``python -P
pdf_render.py``: dossiers), or request after request in one that imported
WeasyPrint once (``--serve``, through ``compliance.platform.warm_render``: notices,
which must be issued within seconds).

No Django and nothing of ours is imported here. The parent writes one JSON object to
stdin: ``html``, ``static_root`` (the only files a render may fetch, under the
``inspectoscope-static:`` scheme) and ``cpu_seconds`` (a CPU-time limit, so a child
whose parent died does not render on forever). The child writes one JSON line
(``pages``, ``size``, ``requested``, ``refused``) and then the PDF bytes to stdout;
on an error, a message to stderr and exit status 1.
"""

from __future__ import annotations

import io
import json
import mimetypes
import sys
from pathlib import Path
from typing import Any

STATIC_SCHEME = "inspectoscope-static:"
# tagged PDF for screen readers (ISO 14289-1): a structure tree, the document marked as
# tagged, PDF 1.7 and the pdfuaid identification in the XMP metadata; the layout needs
# the tags from the start, so the variant goes to render() and to write_pdf()
PDF_VARIANT = "pdf/ua-1"


def static_file(url: str, static_root: Path) -> tuple[bytes, str] | None:
    """The bytes and MIME type of one of our static files, or None for any other URL
    (the network, the file system, a path out of the static root)."""
    if not url.startswith(STATIC_SCHEME):
        return None
    root = static_root.resolve()
    path = (root / url[len(STATIC_SCHEME) :].lstrip("/")).resolve()
    if not (path.is_relative_to(root) and path.is_file()):
        return None
    return path.read_bytes(), mimetypes.guess_type(path.name)[0] or (
        "application/octet-stream"
    )


def render(html: str, static_root: Path) -> tuple[bytes, int, list[str], list[str]]:
    """PDF bytes, page count, URLs asked for and URLs refused."""
    from weasyprint import HTML
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    requested: list[str] = []
    refused: list[str] = []

    class Fetcher(URLFetcher):
        def __init__(self) -> None:
            super().__init__(allow_redirects=False)

        def fetch(self, url: str, headers: Any = None) -> Any:
            requested.append(url)
            found = static_file(url, static_root)
            if found is None:
                refused.append(url)
                raise ValueError(
                    f"Dossier rendering fetches nothing outside the app: {url[:80]}"
                )
            body, mime = found
            return URLFetcherResponse(url, body=body, headers={"Content-Type": mime})

    document = HTML(
        string=html, base_url=STATIC_SCHEME + "/", url_fetcher=Fetcher()
    ).render(pdf_variant=PDF_VARIANT)
    buffer = io.BytesIO()
    document.write_pdf(buffer, pdf_variant=PDF_VARIANT)
    return buffer.getvalue(), len(document.pages), requested, refused


def _limit_cpu(cpu: int) -> None:
    """A CPU-time limit, so a child whose parent died does not render on forever."""
    if cpu > 0:
        import resource

        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))


def _answer(request: dict[str, Any]) -> tuple[dict[str, Any], bytes]:
    """The header (pages, size, requested, refused; or error) and the PDF bytes."""
    try:
        pdf, pages, requested, refused = render(
            request["html"], Path(request["static_root"])
        )
    except Exception as exc:  # reported to the parent, which raises it there
        return {"error": f"{type(exc).__name__}: {exc}"[:2000]}, b""
    header = {
        "pages": pages,
        "size": len(pdf),
        "requested": requested[:100],
        "refused": refused[:100],
    }
    return header, pdf


def serve() -> int:
    """Render request after request (``--serve``): each a 4-byte big-endian length
    and that much JSON on stdin; each answer a 4-byte length, a JSON header line and
    the PDF bytes on stdout. Ends at end of input; its parent kills it on a timeout."""
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    while True:
        size = stdin.read(4)
        if len(size) < 4:
            return 0
        request = json.loads(stdin.read(int.from_bytes(size, "big")))
        header, pdf = _answer(request)
        answer = json.dumps(header).encode() + b"\n" + pdf
        stdout.write(len(answer).to_bytes(4, "big") + answer)
        stdout.flush()


def main() -> int:
    if sys.argv[1:] == ["--serve"]:
        return serve()
    request = json.loads(sys.stdin.buffer.read())
    _limit_cpu(int(request.get("cpu_seconds") or 0))
    header, pdf = _answer(request)
    if "error" in header:
        sys.stderr.write(header["error"])
        return 1
    sys.stdout.buffer.write(json.dumps(header).encode() + b"\n" + pdf)
    sys.stdout.buffer.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
