"""Scanning groups into the library: groups upserted, audio messages stored once each."""

from __future__ import annotations

import time
from collections.abc import AsyncIterable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from tad_tui.store.bulk import insert_rows
from tad_tui.store.transactions import transaction

from tad_tui import failpoints
from tad_tui.library.ranges import ScanWindow
from tad_tui.library.text import GROUP_TITLE_MAX, MIME_TYPE_MAX, TEXT_MAX, TOPIC_TITLE_MAX, USERNAME_MAX, clean_text
from tad_tui.store.db import DATABASE_BUSY, StoreError, database_busy
from tad_tui.store.models import AudioFile, GroupKind, TelegramGroup
from tad_tui.telegram.source import AudioInfo, GroupInfo, Source


# A scan writes what it receives in batches, one transaction each: when at least BATCH_ROWS audio
# messages are waiting, when BATCH_SECONDS have passed since the first of them arrived, at the end,
# and when Telegram fails mid-scan. Each commit turns the search index's pending terms into a new
# segment that FTS5 must later merge: committing every page of 100 cost about a third of the ingest.
# A kill loses at most the batch in hand, which was never counted as scanned (the group's
# last_message_id is saved after the last batch), so the next scan fetches it again.
BATCH_ROWS: Final = 500
BATCH_SECONDS: Final = 1.0


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
    # In a transaction of ours: update_or_create's own (Tortoise's in_transaction) cancelled while it
    # begins (Ctrl-C just then) would leave its connection in the task's context for good, and the
    # store could not close ("'SqliteTransactionWrapper' object has no attribute 'filename'").
    async with transaction():
        row, _ = await TelegramGroup.update_or_create(
            group_id=info.group_id,
            defaults={
                "title": clean_text(info.title, max_length=GROUP_TITLE_MAX) or str(info.group_id),
                "username": clean_text(info.username, max_length=USERNAME_MAX),
                "kind": GroupKind(info.kind),
                "access_hash": info.access_hash,
                "forum": info.forum,
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
        forum=row.forum,
    )


@dataclass(frozen=True)
class Stored:
    new: int  # rows inserted
    highest: int  # the highest message id received (0: none)


async def store_pages(
    group: TelegramGroup,
    pages: AsyncIterable[Sequence[AudioInfo]],
    *,
    on_batch: Callable[[Stored], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> Stored:
    """Store the audio of ``pages`` not yet stored, in batches (see ``BATCH_ROWS``).

    ``on_batch`` is told the running totals after each committed batch. An error of ``pages`` (the
    link to Telegram lost) is raised after what arrived before it is stored.
    """
    pending: dict[int, AudioInfo] = {}  # by message id: music and document searches both give some
    new = highest = 0
    first_at = 0.0

    async def write() -> None:
        nonlocal new
        async with transaction():
            new += await store_new(group, list(pending.values()))
            failpoints.hit("scan.page")
        failpoints.hit("scan.committed")
        pending.clear()
        if on_batch is not None:
            on_batch(Stored(new, highest))

    iterator = aiter(pages)
    while True:
        try:
            page = await anext(iterator)
        except StopAsyncIteration:
            break
        except Exception:
            if pending:
                await write()
            raise
        if not page:
            continue
        if not pending:
            first_at = clock()
        for audio in page:
            pending.setdefault(audio.message_id, audio)
            highest = max(highest, audio.message_id)
        if len(pending) >= BATCH_ROWS or clock() - first_at >= BATCH_SECONDS:
            await write()
    if pending:
        await write()
    return Stored(new, highest)


async def store_new(group: TelegramGroup, batch: Sequence[AudioInfo]) -> int:
    """Insert the batch's audio not yet stored; returns how many rows were new."""
    ids = [audio.message_id for audio in batch]
    # Along the (group_id, message_id) index; no IN list of a thousand parameters for Tortoise to build.
    _, found = await AudioFile._meta.db.execute_query(
        "SELECT message_id FROM audio_file WHERE group_id = ? AND message_id BETWEEN ? AND ?",
        [group.group_id, min(ids), max(ids)],
    )
    known = {row[0] for row in found}
    rows = [_row(group, audio) for audio in batch if audio.message_id not in known]
    await insert_rows(AudioFile, rows)
    await _file_under_topics(group, [audio for audio in batch if audio.message_id in known])
    return len(rows)


async def _file_under_topics(group: TelegramGroup, stored: Sequence[AudioInfo]) -> None:
    """Tracks stored before their forum's topics were known get the topic they were read with."""
    topics = [
        (audio.topic_id, clean_text(audio.topic_title, max_length=TOPIC_TITLE_MAX), group.group_id, audio.message_id)
        for audio in stored if audio.topic_id is not None
    ]
    if topics:
        await AudioFile._meta.db.execute_many(
            "UPDATE audio_file SET topic_id = ?, topic_title = ? WHERE group_id = ? AND message_id = ? "
            "AND topic_id IS NULL",
            topics,
        )


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
        thumb_type=location.thumb,
        posted_at=audio.posted_at,
        topic_id=audio.topic_id,
        topic_title=clean_text(audio.topic_title, max_length=TOPIC_TITLE_MAX),
    )


async def scan_group(
    source: Source,
    info: GroupInfo,
    *,
    on_progress: Callable[[ScanProgress], None] | None = None,
    window: ScanWindow | None = None,
    topic: int | None = None,
) -> ScanResult:
    """Store the group's audio newer than the last scan (only ``window``'s part of it, and only forum
    ``topic``'s, if given); a scan cut short is simply redone."""
    try:
        return await _scan(source, info, on_progress, window if window is not None and window.bounded else None, topic)
    except Exception as error:
        if database_busy(error):  # each batch is one transaction: what was stored stays, the rest is redone
            raise StoreError(f"{DATABASE_BUSY}: close it, or wait and run the command again") from None
        raise


async def _scan(
    source: Source,
    info: GroupInfo,
    on_progress: Callable[[ScanProgress], None] | None,
    window: ScanWindow | None,
    topic: int | None = None,
) -> ScanResult:
    group = await upsert_group(info)
    after = group.last_message_id
    if topic is not None and await AudioFile.filter(group_id=group.group_id, topic_id=None).exists():
        after = 0  # tracks stored before the topics were known: the topic is read whole, filing them
    # The cursor moves only over messages all read: with a window, if it starts at or before the
    # cursor; never after one topic (the other topics' messages above the cursor are still unread).
    moves = topic is None and (window is None or await _window_reaches_cursor(group, window))

    def report(stored: Stored) -> None:
        if on_progress is not None:
            on_progress(ScanProgress(info, stored.new, max(after, stored.highest) if moves else after))

    pages = (source.scan_audio(info, after_message_id=after) if window is None and topic is None
             else source.scan_audio(info, after_message_id=after, window=window, topic=topic))
    stored = await store_pages(group, pages, on_batch=report)
    if moves:
        group.last_message_id = max(after, stored.highest)
    group.last_checked = datetime.now(UTC)
    group.audio_count = await AudioFile.filter(group_id=group.group_id).count()
    await group.save(update_fields=["last_message_id", "last_checked", "audio_count"])
    return ScanResult(info, stored.new, group.audio_count)


async def _window_reaches_cursor(group: TelegramGroup, window: ScanWindow) -> bool:
    """Whether a scan of ``window`` reads every audio message from the group's cursor on, up to the
    newest it finds: then the cursor may move up to that one. A window that starts later leaves a
    gap a later scan must still read, so the cursor stays.

    The cursor says every audio message up to it is in the library, so a windowed scan reads only
    above it too (``ScanWindow.lower_id``). Its first id must not lie beyond the message after the
    cursor; its first date must not be later than the cursor's message's date (a channel's messages
    are numbered in the order they are posted, so all after it are as late or later). Nothing scanned
    yet (cursor 0) and a first date: the messages before that date are unread.
    """
    cursor = group.last_message_id
    if window.first_id is not None and window.first_id > cursor + 1:
        return False
    if window.since is None:
        return True
    if cursor == 0:
        return False
    posted = await AudioFile.filter(group_id=group.group_id, message_id=cursor).values_list("posted_at", flat=True)
    return bool(posted) and posted[0] is not None and posted[0] >= window.since
