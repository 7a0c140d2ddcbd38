"""The dossier's human-oversight section names the final outcome, who gave it, the
four-eyes confirmation and a superseded review's reason."""

from __future__ import annotations

from django.template.loader import render_to_string
from django.utils import timezone

from compliance import decisions as intake
from compliance import explanations
from compliance.dossiers.content import dossier_content
from compliance.jobs import jobs_process
from compliance.principals import SYSTEM_OPERATOR, Principal
from compliance.registry import services as registry
from compliance.reviews import review_confirm, review_record
from tests import factories

WHY = "Checked the application file against the model inputs; it does not hold."


def _explained_decision(world):
    schema = {
        **factories.TINY_SCHEMA,
        "baseline": {
            "income": 3000.0,
            "age": 40,
            "purpose": "other",
            "has_guarantor": False,
        },
    }
    mv = registry.model_version_register(
        principal=Principal(organization=world.org, role="admin"),
        ai_system=world.ai_system,
        version="2.0",
        architecture="logistic_regression",
        hyperparameters={},
        feature_schema=schema,
        class_labels=["good", "bad"],
        favourable_class="good",
        decision_threshold=0.5,
        weights=factories.tiny_weights(schema),
    )
    payload = factories.decision_payload(mv)
    payload["decided_at"] = timezone.now()
    decision = intake.decision_submit(
        principal=Principal(
            organization=world.org, role="client", client_system=world.client_system
        ),
        submission=intake.Submission.from_validated(payload),
    ).decision
    explanations.explanation_request(
        principal=SYSTEM_OPERATOR, decision=decision, methods=["deeplift"]
    )
    jobs_process(kind="explanation", worker="t", limit=5)
    return decision


def _section_9(decision) -> str:
    decision.refresh_from_db()
    html = render_to_string("dossier/dossier.html", dossier_content(decision).context)
    return " ".join(html[html.index("9. Human oversight") :].split())[:3000]


def test_the_dossier_shows_no_final_outcome_before_review(world):
    decision = _explained_decision(world)
    assert "Final outcome: none yet" in _section_9(decision)


def test_the_dossier_shows_a_confirmed_overturn_as_the_final_outcome(world):
    decision = _explained_decision(world)
    second = factories.make_member(world.org, "officer", "acme-officer-2")
    review = review_record(
        principal=Principal(organization=world.org, role="officer", user=world.officer),
        decision=decision,
        action="overturn",
        justification=WHY,
    )
    assert "Final outcome: none yet (status: reviewed)" in _section_9(decision)
    review_confirm(
        principal=Principal(organization=world.org, role="officer", user=second),
        decision=decision,
    )
    text = _section_9(decision)
    assert f"Final outcome: <strong>{review.human_outcome}</strong>" in text
    assert f'outcome "{decision.outcome}" was overturned' in text
    assert "given by acme-officer" in text
    assert "confirmed by acme-officer-2" in text
