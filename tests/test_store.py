"""The persistence layer on real SQLite files: schema, migrations, FTS, errors, queue ranks."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from tortoise import Tortoise
from tortoise.context import TortoiseContext
from tortoise.exceptions import IntegrityError
from tortoise.migrations.api import migrate
from tortoise.migrations.autodetector import MigrationAutodetector

from tad_tui.store import (
    RANK_GAP,
    AudioFile,
    FileStatus,
    GroupKind,
    Priority,
    QueueEntry,
    QueueState,
    StoreError,
    TelegramGroup,
    close_store,
    move_entry,
    next_rank,
    open_store,
    rank_between,
)
from tad_tui.store.db import TORTOISE_ORM, known_migrations, tortoise_config
from tad_tui.store.transactions import transaction

GROUP_ID = -1001000000001
POSTED = datetime(2024, 5, 1, 12, 30, tzinfo=UTC)


# --- helpers -------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
async def _closed_after_each_test() -> AsyncIterator[None]:
    """A test failing half-way must not leave an aiosqlite thread (and a hanging pytest) behind."""
    yield
    await close_store()


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Path]:
    path = tmp_path / "data" / "library.sqlite3"
    await open_store(path)
    try:
        yield path
    finally:
        await close_store()


async def make_group(group_id: int = GROUP_ID, title: str = "Classical Archive") -> TelegramGroup:
    return await TelegramGroup.create(group_id=group_id, title=title, kind=GroupKind.CHANNEL)


async def make_audio(group: TelegramGroup, message_id: int, **values: Any) -> AudioFile:
    fields: dict[str, Any] = {
        "file_id": f"{group.group_id}_{message_id}",
        "file_unique_id": str(5_000_000_000_000 + message_id),
        "file_size": 1_234_567,
        "group": group,
        "message_id": message_id,
        "document_id": 5_000_000_000_000 + message_id,
        "access_hash": -8_000_000_000_000_000_000,
        "file_reference": b"\x01\x02ref",
        "dc_id": 2,
        "posted_at": POSTED,
    }
    fields.update(values)
    return await AudioFile.create(**fields)


async def search(query: str) -> list[int]:
    rows = await Tortoise.get_connection("default").execute_query_dict(
        "SELECT rowid FROM audio_search WHERE audio_search MATCH ? ORDER BY rowid", [query]
    )
    return [row["rowid"] for row in rows]


async def total_changes() -> int:
    rows = await Tortoise.get_connection("default").execute_query_dict(
        "SELECT total_changes() AS n"
    )
    return int(rows[0]["n"])


@contextmanager
def read_only(path: Path) -> Iterator[sqlite3.Connection]:
    """A second connection, as a read-only command beside the writer would open it."""
    conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=0)
    try:
        yield conn
    finally:
        conn.close()


@contextmanager
def writable(path: Path) -> Iterator[sqlite3.Connection]:
    """A plain sqlite3 writer outside Tortoise (another program, or an older tad-tui)."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        yield conn
    finally:
        conn.close()


def schema(path: Path) -> dict[str, Any]:
    with read_only(path) as conn:
        objects = conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master").fetchall()
        index_columns = {
            (table, tuple(col[2] for col in conn.execute(f"PRAGMA index_info('{name}')")), unique)
            for table in ("telegram_group", "audio_file", "download_batch", "queue_entry")
            for _, name, unique, *_ in conn.execute(f"PRAGMA index_list('{table}')")
        }
        applied = conn.execute("SELECT app, name, applied_at FROM tortoise_migrations").fetchall()
    return {
        "tables": {name for kind, name, _, _ in objects if kind == "table"},
        "triggers": {name: table for kind, name, table, _ in objects if kind == "trigger"},
        "sql": {name: sql for _, name, _, sql in objects},
        "indexes": index_columns,
        "applied": applied,
    }


