"""Dossier rendering speed: median render time per dossier and pages per second.

    .venv/bin/python -m bench.dossiers [--n 50]

Renders N dossiers of demo credit denials (explained with IG and DeepLift, reviewed)
in process, on a throwaway SQLite database.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=50)
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="inspectoscope-bench-"))
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{scratch / 'bench.sqlite3'}")
    os.environ.setdefault("MEDIA_ROOT", str(scratch / "media"))
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.test"
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    from django.utils import timezone

    from compliance import decisions as intake
    from compliance import dossiers, explanations
    from compliance.principals import Principal
    from compliance.registry import services as registry
    from compliance.reviews import review_record
    from compliance.tenancy import services as tenancy
    from demo.train import DEMOS, build_artefacts
    from tests import factories

    weights, manifest = build_artefacts(DEMOS["credit"])
    org = tenancy.organization_create(
        name="Bench bank", slug="bench", jurisdiction="EU+US"
    )
    client, _ = factories.make_client(org)
    officer = factories.make_member(org, "officer")
    admin = Principal(organization=org, role="admin")
    ai = registry.ai_system_register(principal=admin, **manifest["ai_system"])
    mv = registry.model_version_register(
        principal=admin, ai_system=ai, weights=weights, **manifest["model_version"]
    )
    adverse = [s for s in manifest["sample_decisions"] if s["outcome"] == "bad"]
    principal = Principal(organization=org, role="client", client_system=client)
    decisions = []
    for i in range(args.n):
        sample = adverse[i % len(adverse)]
        data = {
            **sample,
            "external_id": f"bench-{i}",
            "model_version": mv.pk,
            "decided_at": timezone.now(),
        }
        decision, _ = intake.decision_submit(
            principal=principal, submission=intake.Submission.from_validated(data)
        )
        explanations.explanation_request(
            actor="bench",
            decision=decision,
            methods=["integrated_gradients", "deeplift"],
        )
        decisions.append(decision)
    while explanations.explanation_batch_process(worker="bench", limit=256):
        pass
    for decision in decisions:
        review_record(
            reviewer=officer,
            decision=decision,
            action="uphold",
            justification="Checked against the application file; refusal stands.",
        )
    dossiers.dossier_issue(decision=decisions[0], actor="bench")  # warm-up (fonts, CSS)
    times, pages = [], 0
    for decision in decisions:
        start = time.perf_counter()
        dossier = dossiers.dossier_issue(decision=decision, actor="bench")
        times.append(time.perf_counter() - start)
        pages += dossier.pages
    print(f"{args.n} demo credit dossiers ({pages / args.n:.1f} pages each):")
    print(
        f"  median render + store time: {statistics.median(times) * 1000:.0f} ms "
        f"(p95 {statistics.quantiles(times, n=20)[18] * 1000:.0f} ms; target < 1000 ms)"
    )
    print(f"  pages per second: {pages / sum(times):.1f}")


if __name__ == "__main__":
    main()
