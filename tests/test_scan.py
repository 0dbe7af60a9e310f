"""Scanning demo groups into the store through the Source and Telethon."""

from __future__ import annotations

import asyncio
import re
import sqlite3
from collections.abc import AsyncIterator, Sequence
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import pytest
from tortoise import connections

from tad_tui.library.scan import BATCH_ROWS, BATCH_SECONDS, Stored, scan_group, store_pages, upsert_group
from tad_tui.store import AudioFile, TelegramGroup, opened_store
from tad_tui.telegram.sim.catalogue import Catalogue
from tad_tui.telegram.sim.client import SimulatedClient
from tad_tui.telegram.sim.server import FaultRule, SimulatedTelegram
from tad_tui.telegram.source import AudioInfo, FileLocation, GroupInfo, TelethonSource

UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[None]:
    async with opened_store(tmp_path / "library.sqlite3"):
        yield


async def test_scan_stores_every_audio_field_from_telegram(
    store: None, source: TelethonSource, server: SimulatedTelegram, demo_catalogue: Catalogue
) -> None:
    info = await source.resolve_group("@tad_demo_classical")
    result = await scan_group(source, info)
    expected = {m.id: m.file for m in demo_catalogue.group("tad_demo_classical").messages if m.file}
    assert result.new == len(expected) == result.total
    rows = {row.message_id: row for row in await AudioFile.filter(group_id=info.group_id)}
    assert set(rows) == set(expected)
    for message_id, file in expected.items():
        row = rows[message_id]
        assert row.file_id == f"{info.group_id}_{message_id}"
        assert row.file_unique_id == str(file.document_id)
        # The DC is the server's to say (some demo files live on DC 1, 4 or 5), as the message reports it.
        assert (row.file_size, row.mime_type, row.dc_id) == (file.size, file.mime_type, server.dc_of(file.document_id))
        assert (row.document_id, row.access_hash) == (file.document_id, file.access_hash)
        assert row.title == file.title and row.performer == file.performer
        assert row.file_name == file.file_name
        assert row.duration == file.duration
        assert row.file_reference and row.posted_at is not None
        assert row.status == "pending"
    group = await TelegramGroup.get(group_id=info.group_id)
    assert group.audio_count == len(expected) and group.last_checked is not None
    assert group.last_message_id == max(expected)
    assert {row.dc_id for row in rows.values()} > {server.this_dc}


async def test_scan_finds_audio_sent_as_plain_files_and_skips_other_documents(
    store: None, source: TelethonSource, demo_catalogue: Catalogue
) -> None:
    info = await source.resolve_group("@tad_demo_archive")
    await scan_group(source, info)
    files = [m.file for m in demo_catalogue.group("tad_demo_archive").messages if m.file]
    plain = [f for f in files if not f.has_audio_attribute and f.mime_type.startswith("audio/")]
    assert plain
    stored = set(await AudioFile.filter(group_id=info.group_id).values_list("file_unique_id", flat=True))
    assert {str(f.document_id) for f in plain} <= stored
    assert not any(f.mime_type == "application/pdf" and str(f.document_id) in stored for f in files)


async def test_hostile_metadata_is_cleaned_before_the_store(store: None, source: TelethonSource) -> None:
    info = await source.resolve_group("@tad_demo_hostile")
    await scan_group(source, info)
    rows = await AudioFile.filter(group_id=info.group_id)
    assert rows
    for row in rows:
        for value in (row.title, row.performer, row.file_name):
            assert value is None or not UNSAFE.search(value)
            assert value is None or len(value) <= 1024


async def test_a_file_posted_in_two_groups_shares_its_unique_id(store: None, source: TelethonSource) -> None:
    classical = await source.resolve_group("@tad_demo_classical")
    hostile = await source.resolve_group("@tad_demo_hostile")
    await scan_group(source, classical)
    await scan_group(source, hostile)
    in_classical = set(await AudioFile.filter(group_id=classical.group_id).values_list("file_unique_id", flat=True))
    in_hostile = set(await AudioFile.filter(group_id=hostile.group_id).values_list("file_unique_id", flat=True))
    assert len(in_classical & in_hostile) == 1


async def test_interrupted_scan_is_completed_by_the_next_without_duplicates(
    store: None, server: SimulatedTelegram
) -> None:
    source = TelethonSource(SimulatedClient(server, connection_retries=1, retry_delay=0.05))
    await source.start()
    info = await source.resolve_group("@tad_demo_archive")
    # Telegram out of reach for longer than the client's reconnection attempts: the scan stops.
    server.inject(FaultRule("SearchRequest", disconnect=True, skip=4, outage=0.5))
    with pytest.raises(ConnectionError):
        await scan_group(source, info)
    partial = await AudioFile.filter(group_id=info.group_id).count()
    assert 0 < partial < 1000
    await asyncio.sleep(0.5)
    await source.start()  # the next run
    result = await scan_group(source, info)
    assert result.total == partial + result.new >= 1000
    assert await AudioFile.filter(group_id=info.group_id).count() == result.total
    assert (await scan_group(source, info)).new == 0
    await source.stop()


