"""Responses carrying an organisation's data are never cached (ASVS 8.2.1)."""

from __future__ import annotations

from django.test import Client


def test_case_pages_the_decision_api_and_downloads_say_no_store(world_with_job, api_as):
    world = world_with_job
    officer = Client()
    officer.force_login(world.officer)
    responses = [
        officer.get(f"/cases/{world.decision.pk}/"),
        officer.get("/cases/"),
        officer.get("/audit/"),
        api_as("client").get(f"/api/v1/decisions/{world.decision.pk}/"),
        api_as("auditor").get(f"/api/v1/dossiers/{world.dossier.pk}/pdf/"),
        api_as("anonymous").get("/api/v1/decisions/"),  # a 401 too
    ]
    for response in responses:
        assert response["Cache-Control"] == "no-store", response.request["PATH_INFO"]


def test_public_documents_may_be_cached(db, client):
    assert not client.get("/api/schema/").has_header("Cache-Control")
