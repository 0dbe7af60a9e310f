"""Scanning groups into the library: groups upserted, audio messages stored once each."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tad_tui.store.bulk import insert_rows
from tad_tui.store.transactions import transaction

from tad_tui import failpoints
from tad_tui.library.text import GROUP_TITLE_MAX, MIME_TYPE_MAX, TEXT_MAX, USERNAME_MAX, clean_text
from tad_tui.store.db import DATABASE_BUSY, StoreError, database_busy
from tad_tui.store.models import AudioFile, GroupKind, TelegramGroup
from tad_tui.telegram.source import AudioInfo, GroupInfo, Source


@dataclass(frozen=True)
class ScanProgress:
    group: GroupInfo
    new: int  # audio messages stored so far in this scan
    last_message_id: int


@dataclass(frozen=True)
class ScanResult:
    group: GroupInfo
    new: int
    total: int


async def upsert_group(info: GroupInfo) -> TelegramGroup:
    row, _ = await TelegramGroup.update_or_create(
        group_id=info.group_id,
        defaults={
            "title": clean_text(info.title, max_length=GROUP_TITLE_MAX) or str(info.group_id),
            "username": clean_text(info.username, max_length=USERNAME_MAX),
            "kind": GroupKind(info.kind),
            "access_hash": info.access_hash,
        },
    )
    return row


async def upsert_groups(infos: Sequence[GroupInfo]) -> list[TelegramGroup]:
    async with transaction():
        return [await upsert_group(info) for info in infos]


def group_info(row: TelegramGroup) -> GroupInfo:
    return GroupInfo(
        group_id=row.group_id,
        title=row.title,
        username=row.username,
        kind=str(row.kind),
        access_hash=row.access_hash,
    )


async def store_page(group: TelegramGroup, page: Sequence[AudioInfo]) -> int:
    """Insert the page's audio not yet stored; returns how many rows were new."""
    ids = [audio.message_id for audio in page]
    known = set(
        await AudioFile.filter(group_id=group.group_id, message_id__in=ids).values_list("message_id", flat=True)
    )
    rows = [_row(group, audio) for audio in page if audio.message_id not in known]
    await insert_rows(AudioFile, rows)
    return len(rows)


def _row(group: TelegramGroup, audio: AudioInfo) -> dict[str, Any]:
    # The library's gate for text from Telegram: parse_audio cleans already, but whatever a Source
    # hands over is cleaned and capped again here (a no-op on clean text) before it is stored.
    location = audio.location
    return dict(
        file_id=audio.file_id,
        file_unique_id=audio.file_unique_id,
        file_name=clean_text(audio.file_name, max_length=TEXT_MAX),
        file_size=location.size,
        mime_type=clean_text(audio.mime_type, max_length=MIME_TYPE_MAX),
        duration=audio.duration,
        title=clean_text(audio.title, max_length=TEXT_MAX),
        performer=clean_text(audio.performer, max_length=TEXT_MAX),
        group_id=group.group_id,
        message_id=audio.message_id,
        document_id=location.document_id,
        access_hash=location.access_hash,
        file_reference=location.file_reference,
        dc_id=location.dc_id,
        posted_at=audio.posted_at,
    )


async def scan_group(
    source: Source,
    info: GroupInfo,
    *,
    on_progress: Callable[[ScanProgress], None] | None = None,
) -> ScanResult:
    """Store the group's audio newer than the last scan; a scan cut short is simply redone."""
    try:
        return await _scan(source, info, on_progress)
    except Exception as error:
        if database_busy(error):  # each page is one transaction: what was stored stays, the rest is redone
            raise StoreError(f"{DATABASE_BUSY}: close it, or wait and run the command again") from None
        raise


async def _scan(
    source: Source, info: GroupInfo, on_progress: Callable[[ScanProgress], None] | None
) -> ScanResult:
    group = await upsert_group(info)
    highest = group.last_message_id
    new = 0
    async for page in source.scan_audio(info, after_message_id=group.last_message_id):
        async with transaction():
            new += await store_page(group, page)
            failpoints.hit("scan.page")
        failpoints.hit("scan.committed")
        highest = max(highest, *(audio.message_id for audio in page))
        if on_progress is not None:
            on_progress(ScanProgress(info, new, highest))
    group.last_message_id = highest
    group.last_checked = datetime.now(UTC)
    group.audio_count = await AudioFile.filter(group_id=group.group_id).count()
    await group.save(update_fields=["last_message_id", "last_checked", "audio_count"])
    return ScanResult(info, new, group.audio_count)
