"""Hand-written one-row joins give the same instances as the ORM's select_related."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext

from compliance.models import AISystem, ApiKey, ClientSystem, ModelVersion, Organization
from compliance.platform.fastpath import fetch_joined


def _fields(instance) -> dict:
    return {
        f.attname: getattr(instance, f.attname) for f in instance._meta.concrete_fields
    }


def test_a_three_table_join_equals_select_related(world):
    prefix = world.client_key.partition(".")[0]
    with CaptureQueriesContext(connection) as queries:
        key = fetch_joined(
            [
                (ApiKey, None),
                (ClientSystem, "client_system"),
                (Organization, "organization"),
            ],
            "t0.prefix = %s",
            [prefix],
        )
        organization = key.client_system.organization
    assert len(queries) == 1  # the parents came with the row
    orm = ApiKey.objects.select_related("client_system__organization").get(
        prefix=prefix
    )
    assert _fields(key) == _fields(orm)
    assert _fields(key.client_system) == _fields(orm.client_system)
    assert _fields(organization) == _fields(orm.client_system.organization)
    assert isinstance(key.revoked, bool) and key.expiry_date is None
    assert key.created.tzinfo is not None
    assert not key._state.adding


def test_json_and_file_columns_come_back_as_python_values(world):
    mv = fetch_joined(
        [(ModelVersion, None), (AISystem, "ai_system")],
        "t0.id = %s AND t1.organization_id = %s",
        [world.model_version.pk, world.org.pk],
    )
    orm = ModelVersion.objects.select_related("ai_system").get(
        pk=world.model_version.pk
    )
    assert _fields(mv) == _fields(orm)
    assert isinstance(mv.feature_schema, (dict, list)) and isinstance(
        mv.class_labels, list
    )
    assert mv.weights.name == orm.weights.name
    assert _fields(mv.ai_system) == _fields(orm.ai_system)


def test_no_row_is_none(world):
    assert (
        fetch_joined(
            [(ModelVersion, None), (AISystem, "ai_system")],
            "t0.id = %s AND t1.organization_id = %s",
            [world.model_version.pk, world.other_org.pk],
        )
        is None
    )