async def create_at_first_migration(path: Path) -> None:
    """An "older" database: only 0001 applied, as a previous tad-tui release left it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    await migrate(config=tortoise_config(path), app_labels=["models"], target="models.0001_initial")
    await Tortoise.close_connections()


def insert_old_rows(path: Path) -> None:
    with writable(path) as conn:
        conn.execute(
            "INSERT INTO telegram_group (group_id, title, kind, last_message_id, audio_count,"
            " created_at) VALUES (?, 'Prague Radio', 'channel', 0, 0, '2024-01-01 00:00:00+00:00')",
            (GROUP_ID,),
        )
        for message_id, title in ((7, "Symphony No. 9"), (8, "Rusalka")):
            conn.execute(
                "INSERT INTO audio_file (file_id, file_unique_id, file_size, title, performer,"
                " status, downloaded_bytes, checksum_verified, download_attempts, resume_offset,"
                " message_id, document_id, access_hash, file_reference, dc_id, posted_at,"
                " group_id) VALUES (?, ?, 10, ?, 'Antonín Dvořák', 'pending', 0, 0, 0, 0, ?,"
                " 1, 2, x'00', 2, '2024-01-01 00:00:00+00:00', ?)",
                (f"{GROUP_ID}_{message_id}", str(message_id), title, message_id, GROUP_ID),
            )


def worker_threads() -> list[threading.Thread]:
    deadline = time.monotonic() + 2
    while True:
        alive = [t for t in threading.enumerate() if "_connection_worker_thread" in t.name]
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.01)


# --- schema and migrations -----------------------------------------------------------------------


async def test_fresh_database_has_tables_indexes_triggers_and_pragmas(store: Path) -> None:
    found = schema(store)
    assert {
        "telegram_group",
        "audio_file",
        "download_batch",
        "queue_entry",
        "audio_search",
        "tortoise_migrations",
    } <= found["tables"]
    assert {
        ("audio_file", ("file_id",), 1),
        ("audio_file", ("group_id", "message_id"), 1),
        ("audio_file", ("group_id", "status"), 0),
        ("audio_file", ("file_unique_id",), 0),
        ("audio_file", ("status",), 0),
        ("audio_file", ("posted_at",), 0),
        ("queue_entry", ("audio_id",), 1),
        ("queue_entry", ("state", "priority", "rank"), 0),
        ("queue_entry", ("priority", "rank"), 0),
        ("queue_entry", ("batch_id",), 0),
        ("queue_entry", ("depends_on_id",), 0),
    } <= found["indexes"]
    assert found["triggers"] == {
        "audio_search_after_insert": "audio_file",
        "audio_search_after_update": "audio_file",
        "audio_search_after_delete": "audio_file",
        "audio_search_after_group_rename": "telegram_group",
    }
    fts = found["sql"]["audio_search"]
    assert "fts5" in fts and "remove_diacritics 2" in fts and "prefix = '2 3 4'" in fts
    assert {name for _, name, _ in found["applied"]} == known_migrations()
    assert "0002_search_index" in known_migrations()

    conn = Tortoise.get_connection("default")
    pragmas = {}
    for name in ("journal_mode", "busy_timeout", "synchronous", "foreign_keys"):
        _, rows = await conn.execute_query(f"PRAGMA {name}")
        pragmas[name] = rows[0][0]
    expected = {"journal_mode": "wal", "busy_timeout": 5000, "synchronous": 1, "foreign_keys": 1}
    assert pragmas == expected  # synchronous 1 is NORMAL


async def test_reopening_applies_nothing(store: Path) -> None:
    before = schema(store)
    await close_store()
    await open_store(store)
    after = schema(store)
    assert after["applied"] == before["applied"]  # same rows, same applied_at
    assert after["sql"] == before["sql"]


async def test_older_schema_is_upgraded_and_keeps_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "library.sqlite3"
    await create_at_first_migration(path)
    insert_old_rows(path)
    assert "audio_search" not in schema(path)["tables"]

    await open_store(path)
    try:
        assert {name for _, name, _ in schema(path)["applied"]} == known_migrations()
        titles = [audio.title for audio in await AudioFile.all().order_by("message_id")]
        assert titles == ["Symphony No. 9", "Rusalka"]
        group = await TelegramGroup.get(group_id=GROUP_ID)
        assert group.created_at == datetime(2024, 1, 1, tzinfo=UTC)
        # The new index covers rows written before it existed, group titles included.
        assert len(await search("dvorak")) == 2
        assert len(await search("group_title:prague")) == 2
        assert await search("rusalka") == [(await AudioFile.get(message_id=8)).id]
    finally:
        await close_store()


async def test_search_index_migration_rolls_back_and_reapplies(store: Path) -> None:
    group = await make_group()
    audio = await make_audio(group, 1, title="Largo")
    await close_store()
    await migrate(config=tortoise_config(store), target="models.0001_initial")
    await Tortoise.close_connections()
    rolled_back = schema(store)
    assert "audio_search" not in rolled_back["tables"] and rolled_back["triggers"] == {}

    await open_store(store)
    assert await search("largo") == [audio.id]


def audio_columns(path: Path) -> set[str]:
    with read_only(path) as conn:
        return {row[1] for row in conn.execute("PRAGMA table_info('audio_file')")}


async def test_source_md5_column_is_added_to_an_older_library_and_rolled_back(tmp_path: Path) -> None:
    path = tmp_path / "library.sqlite3"
    await create_at_first_migration(path)
    insert_old_rows(path)
    await open_store(path)
    assert "source_md5" in audio_columns(path)
    assert [row.source_md5 for row in await AudioFile.all()] == [None, None]
    await close_store()
    # Rolling the column back rebuilds audio_file: the search index is dropped around it and rebuilt.
    await migrate(config=tortoise_config(path), target="models.0002_search_index")
    await Tortoise.close_connections()
    assert "source_md5" not in audio_columns(path)
    assert set(schema(path)["triggers"]) >= {"audio_search_after_insert", "audio_search_after_update"}
    await open_store(path)
    assert len(await search("dvorak")) == 2
    audio = await AudioFile.get(message_id=7)
    audio.title = "Largo"
    await audio.save()
    assert await search("largo") == [audio.id]


async def test_first_start_killed_after_the_column_was_added_is_resumed(tmp_path: Path) -> None:
    path = tmp_path / "library.sqlite3"
    await migrate(config=tortoise_config(path), app_labels=["models"], target="models.0002_search_index")
    await Tortoise.close_connections()
    with writable(path) as conn:  # killed after the ALTER TABLE, before Tortoise recorded 0003
        conn.execute("ALTER TABLE audio_file ADD COLUMN source_md5 VARCHAR(32)")
    await open_store(path)
    assert {name for _, name, _ in schema(path)["applied"]} == known_migrations()
    assert "source_md5" in audio_columns(path)


async def test_queue_note_column_is_added_to_an_older_library_and_rolled_back(tmp_path: Path) -> None:
    path = tmp_path / "library.sqlite3"
    await create_at_first_migration(path)
    insert_old_rows(path)
    await open_store(path)
    try:
        assert "note" in table_columns(path, "queue_entry")
        audio = await AudioFile.get(message_id=7)
        entry = await QueueEntry.create(audio=audio, rank=RANK_GAP, note="paused for a critical download")
        assert (await QueueEntry.get(id=entry.pk)).note == "paused for a critical download"
    finally:
        await close_store()
    await migrate(config=tortoise_config(path), target="models.0003_source_md5")
    await Tortoise.close_connections()
    assert "note" not in table_columns(path, "queue_entry")
    await open_store(path)  # applied again, the entry kept
    try:
        assert [entry.note for entry in await QueueEntry.all()] == [None]
    finally:
        await close_store()


def table_columns(path: Path, table: str) -> set[str]:
    with read_only(path) as conn:
        return {row[1] for row in conn.execute(f"PRAGMA table_info('{table}')")}


_OPEN_AT_THE_SIGNAL = """
import asyncio, pathlib, sys, time
from tad_tui.store.db import close_store, open_store
go = pathlib.Path(sys.argv[2])
while not go.exists():
    time.sleep(0.001)
