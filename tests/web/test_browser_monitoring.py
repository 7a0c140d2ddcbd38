"""Issue 16 in a real browser (Debian's Chromium through Playwright): an auditor
opens every monitoring page; each chart is drawn (an SVG with a size, the shapes
inside it), its data table is there for screen readers, and the page's CSP refuses
nothing (no inline script or style is needed)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from compliance import decisions as intake
from compliance.principals import Principal
from compliance.reviews import preliminary_view_record, review_record
from compliance.tenancy import services as tenancy
from tests import factories
from tests.schemas import VALID_FEATURES

CHROMIUM = "/usr/bin/chromium"
SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
PASSWORD = "browser-test-password"
GOOD = "Compared every input with the application file; the outcome holds."

pytestmark = [
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(),
        reason="Debian's chromium is not installed (.ci/run installs it)",
    ),
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def monitored(transactional_db: Any) -> dict[str, Any]:
    org = factories.make_org("watch-bank")
    client, _ = factories.make_client(org, "engine")
    ai = factories.make_ai_system(org, "Watched scoring")
    mv = factories.make_model_version(ai, "1.0.0")
    officer = tenancy.membership_create(
        organization=org, username="wb-officer", password=PASSWORD, role="officer"
    ).user
    tenancy.membership_create(
        organization=org, username="wb-auditor", password=PASSWORD, role="auditor"
    )
    submitter = Principal(organization=org, role="client", client_system=client)
    reviewer = Principal(organization=org, role="officer", user=officer)
    for i in range(40):
        features = {**VALID_FEATURES, "age": 20 + i, "income": 800.0 + 150 * i}
        payload = factories.decision_payload(mv, features=features)
        payload["decided_at"] = timezone.now()
        decision, _ = intake.decision_submit(
            principal=submitter, submission=intake.Submission.from_validated(payload)
        )
        if i % 2 == 0:
            preliminary_view_record(
                principal=reviewer, decision=decision, outcome=decision.outcome
            )
            review_record(
                principal=reviewer,
                decision=decision,
                action="uphold",
                justification=GOOD,
            )
    import explain

    schema = explain.parse_feature_schema(mv.feature_schema)
    rows = [
        {**VALID_FEATURES, "age": 18 + i, "income": 500.0 + 200 * i} for i in range(50)
    ]
    mv.training_distribution = {
        **explain.training_distribution(schema, rows),
        "source": "training",
    }
    mv.save(update_fields=["training_distribution"])
    return {"ai": ai}


def test_every_monitoring_page_draws_its_charts(
    monitored: Any, live_server: Any
) -> None:
    from playwright.sync_api import sync_playwright

    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    SHOTS.mkdir(parents=True, exist_ok=True)
    refused: list[str] = []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
            )
            page = browser.new_context(
                viewport={"width": 1280, "height": 900}
            ).new_page()
            page.on(
                "console",
                lambda m: (
                    refused.append(m.text)
                    if "Content Security Policy" in m.text
                    else None
                ),
            )
            page.goto(f"{live_server.url}/accounts/login/")
            page.get_by_label("Username").fill("wb-auditor")
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url(f"{live_server.url}/cases/")
            page.get_by_role("link", name="Monitoring").click()
            page.wait_for_url(f"{live_server.url}/monitoring/")
            assert page.get_by_role("heading", name="Alerts").count() == 1
            page.screenshot(
                path=str(SHOTS / "16-monitoring-overview.png"), full_page=True
            )
            for topic, least in (("oversight", 3), ("fairness", 1), ("drift", 2)):
                page.get_by_role("navigation", name="Monitoring").get_by_role(
                    "link"
                ).filter(
                    has_text={"oversight": "Human oversight"}.get(topic, topic.title())
                ).click()
                page.wait_for_url(f"**/monitoring/{topic}/*")
                charts = page.locator("svg.chart")
                assert charts.count() >= least, topic
                for k in range(charts.count()):
                    box = charts.nth(k).bounding_box()
                    assert (
                        box is not None and box["width"] > 300 and box["height"] > 100
                    )
                    # something is drawn: lines, bars or points
                    assert charts.nth(k).locator("polyline, rect, circle").count() > 0
                # every chart's figures as a table
                assert (
                    page.locator("figure.chart details table").count() == charts.count()
                )
                page.screenshot(
                    path=str(SHOTS / f"16-monitoring-{topic}.png"), full_page=True
                )
            browser.close()
    finally:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    assert refused == []
