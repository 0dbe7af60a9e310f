"""The SQL of a search: a row's format and status as SQL, the filters as conditions, the two SELECTs
(by the FTS5 index, or the newest tracks) and a result row into a hit."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from tortoise import connections
from tortoise.exceptions import OperationalError

from tad_tui.library.search.folding import fold, split_words
from tad_tui.library.search.query import SearchFilters
from tad_tui.library.search.results import SearchHit

log = logging.getLogger(__name__)

_MIME_FORMATS: Final = {
    "mp3": ("audio/mpeg", "audio/mp3", "audio/mpeg3", "audio/x-mpeg", "audio/x-mp3"),
    "m4a": ("audio/mp4", "audio/x-m4a", "audio/m4a", "audio/aac", "audio/x-aac"),
    "flac": ("audio/flac", "audio/x-flac"),
    "ogg": ("audio/ogg", "audio/opus", "audio/vorbis", "audio/x-vorbis+ogg", "application/ogg"),
    "wav": ("audio/wav", "audio/x-wav", "audio/wave", "audio/vnd.wave"),
}
_EXTENSIONS: Final = {"mp3": ("mp3",), "m4a": ("m4a", "mp4", "aac"), "flac": ("flac",),
                      "ogg": ("ogg", "oga", "opus"), "wav": ("wav",)}


def _format_sql() -> str:
    """The format of a row: from its MIME type, else from its file name's extension (constants only)."""
    whens = []
    for name, mimes in _MIME_FORMATS.items():
        listed = ", ".join(f"'{mime}'" for mime in mimes)
        whens.append(f"WHEN a.mime_type IN ({listed}) THEN '{name}'")
    for name, extensions in _EXTENSIONS.items():
        endings = " OR ".join(f"a.file_name LIKE '%.{extension}'" for extension in extensions)
        whens.append(f"WHEN {endings} THEN '{name}'")
    return f"CASE {' '.join(whens)} END"


_FORMAT_SQL: Final = _format_sql()
_STATUS_SQL: Final = (
    "CASE WHEN a.status = 'completed' OR (a.status = 'skipped' AND a.local_path IS NOT NULL) THEN 'downloaded'"
    " WHEN q.state = 'completed' THEN 'downloaded' WHEN q.state IS NOT NULL THEN q.state"
    " WHEN a.status = 'missing' THEN 'missing' WHEN a.status = 'failed' THEN 'failed' ELSE 'new' END"
)
_COLUMNS: Final = (
    f"a.id, a.file_id, a.title, a.performer, a.album, a.file_name, g.title, ({_FORMAT_SQL}), a.file_size,"
    f" a.duration, ({_STATUS_SQL}), a.local_path, a.checksum_md5, a.source_md5, a.posted_at"
)
_JOINS: Final = (
    "JOIN telegram_group AS g ON g.group_id = a.group_id LEFT JOIN queue_entry AS q ON q.audio_id = a.id"
)
# CROSS JOIN keeps the FTS table as the outer loop, so SQLite walks its matches newest first and stops.
_MATCH_SELECT: Final = (
    f"SELECT {_COLUMNS} FROM audio_search CROSS JOIN audio_file AS a ON a.id = audio_search.rowid {_JOINS}"
    " WHERE audio_search MATCH ?{conditions} ORDER BY audio_search.rowid DESC LIMIT ?"
)
# Without words: the newest tracks that pass the filters, walked along the posted_at index.
_RECENT_SELECT: Final = (
    f"SELECT {_COLUMNS} FROM audio_file AS a {_JOINS} WHERE 1{{conditions}}"
    " ORDER BY a.posted_at DESC, a.id DESC LIMIT ?"
)
VOCABULARY_TABLE: Final = "temp.tad_search_vocab"
# Row positions in the SELECTs above.
(COL_ID, COL_FILE_ID, COL_TITLE, COL_PERFORMER, COL_ALBUM, COL_FILE_NAME, COL_GROUP, COL_FORMAT,
 COL_SIZE, COL_DURATION, COL_STATUS, COL_LOCAL_PATH, COL_MD5, COL_SOURCE_MD5,
 COL_POSTED) = range(15)


def quote(word: str) -> str:
    """An FTS5 string: the tokenizer reads what is inside; nothing in it is an operator."""
    return '"' + word.replace('"', '""') + '"'


@dataclass(frozen=True)
class Conditions:
    sql: str
    values: list[Any]
    impossible: bool = False  # e.g. a group filter that matches no group


