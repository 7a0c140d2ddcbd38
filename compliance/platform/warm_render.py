"""HTML to PDF in a renderer that stays up between renders (``pdf_render.py
--serve``): the same render as a fresh child per request, without its start-up
(importing WeasyPrint takes about 0.65 s of a notice's 2 s). One renderer per
process, one render at a time; a render past its timeout, an interrupted wait or a
renderer that dies kills it (with its process group) and the next render starts a
fresh one. It is also replaced after ``MAX_RENDERS`` renders, so no state or memory
piles up in it.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from compliance.platform import pdf_render
from compliance.platform.child import ChildTimeout, child_kill

MAX_RENDERS = 200
SCRIPT = Path(pdf_render.__file__).resolve()


class RenderFailed(Exception):
    """The render raised (its message), or the renderer died without an answer."""


class _Renderer:
    def __init__(self) -> None:
        # -P: the script's folder (compliance/platform: its numbers.py) stays off
        # sys.path, where it would shadow the standard library's
        self.process = subprocess.Popen(  # noqa: S603 (our interpreter, our script)
            [sys.executable, "-P", str(SCRIPT), "--serve"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: killed as one
        )
        self.owner = os.getpid()
        self.renders = 0

    def usable(self) -> bool:
        return (
            self.owner == os.getpid()
            and self.process.poll() is None
            and self.renders < MAX_RENDERS
        )

    def stop(self) -> None:
        child_kill(self.process)

    def _read(self, count: int, deadline: float, timeout: float) -> bytes:
        assert self.process.stdout is not None  # noqa: S101 (piped above)
        fd, chunks, got = self.process.stdout.fileno(), [], 0
        while got < count:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise ChildTimeout(timeout)
            chunk = os.read(fd, min(count - got, 1 << 20))
            if not chunk:
                raise RenderFailed(
                    f"the renderer exited (status {self.process.poll()}) without "
                    "an answer"
                )
            chunks.append(chunk)
            got += len(chunk)
        return b"".join(chunks)

    def render(self, request: bytes, timeout: float) -> bytes:
        assert self.process.stdin is not None  # noqa: S101 (piped above)
        deadline = time.monotonic() + timeout
        self.renders += 1
        try:
            self.process.stdin.write(len(request).to_bytes(4, "big") + request)
            self.process.stdin.flush()
        except BrokenPipeError:
            raise RenderFailed("the renderer was not running") from None
        size = int.from_bytes(self._read(4, deadline, timeout), "big")
        return self._read(size, deadline, timeout)


_renderer: _Renderer | None = None
_lock = threading.Lock()


def render_warm(
    html: str, *, static_root: Path, timeout: float
) -> tuple[bytes, dict[str, Any], float]:
    """PDF bytes, the render's header (pages, size, requested, refused) and the
    seconds it took; ``ChildTimeout`` past ``timeout`` and ``RenderFailed`` when the
    render raised or the renderer died (it is killed either way)."""
    global _renderer
    request = json.dumps({"html": html, "static_root": str(static_root)}).encode()
    with _lock:
        started = time.monotonic()
        if _renderer is None or not _renderer.usable():
            if _renderer is not None and _renderer.owner == os.getpid():
                _renderer.stop()
            _renderer = _Renderer()
        renderer = _renderer
        try:
            answer = renderer.render(request, timeout)
        except BaseException:  # a timeout, a death, or the caller's own time limit
            renderer.stop()
            _renderer = None
            raise
    head, _, pdf = answer.partition(b"\n")
    header = json.loads(head)
    if "error" in header:
        raise RenderFailed(str(header["error"]))
    return pdf, header, time.monotonic() - started
