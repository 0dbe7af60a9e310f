"""The download engine against the simulated Telegram: queue, transfer, faults, resume, files."""

from __future__ import annotations

import asyncio
import errno
import hashlib
import os
import re
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import mutagen
import pytest

from tad_tui.config import Settings, default_settings
from tad_tui.download.events import (
    BatchProgress,
    EntryFinished,
    EntryProgress,
    EntryResumed,
    EntryStarted,
    EntryWaiting,
    Event,
    QueueIdle,
)
from tad_tui.engine import Engine
from tad_tui.library.scan import scan_group
from tad_tui.paths import Paths
from tad_tui.store import AudioFile, FileStatus, Priority, QueueEntry, QueueState, opened_store
from tad_tui.telegram.sim.catalogue import Catalogue
from tad_tui.telegram.sim.server import FaultRule, SimulatedTelegram
from tad_tui.telegram.source import TelethonSource


def _settings(**downloads: object) -> Settings:
    base = default_settings()
    return replace(
        base,
        downloads=replace(base.downloads, retry_delay=0.0, **downloads),  # type: ignore[arg-type]
    )


class Recorder:
    def __init__(self) -> None:
        self.events: list[Event] = []

    def __call__(self, event: Event) -> None:
        self.events.append(event)

    def of(self, kind: type) -> list:
        return [e for e in self.events if isinstance(e, kind)]

    def finished(self, outcome: str) -> list[EntryFinished]:
        return [e for e in self.of(EntryFinished) if e.outcome == outcome]


@pytest.fixture
async def engine(tmp_path: Path, source: TelethonSource) -> AsyncIterator[Engine]:
    paths = Paths(tmp_path / "data", output_override=tmp_path / "out")
    paths.ensure()
    async with opened_store(paths.db):
        engine = Engine(_settings(), paths, source)
        yield engine
        await engine.stop_downloads()


@pytest.fixture
def events(engine: Engine) -> Recorder:
    recorder = Recorder()
    engine.events.subscribe(recorder)
    return recorder


async def _queue_group(engine: Engine, username: str, **options: object) -> list[int]:
    info = await engine.resolve_group(username)
    await scan_group(engine.source, info)
    selection = await engine.select_for_download(info)
    scheduler = await engine.start_downloads()
    queued = await scheduler.enqueue([row.pk for row in selection.to_fetch], batch_name=info.title, **options)
    return queued.entry_ids


async def _run(engine: Engine):
    return await engine.scheduler.run(until_idle=True)


def _md5(path: str | Path) -> str:
    return hashlib.md5(Path(path).read_bytes()).hexdigest()


def _inside(path: Path, folder: Path) -> bool:
    return path.resolve().is_relative_to(folder.resolve())


async def test_classical_downloads_completely_with_checksums_and_tags(
    engine: Engine, events: Recorder, demo_catalogue: Catalogue, tmp_path: Path
) -> None:
    entries = await _queue_group(engine, "@tad_demo_classical")
    outcomes = await _run(engine)
    assert outcomes["downloaded"] == len(entries) and outcomes["failed"] == 0
    rows = await AudioFile.filter(status=FileStatus.COMPLETED)
    assert len(rows) == len(entries)
    retagged = 0
    for row in rows:
        path = Path(row.local_path)
        assert _inside(path, tmp_path / "out") and path.exists()
        assert row.checksum_md5 == _md5(path) and row.checksum_verified
        assert mutagen.File(path) is not None
        assert not Path(str(path) + ".part").exists() and row.partial_file_path is None
        source = demo_catalogue.document(row.document_id)
        assert row.source_md5 == source.md5  # the bytes as Telegram sent them are the source's
        if source.tags and source.cover is None:  # files with every tag and no cover are byte-identical
            assert row.checksum_md5 == source.md5
        else:  # the others got the tags from Telegram's attributes, or their cover, written in
            assert row.checksum_md5 != source.md5
            retagged += 1
    assert retagged > 0
    assert sorted(p.name for p in (tmp_path / "out").rglob("*.part")) == []
    batch = events.of(BatchProgress)[-1]
    assert (batch.done, batch.total, batch.failed) == (len(entries), len(entries), 0)
    assert events.of(QueueIdle) == [QueueIdle(len(entries), 0)]


