"""Many rows inserted with one statement, without a model object for each row."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tortoise.fields import BigIntField, BinaryField, CharField, DatetimeField, IntField, SmallIntField, TextField
from tortoise.models import Model

# Fields whose Python value is what SQLite stores: passed as they are (their to_db_value only
# validates, and the caller hands over checked values). Every other field goes through to_db_value.
_AS_IS = (BigIntField, BinaryField, CharField, IntField, SmallIntField, TextField)


async def insert_rows(model: type[Model], rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert ``rows`` (field name → value) into ``model``'s table; a field left out takes its default.

    ``Model.bulk_create`` builds and validates a model object for each row: that was about 40 % of
    what storing a scanned page cost. Values of fields that convert (enums, dates, booleans) still
    go through the field's ``to_db_value``, as Tortoise's own insert does; plain text and numbers go
    as they are, so the caller hands over checked values (text cleaned and cut to its field's
    length, as ``library.scan`` does). The table's triggers (the search index) run as for any insert.
    """
    if not rows:
        return
    meta = model._meta
    fields = [(name, meta.fields_map[name]) for name in meta.fields_db_projection if name != meta.pk_attr]
    for name, field in fields:
        if isinstance(field, DatetimeField) and (field.auto_now or field.auto_now_add):
            raise TypeError(f"insert_rows cannot fill {model.__name__}.{name} (auto_now): use bulk_create")
    columns = ", ".join(f'"{meta.fields_db_projection[name]}"' for name, _ in fields)
    marks = ", ".join("?" * len(fields))
    as_is = [type(field) in _AS_IS for _, field in fields]  # exact types: a subclass may convert
    values = [
        [
            value if plain else field.to_db_value(value, model)
            for (name, field), plain in zip(fields, as_is, strict=True)
            for value in (row[name] if name in row else _default(field),)
        ]
        for row in rows
    ]
    await meta.db.execute_many(f'INSERT INTO "{meta.db_table}" ({columns}) VALUES ({marks})', values)


def _default(field: Any) -> Any:
    return field.default() if callable(field.default) else field.default
