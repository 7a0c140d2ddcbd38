"""The monitoring demo (issue 16, item 8): the seeded credit system is blind-first,
three officers review unlike each other, drills are built, and the figures raise a
rubber-stamping alert for the officer who only confirms the model."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from compliance import decisions as intake
from compliance.jobs import jobs_process
from compliance.management.demo_oversight import OFFICERS, simulate
from compliance.management.demo_seed import demo_seed
from compliance.models import AISystem, AuditEvent, ClientSystem, Drill, Review
from compliance.principals import Principal


@pytest.mark.django_db
def test_the_demo_officers_and_their_alerts(
    demo_artefacts: dict[str, Any], tmp_path: Path, settings: Any
) -> None:
    settings.MONITORING_MIN_REVIEWS = 5
    models = tmp_path / "models"
    models.mkdir()
    weights, manifest = demo_artefacts["credit"]
    (models / manifest["weights_file"]).write_bytes(weights)
    (models / "credit.json").write_text(json.dumps(manifest))
    report = demo_seed(
        data_dir=tmp_path, password="a-demo-pass-phrase", models_dir=models
    )
    assert {name for name, *_ in report.logins} >= set(OFFICERS)
    ai = AISystem.objects.get(name=manifest["ai_system"]["name"])
    assert ai.blind_first_required  # Annex III: blind-first by default
    client = ClientSystem.objects.get(organization=ai.organization, name="loan-engine")
    principal = Principal(
        organization=ai.organization, role="client", client_system=client
    )
    population = manifest["population_decisions"][:150]
    now = timezone.now()
    items: list[Any] = [
        intake.Submission.from_validated(
            {
                **{
                    k: v for k, v in entry.items() if k not in ("days_before", "actual")
                },
                "model_version": report.model_versions["demo-bank"],
                "decided_at": now - timedelta(days=entry["days_before"]),
            }
        )
        for entry in population
    ]
    answers = intake.decisions_submit_bulk(principal=principal, items=items)
    assert [a.status for a in answers] == [201] * len(items)
    while jobs_process(kind="explanation", worker="test", limit=64):
        pass
    result = simulate(
        ai_system=ai,
        actual={e["external_id"]: e["actual"] for e in population},
        say=lambda text: None,
    )
    assert result.reviews > 20 and result.overturns > 0
    reviewers = set(
        Review.objects.filter(
            decision__ai_system=ai, decision__is_drill=False
        ).values_list("reviewer__username", flat=True)
    )
    assert reviewers == set(OFFICERS)
    assert result.drills == Drill.objects.filter(ai_system=ai).count() > 0
    assert any("demo-bank-officer-quick" in message for message in result.alerts)
    assert AuditEvent.objects.filter(action="monitoring.alert").exists()
    assert result.report_job is not None
    # a second run does nothing
    again = simulate(
        ai_system=ai,
        actual={e["external_id"]: e["actual"] for e in population},
        say=lambda text: None,
    )
    assert again.skipped
