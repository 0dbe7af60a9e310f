"""Many rows inserted with one statement, without a model object for each row."""

from __future__ import annotations

import contextlib
import functools
import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

from tortoise.fields import BigIntField, BinaryField, CharField, DatetimeField, IntField, SmallIntField, TextField
from tortoise.models import Model

from tad_tui.store.transactions import transaction

# Fields whose Python value is what SQLite stores: passed as they are (their to_db_value only
# validates, and the caller hands over checked values). Every other field goes through to_db_value.
_AS_IS = (BigIntField, BinaryField, CharField, IntField, SmallIntField, TextField)


async def insert_rows(model: type[Model], rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert ``rows`` (field name → value) into ``model``'s table; a field left out takes its default.

    ``Model.bulk_create`` builds and validates a model object for each row: that was about 40 % of
    what storing a scanned page cost. Values of fields that convert (enums, dates, booleans) still
    go through the field's ``to_db_value``, as Tortoise's own insert does; plain text and numbers go
    as they are, so the caller hands over checked values (text cleaned and cut to its field's
    length, as ``library.scan`` does). A constant default is converted once per call, not per row;
    a callable one is called for each row. The table's triggers (the search index) run as for any
    insert.

    The rows go in one multi-row ``INSERT`` (several when they exceed SQLite's limit on parameters,
    then inside one transaction), not one statement per row: a statement that fires a trigger
    writing to an FTS5 table opens a statement savepoint, and SQLite 3.40's FTS5 writes its pending
    terms out as a new index segment at every savepoint — per row, that was 70 % of a scan's ingest.
    """
    if not rows:
        return
    meta = model._meta
    fields = [(name, meta.fields_map[name]) for name in meta.fields_db_projection if name != meta.pk_attr]
    for name, field in fields:
        if isinstance(field, DatetimeField) and (field.auto_now or field.auto_now_add):
            raise TypeError(f"insert_rows cannot fill {model.__name__}.{name} (auto_now): use bulk_create")
    columns = ", ".join(f'"{meta.fields_db_projection[name]}"' for name, _ in fields)
    marks = "(" + ", ".join("?" * len(fields)) + ")"
    plans: dict[tuple[str, ...], _Plan] = {}  # by the row's keys, in order: rows alike share one
    values = []
    for row in rows:
        keys = tuple(row)
        plan = plans.get(keys)
        if plan is None:
            plan = plans[keys] = _Plan(model, fields, set(keys))
        values.extend(plan.values(row))
    width = len(fields)
    per_statement = max(1, _max_parameters() // width)  # rows
    chunks = [values[start : start + per_statement * width] for start in range(0, len(values), per_statement * width)]
    insert = f'INSERT INTO "{meta.db_table}" ({columns}) VALUES '
    if len(chunks) == 1:
        await meta.db.execute_query(insert + ", ".join([marks] * len(rows)), values)
        return
    async with transaction():
        for chunk in chunks:
            await meta.db.execute_query(insert + ", ".join([marks] * (len(chunk) // width)), chunk)


@functools.cache
def _max_parameters() -> int:
    """How many ``?`` one statement may hold in this process's SQLite (32,766 by default)."""
    with contextlib.closing(sqlite3.connect(":memory:")) as probe:
        return probe.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)


class _Plan:
    """How to turn a row with a given set of keys into the statement's values."""

    __slots__ = ("model", "template", "given", "called")

    def __init__(self, model: type[Model], fields: list[tuple[str, Any]], keys: set[str]) -> None:
        self.model = model
        self.template: list[Any] = []  # the values of the fields left out with constant defaults
        self.given: list[tuple[int, str, Any]] = []  # position, name, field (None: stored as it is)
        self.called: list[tuple[int, Any]] = []  # position, field: left out, its default is callable
        for position, (name, field) in enumerate(fields):
            plain = type(field) in _AS_IS  # exact types: a subclass may convert
            if name in keys:
                self.given.append((position, name, None if plain else field))
                self.template.append(None)
            elif callable(field.default):
                self.called.append((position, field))
                self.template.append(None)
            else:
                self.template.append(field.default if plain else field.to_db_value(field.default, model))

    def values(self, row: Mapping[str, Any]) -> list[Any]:
        """The row's values in the statement's column order."""
        out = self.template.copy()
        model = self.model
        for position, name, convert in self.given:
            value = row[name]
            out[position] = value if convert is None else convert.to_db_value(value, model)
        for position, field in self.called:
            value = field.default()
            out[position] = value if type(field) in _AS_IS else field.to_db_value(value, model)
        return out
