"""Dossiers are tagged PDF/UA documents and name their methods as people do (issue 15)."""

from __future__ import annotations

import io
import re

from pypdf import PdfReader
from pypdf.generic import BooleanObject

from compliance import dossiers
from compliance.platform.pdf_render import PDF_VARIANT
from compliance.principals import SYSTEM_OPERATOR
from tests.compliance.dossiers.test_dossiers import _case, _text


def _issue(demo_artefacts, name: str, jurisdiction: str) -> tuple[bytes, str]:
    decision = _case(demo_artefacts, name, jurisdiction)
    dossier = dossiers.dossier_issue(decision=decision, principal=SYSTEM_OPERATOR)
    html = dossiers.render.dossier_html(
        dossiers.content.dossier_content_complete(decision),
        public_id=dossier.public_id,
        version=dossier.version,
    )
    return bytes(dossier.pdf), html


def test_a_demo_dossier_is_a_tagged_pdf_ua_document(db, demo_artefacts):
    assert PDF_VARIANT == "pdf/ua-1"
    pdf, _ = _issue(demo_artefacts, "credit", "EU+US")
    reader = PdfReader(io.BytesIO(pdf))
    root = reader.trailer["/Root"]
    # the structure tree screen readers follow, and the document marked as tagged
    assert "/StructTreeRoot" in root
    assert root["/MarkInfo"]["/Marked"] == BooleanObject(True)
    assert root["/StructTreeRoot"].get_object().get("/K") is not None
    # the PDF/UA identification in the XMP metadata
    xmp = root["/Metadata"].get_object().get_data().decode()
    assert re.search(r"pdfuaid:part(>|=\")1", xmp), xmp[:500]
    assert pdf.startswith(b"%PDF-1.7")
    # a document language, which PDF/UA requires
    assert str(root.get("/Lang", "")).lower().startswith("en")
    # the text still extracts
    text, pages = _text(pdf)
    assert "1. Identification" in text and pages >= 1


def test_the_dossier_gives_methods_their_human_names(db, demo_artefacts):
    pdf, html = _issue(demo_artefacts, "diagnosis", "EU")
    quality = html[html.index("<h2>8. ") : html.index("<h2>9. ")]
    # the quality table: each method by its name, with the id in small print
    for name, method in [
        ("Integrated Gradients", "integrated_gradients"),
        ("DeepLIFT", "deeplift"),
    ]:
        assert f'<td>{name} <span class="method-id">{method}</span></td>' in quality
    reasons = html[html.index("<h2>5. ") : html.index("<h2>6. ")]
    assert 'Method: Integrated Gradients <span class="method-id">' in reasons
    # the chart's title too
    assert "Attributions (Integrated Gradients)" in html
    assert "Attributions (integrated_gradients)" not in html
    flat = " ".join(_text(pdf)[0].split())
    assert "Integrated Gradients" in flat and "DeepLIFT" in flat