async def main():
    await open_store(pathlib.Path(sys.argv[1]))
    await close_store()
asyncio.run(main())
"""


@pytest.mark.parametrize("start", ["new", "older"])
async def test_two_processes_opening_one_library_at_once_both_succeed(tmp_path: Path, start: str) -> None:
    """A download and ``performance`` started together, or two commands after an upgrade: one
    process applies the migrations, the other waits for it and finds them applied."""
    for attempt in range(6):
        path = tmp_path / str(attempt) / "library.sqlite3"
        if start == "older":
            await create_at_first_migration(path)
        go = tmp_path / f"go{attempt}"
        processes = [
            subprocess.Popen(
                [sys.executable, "-c", _OPEN_AT_THE_SIGNAL, str(path), str(go)],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            )
            for _ in range(2)
        ]
        await asyncio.sleep(0.5)  # both started and waiting for the signal
        go.touch()
        for process in processes:
            _, err = process.communicate(timeout=60)
            assert process.returncode == 0, err
        assert {name for _, name, _ in schema(path)["applied"]} == known_migrations()


async def test_first_start_killed_after_the_migrations_table_is_resumed(tmp_path: Path) -> None:
    path = tmp_path / "library.sqlite3"
    await open_store(path)
    await close_store()
    with writable(path) as conn:  # as if killed right after Tortoise created its own table
        for kind, name in conn.execute(
            "SELECT type, name FROM sqlite_master WHERE type IN ('table', 'trigger')"
            " AND name NOT LIKE 'sqlite%' AND name NOT LIKE 'audio_search_%'"
            " AND name != 'tortoise_migrations'"
        ).fetchall():
            conn.execute(f'DROP {kind} IF EXISTS "{name}"')
        conn.execute("DELETE FROM tortoise_migrations")
    await open_store(path)
    assert {name for _, name, _ in schema(path)["applied"]} == known_migrations()
    assert await search("anything") == []


async def test_models_and_migrations_are_in_step() -> None:
    """A model change without a migration fails here (the fix: run makemigrations, see db.py)."""
    async with TortoiseContext() as ctx:
        await ctx.init(config=TORTOISE_ORM)
        assert ctx.apps is not None
        writers = await MigrationAutodetector(ctx.apps, TORTOISE_ORM["apps"]).changes()
    assert [op.describe() for writer in writers for op in writer.operations] == []


# --- refusing files tad-tui must not touch -------------------------------------------------------


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.mark.parametrize(
    "content",
    [b"\x00\xffthis is no database\n" * 300, b"SQLite format 3\x00" + b"\x07" * 50],
    ids=["garbage", "short-header"],
)
async def test_corrupt_file_is_reported_and_left_untouched(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "library.sqlite3"
    path.write_bytes(content)
    with pytest.raises(StoreError) as caught:
        await open_store(path)
    message = str(caught.value)
    assert str(path) in message
    assert "corrupt" in message and "not a tad-tui database" in message and "backup" in message
    assert snapshot(tmp_path) == {"library.sqlite3": content}
    assert worker_threads() == []


@pytest.mark.parametrize("after", [0, 0.0002, 0.0005, 0.001, 0.002, 0.003, 0.005, 0.01, 0.5])
async def test_a_task_cancelled_in_a_transaction_at_any_moment_leaves_the_library_usable(store: Path, after: float) -> None:
    """Cancelled while BEGIN runs (Tortoise's in_transaction then kept the connection's lock for
    good and every later query of the process waited forever), inside, or while it commits: other
    queries go on at once, and the transaction's rows are there whole or not at all."""

    async def two_rows(group_id: int = GROUP_ID) -> None:
        async with transaction():
            group = await make_group(group_id, title="inside")
            await make_audio(group, 1)

    writer = asyncio.create_task(two_rows())
    await asyncio.sleep(0)  # it takes the lock and awaits BEGIN
    await asyncio.sleep(after)
    writer.cancel()
    await asyncio.gather(writer, return_exceptions=True)
    groups = await asyncio.wait_for(TelegramGroup.filter(title="inside").count(), 5)
    assert (groups, await AudioFile.all().count()) in {(0, 0), (1, 1)}
    await asyncio.wait_for(two_rows(GROUP_ID + 1), 5)  # and the next transaction starts and commits
    assert await TelegramGroup.filter(title="inside").count() == groups + 1