async def test_missing_tags_are_written_from_telegram(engine: Engine, demo_catalogue: Catalogue) -> None:
    await _queue_group(engine, "@tad_demo_classical")
    await _run(engine)
    untagged = [
        m.file for m in demo_catalogue.group("tad_demo_classical").messages
        if m.file and not m.file.tags and m.file.title
    ]
    assert untagged
    for file in untagged:
        row = await AudioFile.get(document_id=file.document_id, group_id=-1001000000001)
        tags = mutagen.File(row.local_path, easy=True)
        assert tags is not None and tags.get("title") == [file.title]


async def test_second_run_downloads_nothing_and_skips_everything(engine: Engine) -> None:
    first = await _queue_group(engine, "@tad_demo_classical")
    await _run(engine)
    info = await engine.resolve_group("@tad_demo_classical")
    selection = await engine.select_for_download(info)
    assert selection.to_fetch == () and len(selection.already_downloaded) == len(first)


async def test_same_document_in_two_groups_is_fetched_once(engine: Engine, server: SimulatedTelegram) -> None:
    await _queue_group(engine, "@tad_demo_classical")
    await _run(engine)
    fetched = len(server.requests("GetFileRequest"))
    await _queue_group(engine, "@tad_demo_hostile")
    outcomes = await _run(engine)
    assert outcomes["skipped"] == 0  # the twin was filtered out before queueing
    twin_rows = await AudioFile.filter(group_id=-1001000000004)
    unique = {row.file_unique_id for row in await AudioFile.filter(group_id=-1001000000001)}
    shared = [row for row in twin_rows if row.file_unique_id in unique]
    assert len(shared) == 1 and shared[0].status == FileStatus.PENDING
    assert all(
        f"id={shared[0].document_id} " not in r.detail for r in server.requests("GetFileRequest")[fetched:]
    )


async def test_hostile_names_stay_inside_the_output_dir(engine: Engine, tmp_path: Path) -> None:
    await _queue_group(engine, "@tad_demo_hostile")
    outcomes = await _run(engine)
    assert outcomes["failed"] == 0
    made = [p for p in tmp_path.rglob("*") if p.is_file() and "data" not in p.relative_to(tmp_path).parts]
    assert made and all(_inside(p, tmp_path / "out") for p in made)
    names = [p.name for p in (tmp_path / "out").rglob("*") if p.is_file()]
    assert len({n.casefold() for n in names}) == len(names)  # no clobbering on case-insensitive disks
    assert all(len(n.encode()) <= 255 for n in names)


async def test_a_big_file_goes_over_several_connections(engine: Engine, server: SimulatedTelegram) -> None:
    await _queue_group(engine, "@tad_demo_mixes")
    await _run(engine)
    connections = {r.connection for r in server.requests("GetFileRequest")}
    assert len(connections) >= 4


async def test_flood_wait_mid_file_holds_requests_then_completes(
    engine: Engine, events: Recorder, server: SimulatedTelegram
) -> None:
    await _queue_group(engine, "@tad_demo_mixes")
    server.inject(FaultRule("GetFileRequest", "FLOOD_WAIT_2", skip=6))
    outcomes = await _run(engine)
    assert outcomes["failed"] == 0
    assert any(e.reason == "waiting 2 s: flood wait" for e in events.of(EntryWaiting))
    assert server.flood_violations == []
    for row in await AudioFile.filter(status=FileStatus.COMPLETED):
        assert row.checksum_md5 == _md5(row.local_path)


async def test_expired_file_reference_mid_file_is_refreshed(
    engine: Engine, events: Recorder, server: SimulatedTelegram, demo_catalogue: Catalogue
) -> None:
    biggest = max((m.file for m in demo_catalogue.group("tad_demo_mixes").messages), key=lambda f: f.size)
    engine.source.client.bandwidth_per_connection = 8 * 1024 * 1024  # slow enough to expire mid-file
    await _queue_group(engine, "@tad_demo_mixes")
    entry_id = (await QueueEntry.get(audio__document_id=biggest.document_id)).pk
    expired = False

    def expire_once(event: Event) -> None:
        nonlocal expired
        if not expired and isinstance(event, EntryProgress) and event.entry_id == entry_id:
            if event.downloaded_bytes >= 8 * 1024 * 1024:
                expired = True
                server.expire_file_reference(biggest.document_id)

    engine.events.subscribe(expire_once)
    outcomes = await _run(engine)
    failures = [(r.file_id, r.error_message) for r in await AudioFile.filter(status=FileStatus.FAILED)]
    assert expired and outcomes["failed"] == 0, failures
    assert server.requests("GetMessagesRequest")
    row = await AudioFile.get(document_id=biggest.document_id)
    assert row.source_md5 == biggest.md5


