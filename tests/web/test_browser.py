"""The whole officer and auditor flow in headless Chromium against a live server,
with a real worker process computing explanations and rendering the dossier.

Screenshots of each main page are saved under test-artifacts/screenshots/.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from django.utils import timezone

from compliance import decisions as intake
from compliance.principals import Principal
from compliance.registry import services as registry
from compliance.tenancy import services as tenancy
from tests import factories
from tests.workers.conftest import Workers, redis_reachable

CHROMIUM = "/usr/bin/chromium"
SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
PASSWORD = "browser-test-password"
JUSTIFICATION = (
    "Compared every input with the application file; the refusal is justified."
)

pytestmark = [
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(),
        reason="Debian's chromium is not installed (.ci/run installs it)",
    ),
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def demo_bank(transactional_db):
    from demo.train import DEMOS, build_artefacts

    weights, manifest = build_artefacts(DEMOS["credit"])
    org = tenancy.organization_create(
        name="Browser Bank", slug="browser-bank", jurisdiction="EU+US"
    )
    client, _ = factories.make_client(org, "engine")
    for role in ("officer", "auditor"):
        tenancy.membership_create(
            organization=org, username=f"bb-{role}", password=PASSWORD, role=role
        )
    admin = Principal(organization=org, role="admin")
    ai = registry.ai_system_register(
        principal=admin, blind_first_review=False, **manifest["ai_system"]
    )
    mv = registry.model_version_register(
        principal=admin, ai_system=ai, weights=weights, **manifest["model_version"]
    )
    principal = Principal(organization=org, role="client", client_system=client)
    denied = None
    for sample in manifest["sample_decisions"]:
        decision, _ = intake.decision_submit(
            principal=principal,
            submission=intake.Submission.from_validated(
                {**sample, "model_version": mv.pk, "decided_at": timezone.now()}
            ),
        )
        if decision.outcome == "bad" and denied is None:
            denied = decision
    return {"denied": denied}


@pytest.fixture
def browser_page(live_server, tmp_path, settings):
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the ORM calls made by
    # the test itself are still synchronous and safe
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    SHOTS.mkdir(parents=True, exist_ok=True)
    broker = (
        settings.REDIS_URL
        if settings.REDIS_URL and redis_reachable(settings.REDIS_URL)
        else None
    )
    workers = Workers(tmp_path, broker)
    workers.start(queues="attributions,dossiers")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        context = browser.new_context(
            viewport={"width": 1280, "height": 900}, accept_downloads=True
        )
        yield context, live_server.url, tmp_path
        context.close()
        browser.close()
    workers.stop_all()
    os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


def _sign_in(page, base: str, username: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/cases/")


def test_an_officer_and_an_auditor_work_a_denied_credit_case(demo_bank, browser_page):
    context, base, tmp_path = browser_page
    denied = demo_bank["denied"]
    page = context.new_page()

    _sign_in(page, base, "bb-officer")
    page.get_by_label("Outcome").select_option("bad")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**/cases/?*outcome=bad*")
    assert page.locator("table.cases tbody tr").count() >= 1
    page.screenshot(path=str(SHOTS / "01-officer-queue.png"), full_page=True)

    page.get_by_role("link", name=f"#{denied.pk} {denied.external_id}").click()
    page.get_by_role("button", name="Request explanation").click()
    page.wait_for_selector(
        "svg[role=img]", timeout=60_000
    )  # the job ran; page reloaded
    assert page.locator("ol.reasons li").count() == 4  # four principal reasons
    page.screenshot(path=str(SHOTS / "02-case-explained.png"), full_page=True)

    page.get_by_label("Uphold").check()
    page.get_by_label("Justification").fill(JUSTIFICATION)
    page.get_by_role("button", name="Record review").click()
    page.get_by_text("Your review was recorded.").wait_for()

    page.get_by_role("button", name="Issue dossier").click()
    link = page.get_by_role("link", name="version 1")
    link.wait_for(timeout=60_000)
    with page.expect_download() as download_info:
        link.click()
    officer_pdf = tmp_path / "officer.pdf"
    download_info.value.save_as(officer_pdf)
    assert officer_pdf.read_bytes().startswith(b"%PDF-")
    page.screenshot(
        path=str(SHOTS / "03-case-reviewed-with-dossier.png"), full_page=True
    )
    page.get_by_role("button", name="Sign out").click()

    _sign_in(page, base, "bb-auditor")
    page.goto(f"{base}/cases/{denied.pk}/")
    assert page.get_by_role("button", name="Record review").count() == 0
    assert page.get_by_role("button", name="Issue dossier").count() == 0
    page.goto(f"{base}/dossiers/")
    page.screenshot(path=str(SHOTS / "04-auditor-dossiers.png"), full_page=True)
    with page.expect_download() as download_info:
        page.get_by_role("link", name="PDF").first.click()
    auditor_pdf = tmp_path / "auditor.pdf"
    download_info.value.save_as(auditor_pdf)
    assert auditor_pdf.read_bytes() == officer_pdf.read_bytes()

    page.goto(f"{base}/dossiers/verify")
    page.get_by_label("Dossier PDF").set_input_files(str(auditor_pdf))
    page.get_by_role("button", name="Verify").click()
    page.get_by_text("Verified:").wait_for()
    page.screenshot(path=str(SHOTS / "05-auditor-verify.png"), full_page=True)

    page.goto(f"{base}/audit/")
    page.get_by_role("button", name="Verify the chain").click()
    page.get_by_text("Chain intact").wait_for()
    page.screenshot(path=str(SHOTS / "06-auditor-audit-trail.png"), full_page=True)
    shutil.copy(auditor_pdf, SHOTS / "dossier.pdf")


# --- issue 13: /api/docs/ under the CSP (added by the blind-first helper) -------------
def test_the_api_docs_render_under_the_content_security_policy(live_server):
    """Swagger UI renders every operation with the site's CSP in force (no inline
    script) and the browser reports no CSP violation nor script error."""
    from playwright.sync_api import sync_playwright

    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    violations: list[str] = []
    errors: list[str] = []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
            )
            page = browser.new_page()
            page.on(
                "console",
                lambda message: (
                    violations.append(message.text)
                    if "Content Security Policy" in message.text
                    else None
                ),
            )
            page.on("pageerror", lambda error: errors.append(str(error)))
            response = page.goto(f"{live_server.url}/api/docs/")
            assert response is not None and response.status == 200
            policy = response.headers["content-security-policy"]
            assert (
                "script-src 'self'" in policy
                and "unsafe-inline"
                not in (policy.split("script-src", 1)[1].split(";", 1)[0])
            )
            page.wait_for_selector(".opblock-summary-path", timeout=30_000)
            paths = page.locator(".opblock-summary-path").all_inner_texts()
            assert "/api/v1/decisions/{id}/" in [p.replace("\u200b", "") for p in paths]
            SHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SHOTS / "07-api-docs.png"), full_page=False)
            browser.close()
    finally:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    assert violations == [] and errors == []


@pytest.fixture
def bare_browser(live_server):
    """Chromium against the live server, without workers (sign-in pages only)."""
    from playwright.sync_api import sync_playwright

    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        yield context, live_server.url
        context.close()
        browser.close()
    os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


def test_an_admin_sets_up_two_factor_then_signs_in_with_a_code(bare_browser):
    """Issue 13: an organisation admin's first sign-in goes to the enrolment page (QR
    code, secret, confirm with a first code); the next sign-in asks for a code."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    context, base = bare_browser
    org = tenancy.organization_create(
        name="Browser Bank", slug="browser-bank", jurisdiction="EU"
    )
    tenancy.membership_create(
        organization=org, username="bb-admin", password=PASSWORD, role="admin"
    )
    page = context.new_page()
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("Username").fill("bb-admin")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/accounts/two-factor/enrol/**")
    assert page.locator(".qr svg").count() == 1
    assert page.locator("#otpauth-uri").inner_text().startswith("otpauth://totp/")
    page.screenshot(path=str(SHOTS / "09-two-factor-enrol.png"), full_page=True)
    page.goto(f"{base}/cases/")  # nothing else is reachable yet
    page.wait_for_url("**/accounts/two-factor/enrol/**")
    device = TOTPDevice.objects.get(user__username="bb-admin")
    page.get_by_label("Six-digit code").fill(factories.totp_token(device))
    page.get_by_role("button", name="Confirm").click()
    page.wait_for_url(f"{base}/cases/")

    page.get_by_role("button", name="Sign out").click()
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("Username").fill("bb-admin")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/accounts/two-factor/verify/**")
    page.get_by_label("Six-digit code").fill(factories.totp_token(device))
    page.get_by_role("button", name="Verify").click()
    page.wait_for_url(f"{base}/cases/")
    assert "bb-admin" in page.locator(".who").inner_text()