async def test_scanned_rows_are_in_the_search_index(store: None, source: TelethonSource) -> None:
    info = await source.resolve_group("@tad_demo_classical")
    await scan_group(source, info)
    connection = connections.get("default")
    _, rows = await connection.execute_query("SELECT rowid FROM audio_search WHERE audio_search MATCH ?", ["dvorak"])
    ids = [row[0] for row in rows]
    assert ids
    titles = await AudioFile.filter(id__in=ids).values_list("performer", "title", "file_name")
    assert all("Dvořák" in " ".join(filter(None, t)) or "Dvorak" in " ".join(filter(None, t)) for t in titles)


# ---- batches: what a scan commits, and when ----------------------------------------------------------

GROUP = GroupInfo(group_id=-100777, title="Batches", username=None, kind="channel", access_hash=1)


def _audio(message_id: int) -> AudioInfo:
    location = FileLocation(document_id=9_000_000 + message_id, access_hash=7, file_reference=b"r", dc_id=2, size=10)
    return AudioInfo(GROUP.group_id, message_id, datetime(2025, 1, 1, tzinfo=UTC), location,
                     f"take-{message_id}.mp3", "audio/mpeg", 60, f"Take {message_id}", "Band", None)


def _committed(path: Path) -> int:
    """Rows another connection sees: what was committed."""
    with closing(sqlite3.connect(path)) as reader:
        return reader.execute("SELECT count(*) FROM audio_file").fetchone()[0]


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def _store(pages: AsyncIterator[Sequence[AudioInfo]], path: Path, clock: Clock) -> tuple[Stored, list]:
    seen: list[tuple[Stored, int]] = []  # each batch: the totals told, the rows committed then
    group = await upsert_group(GROUP)
    stored = await store_pages(group, pages, on_batch=lambda s: seen.append((s, _committed(path))), clock=clock)
    return stored, seen


async def test_a_scan_commits_a_batch_once_enough_rows_wait_and_the_rest_at_the_end(
    store: None, tmp_path: Path
) -> None:
    per_page = 100
    pages = 2 * BATCH_ROWS // per_page + 1  # two full batches and one page more

    async def received() -> AsyncIterator[list[AudioInfo]]:
        for page in range(pages):
            yield [_audio(page * per_page + n) for n in range(1, per_page + 1)]

    stored, seen = await _store(received(), tmp_path / "library.sqlite3", Clock())
    total = pages * per_page
    assert stored == Stored(new=total, highest=total)
    assert seen == [(Stored(BATCH_ROWS, BATCH_ROWS), BATCH_ROWS),
                    (Stored(2 * BATCH_ROWS, 2 * BATCH_ROWS), 2 * BATCH_ROWS),
                    (Stored(total, total), total)]


async def test_a_slow_scan_commits_what_it_has_once_the_batch_is_old_enough(store: None, tmp_path: Path) -> None:
    clock = Clock()
    step = BATCH_SECONDS * 0.4  # pages arrive at 0, 0.4, 0.8, 1.2 …: the fourth finds the batch old enough

    async def received() -> AsyncIterator[list[AudioInfo]]:
        for page in range(5):
            yield [_audio(page * 10 + n) for n in range(1, 11)]
            clock.now += step

    stored, seen = await _store(received(), tmp_path / "library.sqlite3", clock)
    assert stored == Stored(new=50, highest=50)
    assert [(told.new, committed) for told, committed in seen] == [(40, 40), (50, 50)]


async def test_messages_given_twice_or_already_stored_are_stored_once(store: None, tmp_path: Path) -> None:
    async def received() -> AsyncIterator[list[AudioInfo]]:
        yield [_audio(n) for n in range(1, 31)]  # as the music search gives them
        yield [_audio(n) for n in range(1, 41)]  # the document search: the same ones and ten more

    stored, _ = await _store(received(), tmp_path / "library.sqlite3", Clock())
    assert stored == Stored(new=40, highest=40)

    async def again() -> AsyncIterator[list[AudioInfo]]:
        yield [_audio(n) for n in range(35, 46)]

    stored, _ = await _store(again(), tmp_path / "library.sqlite3", Clock())
    assert stored == Stored(new=5, highest=45)
    assert await AudioFile.filter(group_id=GROUP.group_id).count() == 45


async def test_what_arrived_before_telegram_failed_is_stored_then_the_error_raised(
    store: None, tmp_path: Path
) -> None:
    async def received() -> AsyncIterator[list[AudioInfo]]:
        yield [_audio(n) for n in range(1, 21)]
        yield [_audio(n) for n in range(21, 41)]
        raise ConnectionError("link lost")

    group = await upsert_group(GROUP)
    with pytest.raises(ConnectionError, match="link lost"):
        await store_pages(group, received(), clock=Clock())
    assert _committed(tmp_path / "library.sqlite3") == 40
