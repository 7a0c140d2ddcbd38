from __future__ import annotations

import pytest

from compliance.models import Job


def _url(world) -> str:
    return f"/api/v1/decisions/{world.decision.pk}/explanations/"


def test_a_request_is_accepted_with_the_jobs_location_and_repeats_return_it(
    world, api_as
):
    api = api_as("client")
    first = api.post(_url(world), {"methods": ["saliency"]}, format="json")
    again = api.post(_url(world), {"methods": ["saliency"]}, format="json")
    assert (first.status_code, again.status_code) == (202, 202)
    assert first["Location"] == again["Location"]
    assert first["Location"].endswith(f"/api/v1/jobs/{first.json()['id']}/")
    job = api.get(first["Location"]).json()
    assert set(job) >= {
        "id",
        "status",
        "progress",
        "error",
        "created_at",
        "finished_at",
    }
    assert job["status"] == "queued" and job["progress"] == 0.0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"methods": ["lime"]}, "methods"),
        ({"methods": []}, "methods"),
        ({"methods": "saliency"}, "methods"),
        (
            {"methods": ["deeplift"], "parameters": {"deeplift": {"baseline": "moon"}}},
            "parameters",
        ),
        ({"methods": ["deeplift"], "parameters": []}, "parameters"),
        ({"methods": ["deeplift"], "colour": "red"}, "colour"),
    ],
)
def test_bad_requests_are_400_and_create_no_job(world, api_as, body, field):
    before = Job.objects.count()
    response = api_as("officer").post(_url(world), body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]
    assert Job.objects.count() == before


def test_a_retired_model_version_is_409(world, api_as):
    world.model_version.is_active = False
    world.model_version.save(update_fields=["is_active"])
    response = api_as("client").post(
        _url(world), {"methods": ["saliency"]}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["code"] == "conflict"


def test_explanations_list_is_empty_before_a_worker_ran(world, api_as):
    response = api_as("auditor").get(_url(world))
    assert response.status_code == 200 and response.json() == []


def test_a_baseline_the_schema_lacks_is_a_400_not_a_failed_job(world, api_as):
    before = Job.objects.count()
    response = api_as("client").post(
        _url(world),
        {
            "methods": ["gradient_shap"],
            "parameters": {"gradient_shap": {"baseline": "background"}},
        },
        format="json",
    )
    assert response.status_code == 400
    assert "background" in response.json()["errors"]["parameters"][0]
    assert Job.objects.count() == before
