from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.test import RequestFactory
from rest_framework.test import APIClient

from compliance.models import (
    AISystem,
    ApiKey,
    AuditEvent,
    ClientSystem,
    Membership,
    ModelVersion,
    Organization,
)
from tests import factories


@pytest.fixture
def superuser_client(world, client):
    root = get_user_model().objects.create_superuser("root", password="pw-123456789")
    client.login(username="root", password="pw-123456789")
    factories.two_factor_verify_session(client, root)  # superusers need two factors
    return client


def test_creating_a_key_in_the_admin_shows_it_once_and_audits_it(
    world, superuser_client
):
    response = superuser_client.post(
        "/admin/compliance/apikey/add/",
        {
            "client_system": world.client_system.pk,
            "name": "from admin",
            "expiry_date_0": "",
            "expiry_date_1": "",
        },
        follow=True,
    )
    # the key is on the page this request renders: no redirect, no message, no cookie
    assert response.redirect_chain == []
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    text = response.content.decode()
    key = re.search(r'<code id="new-api-key"[^>]*>([\w]+\.[\w]+)</code>', text).group(1)
    assert all(key not in morsel.value for morsel in superuser_client.cookies.values())
    assert key.split(".")[1] not in str(dict(superuser_client.session))
    again = superuser_client.get("/admin/compliance/apikey/").content.decode()
    assert key not in again
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    assert api.get("/api/v1/decisions/").status_code == 200
    stored = ApiKey.objects.get(prefix=key.split(".")[0])
    # the admin names the key by its prefix: its hash is in no URL or page
    assert stored.hashed_key not in again
    assert f"/admin/compliance/apikey/{stored.prefix}/change/" in again
    change = superuser_client.get(f"/admin/compliance/apikey/{stored.prefix}/change/")
    assert (
        change.status_code == 200 and stored.hashed_key not in change.content.decode()
    )
    assert AuditEvent.objects.filter(
        action="api_key.created", object_id=stored.prefix
    ).exists()


def test_revoking_keys_in_the_admin_audits_it(world, superuser_client):
    api_key = ApiKey.objects.get(prefix=world.client_key.split(".")[0])
    superuser_client.post(
        "/admin/compliance/apikey/",
        {"action": "revoke_keys", "_selected_action": [api_key.pk]},
    )
    api_key.refresh_from_db()
    assert api_key.revoked and api_key.revoked_at
    assert AuditEvent.objects.filter(
        action="api_key.revoked", object_id=api_key.prefix
    ).exists()


@pytest.mark.parametrize("model", ["auditevent", "decision", "modelversion"])
def test_records_are_read_only_in_the_admin(world, superuser_client, model):
    from compliance.models import AuditEvent, Decision, ModelVersion

    obj = {
        "auditevent": AuditEvent,
        "decision": Decision,
        "modelversion": ModelVersion,
    }[model].objects.first()
    assert superuser_client.get(f"/admin/compliance/{model}/").status_code == 200
    assert superuser_client.get(f"/admin/compliance/{model}/add/").status_code == 403
    assert (
        superuser_client.post(
            f"/admin/compliance/{model}/{obj.pk}/delete/", {"post": "yes"}
        ).status_code
        == 403
    )
    assert (
        superuser_client.get(f"/admin/compliance/{model}/{obj.pk}/change/").status_code
        == 200
    )  # view only


# --- every change path of the admin is a service that writes its event -------------

User = get_user_model()