async def test_dropped_connections_mid_file_reconnect_and_complete(
    engine: Engine, server: SimulatedTelegram, demo_catalogue: Catalogue
) -> None:
    await _queue_group(engine, "@tad_demo_mixes")
    server.inject(FaultRule("GetFileRequest", disconnect=True, skip=5, times=3))
    outcomes = await _run(engine)
    assert outcomes["failed"] == 0
    for message in demo_catalogue.group("tad_demo_mixes").messages:
        row = await AudioFile.get(document_id=message.file.document_id)
        assert row.source_md5 == message.file.md5


async def test_short_parts_are_never_written_as_good_data(
    engine: Engine, server: SimulatedTelegram, demo_catalogue: Catalogue, monkeypatch: pytest.MonkeyPatch
) -> None:
    from telethon.tl import types

    original = server._on_GetFileRequest
    answered = 0

    def truncating(request, **kwargs):
        nonlocal answered
        result = original(request, **kwargs)
        answered += 1
        if answered in (3, 7) and len(result.bytes) > 10:
            return types.upload.File(type=result.type, mtime=0, bytes=result.bytes[:-10])
        return result

    monkeypatch.setattr(server, "_on_GetFileRequest", truncating)
    await _queue_group(engine, "@tad_demo_mixes")
    assert (await _run(engine))["failed"] == 0
    for message in demo_catalogue.group("tad_demo_mixes").messages:
        assert (await AudioFile.get(document_id=message.file.document_id)).source_md5 == message.file.md5


async def test_full_disk_fails_that_file_keeps_its_parts_and_others_go_on(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, demo_catalogue: Catalogue
) -> None:
    biggest = max((m.file for m in demo_catalogue.group("tad_demo_mixes").messages), key=lambda f: f.size)
    real_pwrite = os.pwrite
    writes: dict[int, int] = {}

    def filling_pwrite(fd: int, data: bytes, offset: int) -> int:
        size = os.fstat(fd).st_size
        if len(data) == 1024 * 1024 and offset >= 20 * 1024 * 1024 and size >= 20 * 1024 * 1024:
            writes[fd] = writes.get(fd, 0) + 1
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_pwrite(fd, data, offset)

    monkeypatch.setattr(os, "pwrite", filling_pwrite)
    await _queue_group(engine, "@tad_demo_mixes")
    outcomes = await _run(engine)
    failed = await AudioFile.get(document_id=biggest.document_id)
    assert failed.status == FileStatus.FAILED and "disk full" in failed.error_message
    kept = failed.downloaded_bytes
    assert kept >= 10 * 1024 * 1024 and Path(failed.partial_file_path).exists()
    assert outcomes["downloaded"] == len(demo_catalogue.group("tad_demo_mixes").messages) - 1
    # Space comes back: a retry keeps what was written and fetches only the rest.
    monkeypatch.setattr(os, "pwrite", real_pwrite)
    entry = await QueueEntry.get(audio_id=failed.pk)
    await engine.scheduler.retry(entry.pk)
    resumed: list[EntryResumed] = []
    engine.events.subscribe(lambda e: resumed.append(e) if isinstance(e, EntryResumed) else None)
    assert (await _run(engine))["downloaded"] == 1
    assert resumed and resumed[0].downloaded_bytes == kept
    assert (await AudioFile.get(pk=failed.pk)).source_md5 == biggest.md5


