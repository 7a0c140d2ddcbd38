from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from compliance import decisions as intake
from compliance.models import Decision
from compliance.principals import Principal
from tests import factories

URL = "/api/v1/decisions/"


def _submit(world, mv, **overrides):
    payload = factories.decision_payload(mv, **overrides)
    principal = Principal(
        organization=world.org, role="client", client_system=world.client_system
    )
    return intake.decision_submit(
        principal=principal, submission=intake.Submission.from_validated(payload)
    )[0]


def _ids(response) -> set[int]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def test_filters_by_ai_system_model_version_outcome_and_status(world, api_as):
    second_ai = factories.make_ai_system(world.org, "Second system")
    second_mv = factories.make_model_version(second_ai, "2.0")
    now = timezone.now()
    other = _submit(world, second_mv, decided_at=now)
    escalated = _submit(world, world.model_version, decided_at=now)
    Decision.objects.filter(pk=escalated.pk).update(status=Decision.Status.ESCALATED)
    api = api_as("auditor")
    assert _ids(api.get(URL, {"ai_system": second_ai.pk})) == {other.pk}
    assert _ids(api.get(URL, {"model_version": second_mv.pk})) == {other.pk}
    assert _ids(api.get(URL, {"status": "escalated"})) == {escalated.pk}
    outcome = world.decision.outcome
    expected = set(
        Decision.objects.filter(organization=world.org, outcome=outcome).values_list(
            "pk", flat=True
        )
    )
    assert _ids(api.get(URL, {"outcome": outcome})) == expected


def test_filters_by_decided_at_range(world, api_as):
    now = timezone.now()
    old = _submit(world, world.model_version, decided_at=now - timedelta(days=10))
    recent = _submit(world, world.model_version, decided_at=now - timedelta(hours=1))
    api = api_as("officer")
    window = {
        "decided_after": (now - timedelta(days=11)).isoformat(),
        "decided_before": (now - timedelta(days=9)).isoformat(),
    }
    assert _ids(api.get(URL, window)) == {old.pk}
    assert recent.pk in _ids(
        api.get(URL, {"decided_after": (now - timedelta(hours=2)).isoformat()})
    )


def test_it_paginates_newest_first(world, api_as):
    now = timezone.now()
    made = [
        _submit(
            world, world.model_version, decided_at=now - timedelta(days=1, minutes=i)
        )
        for i in range(5)
    ]
    page = api_as("officer").get(URL, {"page_size": 2}).json()
    assert page["count"] == 6 and len(page["results"]) == 2 and page["next"]
    # the fixture's decision is the newest (decided just now), then made[0], made[1], ...
    assert [r["id"] for r in page["results"]] == [world.decision.pk, made[0].pk]
    second = api_as("officer").get(URL, {"page_size": 2, "page": 2}).json()
    assert [r["id"] for r in second["results"]] == [made[1].pk, made[2].pk]


def test_bad_filter_values_are_a_400_naming_the_filter(world, api_as):
    response = api_as("officer").get(
        URL, {"status": "maybe", "decided_after": "last tuesday"}
    )
    assert response.status_code == 400
    assert {"status", "decided_after"} <= set(response.json()["errors"])


def test_a_page_past_the_end_is_a_404_with_a_json_body(world, api_as):
    response = api_as("officer").get(URL, {"page": 99})
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


@pytest.mark.parametrize("page_size", ["0", "201", "null", "ten"])
def test_a_bad_page_size_is_a_400_not_ignored(world, api_as, page_size):
    response = api_as("officer").get(URL, {"page_size": page_size})
    assert response.status_code == 400 and "page_size" in response.json()["errors"]


def test_an_empty_date_filter_is_a_400(world, api_as):
    response = api_as("officer").get(URL, {"decided_before": ""})
    assert response.status_code == 400 and "decided_before" in response.json()["errors"]
