"""The library as CSV or JSON (``tad-tui export``): every field of every track, with its group's.

Columns, in this order: the fields of ``AudioFile`` as the model declares them, then ``group_id``,
``group_title`` and ``group_username``. Values: integers as numbers, ``checksum_verified`` as
true/false, dates as ISO 8601 in UTC (``2024-06-01T12:00:00+00:00``), ``file_reference`` (bytes) as
lowercase hex, ``status`` as its word (pending, downloading, completed, failed, skipped, missing).

JSON: one array of objects, a missing value is ``null``. CSV (RFC 4180, UTF-8, a header line,
"\\r\\n" between records): a missing value (None) is an empty cell without quotes, and every other
value is quoted, so an empty text is ``""`` — PostgreSQL's CSV rule (Python 3.12's
``csv.QUOTE_NOTNULL`` reads it back so). ``read_csv`` here reads it back on any Python.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any, Final

from tortoise import fields as tortoise_fields

from tad_tui.store.models import AudioFile

FORMATS: Final = ("csv", "json")
_GROUP_COLUMNS: Final = {"group_title": "group__title", "group_username": "group__username"}
# The model's fields (group_id joins them once Tortoise is initialised: it goes last, by the group's).
_FIELDS: Final = (*(name for name in AudioFile._meta.fields_db_projection if name != "group_id"), "group_id")
COLUMNS: Final = (*_FIELDS, *_GROUP_COLUMNS)
_IN_CHUNK: Final = 500  # ids per IN (…) query, under SQLite's limit on bound variables


@dataclass(frozen=True)
class LibraryExport:
    text: str  # the whole CSV or JSON
    tracks: int
    hints: tuple[str, ...]  # what the search could not read in the query


async def export_library(audio_ids: Collection[int] | None, fmt: str, hints: Iterable[str] = ()) -> LibraryExport:
    """The tracks of ``audio_ids`` (None: every track) as ``fmt`` ("csv" or "json")."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}: use one of {', '.join(FORMATS)}")
    rows = await library_rows(audio_ids)
    return LibraryExport(csv_text(rows) if fmt == "csv" else json_text(rows), len(rows), tuple(hints))


async def library_rows(audio_ids: Collection[int] | None = None) -> list[dict[str, Any]]:
    """Every track (or those of ``audio_ids``) with its group's fields, in library (id) order."""
    if audio_ids is None:
        return await AudioFile.all().order_by("id").values(*_FIELDS, **_GROUP_COLUMNS)
    ids = sorted(set(audio_ids))
    rows: list[dict[str, Any]] = []
    for start in range(0, len(ids), _IN_CHUNK):
        chunk = AudioFile.filter(id__in=ids[start : start + _IN_CHUNK]).order_by("id")
        rows += await chunk.values(*_FIELDS, **_GROUP_COLUMNS)
    return rows


def plain(value: Any) -> Any:
    """A stored value as JSON holds it (see the module docstring)."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    return value


def json_text(rows: Iterable[dict[str, Any]]) -> str:
    return json.dumps([{name: plain(row[name]) for name in COLUMNS} for row in rows], ensure_ascii=False, indent=2) + "\n"


def _cell(value: Any) -> str:
    value = plain(value)
    if value is None:
        return ""
    text = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return '"' + text.replace('"', '""') + '"'


def csv_text(rows: Iterable[dict[str, Any]]) -> str:
    lines = [",".join(_cell(name) for name in COLUMNS)]
    lines += [",".join(_cell(row[name]) for name in COLUMNS) for row in rows]
    return "\r\n".join(lines) + "\r\n"


def read_csv(text: str) -> list[list[str | None]]:
    """The records of CSV ``text``: an unquoted empty cell is None, a quoted one is ``""``."""
    records: list[list[str | None]] = []
    record: list[str | None] = []
    at, end = 0, len(text)
    while at < end:
        if text[at] == '"':
            chunks, at = [], at + 1
            while True:
                close = text.index('"', at)  # ValueError: a quote never closed
                chunks.append(text[at:close])
                if text.startswith('""', close):
                    chunks.append('"')
                    at = close + 2
                    continue
                at = close + 1
                break
            value: str | None = "".join(chunks)
        else:
            stop = at
            while stop < end and text[stop] not in ",\r\n":
                stop += 1
            value, at = (text[at:stop] or None), stop
        record.append(value)
        if at < end and text[at] == ",":
            at += 1
            continue
        records.append(record)
        record = []
        at += 2 if text.startswith("\r\n", at) else 1
    return records


def typed(column: str, value: Any) -> Any:
    """A value read back from the export as the model stores it (the inverse of ``plain``)."""
    if value is None:
        return None
    field = AudioFile._meta.fields_map.get(column)
    if column == "group_id" or isinstance(field, (tortoise_fields.IntField, tortoise_fields.BigIntField)):
        return int(value)
    if isinstance(field, tortoise_fields.BooleanField):
        return value if isinstance(value, bool) else value == "true"
    if isinstance(field, tortoise_fields.DatetimeField):
        return datetime.fromisoformat(value)
    if isinstance(field, tortoise_fields.BinaryField):
        return bytes.fromhex(value)
    return value