async def test_interrupted_download_resumes_where_it_stopped(
    engine: Engine, events: Recorder, server: SimulatedTelegram, demo_catalogue: Catalogue
) -> None:
    biggest = max((m.file for m in demo_catalogue.group("tad_demo_mixes").messages), key=lambda f: f.size)
    # Slow enough that the stop below comes mid-file however busy the machine (at 4 MiB/s a
    # connection, a late stop once found the whole file done and renamed: nothing left to resume).
    engine.source.client.bandwidth_per_connection = 1024 * 1024
    await _queue_group(engine, "@tad_demo_mixes")
    engine.scheduler.max_concurrent = 1
    await engine.scheduler.set_priority(
        (await QueueEntry.get(audio__document_id=biggest.document_id)).pk, Priority.CRITICAL
    )
    runner = asyncio.create_task(_run(engine))
    # Stopped once a save of the part map has recorded parts (saves come once a second).
    while (await AudioFile.get(document_id=biggest.document_id)).downloaded_bytes < 6 * 1024 * 1024:
        await asyncio.sleep(0.05)
    runner.cancel()
    await asyncio.gather(runner, return_exceptions=True)
    row = await AudioFile.get(document_id=biggest.document_id)
    assert row.downloaded_bytes > 0 and row.resume_state and row.status != FileStatus.COMPLETED
    assert row.partial_file_path and os.path.exists(row.partial_file_path)
    engine.source.client.bandwidth_per_connection = 4 * 1024 * 1024
    before = len(server.requests("GetFileRequest"))
    await engine.scheduler.load()
    await _run(engine)
    resumed = [e for e in events.of(EntryResumed) if e.file_id == row.file_id]
    # What was on disk is kept (resume_offset, the unbroken start of the file, may still be 0: parts
    # arrive out of order, and on a busy machine the first one was still in flight at the stop).
    assert resumed and resumed[0].downloaded_bytes > 0
    refetched = [
        r for r in server.requests("GetFileRequest")[before:]
        if f"id={biggest.document_id} " in r.detail and "thumb=" not in r.detail  # the cover is not the file
    ]
    # Bytes asked for again, each range once (parts shrink to a download's share, so not 1 MiB each).
    ranges = {tuple(int(v) for v in re.findall(r"(?:offset|limit)=(\d+)", r.detail)) for r in refetched}
    # What was kept is not asked for again: the rest, plus at most one part's rounding at the end.
    missing = biggest.size - resumed[0].downloaded_bytes
    assert sum(limit for _, limit in ranges) < missing + 2**20, (len(ranges), missing)
    assert (await AudioFile.get(pk=row.pk)).source_md5 == biggest.md5


async def test_damaged_part_file_is_detected_and_those_parts_fetched_again(
    engine: Engine, server: SimulatedTelegram, demo_catalogue: Catalogue
) -> None:
    biggest = max((m.file for m in demo_catalogue.group("tad_demo_mixes").messages), key=lambda f: f.size)
    engine.source.client.bandwidth_per_connection = 4 * 1024 * 1024  # slow enough to stop mid-file
    await _queue_group(engine, "@tad_demo_mixes")
    runner = asyncio.create_task(_run(engine))
    while (await AudioFile.get(document_id=biggest.document_id)).downloaded_bytes < 4 * 1024 * 1024:
        await asyncio.sleep(0.05)
    runner.cancel()
    await asyncio.gather(runner, return_exceptions=True)
    row = await AudioFile.get(document_id=biggest.document_id)
    with open(row.partial_file_path, "r+b") as handle:
        handle.seek(100)
        handle.write(b"\xff" * 64)  # part 0 damaged on disk
    await engine.scheduler.load()
    await _run(engine)
    assert (await AudioFile.get(pk=row.pk)).source_md5 == biggest.md5


async def test_dependency_waits_for_its_prerequisite_and_fails_with_it(engine: Engine, events: Recorder) -> None:
    entries = await _queue_group(engine, "@tad_demo_classical")
    scheduler = engine.scheduler
    first, second = entries[0], entries[1]
    dependent = await QueueEntry.get(id=second)
    dependent.depends_on_id = first
    await dependent.save()
    await scheduler.move(second, "top")
    await _run(engine)
    started = [e.entry_id for e in events.of(EntryStarted)]
    finished_first = next(i for i, e in enumerate(events.events) if isinstance(e, EntryFinished) and e.entry_id == first)
    started_second = next(i for i, e in enumerate(events.events) if isinstance(e, EntryStarted) and e.entry_id == second)
    assert second in started and finished_first < started_second


