"""Migration 0013: decisions reviewed under the old rules (each review stood alone, no
four-eyes) become final with the outcome of their latest uphold or overturn."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("compliance", "0012_dossier_signing")]
AFTER = [("compliance", "0013_decision_lifecycle")]


@pytest.fixture
def back_to_latest():
    """Whatever the test does, the database ends at the newest migrations again (later
    tests need every column)."""
    yield
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_reviewed_decisions_become_final_with_their_latest_outcome(
    world, back_to_latest
):
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    Decision = old.get_model("compliance", "Decision")
    Review = old.get_model("compliance", "Review")
    overturned = Decision.objects.get(pk=world.decision.pk)
    escalated = Decision.objects.get(pk=world.other_decision.pk)
    for decision, action, human, status in (
        (overturned, "uphold", "", "reviewed"),
        (overturned, "overturn", "bad-other", "reviewed"),
        (escalated, "escalate", "", "escalated"),
    ):
        Review.objects.create(
            decision=decision,
            reviewer_id=world.officer.pk,
            action=action,
            justification="x" * 40,
            human_outcome=human,
        )
        Decision.objects.filter(pk=decision.pk).update(status=status)

    executor = MigrationExecutor(connection)
    executor.migrate(AFTER)
    new = executor.loader.project_state(AFTER).apps
    Decision = new.get_model("compliance", "Decision")
    final = Decision.objects.get(pk=world.decision.pk)
    assert final.status == "final" and final.final_outcome == "bad-other"
    assert final.final_outcome_by_id == world.officer.pk and final.finalized_at
    still_open = Decision.objects.get(pk=world.other_decision.pk)
    assert still_open.status == "escalated" and still_open.final_outcome == ""
