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


def test_the_command_writes_the_key_to_a_0600_file_not_stdout(world, tmp_path, capsys):
    import os
    import stat

    from django.core.management import call_command
    from rest_framework.test import APIClient

    os.umask(0o022)
    path = tmp_path / "secret" / "batch.key"
    call_command(
        "create_client_system",
        "--org",
        world.org.slug,
        "--name",
        "batch-engine",
        "--key-file",
        str(path),
    )
    out = capsys.readouterr().out
    key = path.read_text().strip()
    assert key and key not in out and key.partition(".")[2] not in out
    assert str(path) in out
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    assert api.get("/api/v1/decisions/").status_code == 200


def test_the_default_key_file_is_in_the_data_dir_and_never_overwritten(
    world, tmp_path, settings, capsys
):
    import stat

    import pytest
    from django.core.management import call_command
    from django.core.management.base import CommandError

    settings.DATA_DIR = tmp_path
    call_command("create_client_system", "--org", world.org.slug, "--name", "batch a")
    path = tmp_path / "keys" / f"{world.org.slug}-batch_a.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    first = path.read_text()
    with pytest.raises(CommandError, match="exists"):
        call_command(
            "create_client_system",
            "--org",
            world.org.slug,
            "--name",
            "batch b",
            "--key-file",
            str(path),
        )
    assert path.read_text() == first
    assert not world.org.client_systems.filter(name="batch b").exists()


def test_print_key_prints_it_on_the_last_line(world, capsys):
    from django.core.management import call_command

    call_command(
        "create_client_system",
        "--org",
        world.org.slug,
        "--name",
        "printer",
        "--print-key",
    )
    key = capsys.readouterr().out.strip().splitlines()[-1]
    assert ApiKey.objects.get_from_key(key).client_system.name == "printer"