async def test_truncated_database_is_reported_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "library.sqlite3"
    await open_store(path)
    group = await make_group()
    for message_id in range(1, 200):
        await make_audio(group, message_id, title="x" * 500)
    await close_store()
    full = path.read_bytes()
    path.write_bytes(full[: len(full) // 2])
    before = snapshot(tmp_path)

    with pytest.raises(StoreError, match="corrupt.*truncated") as caught:
        await open_store(path)
    assert str(path) in str(caught.value)
    assert snapshot(tmp_path) == before


async def test_a_checkpoint_under_way_is_not_taken_for_truncation(tmp_path: Path) -> None:
    """Another process's checkpoint copies the log's pages into the main file, page 1 (the new
    page count) first: caught between the two, the main file is shorter than its header says while
    the log still holds every page. Opening then must succeed with every row (CI saw two processes
    opening one library at once refuse it as "truncated")."""
    path = tmp_path / "live" / "library.sqlite3"
    await open_store(path)
    await close_store()
    writer = sqlite3.connect(path)
    writer.execute("PRAGMA wal_autocheckpoint = 0")
    with writer:
        writer.execute("CREATE TABLE filler (x TEXT)")
        writer.executemany("INSERT INTO filler VALUES (?)", [("x" * 500,) for _ in range(400)])
    copy = tmp_path / "copy" / "library.sqlite3"
    copy.parent.mkdir()
    main, wal = path.read_bytes(), Path(f"{path}-wal").read_bytes()
    writer.close()
    page_size = int.from_bytes(main[16:18], "big")
    frames = [wal[at : at + 24 + page_size] for at in range(32, len(wal), 24 + page_size)]
    newest_page_one = [frame[24:] for frame in frames if int.from_bytes(frame[:4], "big") == 1][-1]
    copy.write_bytes(newest_page_one + main[page_size:])  # the checkpoint's first write
    Path(f"{copy}-wal").write_bytes(wal)
    pages_said = int.from_bytes(newest_page_one[28:32], "big")
    assert copy.stat().st_size < pages_said * page_size  # what the old check called truncated

    await open_store(copy)
    await close_store()
    with closing(sqlite3.connect(copy)) as reader:
        assert reader.execute("SELECT count(*) FROM filler").fetchone() == (400,)


async def test_sqlite_file_of_another_program_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with writable(path) as conn:
        conn.execute("CREATE TABLE contacts (name TEXT)")
    before = snapshot(tmp_path)
    with pytest.raises(StoreError, match="not a tad-tui database"):
        await open_store(path)
    assert snapshot(tmp_path) == before


async def test_database_of_a_newer_version_is_refused(store: Path) -> None:
    await close_store()
    with writable(store) as conn:
        conn.execute(
            "INSERT INTO tortoise_migrations (app, name, applied_at)"
            " VALUES ('models', '0999_from_the_future', '2030-01-01')"
        )
    with pytest.raises(StoreError, match="newer tad-tui.*0999_from_the_future") as caught:
        await open_store(store)
    assert str(store) in str(caught.value)
    assert worker_threads() == []


async def test_database_locked_by_another_writer_is_reported_as_busy(tmp_path: Path) -> None:
    path = tmp_path / "library.sqlite3"
    await create_at_first_migration(path)  # so open_store has a migration to write
    with writable(path) as other:
        other.execute("BEGIN IMMEDIATE")
        started = time.monotonic()
        with pytest.raises(StoreError, match="locked") as caught:
            await open_store(path, busy_timeout_ms=200)
        assert time.monotonic() - started < 4  # the given timeout, not the 5 s default
        assert str(path) in str(caught.value)
        assert worker_threads() == []
    await open_store(path)  # once the other writer is gone, the upgrade goes through
    try:
        assert "audio_search" in schema(path)["tables"]
    finally:
        await close_store()


async def test_close_store_leaves_no_aiosqlite_thread(store: Path) -> None:
    await make_group()
    assert worker_threads()  # the open store has its worker
    await close_store()
    assert worker_threads() == []


# --- full-text index -----------------------------------------------------------------------------


async def test_search_index_follows_insert_update_delete(store: Path) -> None:
    group = await make_group()
    dvorak = await make_audio(group, 1, title="Symphony No. 9", performer="Antonín Dvořák")
    beethoven = await make_audio(
        group, 2, title="Ode an die Freude", performer="Ludwig van Beethoven", album=None
    )
    await make_audio(group, 3, title=None, performer=None, file_name="night_drive.mp3")

    assert await search("dvorak") == [dvorak.id]  # diacritics folded
    assert await search("dvořák") == [dvorak.id]
    assert await search("beeth*") == [beethoven.id]  # prefix index
    assert len(await search("night_drive")) == 1
    assert len(await search("classical")) == 3  # group title

    beethoven.title = "Moonlight Sonata"
    beethoven.album = "Piano Sonatas"
    await beethoven.save()
    assert await search("ode") == []
    assert await search("moonlight") == [beethoven.id]
    assert await search("album:piano") == [beethoven.id]

    await AudioFile.filter(id=dvorak.id).update(performer="Bedřich Smetana")
    assert await search("dvorak") == []
    assert await search("smetana") == [dvorak.id]

    await beethoven.delete()
    assert await search("moonlight") == []
    assert await search("beeth*") == []


async def test_search_index_follows_group_rename_move_and_delete(store: Path) -> None:
    group = await make_group(title="Old Name")
    other = await make_group(group_id=-1001000000002, title="Jazz Corner")
    first = await make_audio(group, 1, title="Largo")
    second = await make_audio(group, 2, title="Humoresque")

    group.title = "Czech Masters"
    await group.save()
    assert await search("old") == []
    assert await search("czech") == [first.id, second.id]

    second.group = other
    await second.save()
    assert await search("czech") == [first.id]
    assert await search("jazz") == [second.id]

    await other.delete()  # cascades to its audio files, and so out of the index
    assert await AudioFile.filter(id=second.id).exists() is False
    assert await search("humoresque") == []

    conn = Tortoise.get_connection("default")
    await conn.execute_script("INSERT INTO audio_search(audio_search) VALUES('integrity-check')")


# --- constraints and field types -----------------------------------------------------------------


async def test_file_id_is_unique(store: Path) -> None:
    group = await make_group()
    await make_audio(group, 1)
    with pytest.raises(IntegrityError):
        await make_audio(group, 2, file_id=f"{GROUP_ID}_1")


async def test_group_and_message_id_are_unique_together(store: Path) -> None:
    group = await make_group()
    other = await make_group(group_id=-1001000000002)
    await make_audio(group, 1)
    await make_audio(other, 1)  # the same message id in another chat is fine
    with pytest.raises(IntegrityError):
        await make_audio(group, 1, file_id="another-id")


async def test_enums_and_values_round_trip(store: Path) -> None:
    group = await TelegramGroup.create(
        group_id=GROUP_ID, title="Tokyo", kind=GroupKind.MEGAGROUP, access_hash=-(2**62)
    )
    audio = await make_audio(group, 42, status=FileStatus.FAILED, file_reference=b"\x00\xff\x10")
    await QueueEntry.create(
        audio=audio, priority=Priority.HIGH, state=QueueState.PAUSED, rank=RANK_GAP
    )

    fresh = await AudioFile.get(id=audio.id).prefetch_related("group", "queue_entry")
    assert fresh.status is FileStatus.FAILED
    assert fresh.group.kind is GroupKind.MEGAGROUP
    assert fresh.group.group_id == GROUP_ID and fresh.group.access_hash == -(2**62)
    assert fresh.file_reference == b"\x00\xff\x10"
    assert fresh.posted_at == POSTED and fresh.posted_at.tzinfo is not None
    entry = fresh.queue_entry
    assert entry.priority is Priority.HIGH and entry.state is QueueState.PAUSED
    assert entry.rank == RANK_GAP

    with read_only(store) as conn:
        raw = conn.execute(
            "SELECT a.status, g.kind, q.priority, q.state FROM audio_file a"
            " JOIN telegram_group g USING (group_id) JOIN queue_entry q ON q.audio_id = a.id"
        ).fetchone()
    assert raw == ("failed", "megagroup", 2, "paused")


async def test_defaults(store: Path) -> None:
    await make_group()
    group = await TelegramGroup.get(group_id=GROUP_ID)
    await make_audio(group, 1)
    audio = await AudioFile.get(message_id=1)
    await QueueEntry.create(audio=audio, rank=await next_rank())
    entry = await QueueEntry.get(audio_id=audio.id)
    assert (group.last_message_id, group.audio_count) == (0, 0)
    assert audio.status is FileStatus.PENDING and audio.checksum_verified is False
    assert (audio.downloaded_bytes, audio.resume_offset, audio.download_attempts) == (0, 0, 0)
    assert entry.priority is Priority.NORMAL and entry.state is QueueState.QUEUED


# --- queue order ---------------------------------------------------------------------------------


def test_rank_between() -> None:
    assert rank_between(None, None) == RANK_GAP
    assert rank_between(RANK_GAP, None) == 2 * RANK_GAP
    assert rank_between(None, RANK_GAP) == 0
    assert rank_between(RANK_GAP, 2 * RANK_GAP) == RANK_GAP + RANK_GAP // 2
    assert rank_between(10, 11) is None


async def queue_of(count: int) -> list[QueueEntry]:
    group = await make_group()
    entries = []
    for message_id in range(1, count + 1):
        audio = await make_audio(group, message_id)
        rank = await next_rank()
        entries.append(await QueueEntry.create(audio=audio, rank=rank))
    return entries


async def order(priority: Priority = Priority.NORMAL) -> list[int]:
    return [entry.id for entry in await QueueEntry.filter(priority=priority).order_by("rank")]


async def test_moving_a_queue_entry_writes_one_row(store: Path) -> None:
    entries = await queue_of(5)
    assert [e.rank for e in entries] == [RANK_GAP * n for n in range(1, 6)]
    stamps = dict(await QueueEntry.all().values_list("id", "updated_at"))
    first, second, *_, last = entries

    before = await total_changes()
    await move_entry(last, Priority.NORMAL, above=first, below=second)
    assert await total_changes() - before == 1

    assert await order() == [first.id, last.id, second.id, entries[2].id, entries[3].id]
    after = dict(await QueueEntry.all().values_list("id", "updated_at"))
    assert [i for i in stamps if stamps[i] != after[i]] == [last.id]

    before = await total_changes()
    await move_entry(first, Priority.CRITICAL, above=None, below=None)
    assert await total_changes() - before == 1
    assert await order(Priority.CRITICAL) == [first.id]


async def test_moves_into_one_spot_keep_order_after_the_gap_runs_out(store: Path) -> None:
    entries = await queue_of(4)
    top, *rest = entries
    for _ in range(40):  # halving a 2**32 gap 40 times forces a renumber on the way
        current = await order()
        moved = await QueueEntry.get(id=current[-1])
        above = await QueueEntry.get(id=current[0])
        below = await QueueEntry.get(id=current[1])
        await move_entry(moved, Priority.NORMAL, above=above, below=below)
        assert (await order())[:2] == [top.id, moved.id]
    ranks = [entry.rank for entry in await QueueEntry.all()]
    assert len(set(ranks)) == len(entries)
    assert max(ranks) <= RANK_GAP * len(entries)  # renumbered at least once
    in_order = [await QueueEntry.get(id=i) for i in await order()]
    with pytest.raises(ValueError):
        await move_entry(top, Priority.NORMAL, above=in_order[2], below=in_order[1])


# --- concurrency ---------------------------------------------------------------------------------


async def test_reader_is_not_blocked_by_an_open_write_transaction(store: Path) -> None:
    group = await make_group()
    await make_audio(group, 1)
    writer = Tortoise.get_connection("default")
    # EXCLUSIVE: in a rollback journal this would shut readers out; in WAL it must not.
    await writer.execute_query("BEGIN EXCLUSIVE")
    try:
        await make_audio(group, 2)
        with read_only(store) as reader:
            assert reader.execute("SELECT count(*) FROM audio_file").fetchone() == (1,)
            assert reader.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    finally:
        await writer.execute_query("COMMIT")
    with read_only(store) as reader:
        assert reader.execute("SELECT count(*) FROM audio_file").fetchone() == (2,)


async def test_insert_rows_stores_what_create_stores_and_indexes_it(store: Path) -> None:
    from tad_tui.store.bulk import insert_rows

    group = await make_group()
    values: dict[str, Any] = {
        "file_name": "Prélude.flac", "mime_type": "audio/flac", "duration": 61, "title": "Prélude à l'après-midi",
        "performer": "Орфей", "posted_at": datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC),
    }
    made = await make_audio(group, 1, **values)
    twin = {
        "file_id": f"{GROUP_ID}_2", "file_unique_id": "5000000000002", "file_size": made.file_size,
        "group_id": group.group_id, "message_id": 2, "document_id": 5_000_000_000_002,
        "access_hash": made.access_hash, "file_reference": made.file_reference, "dc_id": made.dc_id, **values,
    }
    await insert_rows(AudioFile, [twin])
    rows = await Tortoise.get_connection("default").execute_query_dict("SELECT * FROM audio_file ORDER BY id")
    differ = {"id", "file_id", "file_unique_id", "message_id", "document_id"}
    assert len(rows) == 2
    assert {k: v for k, v in rows[0].items() if k not in differ} == {k: v for k, v in rows[1].items() if k not in differ}
    inserted = await AudioFile.get(message_id=2)  # read back as a model: defaults and types as create's
    assert (inserted.status, inserted.download_attempts, inserted.checksum_verified) == (made.status, 0, False)
    assert inserted.posted_at == made.posted_at
    assert await search("орфей") == [made.pk, inserted.pk]  # the triggers kept the search index


def _bulk_row(group: TelegramGroup, message_id: int, **values: Any) -> dict[str, Any]:
    return {
        "file_id": f"{group.group_id}_{message_id}", "file_unique_id": str(5_000_000_000_000 + message_id),
        "file_size": 1_000 + message_id, "group_id": group.group_id, "message_id": message_id,
        "document_id": 5_000_000_000_000 + message_id, "access_hash": -1, "file_reference": b"ref",
        "dc_id": 2, "posted_at": POSTED, **values,
    }


async def test_insert_rows_beyond_one_statement_stores_every_row_or_none(
    store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tad_tui.store import bulk

    monkeypatch.setattr(bulk, "_max_parameters", lambda: 100)  # 2 rows a statement (33 columns each)
    group = await make_group()
    await bulk.insert_rows(AudioFile, [_bulk_row(group, n, title=f"Nocturne {n}") for n in range(1, 8)])
    stored = await AudioFile.filter(group_id=group.group_id).order_by("message_id")
    assert [(row.message_id, row.title, row.file_size) for row in stored] == [
        (n, f"Nocturne {n}", 1_000 + n) for n in range(1, 8)
    ]
    assert await search("nocturne") == [row.pk for row in stored]
    # A row of the last statement breaks a constraint: the earlier statements' rows are undone too.
    clash = [_bulk_row(group, n) for n in range(10, 15)] + [_bulk_row(group, 3)]
    with pytest.raises(IntegrityError):
        await bulk.insert_rows(AudioFile, clash)
    assert await AudioFile.filter(group_id=group.group_id).count() == 7


async def test_insert_rows_fills_what_each_row_leaves_out_with_its_default(store: Path) -> None:
    from tad_tui.store.bulk import insert_rows

    group = await make_group()
    rows = [
        _bulk_row(group, 1),
        _bulk_row(group, 2, status=FileStatus.COMPLETED, downloaded_bytes=1_002, checksum_verified=True),
        {**_bulk_row(group, 3), "title": "Aria"},  # the same fields as the first, one more
        _bulk_row(group, 4),
    ]
    await insert_rows(AudioFile, rows)
    stored = {row.message_id: row for row in await AudioFile.filter(group_id=group.group_id)}
    assert [(r.status, r.downloaded_bytes, r.checksum_verified, r.title) for _, r in sorted(stored.items())] == [
        (FileStatus.PENDING, 0, False, None),
        (FileStatus.COMPLETED, 1_002, True, None),
        (FileStatus.PENDING, 0, False, "Aria"),
        (FileStatus.PENDING, 0, False, None),
    ]
