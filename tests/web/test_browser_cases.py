"""The case queue's case management in headless Chromium: an officer sorts, takes
cases in bulk, finds them under "My cases" and sees which are past their SLA; the
page runs under the CSP without inline scripts or styles (no console errors).

Screenshots go to test-artifacts/screenshots/ (and CASES_SHOTS_DIR when set).
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from compliance import decisions as intake
from compliance.models import Decision
from compliance.principals import Operator, Principal
from compliance.registry import services as registry
from compliance.tenancy import services as tenancy
from tests import factories

CHROMIUM = "/usr/bin/chromium"
SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
PASSWORD = "browser-test-password"

pytestmark = [
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(),
        reason="Debian's chromium is not installed (.ci/run installs it)",
    ),
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def case_bank(transactional_db):
    org = tenancy.organization_create(
        name="Queue Bank", slug="queue-bank", jurisdiction="EU"
    )
    client, _ = factories.make_client(org, "engine")
    tenancy.membership_create(
        organization=org, username="qb-officer", password=PASSWORD, role="officer"
    )
    ai = factories.make_ai_system(org, "Credit scoring")
    mv = factories.make_model_version(ai, "1.0")
    registry.ai_system_update(operator=Operator(), ai_system=ai, review_sla_hours=24)
    principal = Principal(organization=org, role="client", client_system=client)
    now = timezone.now()
    decisions = []
    for i, hours in enumerate((2, 30, 50, 5, 100)):
        payload = factories.decision_payload(mv, external_id=f"loan-q{i:03d}")
        payload["decided_at"] = now - timedelta(hours=hours)
        decision, _ = intake.decision_submit(
            principal=principal,
            submission=intake.Submission.from_validated(payload),
        )
        # test set-up only: an older receipt than the submission's
        Decision.objects.filter(pk=decision.pk).update(
            received_at=now - timedelta(hours=hours)
        )
        decisions.append(decision)
    return decisions


@pytest.fixture
def page_in_chromium(live_server):
    from playwright.sync_api import sync_playwright

    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--no-first-run"],
        )
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        page = context.new_page()
        errors: list[str] = []
        page.on(
            "console",
            lambda m: errors.append(m.text) if m.type == "error" else None,
        )
        yield page, live_server.url, errors
        context.close()
        browser.close()
    os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


def _shot(page, name: str) -> None:
    for folder in filter(None, [SHOTS, os.environ.get("CASES_SHOTS_DIR")]):
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / name), full_page=True)


def test_an_officer_sorts_takes_and_finds_their_cases(case_bank, page_in_chromium):
    page, base, errors = page_in_chromium
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("Username").fill("qb-officer")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/cases/")
    _shot(page, "cases-01-queue.png")
    # two of five are past the system's 24 h SLA... and 50 h: three
    assert page.locator("tr.past-sla").count() == 3

    page.get_by_role("link", name="Age").click()
    page.wait_for_url("**/cases/?sort=-age")
    first = page.locator("table.cases tbody tr").first
    assert "loan-q004" in first.inner_text()  # the oldest first
    _shot(page, "cases-02-sorted-by-age.png")

    for decision in case_bank[1:3]:
        page.get_by_label(f"Select case #{decision.pk}").check()
    page.get_by_role("button", name="Assign", exact=True).click()
    page.wait_for_url("**/cases/?sort=-age")
    assert "2 cases assigned to qb-officer" in page.content()
    _shot(page, "cases-03-bulk-assigned.png")

    page.get_by_role("link", name="My cases").click()
    page.wait_for_url("**/cases/?assignee=me")
    assert page.locator("table.cases tbody tr").count() == 2
    _shot(page, "cases-04-my-cases.png")
    # nothing refused by the CSP (the browser's own favicon request may 404)
    assert [e for e in errors if "404" not in e] == []
