"""API keys (issue 13, "Also"): the key hash is never an id, a new key is shown once on
the page the creating request renders, the command writes keys to a 0600 file unless
asked to print them."""

from __future__ import annotations

import importlib

from django.apps import apps

from compliance.models import ApiKey
from compliance.tenancy import services


def test_a_new_key_s_id_is_its_prefix_never_its_hash(world):
    api_key, key = services.api_key_create(
        client_system=world.client_system, name="fresh"
    )
    stored = ApiKey.objects.get(prefix=key.partition(".")[0])
    assert stored.pk == stored.prefix == api_key.pk
    assert stored.hashed_key not in stored.pk and "." not in stored.pk
    assert stored.is_valid(key)
    assert ApiKey.objects.get_from_key(key) == stored


def test_the_migration_moves_older_ids_off_the_hash_and_back(world):
    migration = importlib.import_module(
        "compliance.migrations.0016_api_key_id_is_prefix"
    )
    stored = ApiKey.objects.get(prefix=world.client_key.partition(".")[0])
    old_id = f"{stored.prefix}.{stored.hashed_key}"
    ApiKey.objects.filter(pk=stored.pk).update(id=old_id)  # as the library made it
    migration.ids_to_prefix(apps, None)
    assert ApiKey.objects.filter(pk=stored.prefix).exists()
    assert not ApiKey.objects.filter(pk=old_id).exists()
    migration.ids_to_prefix_and_hash(apps, None)
    assert ApiKey.objects.filter(pk=old_id).exists()
    migration.ids_to_prefix(apps, None)
    assert ApiKey.objects.get(pk=stored.prefix).is_valid(world.client_key)
