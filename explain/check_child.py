"""Build and check an uploaded model in a child process: ``python -P explain/check_child.py``
(run as a script, so the limits are set before torch is imported).

The web process that receives a model version never builds it: this child does, under
its own address-space and CPU limits, so a hostile upload can at worst exhaust the
child (which the parent reports as a refusal) and never the web worker.

Protocol: stdin is one line of JSON (``architecture``, ``feature_schema``,
``hyperparameters``, ``memory_bytes``, ``cpu_seconds``) followed by the weights' bytes;
stdout is one line of JSON: ``{"ok": true, "parameters": N}`` or
``{"ok": false, "error": "<why, for the client>"}``. For an ONNX model (architecture
``onnx``; ``hyperparameters.output`` its output declaration) the child checks the file
and plans its execution (``explain.onnx_models.onnx_model_plan``): ``{"ok": true,
"plan": {...}}`` or ``{"ok": false, "code": "<rule>", "error": "..."}``. Any other exit means the child
died (out of memory, out of CPU time): the parent says so.
"""

from __future__ import annotations

import json
import resource
import sys
from pathlib import Path


def _limit(memory_bytes: int, cpu_seconds: int) -> None:
    if memory_bytes > 0:
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    if cpu_seconds > 0:
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds))


def main() -> int:
    stdin = sys.stdin.buffer
    request = json.loads(stdin.readline())
    weights = stdin.read()
    _limit(int(request.get("memory_bytes", 0)), int(request.get("cpu_seconds", 0)))
    # after the limits: torch's own allocations count too
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import explain

    if request["architecture"] == "onnx":
        from explain.onnx_models import onnx_plan_answer

        answer = onnx_plan_answer(request, weights)
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()
        return 0
    try:
        schema = explain.parse_feature_schema(request["feature_schema"])
        model = explain.load_model(
            architecture=request["architecture"],
            schema=schema,
            hyperparameters=request["hyperparameters"],
            weights=weights,
            expected_sha256=None,
        )
    except explain.ModelLoadError as exc:
        answer = {"ok": False, "error": str(exc)}
    except explain.SchemaError as exc:
        answer = {"ok": False, "error": f"The feature schema is invalid: {exc}"}
    else:
        answer = {"ok": True, "parameters": sum(p.numel() for p in model.parameters())}
    sys.stdout.write(json.dumps(answer) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
