"""Query parameters mean what /api/schema/ says they are (findings of schemathesis runs).

An id filter takes any whole number (one no row can have selects nothing); a filter
or page that is given but empty or malformed is a 400 naming it; no value is a 500.
"""

from __future__ import annotations

import pytest
from django.utils import timezone

from compliance.models import Dossier

DECISIONS = "/api/v1/decisions/"
DOSSIERS = "/api/v1/dossiers/"
HUGE = "9" * 5000  # past Python's 4300-digit limit for int()


@pytest.fixture
def dossier(world):
    return Dossier.objects.create(
        public_id="DOS-QUERY0000001",
        decision=world.decision,
        organization=world.org,
        version=1,
        pdf=b"%PDF-1.7 test",
        sha256="cd" * 32,
        size_bytes=13,
        pages=1,
        issued_by="test",
        issued_at=timezone.now(),
    )


def _ids(response) -> set[int]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def test_the_dossier_list_filters_by_decision(world, api_as, dossier):
    api = api_as("officer")
    assert _ids(api.get(DOSSIERS, {"decision": world.decision.pk})) == {dossier.pk}
    assert _ids(api.get(DOSSIERS, {"decision": world.decision.pk + 1000})) == set()


@pytest.mark.parametrize("decision", ["9" * 25, "-" + "9" * 25, HUGE])
def test_a_decision_id_too_big_for_any_row_selects_no_dossier(
    world, api_as, dossier, decision
):
    assert _ids(api_as("officer").get(DOSSIERS, {"decision": decision})) == set()


@pytest.mark.parametrize("decision", ["", "x", "1.5", "1.0"])
def test_a_decision_filter_that_is_no_whole_number_is_a_400(world, api_as, decision):
    response = api_as("officer").get(DOSSIERS, {"decision": decision})
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert "decision" in response.json()["errors"]


@pytest.mark.parametrize("name", ["ai_system", "model_version"])
def test_an_id_filter_with_5000_digits_selects_nothing(world, api_as, name):
    assert _ids(api_as("officer").get(DECISIONS, {name: HUGE})) == set()


@pytest.mark.parametrize("value", ["0.0", "1.0", " 1", "\u0661", "1e3"])
@pytest.mark.parametrize("name", ["ai_system", "model_version"])
def test_an_id_filter_takes_only_ascii_digits(world, api_as, name, value):
    response = api_as("officer").get(DECISIONS, {name: value})
    assert response.status_code == 400 and name in response.json()["errors"]


def test_an_id_filter_still_takes_a_sign_and_leading_zeros(world, api_as):
    api = api_as("officer")
    pk = world.ai_system.pk
    assert world.decision.pk in _ids(api.get(DECISIONS, {"ai_system": f"+00{pk}"}))
    assert _ids(api.get(DECISIONS, {"ai_system": f"-{pk}"})) == set()
    # 5000 leading zeros: still the id (Python refuses to convert over 4300 digits)
    padded = "0" * 5000 + str(pk)
    assert world.decision.pk in _ids(api.get(DECISIONS, {"ai_system": padded}))
    assert _ids(api.get(DECISIONS, {"ai_system": "-" + "0" * 5000})) == set()


@pytest.mark.parametrize("name", ["ai_system", "model_version", "status"])
def test_an_empty_id_or_status_filter_is_a_400_not_ignored(world, api_as, name):
    response = api_as("officer").get(DECISIONS, {name: ""})
    assert response.status_code == 400 and name in response.json()["errors"]


def test_an_outcome_with_nul_selects_nothing(world, api_as):
    outcome = world.decision.outcome
    api = api_as("officer")
    assert world.decision.pk in _ids(api.get(DECISIONS, {"outcome": outcome}))
    assert _ids(api.get(DECISIONS, {"outcome": outcome + "\x00"})) == set()


@pytest.mark.parametrize("page", ["", "0", "last", "1.0", "\uff11", "-1"])
def test_a_page_that_is_no_whole_number_from_1_is_a_400(world, api_as, page):
    response = api_as("officer").get(DECISIONS, {"page": page})
    assert response.status_code == 400 and "page" in response.json()["errors"]


def test_a_repeated_page_is_a_400(world, api_as):
    response = api_as("officer").get(f"{DECISIONS}?page=1&page=2")
    assert response.status_code == 400 and "page" in response.json()["errors"]


@pytest.mark.parametrize("page", ["9" * 30, HUGE])
def test_a_huge_page_is_past_the_end(world, api_as, page):
    response = api_as("officer").get(DECISIONS, {"page": page})
    assert response.status_code == 404 and response.json()["code"] == "not_found"


def test_a_page_size_with_5000_digits_is_a_400(world, api_as):
    response = api_as("officer").get(DECISIONS, {"page_size": HUGE})
    assert response.status_code == 400 and "page_size" in response.json()["errors"]


def test_page_1_and_leading_zeros_still_work(world, api_as):
    api = api_as("officer")
    assert world.decision.pk in _ids(api.get(DECISIONS, {"page": "1"}))
    assert world.decision.pk in _ids(api.get(DECISIONS, {"page": "001"}))
