"""The renderer that stays up between renders (notices): one process reused, a
render past its timeout kills it (and the next render starts a fresh one), a
render that raises is reported, the output is the same tagged PDF."""

from __future__ import annotations

import io
import os
from pathlib import Path
from unittest import mock

import pytest
from pypdf import PdfReader

from compliance.platform import warm_render
from compliance.platform.child import ChildTimeout

STATIC = Path(__file__).resolve().parents[3] / "static"


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_renders_reuse_one_renderer() -> None:
    first, header, _ = warm_render.render_warm(
        "<p>one</p>", static_root=STATIC, timeout=60
    )
    renderer = warm_render._renderer
    assert renderer is not None
    second, _, _ = warm_render.render_warm("<p>two</p>", static_root=STATIC, timeout=60)
    assert warm_render._renderer is renderer  # the same process, warm
    assert first.startswith(b"%PDF-") and second.startswith(b"%PDF-")
    assert header["pages"] == 1 and header["size"] == len(first)
    root = PdfReader(io.BytesIO(first)).trailer["/Root"]
    assert "/StructTreeRoot" in root  # tagged PDF/UA, as dossiers


def test_a_render_past_its_timeout_kills_the_renderer() -> None:
    warm_render.render_warm("<p>warm</p>", static_root=STATIC, timeout=60)
    renderer = warm_render._renderer
    assert renderer is not None
    slow = "<table>" + "<tr><td>x</td></tr>" * 20000 + "</table>"
    with pytest.raises(ChildTimeout):
        warm_render.render_warm(slow, static_root=STATIC, timeout=0.05)
    assert renderer.process.returncode is not None and _gone(renderer.process.pid)
    pdf, _, _ = warm_render.render_warm("<p>again</p>", static_root=STATIC, timeout=60)
    assert pdf.startswith(b"%PDF-") and warm_render._renderer is not renderer


def test_nothing_outside_the_static_files_is_fetched() -> None:
    _, header, _ = warm_render.render_warm(
        '<img src="file:///etc/passwd"><link rel="stylesheet" '
        'href="http://example.com/x.css">',
        static_root=STATIC,
        timeout=60,
    )
    assert sorted(header["refused"]) == [
        "file:///etc/passwd",
        "http://example.com/x.css",
    ]


def test_a_renderer_is_replaced_after_its_quota() -> None:
    warm_render.render_warm("<p>warm</p>", static_root=STATIC, timeout=60)
    renderer = warm_render._renderer
    assert renderer is not None
    with mock.patch.object(warm_render, "MAX_RENDERS", renderer.renders):
        warm_render.render_warm("<p>next</p>", static_root=STATIC, timeout=60)
    assert warm_render._renderer is not renderer and _gone(renderer.process.pid)
