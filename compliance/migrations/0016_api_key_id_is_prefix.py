"""An API key's id becomes its public prefix: the library's "prefix.hash" id put the
key's hash into admin URLs and admin log entries (issue 13)."""

from __future__ import annotations

from typing import Any

from django.db import migrations


def ids_to_prefix(apps: Any, schema_editor: Any) -> None:
    ApiKey = apps.get_model("compliance", "ApiKey")
    for pk, prefix in ApiKey.objects.values_list("pk", "prefix"):
        if pk != prefix:
            ApiKey.objects.filter(pk=pk).update(id=prefix)


def ids_to_prefix_and_hash(apps: Any, schema_editor: Any) -> None:
    ApiKey = apps.get_model("compliance", "ApiKey")
    for pk, prefix, hashed in ApiKey.objects.values_list("pk", "prefix", "hashed_key"):
        if pk == prefix:
            ApiKey.objects.filter(pk=pk).update(id=f"{prefix}.{hashed}")


class Migration(migrations.Migration):
    dependencies = [("compliance", "0015_ai_system_explanation_cost_budget")]

    operations = [migrations.RunPython(ids_to_prefix, ids_to_prefix_and_hash)]
