"""explain/ must run on a bare GPU worker: no Django, DRF, Celery or app imports."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

EXPLAIN = Path(__file__).resolve().parents[2] / "explain"
FORBIDDEN = {"django", "rest_framework", "celery", "compliance", "workers", "config"}


def _imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_no_module_of_explain_imports_a_framework():
    offenders = {
        str(p.relative_to(EXPLAIN)): sorted(_imported_roots(p) & FORBIDDEN)
        for p in EXPLAIN.rglob("*.py")
        if _imported_roots(p) & FORBIDDEN
    }
    assert offenders == {}


def test_importing_explain_loads_no_framework_module():
    code = (
        "import sys, explain; "
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {sorted(FORBIDDEN)!r}); "
        "print(','.join(bad))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=EXPLAIN.parent,
        check=True,
        env={"PYTHONPATH": str(EXPLAIN.parent)},
    )
    assert out.stdout.strip() == ""
