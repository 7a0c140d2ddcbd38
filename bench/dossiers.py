"""Dossier rendering speed: median render time per dossier and pages per second.

    .venv/bin/python -m bench.dossiers [--n 50] [--downloads 2000]

Renders N dossiers of demo credit denials (explained with IG and DeepLift, reviewed)
on a throwaway SQLite database. ``--downloads D`` first records D downloads of each
decision's first version (the red team's audit-extract attack) and times the reissue.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=50)
    parser.add_argument("--downloads", type=int, default=0)
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="inspectoscope-bench-"))
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{scratch / 'bench.sqlite3'}")
    os.environ.setdefault("MEDIA_ROOT", str(scratch / "media"))
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.test"
    tsa = _signing(scratch)
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    from django.utils import timezone

    from compliance import decisions as intake
    from compliance import dossiers, explanations
    from compliance.principals import SYSTEM_OPERATOR, Principal
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
            principal=SYSTEM_OPERATOR,
            decision=decision,
            methods=["integrated_gradients", "deeplift"],
        )
        decisions.append(decision)
    from compliance.jobs import jobs_process

    while jobs_process(kind="explanation", worker="bench", limit=256):
        pass
    reviewer = Principal(organization=org, role="officer", user=officer)
    for decision in decisions:
        review_record(
            principal=reviewer,
            decision=decision,
            action="uphold",
            justification="Checked against the application file; refusal stands.",
        )
    if args.downloads:
        _downloads(decisions, args.downloads)
    dossiers.dossier_issue(  # warm-up (fonts, CSS)
        decision=decisions[0], principal=SYSTEM_OPERATOR, reissue_reason="warm-up"
    )
    times, pages = [], 0
    for decision in decisions:
        start = time.perf_counter()
        dossier = dossiers.dossier_issue(
            decision=decision, principal=SYSTEM_OPERATOR, reissue_reason="bench"
        )
        times.append(time.perf_counter() - start)
        pages += dossier.pages
    extra = f" after {args.downloads} downloads each" if args.downloads else ""
    print(f"{args.n} demo credit dossiers{extra} ({pages / args.n:.1f} pages each):")
    print(
        f"  median render + store time: {statistics.median(times) * 1000:.0f} ms "
        f"(p95 {_p95(times) * 1000:.0f} ms; target < 1000 ms)"
    )
    print(f"  pages per second: {pages / sum(times):.1f}")
    tsa.stop()


def _signing(scratch: Path) -> Any:
    """Dossiers are only issued signed: a throwaway PKI and a local TSA."""
    from demo.pki import pki_ensure
    from demo.tsa import tsa_start

    tsa = tsa_start(pki_ensure(scratch / "pki", {"bench": "Bench bank"}))
    os.environ.update(
        DOSSIER_SIGNING_DIR=str(tsa.pki.signing_dir),
        TSA_URL=tsa.url,
        TSA_CA_CERT_FILE=str(tsa.root_ca_pem_path),
    )
    return tsa


def _p95(times: list[float]) -> float:
    return statistics.quantiles(times, n=20)[18] if len(times) > 1 else times[0]


def _downloads(decisions: list, count: int) -> None:
    """Issue version 1 of each decision and record ``count`` downloads of it (the
    events the download service writes, appended in bulk)."""
    from django.db import transaction

    from compliance import dossiers
    from compliance.audit import audit_events_append
    from compliance.principals import SYSTEM_OPERATOR

    for decision in decisions:
        first = dossiers.dossier_issue(decision=decision, principal=SYSTEM_OPERATOR)
        event = {
            "actor": "client:bench",
            "organization": decision.organization,
            "action": "dossier.downloaded",
            "object_type": "decision",
            "object_id": decision.pk,
            "payload": {"dossier": first.public_id, "version": first.version},
        }
        with transaction.atomic():
            audit_events_append([event] * count)


if __name__ == "__main__":
    main()