async def test_failed_dependency_fails_the_dependent_with_that_reason(engine: Engine) -> None:
    entries = await _queue_group(engine, "@tad_demo_classical")
    broken = await QueueEntry.get(id=entries[0]).prefetch_related("audio")
    broken.audio.access_hash += 1  # Telegram will refuse this file
    await broken.audio.save()
    dependent = await QueueEntry.get(id=entries[1])
    dependent.depends_on_id = entries[0]
    await dependent.save()
    await _run(engine)
    assert (await QueueEntry.get(id=entries[0])).state == QueueState.FAILED
    dependent = await QueueEntry.get(id=entries[1])
    assert dependent.state == QueueState.FAILED
    assert dependent.error_message == f"depends on queue entry {entries[0]}, which failed"


async def test_reordering_changes_the_start_order_and_writes_one_row(engine: Engine, events: Recorder) -> None:
    entries = await _queue_group(engine, "@tad_demo_classical")
    engine.scheduler.max_concurrent = 1
    engine.scheduler.adaptive = False  # one file at a time whatever its size: they start in queue order
    before = {e.pk: e.updated_at for e in await QueueEntry.all()}
    last = entries[-1]
    await engine.scheduler.move(last, "top")
    after = {e.pk: e.updated_at for e in await QueueEntry.all()}
    assert [pk for pk in before if before[pk] != after[pk]] == [last]
    await engine.scheduler.move(entries[0], "bottom")
    await engine.scheduler.move(entries[2], "up")
    await engine.scheduler.set_priority(entries[5], Priority.HIGH)
    order = [row.id for row in await engine.queue_rows()]
    assert order[0] == entries[5] and order[1] == last and order[-1] == entries[0]
    assert order.index(entries[2]) < order.index(entries[1])
    await _run(engine)
    started = [e.entry_id for e in events.of(EntryStarted)]
    assert started == order


async def test_pause_resume_cancel_and_retry(engine: Engine, events: Recorder, tmp_path: Path) -> None:
    entries = await _queue_group(engine, "@tad_demo_mixes")
    scheduler = engine.scheduler
    await scheduler.pause(entries[0])
    await scheduler.cancel(entries[1])
    await _run(engine)
    states = {e.pk: e.state for e in await QueueEntry.all()}
    assert states[entries[0]] == QueueState.PAUSED and states[entries[1]] == QueueState.CANCELLED
    assert all(states[e] == QueueState.COMPLETED for e in entries[2:])
    await scheduler.resume(entries[0])
    await scheduler.retry(entries[1])
    await _run(engine)
    assert all(e.state == QueueState.COMPLETED for e in await QueueEntry.all())


async def test_queue_survives_a_restart_in_order(engine: Engine, source: TelethonSource, tmp_path: Path) -> None:
    entries = await _queue_group(engine, "@tad_demo_classical")
    await engine.scheduler.move(entries[3], "top")
    order = [row.id for row in await engine.queue_rows()]
    reopened = Engine(_settings(), engine.paths, source)
    await reopened.start_downloads()
    assert [row.id for row in await reopened.queue_rows()] == order
    started: list[int] = []
    reopened.events.subscribe(lambda e: started.append(e.entry_id) if isinstance(e, EntryStarted) else None)
    reopened.scheduler.max_concurrent = 1
    reopened.scheduler.adaptive = False  # one file at a time whatever its size: they start in queue order
    await reopened.scheduler.run(until_idle=True)
    assert started == order


async def test_batch_actions_apply_to_every_entry(engine: Engine) -> None:
    entries = await _queue_group(engine, "@tad_demo_mixes")
    batch_id = (await QueueEntry.get(id=entries[0])).batch_id
    assert await engine.scheduler.on_batch(batch_id, "pause") == len(entries)
    assert {e.state for e in await QueueEntry.filter(batch_id=batch_id)} == {QueueState.PAUSED}
    assert (await _run(engine))["downloaded"] == 0
    await engine.scheduler.on_batch(batch_id, "resume")
    assert (await _run(engine))["downloaded"] == len(entries)


