"""Hostile text through the admin (issue 13, item 8): a bidirectional override or a
right-to-left mark in any text an operator types is a form error naming the field,
and nothing is written -- as over the API. (NUL is refused by Django's form fields; a
lone surrogate cannot arrive in a form body: invalid UTF-8 is decoded as U+FFFD.)"""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from compliance.models import AISystem, AuditEvent, ClientSystem, Organization
from tests.compliance.test_admin import ACTIONS, ADD_PATHS, _url, superuser_client

__all__ = ["superuser_client"]  # the fixture, shared with the admin tests

User = get_user_model()
SPOOF = "loan\u202eenigne"  # reads "loan-engine"-like, stored reversed
MARK = "\u200floan-engine"  # a right-to-left mark in front

# (model, the text field to poison)
ADDS = [
    (Organization, "name"),
    (ClientSystem, "name"),
    (User, "username"),
]
FORM_ACTIONS = [
    (Organization, "update_organization", "name"),
    (ClientSystem, "rename_client_system", "name"),
    (AISystem, "update_ai_system", "known_limitations"),
    (AISystem, "update_ai_system", "provider"),
]


@pytest.mark.parametrize("text", [SPOOF, MARK], ids=["override", "mark"])
@pytest.mark.parametrize(
    ("model", "field"), ADDS, ids=lambda v: getattr(v, "__name__", v)
)
def test_an_add_form_refuses_hostile_text_naming_the_field(
    world, superuser_client, model, field, text
):
    data_for, event = ADD_PATHS[model]
    data = {**data_for(world), field: text}
    before = AuditEvent.objects.filter(action=event).count()
    response = superuser_client.post(_url(model, "add/"), data)
    assert response.status_code == 200  # the form again, not a 500 or a redirect
    errors = response.context["adminform"].form.errors
    assert field in errors, errors
    assert AuditEvent.objects.filter(action=event).count() == before


@pytest.mark.parametrize("text", [SPOOF, MARK], ids=["override", "mark"])
@pytest.mark.parametrize(
    ("model", "action", "field"), FORM_ACTIONS, ids=lambda v: getattr(v, "__name__", v)
)
def test_an_action_form_refuses_hostile_text_naming_the_field(
    world, superuser_client, model, action, field, text
):
    row_for, form, event = ACTIONS[(model, action)]
    row = row_for(world)
    post = {
        "action": action,
        "_selected_action": [row.pk],
        **form,
        field: text,
        "apply": "1",
    }
    response = superuser_client.post(_url(model), post)
    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert not AuditEvent.objects.filter(action=event).exists()


def test_an_accounts_personal_details_refuse_hostile_text(world, superuser_client):
    person = world.officer
    response = superuser_client.post(
        _url(User, f"{person.pk}/change/"),
        {
            "username": person.username,
            "first_name": "Eve\u202e",
            "last_name": "",
            "email": "",
            "is_active": "on",
        },
    )
    assert response.status_code == 200
    assert "first_name" in response.context["adminform"].form.errors
    person.refresh_from_db()
    assert person.first_name == ""
