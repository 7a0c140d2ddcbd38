"""A helper program run in a child process, killed with everything it started.

The dossier renderer (WeasyPrint) and the model checker (torch) run untrusted-size work
this way: in their own process group, with a wall-clock timeout, and reaped whatever
happens -- also when the caller's own time limit interrupts the wait -- so nothing
outlives the request or the job that started it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ChildResult:
    returncode: int
    stdout: bytes
    stderr: bytes
    seconds: float

    def last_error_line(self) -> str:
        """The child's last line on stderr (its exception, usually), shortened."""
        lines = self.stderr.decode(errors="replace").strip().splitlines()
        return lines[-1][:300] if lines else "no message"


class ChildTimeout(Exception):  # noqa: N818 (named for what happened)
    """The child ran past its timeout and was killed."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"killed after {seconds:g} s")
        self.seconds = seconds


def child_kill(child: subprocess.Popen[bytes]) -> None:
    """Stop the child and everything it started, and reap it."""
    if child.poll() is None:
        try:
            os.killpg(child.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    child.wait()


def child_run(
    argv: list[str], data: bytes, *, timeout: float, cwd: Path | None = None
) -> ChildResult:
    """Run ``argv`` with ``data`` on stdin; its exit status and output, or
    ``ChildTimeout`` after ``timeout`` seconds (the child is killed either way)."""
    started = time.monotonic()
    child = subprocess.Popen(  # noqa: S603 (our interpreter and our scripts)
        argv,
        cwd=cwd,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group: killed as one
    )
    try:
        out, err = child.communicate(data, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise ChildTimeout(timeout) from None
    finally:  # also when the caller's own time limit interrupts the wait
        child_kill(child)
    return ChildResult(child.returncode, out, err, time.monotonic() - started)
