"""Cursor pagination (issue 17 item 4): decisions, jobs and audit events walked with an
opaque cursor see every row once, even while rows are inserted during the walk; a
cursor that is not ours is a 400 naming cursor; page numbers still work."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone

from compliance import decisions as intake
from compliance.explanations import explanation_request
from compliance.models import AuditEvent, Job
from compliance.principals import SYSTEM_OPERATOR, Principal
from tests import factories

pytestmark = pytest.mark.django_db


def _submit(world: Any, n: int) -> list[int]:
    ids = []
    for _ in range(n):
        payload = factories.decision_payload(world.model_version)
        payload["decided_at"] = timezone.now()
        decision, _ = intake.decision_submit(
            principal=Principal(
                organization=world.org, role="client", client_system=world.client_system
            ),
            submission=intake.Submission.from_validated(payload),
        )
        ids.append(decision.pk)
    return ids


def _walk(api: Any, url: str, insert: Any) -> list[int]:
    seen: list[int] = []
    page = api.get(url).json()
    while True:
        seen += [row["id"] for row in page["results"]]
        insert()  # rows arrive between pages
        if not page["next"]:
            return seen
        page = api.get(page["next"]).json()


def test_decisions_walked_by_cursor_are_seen_once_while_rows_arrive(world, api_as):
    before = set(_submit(world, 6)) | {world.decision.pk}
    api = api_as("officer")
    seen = _walk(
        api, "/api/v1/decisions/?cursor=&page_size=2", lambda: _submit(world, 2)
    )
    assert len(seen) == len(set(seen))  # no row twice
    assert set(seen) == before  # none skipped; the new ones come before page one
    assert seen == sorted(seen, reverse=True)
    newest = api.get("/api/v1/decisions/?cursor=&page_size=2").json()["results"]
    assert newest[0]["id"] > max(before)


def test_the_cursor_is_opaque_and_a_foreign_one_is_a_400(world, api_as):
    _submit(world, 3)
    api = api_as("client")
    first = api.get("/api/v1/decisions/?cursor=&page_size=2").json()
    assert "count" not in first and first["next"]
    assert "cursor=" in first["next"] and "id" not in first["next"].split("cursor=")[1]
    for bad in ("nonsense", "bz0tMQ==", "%00"):
        response = api.get(f"/api/v1/decisions/?cursor={bad}")
        assert response.status_code == 400, bad
        assert "cursor" in response.json()["errors"]
    both = api.get("/api/v1/decisions/?cursor=&page=2")
    assert both.status_code == 400 and "cursor" in both.json()["errors"]
    paged = api.get("/api/v1/decisions/?page=1&page_size=2").json()
    assert paged["count"] == 4 and len(paged["results"]) == 2


def test_jobs_walked_by_cursor(world, api_as):
    for method in ("saliency", "deeplift", "integrated_gradients"):
        explanation_request(
            principal=SYSTEM_OPERATOR, decision=world.decision, methods=[method]
        )
    api = api_as("officer")

    def more() -> None:
        explanation_request(
            principal=SYSTEM_OPERATOR,
            decision=world.decision,
            methods=["input_x_gradient", "saliency"][: 1 + Job.objects.count() % 2],
        )

    before = set(
        Job.objects.filter(organization=world.org).values_list("id", flat=True)
    )
    seen = _walk(api, "/api/v1/jobs/?page_size=1", more)
    assert len(seen) == len(set(seen)) and set(seen) == before
    done = api.get("/api/v1/jobs/?status=done").json()
    assert done["results"] == []
    assert api.get("/api/v1/jobs/?kind=nope").status_code == 400
    assert api.get("/api/v1/jobs/?decision=x").status_code == 400
    other = api_as("other_org").get("/api/v1/jobs/").json()
    assert not {j["id"] for j in other["results"]} & before


def test_audit_events_walked_by_cursor_are_for_people_only(world, api_as):
    auditor = api_as("auditor")
    before = set(
        AuditEvent.objects.filter(organization=world.org).values_list("id", flat=True)
    )
    seen = _walk(
        auditor, "/api/v1/audit-events/?page_size=5", lambda: _submit(world, 1)
    )
    assert len(seen) == len(set(seen)) and set(seen) == before
    first = auditor.get("/api/v1/audit-events/?action=decision.submitted").json()
    assert {e["action"] for e in first["results"]} == {"decision.submitted"}
    assert api_as("client").get("/api/v1/audit-events/").status_code == 403
    theirs = api_as("other_org").get("/api/v1/audit-events/").json()["results"]
    assert not {e["id"] for e in theirs} & before
