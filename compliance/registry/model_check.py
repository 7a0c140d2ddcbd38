"""Building an uploaded model to check its weights, outside the web process.

``model_build_check`` runs ``explain/check_child.py`` in a child process with its own
address-space limit (``MODEL_CHECK_MEMORY_BYTES``), CPU limit and wall-clock timeout
(``MODEL_CHECK_TIMEOUT_SECONDS``): a model that would take more memory or time than
that is refused with a 400 naming ``weights``, and the web worker's own memory never
holds it. ``MODEL_CHECK_ISOLATED = False`` (the test settings, where thousands of
registrations would each pay the child's start-up of about 1-3 s) builds in-process;
the declared parameter count is bounded before either (``explain.parameter_count``).
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any

from django.conf import settings

import explain
from compliance.platform.child import ChildTimeout, child_run
from explain.onnx_check import OnnxRefused
from explain.onnx_models import onnx_plan_answer

logger = logging.getLogger(__name__)
# run as a script (-P: its folder is not put on sys.path), so that its limits are set
# before it imports torch
CHILD = Path(explain.__file__).resolve().parent / "check_child.py"


def _in_process(
    architecture: str, schema: Any, hyperparameters: dict[str, Any], weights: bytes
) -> str | None:
    try:
        explain.load_model(
            architecture=architecture,
            schema=schema,
            hyperparameters=hyperparameters,
            weights=weights,
            expected_sha256=None,
        )
    except explain.ModelLoadError as exc:
        return str(exc)
    return None


class _ChildDied(Exception):  # noqa: N818 (named for what happened)
    """The checker child exited without an answer (out of memory, out of CPU time)."""

    def __init__(self, returncode: int) -> None:
        super().__init__(f"exit status {returncode}")
        self.returncode = returncode


def _limits() -> str:
    memory = int(settings.MODEL_CHECK_MEMORY_BYTES)
    return (
        f"{memory / 2**30:g} GiB of memory, "
        f"{float(settings.MODEL_CHECK_TIMEOUT_SECONDS):g} s"
    )


def _child_answer(request: dict[str, Any], data: bytes) -> dict[str, Any]:
    """The checker child's one-line JSON answer to ``request`` (its limits added)
    and ``data``. Raises ChildTimeout, or _ChildDied when it gave no answer."""
    timeout = float(settings.MODEL_CHECK_TIMEOUT_SECONDS)
    header = json.dumps(
        {
            **request,
            "memory_bytes": int(settings.MODEL_CHECK_MEMORY_BYTES),
            "cpu_seconds": int(timeout) + 1,
        }
    ).encode()
    result = child_run(
        [sys.executable, "-P", str(CHILD)], header + b"\n" + data, timeout=timeout
    )
    line = result.stdout.split(b"\n", 1)[0]
    if result.returncode != 0 or not line:
        logger.warning(
            "The model check child exited with %s after %.1f s: %s",
            result.returncode,
            result.seconds,
            result.last_error_line(),
        )
        raise _ChildDied(result.returncode)
    answer: dict[str, Any] = json.loads(line)
    return answer


def _isolated(
    architecture: str,
    feature_schema: Any,
    hyperparameters: dict[str, Any],
    weights: bytes,
) -> str | None:
    request = {
        "architecture": architecture,
        "feature_schema": feature_schema,
        "hyperparameters": hyperparameters,
    }
    try:
        answer = _child_answer(request, weights)
    except ChildTimeout as exc:
        return (
            f"Building and checking the model took longer than {exc.seconds:g} s "
            "(MODEL_CHECK_TIMEOUT_SECONDS) and was stopped."
        )
    except _ChildDied as exc:
        return (
            f"The model could not be built within the checker's limits ({_limits()}; "
            f"exit status {exc.returncode})."
        )
    return None if answer["ok"] else str(answer["error"])


def model_build_check(
    *,
    architecture: str,
    schema: Any,
    feature_schema: Any,
    hyperparameters: dict[str, Any],
    weights: bytes,
) -> str | None:
    """Build the model from its weights (strict: every tensor, every shape, finite
    values); ``None`` when it loads, else why not, for the client."""
    if settings.MODEL_CHECK_ISOLATED:
        return _isolated(architecture, feature_schema, hyperparameters, weights)
    return _in_process(architecture, schema, hyperparameters, weights)


def onnx_plan_check(
    *, feature_schema: Any, output: dict[str, Any], data: bytes
) -> dict[str, Any]:
    """Check an uploaded ONNX model and plan how it runs (``explain.onnx_models``),
    in the child process like any other upload (a hostile graph can at worst exhaust
    the child); the plan's manifest, or ``OnnxRefused`` naming the rule it broke."""
    request = {
        "architecture": "onnx",
        "feature_schema": feature_schema,
        "hyperparameters": {"output": output},
        "max_bytes": int(settings.MODEL_UPLOAD_MAX_BYTES),
        "smoke_seconds": float(settings.ONNX_SMOKE_SECONDS),
    }
    if not settings.MODEL_CHECK_ISOLATED:
        answer = onnx_plan_answer(request, data)
    else:
        try:
            answer = _child_answer(request, data)
        except ChildTimeout as exc:
            raise OnnxRefused(
                "time_limit",
                f"Checking the model took longer than {exc.seconds:g} s "
                "(MODEL_CHECK_TIMEOUT_SECONDS) and was stopped.",
            ) from None
        except _ChildDied as exc:
            raise OnnxRefused(
                "resources",
                "The model could not be checked within the checker's limits "
                f"({_limits()}; exit status {exc.returncode}).",
            ) from None
    if not answer["ok"]:
        raise OnnxRefused(str(answer["code"]), str(answer["error"]))
    return dict(answer["plan"])