# model -> (form data for its add page, the event the add must write)
ADD_PATHS: dict[type, tuple[Callable[[Any], dict[str, Any]], str]] = {
    Organization: (
        lambda w: {"name": "New bank", "slug": "new-bank", "jurisdiction": "EU"},
        "organization.created",
    ),
    Membership: (
        lambda w: {
            "user": User.objects.create_user("newcomer", password="pw-123456789").pk,
            "organization": w.org.pk,
            "role": "auditor",
        },
        "membership.created",
    ),
    ClientSystem: (
        lambda w: {"organization": w.org.pk, "name": "batch-engine"},
        "client_system.created",
    ),
    ApiKey: (
        lambda w: {
            "client_system": w.client_system.pk,
            "name": "added",
            "expiry_date_0": "",
            "expiry_date_1": "",
        },
        "api_key.created",
    ),
    User: (
        lambda w: {
            "username": "new-person",
            "usable_password": "true",
            "password1": "a-long-enough-pass-phrase",
            "password2": "a-long-enough-pass-phrase",
        },
        "user.created",
    ),
}
# models whose change page saves (through a service): the accounts (Django's form)
CHANGE_PATHS = {User}
# (model, action) -> (the selected row, form data for the action's page, the event)
ACTIONS: dict[tuple[type, str], tuple[Callable[[Any], Any], dict[str, Any], str]] = {
    (Organization, "update_organization"): (
        lambda w: w.org,
        {"name": "Acme Bank plc", "jurisdiction": "EU+US"},
        "organization.updated",
    ),
    (Membership, "change_role"): (
        lambda w: w.officer.membership,
        {"role": "auditor"},
        "membership.role_changed",
    ),
    (Membership, "remove_memberships"): (
        lambda w: w.auditor.membership,
        {},
        "membership.removed",
    ),
    (ClientSystem, "rename_client_system"): (
        lambda w: w.client_system,
        {"name": "loan-engine-v2"},
        "client_system.renamed",
    ),
    (ApiKey, "revoke_keys"): (
        lambda w: ApiKey.objects.get(prefix=w.client_key.split(".")[0]),
        {},
        "api_key.revoked",
    ),
    (ApiKey, "expire_keys"): (
        lambda w: ApiKey.objects.get(prefix=w.client_key.split(".")[0]),
        {},
        "api_key.expiry_changed",
    ),
    (AISystem, "update_ai_system"): (
        lambda w: w.ai_system,
        {
            "provider": "Acme",
            "intended_purpose": "Creditworthiness of natural persons",
            "annex_iii_category": "",
            "four_eyes_overturn": "true",
        },
        "ai_system.updated",
    ),
    (ModelVersion, "retire_versions"): (
        lambda w: w.model_version,
        {},
        "model_version.retired",
    ),
    (User, "reset_two_factor"): (
        lambda w: factories.totp_device(w.admin).user,
        {},
        "user.two_factor_reset",
    ),
}


def _superuser_request():
    request = RequestFactory().get("/admin/")
    request.user = User.objects.get(username="root")
    return request


def _url(model: type, suffix: str = "") -> str:
    opts = model._meta
    return f"/admin/{opts.app_label}/{opts.model_name}/{suffix}"


def test_no_admin_changes_a_row_outside_the_services(world, superuser_client):
    """Every registered admin: nothing deleted; adds and changes only where a
    service does them (listed above, each tested below); every action listed."""
    request = _superuser_request()
    unlisted: list[str] = []
    for model, model_admin in admin.site._registry.items():
        obj = model._default_manager.first()
        name = model.__name__
        if model_admin.has_delete_permission(request, obj):
            unlisted.append(f"{name}: delete")
        if model_admin.has_add_permission(request) and model not in ADD_PATHS:
            unlisted.append(f"{name}: add")
        if (
            model_admin.has_change_permission(request, obj)
            and model not in CHANGE_PATHS
        ):
            unlisted.append(f"{name}: change")
        for action in model_admin.get_actions(request):
            if (model, action) not in ACTIONS:
                unlisted.append(f"{name}: action {action}")
    assert unlisted == []
    # and what is listed is what the admin offers
    for model, _ in ACTIONS:
        assert model in admin.site._registry


@pytest.mark.parametrize("model", list(ADD_PATHS), ids=lambda m: m.__name__)
def test_each_add_path_calls_its_service_and_writes_its_event(
    world, superuser_client, model
):
    data_for, event = ADD_PATHS[model]
    data = data_for(world)
    before = AuditEvent.objects.filter(action=event).count()
    response = superuser_client.post(_url(model, "add/"), data)
    # a new API key's page is the answer itself (shown once); the rest redirect
    expected = 200 if model is ApiKey else 302
    assert response.status_code == expected, response.content.decode()[:2000]
    assert AuditEvent.objects.filter(action=event).count() == before + 1


@pytest.mark.parametrize(
    ("model", "action"), list(ACTIONS), ids=lambda v: getattr(v, "__name__", v)
)
def test_each_admin_action_calls_its_service_and_writes_its_event(
    world, superuser_client, model, action
):
    row_for, form, event = ACTIONS[(model, action)]
    row = row_for(world)
    post = {"action": action, "_selected_action": [row.pk]}
    if form:
        page = superuser_client.post(_url(model), post)
        assert page.status_code == 200 and b'name="apply"' in page.content
        post = {**post, **form, "apply": "1"}
    response = superuser_client.post(_url(model), post, follow=True)
    assert response.status_code == 200
    events = AuditEvent.objects.filter(action=event)
    assert events.count() == 1, [m.message for m in response.context["messages"]]
    payload = events.get().payload
    assert "old" in payload and "new" in payload


def test_an_ai_systems_annex_category_change_is_audited_with_old_and_new(
    world, superuser_client
):
    row_for, form, _ = ACTIONS[(AISystem, "update_ai_system")]
    superuser_client.post(
        _url(AISystem),
        {
            "action": "update_ai_system",
            "_selected_action": [world.ai_system.pk],
            **form,
            "annex_iii_category": "5(a)",
            "four_eyes_overturn": "unknown",
            "blind_first_review": "false",
            "apply": "1",
        },
    )
    event = AuditEvent.objects.get(action="ai_system.updated")
    assert event.payload["old"] == {"annex_iii_category": "5(b)"}
    assert event.payload["new"] == {"annex_iii_category": "5(a)"}
    assert event.actor.endswith(":root")