async def test_unwritable_folder_fails_that_file_with_words_and_others_go_on(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, demo_catalogue: Catalogue
) -> None:
    real_open = os.open

    def refusing_open(path, flags, *args):
        if str(path).endswith(".part") and "Sunrise" in str(path):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, flags, *args)

    monkeypatch.setattr(os, "open", refusing_open)
    entries = await _queue_group(engine, "@tad_demo_mixes")
    outcomes = await _run(engine)
    assert outcomes["failed"] == 1 and outcomes["downloaded"] == len(entries) - 1
    failed = await AudioFile.get(status=FileStatus.FAILED)
    assert failed.error_message.startswith("permission denied: cannot write to ")


def test_adaptive_concurrency_shrinks_on_trouble_and_grows_back(monkeypatch: pytest.MonkeyPatch) -> None:
    from tad_tui.download.health import CALM_STEP_SECONDS, TROUBLE_TAIL, Health

    now = [1000.0]
    monkeypatch.setattr("tad_tui.download.health.time.monotonic", lambda: now[0])
    health = Health()
    assert health.scale(8) == 8
    health.trouble(lasting=3)
    for _ in range(15):  # every worker and file meeting the same 3-second flood wait: one step down
        now[0] += 0.1
        health.trouble(lasting=3)
    assert health.scale(8) == 4
    now[0] += 2
    health.trouble()  # refusals just after the wait ended (its tail): the same trouble
    assert health.scale(8) == 4
    now[0] += TROUBLE_TAIL
    health.trouble()  # a new trouble after the first has passed: a second step
    assert health.scale(8) == 2 and health.scale(3) == 1
    health.calm()
    assert health.scale(8) == 2  # not yet: trouble was just now
    for _ in range(8):
        now[0] += CALM_STEP_SECONDS + 1
        health.calm()
    assert health.scale(8) == 8


