"""Real demo cases (the credit model in an EU+US bank, the diagnosis model in an EU
clinic), explained by the engine, for notice tests."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone

from compliance import decisions as intake
from compliance import explanations
from compliance.jobs import jobs_process
from compliance.principals import SYSTEM_OPERATOR, Principal
from compliance.registry import services as registry
from compliance.reviews import review_record
from compliance.tenancy import services as tenancy
from tests import factories

JUSTIFICATION = "Checked the inputs against the application file; the result stands."


def notice_case(
    artefacts: dict[str, Any],
    name: str,
    jurisdiction: str,
    *,
    index: int = 0,
    review: bool = True,
    slug: str = "",
) -> Any:
    """An adverse demo decision (the ``index``-th), explained with Integrated
    Gradients and reviewed (upheld) by an officer."""
    weights, manifest = artefacts[name]
    slug = slug or f"{name}-notice-org"
    org = tenancy.organization_create(
        name=f"{name.title()} Notice Org", slug=slug, jurisdiction=jurisdiction
    )
    org.postal_address = "1 Example Street\n10115 Berlin"
    org.contact = "appeals@example.org"
    org.regulator = "Example Data Protection Authority, 2 Example Square, Berlin"
    org.save()
    client, _ = factories.make_client(org, f"{name}-engine")
    officer = factories.make_member(org, "officer", f"{slug}-officer")
    admin = Principal(organization=org, role="admin")
    ai = registry.ai_system_register(
        principal=admin, blind_first_review=False, **manifest["ai_system"]
    )
    mv = registry.model_version_register(
        principal=admin, ai_system=ai, weights=weights, **manifest["model_version"]
    )
    adverse = [
        s
        for s in manifest["sample_decisions"]
        if s["outcome"] != manifest["model_version"]["favourable_class"]
    ][index]
    data = {**adverse, "model_version": mv.pk, "decided_at": timezone.now()}
    principal = Principal(organization=org, role="client", client_system=client)
    decision, _ = intake.decision_submit(
        principal=principal, submission=intake.Submission.from_validated(data)
    )
    explanations.explanation_request(
        principal=SYSTEM_OPERATOR, decision=decision, methods=["integrated_gradients"]
    )
    jobs_process(kind="explanation", worker="test", limit=10)
    if review:
        review_record(
            principal=Principal(organization=org, role="officer", user=officer),
            decision=decision,
            action="uphold",
            justification=JUSTIFICATION,
        )
    decision.refresh_from_db()
    return decision


@pytest.fixture
def credit_refusal(db: Any, demo_artefacts: dict[str, Any]) -> Any:
    return notice_case(demo_artefacts, "credit", "EU+US")


@pytest.fixture
def diagnosis(db: Any, demo_artefacts: dict[str, Any]) -> Any:
    return notice_case(demo_artefacts, "diagnosis", "EU")
