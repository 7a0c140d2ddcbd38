"""The case page's notice panel: preview in each language (nothing stored), issue (a
job), auditors read but do not issue, other organisations get 404, blind-first hides
it until the preliminary view."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from compliance.jobs import jobs_process
from compliance.models import AISystem, Job, Notice
from tests import factories
from tests.compliance.notices.conftest import notice_case


@pytest.fixture
def case(db: Any, demo_artefacts: dict[str, Any]) -> Any:
    return notice_case(demo_artefacts, "credit", "EU+US", slug="web-notice-org")


def _member(decision: Any, role: str) -> Client:
    user = factories.make_member(decision.organization, role, f"web-notice-{role}")
    browser = Client()
    browser.force_login(user)
    return browser


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("language", "heading"), [("en", "Your rights"), ("de", "Ihre Rechte")]
)
def test_the_preview_is_the_letter_in_that_language(
    case: Any, language: str, heading: str
) -> None:
    response = _member(case, "auditor").get(
        f"/cases/{case.pk}/notice/preview?lang={language}"
    )
    assert response.status_code == 200
    assert heading in response.content.decode()
    assert response["Content-Language"] == language
    assert "unsafe-inline" not in response["Content-Security-Policy"]
    assert not Notice.objects.exists()  # a preview stores nothing


@pytest.mark.django_db
def test_an_unknown_language_preview_is_a_400_page(case: Any) -> None:
    response = _member(case, "officer").get(f"/cases/{case.pk}/notice/preview?lang=xx")
    assert response.status_code == 400
    assert "Notices are written in en, de" in response.content.decode()


@pytest.mark.django_db
def test_an_officer_issues_a_notice_and_the_case_page_lists_it(case: Any) -> None:
    officer = _member(case, "officer")
    page = officer.get(f"/cases/{case.pk}/").content.decode()
    assert "Notice to the person" in page and "Issue notice" in page
    response = officer.post(f"/cases/{case.pk}/notice/issue", {"lang": "de"})
    job = Job.objects.get(kind="notice")
    assert response.status_code == 302
    assert response["Location"] == f"/cases/{case.pk}/?job={job.pk}"
    jobs_process(kind="notice", worker="test", limit=5)
    notice = Notice.objects.get()
    page = officer.get(f"/cases/{case.pk}/").content.decode()
    assert notice.public_id in page
    assert f"/api/v1/notices/{notice.pk}/pdf/" in page
    pdf = officer.get(f"/api/v1/notices/{notice.pk}/pdf/")
    assert pdf.status_code == 200 and pdf.content == bytes(notice.pdf)


@pytest.mark.django_db
def test_auditors_preview_but_do_not_issue(case: Any) -> None:
    auditor = _member(case, "auditor")
    page = auditor.get(f"/cases/{case.pk}/").content.decode()
    assert "Notice to the person" in page and "Issue notice" not in page
    assert (
        auditor.post(f"/cases/{case.pk}/notice/issue", {"lang": "en"}).status_code
        == 403
    )
    assert not Job.objects.filter(kind="notice").exists()


@pytest.mark.django_db
def test_another_organisation_gets_404(case: Any, world: Any) -> None:
    other = Client()
    other.force_login(world.officer)
    assert other.get(f"/cases/{case.pk}/notice/preview?lang=en").status_code == 404
    assert (
        other.post(f"/cases/{case.pk}/notice/issue", {"lang": "en"}).status_code == 404
    )


@pytest.mark.django_db
def test_blind_first_hides_the_notice_until_the_preliminary_view(case: Any) -> None:
    AISystem.objects.filter(pk=case.ai_system_id).update(blind_first_review=True)
    officer = _member(case, "officer")
    assert officer.get(f"/cases/{case.pk}/notice/preview?lang=en").status_code == 403
    assert (
        officer.post(f"/cases/{case.pk}/notice/issue", {"lang": "en"}).status_code
        == 403
    )
    assert (
        "Notice to the person" not in officer.get(f"/cases/{case.pk}/").content.decode()
    )