async def test_crash_between_rename_and_database_write_is_finished_on_restart(
    engine: Engine, server: SimulatedTelegram, tmp_path: Path
) -> None:
    entries = await _queue_group(engine, "@tad_demo_mixes")
    await _run(engine)
    row = await AudioFile.get(queue_entry__id=entries[0])
    final, md5 = row.local_path, row.checksum_md5
    # As if killed right after os.replace: the file is in place, the row still says "downloading".
    from tad_tui.download.parts import PartMap

    parts = PartMap(row.file_size, 1024 * 1024, {i: 0 for i in range(-(-row.file_size // (1024 * 1024)))})
    row.status, row.partial_file_path, row.resume_state = FileStatus.DOWNLOADING, final + ".part", parts.to_json()
    row.local_path = row.checksum_md5 = None
    await row.save()
    await QueueEntry.filter(id=entries[0]).update(state=QueueState.RUNNING)
    fetched = len(server.requests("GetFileRequest"))
    await engine.scheduler.load()
    assert (await _run(engine))["downloaded"] == 1
    row = await AudioFile.get(pk=row.pk)
    assert (row.local_path, row.checksum_md5, row.status) == (final, md5, FileStatus.COMPLETED)
    assert len(server.requests("GetFileRequest")) == fetched
    assert not [p for p in (tmp_path / "out").rglob("*") if "(2)" in p.name]


async def test_part_corrupted_on_disk_before_the_final_check_is_fetched_again(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, demo_catalogue: Catalogue
) -> None:
    from tad_tui.download import job

    real_verify = job.verify_on_disk
    corrupted: list[str] = []

    def corrupt_then_verify(parts, path: str):
        if not corrupted and parts.complete():
            corrupted.append(path)
            with open(path, "r+b") as handle:
                handle.write(b"\0" * 512)  # as if the disk lost part 0 after it was written
        return real_verify(parts, path)

    monkeypatch.setattr(job, "verify_on_disk", corrupt_then_verify)
    await _queue_group(engine, "@tad_demo_mixes")
    assert (await _run(engine))["failed"] == 0 and corrupted
    for message in demo_catalogue.group("tad_demo_mixes").messages:
        row = await AudioFile.get(document_id=message.file.document_id)
        assert row.source_md5 == message.file.md5 and row.checksum_verified


async def test_the_md5_is_taken_in_order_while_parts_arrive_out_of_order() -> None:
    import hashlib
    import random

    from tad_tui.download.parts import InOrderDigest

    data = random.Random(5).randbytes(10 * 4096 + 123)
    spans = [(offset, data[offset : offset + 4096]) for offset in range(0, len(data), 4096)]
    shuffled = spans[:]
    random.Random(6).shuffle(shuffled)
    digest = InOrderDigest(len(data))
    for offset, chunk in shuffled:
        assert digest.hexdigest() is None or offset == shuffled[-1][0]
        await digest.add(offset, chunk)
    assert digest.hexdigest() == hashlib.md5(data).hexdigest()

    too_far_ahead = InOrderDigest(len(data), max_pending=3 * 4096)  # bounded memory: gives up, says None
    for offset, chunk in reversed(spans):
        await too_far_ahead.add(offset, chunk)
    assert too_far_ahead.abandoned and too_far_ahead.hexdigest() is None

    twice = InOrderDigest(len(data))  # a part fetched again: the hashed prefix can no longer be trusted
    for offset, chunk in spans[:3] + spans[1:2]:
        await twice.add(offset, chunk)
    assert twice.hexdigest() is None


def _complete(events: Recorder) -> list[BatchProgress]:
    return [e for e in events.of(BatchProgress) if e.done == e.total]


async def test_pausing_everything_is_not_the_queue_running_empty(engine: Engine, events: Recorder) -> None:
    entries = await _queue_group(engine, "@tad_demo_mixes")
    scheduler = engine.scheduler
    scheduler.max_concurrent = 2
    started = asyncio.Event()
    engine.events.subscribe(lambda e: started.set() if isinstance(e, EntryStarted) else None)
    run = asyncio.create_task(_run(engine))
    await started.wait()
    await scheduler.pause_many(entries)  # "p" in the Queue pane: the running ones stop too
    await run
    assert events.finished("paused") and events.of(QueueIdle) == []
    before = len(events.finished("downloaded"))  # those that finished before the pause
    paused = [e.pk for e in await QueueEntry.filter(state=QueueState.PAUSED)]
    await scheduler.resume_many(paused[:2])  # the last running entry finishes while the rest are paused
    await _run(engine)
    assert len(events.finished("downloaded")) == before + 2 and events.of(QueueIdle) == []
    await scheduler.resume_many(paused[2:])
    await _run(engine)
    await _run(engine)  # an idle look at an empty queue says nothing again
    assert events.of(QueueIdle) == [QueueIdle(len(entries), 0)]
    assert len(_complete(events)) == 1


async def test_a_dependent_held_by_a_paused_entry_keeps_the_queue_from_being_empty(
    engine: Engine, events: Recorder
) -> None:
    entries = await _queue_group(engine, "@tad_demo_mixes")
    scheduler = engine.scheduler
    await scheduler.pause_many(entries[:1])
    dependent = await QueueEntry.get(id=entries[1])
    dependent.depends_on_id = entries[0]
    await dependent.save()
    await _run(engine)
    assert (await QueueEntry.get(id=entries[1])).state == QueueState.WAITING
    assert events.of(QueueIdle) == []
    await scheduler.cancel(entries[0])
    await _run(engine)
    assert events.of(QueueIdle) == [QueueIdle(len(entries) - 2, 1)]


async def test_a_batch_completes_once_however_its_last_entries_race(engine: Engine, events: Recorder) -> None:
    engine.scheduler.max_concurrent = 8
    for group in ("@tad_demo_classical", "@tad_demo_mixes"):
        await _queue_group(engine, group, priority=Priority.HIGH)
    await _run(engine)
    complete = _complete(events)
    assert len(complete) == 2 and len({e.batch_id for e in complete}) == 2
    assert events.of(QueueIdle)[0].failed == 0 and len(events.of(QueueIdle)) == 1


async def test_a_retried_batch_is_told_open_again_then_complete_again(engine: Engine, events: Recorder) -> None:
    entries = await _queue_group(engine, "@tad_demo_mixes")
    await engine.scheduler.cancel(entries[0])
    await _run(engine)
    assert [(e.done, e.total) for e in _complete(events)] == [(len(entries), len(entries))]
    await engine.scheduler.retry(entries[0])
    last = events.of(BatchProgress)[-1]
    assert (last.done, last.total) == (len(entries) - 1, len(entries))
    await _run(engine)
    assert len(_complete(events)) == 2 and len(events.of(QueueIdle)) == 2
