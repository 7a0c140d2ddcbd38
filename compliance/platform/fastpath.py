"""One-row lookups along foreign keys without the ORM's query compiler.

The decision submission path runs three single-row reads per request (API key with its
client system and organisation; model version with its AI system; the audit chain's
head). Compiling each through the ORM cost 1.3–1.7 ms of CPU on the 2-core benchmark
machine, more than everything else the request does, so these reads are written out once
here. Rows come back as ordinary model instances: every concrete column is selected and
the database backend's converters are applied (SQLite booleans and datetimes, JSON), and
each joined instance is cached on its parent's foreign key as ``select_related`` would.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

from django.db import connection
from django.db.models import ForeignKey, Model


@cache
def _columns(model: type[Model]) -> tuple[list[str], list[str], list[tuple[Any, list]]]:
    """Column names, attribute names and (column, converters) of a model's concrete fields."""
    columns, attnames, converters = [], [], []
    for field in model._meta.concrete_fields:
        col = field.get_col(model._meta.db_table)
        columns.append(field.column)
        attnames.append(field.attname)
        converters.append(
            (
                col,
                connection.ops.get_db_converters(col)
                + col.get_db_converters(connection),
            )
        )
    return columns, attnames, converters


def _foreign_key(model: type[Model], name: str) -> ForeignKey[Any, Any]:
    field = model._meta.get_field(name)
    assert isinstance(field, ForeignKey)  # noqa: S101 (the chain names foreign keys)
    return field


@cache
def _select_sql(chain: tuple[tuple[type[Model], str | None], ...], where: str) -> str:
    quote = connection.ops.quote_name
    select, joins = [], [f"{quote(chain[0][0]._meta.db_table)} t0"]
    for i, (model, fk_name) in enumerate(chain):
        columns, _, _ = _columns(model)
        select += [f"t{i}.{quote(c)}" for c in columns]
        if fk_name is not None:
            parent = chain[i - 1][0]
            fk_column = _foreign_key(parent, fk_name).column
            pk_column = model._meta.pk.column
            joins.append(
                f"JOIN {quote(model._meta.db_table)} t{i} "
                f"ON t{i}.{quote(pk_column)} = t{i - 1}.{quote(fk_column)}"
            )
    # identifiers come from model metadata and ``where`` from code, never from input
    return f"SELECT {', '.join(select)} FROM {' '.join(joins)} WHERE {where} LIMIT 1"  # noqa: S608


def fetch_joined(
    chain: Sequence[tuple[type[Model], str | None]], where: str, params: Sequence[Any]
) -> Model | None:
    """The first row of ``chain[0]`` matching ``where``, with its chain of parents.

    ``chain`` lists ``(model, foreign key on the previous model)`` pairs, the first with
    ``None``: ``[(ApiKey, None), (ClientSystem, "client_system"), (Organization,
    "organization")]``. In ``where`` the tables are ``t0``, ``t1``, ... in that order.
    """
    sql = _select_sql(tuple(chain), where)
    with connection.cursor() as cursor:
        cursor.execute(sql, list(params))
        row = cursor.fetchone()
    if row is None:
        return None
    instances: list[Model] = []
    offset = 0
    for model, fk_name in chain:
        _, attnames, converters = _columns(model)
        values = []
        for value, (col, funcs) in zip(
            row[offset : offset + len(attnames)], converters, strict=True
        ):
            for convert in funcs:
                value = convert(value, col, connection)
            values.append(value)
        offset += len(attnames)
        instance = model.from_db(connection.alias, attnames, values)
        if fk_name is not None:
            _foreign_key(type(instances[-1]), fk_name).set_cached_value(
                instances[-1], instance
            )
        instances.append(instance)
    return instances[0]