async def filter_conditions(filters: SearchFilters, hints: list[str]) -> Conditions:
    """SQL for the filters (the performer filter goes into the MATCH expression instead)."""
    sql: list[str] = []
    values: list[Any] = []
    if filters.formats is not None:
        sql.append(_in(f"({_FORMAT_SQL})", sorted(filters.formats), values))
    if filters.statuses is not None:
        sql.append(_in(f"({_STATUS_SQL})", sorted(filters.statuses), values))
    for column, low, high in (("a.file_size", filters.min_size, filters.max_size),
                              ("a.duration", filters.min_duration, filters.max_duration)):
        if low is not None:
            sql.append(f"{column} >= ?")
            values.append(low)
        if high is not None:
            sql.append(f"{column} <= ?")
            values.append(high)
    # posted_at is stored as text, "2024-06-01 09:41:38+00:00" (UTC): compared as text, along its index.
    if filters.posted_from is not None:
        sql.append("a.posted_at >= ?")
        values.append(_stored_time(filters.posted_from))
    if filters.posted_before is not None:
        sql.append("a.posted_at < ?")
        values.append(_stored_time(filters.posted_before))
    for first, last in filters.years:
        sql.append("CAST(substr(a.date, 1, 4) AS INTEGER) BETWEEN ? AND ?")
        values += [first, last]
    if filters.ids is not None:
        sql.append(_in("a.id", sorted(filters.ids), values))
    impossible = filters.formats == frozenset() or filters.statuses == frozenset() or filters.ids == frozenset()
    if filters.posted_from is not None and filters.posted_before is not None:
        impossible = impossible or filters.posted_before <= filters.posted_from
    for group in filters.groups:
        ids = await _group_ids(group)
        if not ids:
            hints.append(f"no group matches {group!r}")
            impossible = True
        sql.append(_in("a.group_id", ids, values))
    return Conditions("".join(f" AND {condition}" for condition in sql), values, impossible)


async def matching(expression: str, conditions: Conditions, limit: int) -> list[Any]:
    """Rows whose index entry matches the FTS5 ``expression``, newest first, at most ``limit``."""
    sql = _MATCH_SELECT.format(conditions=conditions.sql)
    try:
        return await fetch(sql, [expression, *conditions.values, limit])
    except OperationalError as error:
        # Every phrase is quoted, so this should not happen; if it does, the user gets a hint.
        if "fts5" not in str(error).lower():
            raise
        log.warning("search index refused %r: %s", expression, error)
        return []


async def recent(conditions: Conditions, limit: int) -> list[Any]:
    """The newest rows that pass the conditions, at most ``limit``."""
    return await fetch(_RECENT_SELECT.format(conditions=conditions.sql), [*conditions.values, limit])


async def fetch(sql: str, values: list[Any]) -> list[Any]:
    _, rows = await connections.get("default").execute_query(sql, values)
    return list(rows)


def _in(expression: str, items: Sequence[Any], values: list[Any]) -> str:
    values.extend(items)
    return f"{expression} IN ({', '.join('?' for _ in items)})" if items else "0"


async def _group_ids(key: str) -> list[int]:
    """Groups named by @username, numeric id, or words of their title (accents and case ignored)."""
    rows = await fetch("SELECT group_id, title, username FROM telegram_group", [])
    key = key.strip()
    if key.startswith("@"):
        return [gid for gid, _, username in rows if username and username.lower() == key[1:].lower()]
    if key.lstrip("-").isdigit():
        wanted = {int(key), int("-100" + key.lstrip("-"))}
        return [gid for gid, _, _ in rows if gid in wanted]
    folded = fold(key)
    return [gid for gid, title, username in rows
            if folded in fold(title) or (username and username.lower() == key.lower())]


def performer_expression(value: str) -> str:
    """The performer column holds these words in this order, the last one as a prefix."""
    return "performer : " + quote(" ".join(split_words(value))) + "*"


def hit(row: Any, score: int) -> SearchHit:
    posted = row[COL_POSTED]
    return SearchHit(
        id=row[COL_ID],
        file_id=row[COL_FILE_ID],
        title=row[COL_TITLE],
        performer=row[COL_PERFORMER],
        album=row[COL_ALBUM],
        file_name=row[COL_FILE_NAME],
        group=row[COL_GROUP],
        format=row[COL_FORMAT],
        file_size=row[COL_SIZE],
        duration=row[COL_DURATION],
        status=row[COL_STATUS],
        local_path=row[COL_LOCAL_PATH],
        checksum_md5=row[COL_MD5],
        source_md5=row[COL_SOURCE_MD5],
        posted_at=_parse_time(posted),
        score=score,
    )


def _stored_time(moment: datetime) -> str:
    """A UTC moment as the library's posted_at text starts (its "+00:00" sorts after it)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _parse_time(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None