def test_a_client_system_never_moves_to_another_organisation(world, superuser_client):
    cs = world.client_system
    events = AuditEvent.objects.count()
    response = superuser_client.post(
        _url(ClientSystem, f"{cs.pk}/change/"),
        {"organization": world.other_org.pk, "name": cs.name},
    )
    assert response.status_code == 403
    cs.refresh_from_db()
    assert cs.organization == world.org
    assert AuditEvent.objects.count() == events
    # its key still answers with its own organisation's data
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {world.client_key}")
    ids = [d["id"] for d in api.get("/api/v1/decisions/").json()["results"]]
    assert ids == [world.decision.pk]


def test_changing_an_account_in_the_admin_is_audited_with_old_and_new(
    world, superuser_client
):
    user = world.officer
    response = superuser_client.post(
        _url(User, f"{user.pk}/change/"),
        {
            "username": user.username,
            "first_name": "",
            "last_name": "",
            "email": "officer@example.org",
            "is_active": "on",
            "is_staff": "on",
            "last_login_0": "",
            "last_login_1": "",
            "date_joined_0": "2026-01-01",
            "date_joined_1": "00:00:00",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    event = AuditEvent.objects.get(action="user.updated")
    assert event.payload == {
        "old": {"email": "", "is_staff": False},
        "new": {"email": "officer@example.org", "is_staff": True},
    }
    assert event.organization == world.org


def test_a_password_set_in_the_admin_is_audited(world, superuser_client):
    user = world.auditor
    response = superuser_client.post(
        _url(User, f"{user.pk}/password/"),
        {
            "password1": "another-long-pass-phrase",
            "password2": "another-long-pass-phrase",
            "usable_password": "true",
        },
    )
    assert response.status_code == 302
    event = AuditEvent.objects.filter(action="user.password_changed").last()
    assert event.object_id == str(user.pk) and event.organization == world.org
    assert "another" not in str(event.payload)


def _operator_services(world):
    from compliance.registry import services as registry
    from compliance.tenancy import services as tenancy

    key = ApiKey.objects.get(prefix=world.client_key.split(".")[0])
    return {
        "organization_update": lambda op: tenancy.organization_update(
            organization=world.org, name="x", operator=op
        ),
        "membership_grant": lambda op: tenancy.membership_grant(
            user=world.officer, organization=world.org, role="admin", operator=op
        ),
        "membership_role_change": lambda op: tenancy.membership_role_change(
            membership=world.officer.membership, role="admin", operator=op
        ),
        "membership_remove": lambda op: tenancy.membership_remove(
            membership=world.officer.membership, operator=op
        ),
        "client_system_rename": lambda op: tenancy.client_system_rename(
            client_system=world.client_system, name="x", operator=op
        ),
        "api_key_expire": lambda op: tenancy.api_key_expire(api_key=key, operator=op),
        "user_save": lambda op: tenancy.user_save(user=world.officer, operator=op),
        "ai_system_update": lambda op: registry.ai_system_update(
            operator=op, ai_system=world.ai_system, provider="x"
        ),
        "model_version_retire": lambda op: registry.model_version_retire(
            operator=op, model_version=world.model_version
        ),
    }


def test_every_operator_service_refuses_a_staff_member_before_writing(world):
    import re

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from compliance.errors import PermissionDenied
    from compliance.principals import Operator

    write = re.compile(r"\s*(INSERT|UPDATE|DELETE)\b", re.IGNORECASE)
    for name, call in _operator_services(world).items():
        with CaptureQueriesContext(connection) as queries:
            with pytest.raises(PermissionDenied):
                call(Operator(role="staff"))
        writes = [q["sql"] for q in queries.captured_queries if write.match(q["sql"])]
        assert writes == [], f"{name} wrote before asking the policy"


def test_a_retired_model_version_takes_no_new_decisions(world):
    from compliance.principals import Operator
    from compliance.registry import services as registry
    from tests import factories

    registry.model_version_retire(
        operator=Operator(), model_version=world.model_version
    )
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {world.client_key}")
    payload = factories.decision_payload(world.model_version)
    response = api.post("/api/v1/decisions/", payload, format="json")
    assert response.status_code == 400
    assert "model_version" in response.json()["errors"]
    event = AuditEvent.objects.get(action="model_version.retired")
    assert event.payload["old"] == {"is_active": True}


def test_every_admin_page_shows_its_rows(world_with_job, superuser_client):
    for model in admin.site._registry:
        assert superuser_client.get(_url(model)).status_code == 200, model
        obj = model._default_manager.first()
        if obj is not None:
            page = superuser_client.get(_url(model, f"{obj.pk}/change/"))
            assert page.status_code == 200, model
