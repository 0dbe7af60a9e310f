"""Fault injection through the real engine and the real CLI, judged by one invariant checker.

Each scenario breaks something — the simulated Telegram (flood waits, expired references, dropped
connections, wrong-sized parts), the process (SIGKILL at named points and at random times, Ctrl+C),
or the machine (full disk, read-only folder, a locked database) — then lets the queue finish what
was left and calls ``check_invariants`` (tests/faults_support.py). Nothing here asserts a time.
"""

from __future__ import annotations

import asyncio
import errno
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import ExitStack, asynccontextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest
from telethon import errors

from faults_support import (
    Expected,
    PartWriteAudit,
    Verdict,
    check_invariants,
    db_value,
    json_lines,
    md5_of,
    read_only,
    run_cli,
    start_cli,
    write_config,
)
from tad_tui.config import Settings, default_settings
from tad_tui.download import job as job_module
from tad_tui.download.events import EntryFinished, EntryProgress, EntryResumed, EntryWaiting, Event, Notice
from tad_tui.engine import Engine
from tad_tui.library.scan import scan_group
from tad_tui.paths import Paths
from tad_tui.store import AudioFile, FileStatus, QueueEntry, QueueState, opened_store
from tad_tui.store.db import DATABASE_BUSY
from tad_tui.telegram.sim.catalogue import Catalogue
from tad_tui.telegram.sim.client import SimulatedClient
from tad_tui.telegram.sim.limits import AccountLimits
from tad_tui.telegram.sim.server import FaultRule, SimulatedTelegram
from tad_tui.telegram.source import TelethonSource

CLASSICAL, MIXES, ARCHIVE = "@tad_demo_classical", "@tad_demo_mixes", "@tad_demo_archive"
MIB = 1024 * 1024
FLOOD_THRESHOLD = 1  # seconds: shorter flood waits are slept inside the client, longer ones raised


# ---- the engine in this process, over a simulated Telegram the test can break -------------------


def _settings(**downloads: object) -> Settings:
    base = default_settings()
    return replace(
        base,
        telegram=replace(base.telegram, flood_sleep_threshold=FLOOD_THRESHOLD),
        downloads=replace(base.downloads, **{"retry_delay": 0.05, "retry_attempts": 6, **downloads}),  # type: ignore
        metadata=replace(base.metadata, update_id3_tags=False, embed_cover=False),  # files are the source's bytes
    )


@dataclass
class Rig:
    root: Path
    catalogue: Catalogue
    server: SimulatedTelegram
    source: TelethonSource
    paths: Paths
    engine: Engine
    events: list[Event] = field(default_factory=list)
    listeners: list = field(default_factory=list)

    @property
    def out(self) -> Path:
        assert self.paths.output_override is not None
        return self.paths.output_override

    def subscribe(self, engine: Engine) -> None:
        engine.events.subscribe(self.events.append)
        for listener in self.listeners:
            engine.events.subscribe(listener)

    def listen(self, listener) -> None:
        """Call ``listener`` with every event of this engine and of every later run's."""
        self.listeners.append(listener)
        self.engine.events.subscribe(listener)

    async def download(self, group: str, *, limit: int | None = None) -> Counter[str]:
        """What ``tad-tui download GROUP`` does, on a fresh engine (as a new run would): scan, queue, run."""
        await self.engine.stop_downloads()
        self.engine = Engine(self.engine.settings, self.paths, self.source)
        self.subscribe(self.engine)
        info = await self.engine.resolve_group(group)
        await scan_group(self.source, info)
        selection = await self.engine.select_for_download(info, limit=limit)
        scheduler = await self.engine.start_downloads()
        await scheduler.enqueue([row.pk for row in selection.to_fetch], batch_name=info.title)
        return await scheduler.run(until_idle=True)

    async def scan(self, group: str) -> int:
        """Scan a group into the library; returns how many audio files it holds."""
        return (await scan_group(self.source, await self.engine.resolve_group(group))).total

    def check(self, *, finished: bool = True) -> Verdict:
        return check_invariants(
            root=self.root, data_dir=self.paths.data_dir, out_dir=self.out, catalogue=self.catalogue, finished=finished
        )

    def of(self, kind: type) -> list:
        return [event for event in self.events if isinstance(event, kind)]


@asynccontextmanager
async def rig_for(
    tmp_path: Path,
    catalogue: Catalogue,
    *,
    latency: float = 0.0,
    bandwidth: float = 0.0,
    busy_timeout_ms: int = 5000,
    limits: AccountLimits | None = None,
    client_options: dict[str, object] | None = None,
    **downloads: object,
) -> AsyncIterator[Rig]:
    """The engine over a simulated Telegram (with these account ``limits``) that the test can break;
    ``client_options`` go to Telethon (``request_retries``, ``connection_retries``…)."""
    server = SimulatedTelegram(catalogue, limits=limits)
    client = SimulatedClient(
        server,
        latency=latency,
        bandwidth_per_connection=bandwidth,
        flood_sleep_threshold=FLOOD_THRESHOLD,
        **(client_options or {}),  # type: ignore[arg-type]
    )
    source = TelethonSource(client)
    await source.start()
    paths = Paths(tmp_path / "data", output_override=tmp_path / "out")
    paths.ensure()
    paths.output_override.mkdir(parents=True, exist_ok=True)  # type: ignore[union-attr]
    try:
        async with opened_store(paths.db, busy_timeout_ms=busy_timeout_ms):
            rig = Rig(tmp_path, catalogue, server, source, paths, Engine(_settings(**downloads), paths, source))
            rig.subscribe(rig.engine)
            try:
                yield rig
            finally:
                await rig.engine.stop_downloads()
    finally:
        await source.stop()


def _document_ids(catalogue: Catalogue, group: str) -> list[int]:
    return [m.file.document_id for m in catalogue.group(group).messages if m.file is not None]


def _biggest(catalogue: Catalogue, group: str):
    return max((m.file for m in catalogue.group(group).messages if m.file is not None), key=lambda f: f.size)


# ---- 1. FLOOD_WAIT storms -------------------------------------------------------------------------


async def test_flood_wait_storm_on_file_parts_is_waited_out(tmp_path: Path, demo_catalogue: Catalogue) -> None:
    async with rig_for(tmp_path, demo_catalogue, latency=0.005) as rig:
        rig.server.inject(FaultRule("GetFileRequest", "FLOOD_WAIT_1", skip=3, every=9, times=3))
        rig.server.inject(FaultRule("GetFileRequest", f"FLOOD_WAIT_{FLOOD_THRESHOLD + 1}", skip=30))
        outcomes = await rig.download(CLASSICAL)
        assert outcomes["failed"] == 0, rig.check().failed_messages
        assert all(rule.times == 0 for rule in rig.server.faults)  # every wait was served
        assert rig.server.flood_violations == []  # no getFile left while a wait was in force
        reasons = {event.reason for event in rig.of(EntryWaiting) if event.reason}
        assert any("flood wait" in reason for reason in reasons), reasons
        verdict = rig.check()
        assert len(verdict.completed) == len(_document_ids(demo_catalogue, CLASSICAL))


async def test_flood_wait_storm_on_scan_and_reference_refresh(tmp_path: Path, demo_catalogue: Catalogue) -> None:
    async with rig_for(tmp_path, demo_catalogue, latency=0.005) as rig:
        server = rig.server
        # Short waits while paging the 1,000-message archive: slept inside the client, the scan goes on.
        server.inject(FaultRule("SearchRequest", "FLOOD_WAIT_1", skip=2, every=4, times=2))
        info = await rig.engine.resolve_group(ARCHIVE)
        result = await scan_group(rig.source, info)
        assert result.total >= 1000
        # A long wait: reported in words; asking again before it passes sends nothing.
        server.inject(FaultRule("SearchRequest", f"FLOOD_WAIT_{FLOOD_THRESHOLD + 2}"))
        classical = await rig.engine.resolve_group(CLASSICAL)
        with pytest.raises(errors.FloodWaitError) as raised:
            await scan_group(rig.source, classical)
        assert "wait of" in str(raised.value) and "SearchRequest" in str(raised.value)
        sent = len(server.requests("SearchRequest"))
        with pytest.raises(errors.FloodWaitError):
            await scan_group(rig.source, classical)
        assert len(server.requests("SearchRequest")) == sent
        # Once what is left of the wait is short enough to be slept, the scan sleeps it and goes on.
        await asyncio.sleep(max(0.0, rig.source.client.flood_wait_remaining() - FLOOD_THRESHOLD + 0.1))
        assert await rig.scan(CLASSICAL) == len(_document_ids(demo_catalogue, CLASSICAL))
        # Every file's reference expired; refreshing them meets short and long waits mid-download.
        for document_id in _document_ids(demo_catalogue, CLASSICAL):
            server.expire_file_reference(document_id)
        server.inject(FaultRule("GetMessagesRequest", "FLOOD_WAIT_1", skip=1, every=4, times=2))
        server.inject(FaultRule("GetMessagesRequest", f"FLOOD_WAIT_{FLOOD_THRESHOLD + 1}", skip=12))
        outcomes = await rig.download(CLASSICAL)
        assert outcomes["failed"] == 0, rig.check().failed_messages
        assert all(rule.times == 0 for rule in server.faults), server.faults
        assert server.flood_violations == []
        assert len(rig.check().completed) == len(_document_ids(demo_catalogue, CLASSICAL))


# ---- 2. FILE_REFERENCE_EXPIRED, several times in one file --------------------------------------------


async def test_file_reference_expires_again_and_again_in_one_file(tmp_path: Path, demo_catalogue: Catalogue) -> None:
    biggest = _biggest(demo_catalogue, MIXES)
    async with rig_for(tmp_path, demo_catalogue, latency=0.005, bandwidth=6 * MIB) as rig:
        await rig.scan(MIXES)
        for document_id in _document_ids(demo_catalogue, MIXES):
            rig.server.expire_file_reference(document_id)  # the library's references are stale before the first part
        marks = [6 * MIB, 20 * MIB, 34 * MIB]

        def expire_at_marks(event: Event) -> None:
            if isinstance(event, EntryProgress) and event.file_size == biggest.size and marks:
                if event.downloaded_bytes >= marks[0]:
                    marks.pop(0)
                    rig.server.expire_file_reference(biggest.document_id)

        rig.listen(expire_at_marks)
        outcomes = await rig.download(MIXES)
        assert marks == [] and outcomes["failed"] == 0, rig.check().failed_messages
        assert len(rig.server.requests("GetMessagesRequest")) >= len(_document_ids(demo_catalogue, MIXES)) + 3
        row = await AudioFile.get(document_id=biggest.document_id)
        assert bytes(row.file_reference) == rig.server.file_reference(biggest.document_id)  # the fresh one is kept
        assert len(rig.check().completed) == len(_document_ids(demo_catalogue, MIXES))


# ---- 3. Dropped connections every few parts ------------------------------------------------------


async def test_connections_dropped_every_few_parts(tmp_path: Path, demo_catalogue: Catalogue) -> None:
    async with rig_for(tmp_path, demo_catalogue, latency=0.005, bandwidth=16 * MIB) as rig:
        rule = rig.server.inject(FaultRule("GetFileRequest", disconnect=True, skip=2, every=5, times=15))
        outcomes = await rig.download(MIXES)
        assert outcomes["failed"] == 0, rig.check().failed_messages
        assert rule.times == 0
        connections = {entry.connection for entry in rig.server.requests("GetFileRequest")}
        assert len(connections) > 8  # broken connections were replaced by new ones
        assert len(rig.check().completed) == len(_document_ids(demo_catalogue, MIXES))


# ---- 4. Short, empty and oversized parts -------------------------------------------------------------


async def test_wrong_sized_parts_are_fetched_again_and_never_written(
    tmp_path: Path, demo_catalogue: Catalogue, monkeypatch: pytest.MonkeyPatch
) -> None:
    audit = PartWriteAudit()
    monkeypatch.setattr(os, "pwrite", audit)
    async with rig_for(tmp_path, demo_catalogue, latency=0.002) as rig:
        rules = [
            rig.server.inject(FaultRule("GetFileRequest", damage="truncate", skip=1, every=5, times=6)),
            rig.server.inject(FaultRule("GetFileRequest", damage="empty", skip=3, every=7, times=3)),
            rig.server.inject(FaultRule("GetFileRequest", damage="pad", skip=2, every=6, times=4)),
        ]
        outcomes = await rig.download(MIXES)
        assert outcomes["failed"] == 0, rig.check().failed_messages
        assert all(rule.times == 0 for rule in rules)
        verdict = rig.check()
        assert len(verdict.completed) == len(_document_ids(demo_catalogue, MIXES))
        sources = {}
        for row in await AudioFile.filter(status=FileStatus.COMPLETED):
            sources[row.local_path + ".part"] = demo_catalogue.document(row.document_id).path
        assert audit.assert_all_good(sources) >= 78  # every part of every file, each checked


# ---- 6. Full disk, read-only output folder, locked database -------------------------------------------


async def test_full_disk_fails_in_words_loses_nothing_and_the_queue_resumes(
    tmp_path: Path, demo_catalogue: Catalogue, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_pwrite = os.pwrite
    room = [20 * MIB]  # what is left on the "disk" once the classical files are in

    def small_disk(fd: int, data: bytes, offset: int) -> int:
        if len(data) > room[0]:
            raise OSError(errno.ENOSPC, "No space left on device")
        room[0] -= len(data)
        return real_pwrite(fd, data, offset)

    biggest = _biggest(demo_catalogue, MIXES)
    async with rig_for(tmp_path, demo_catalogue, max_concurrent=1) as rig:
        assert (await rig.download(CLASSICAL))["failed"] == 0
        kept = dict(_completed_files(rig.out))
        monkeypatch.setattr(os, "pwrite", small_disk)
        first = await rig.download(MIXES)  # the 54 MB file first: the disk fills in its middle
        verdict = rig.check()
        assert first["downloaded"] == 0 and first["failed"] == len(_document_ids(demo_catalogue, MIXES))
        assert all(
            message.startswith("disk full: no space left to write ") for message in verdict.failed_messages.values()
        ), verdict.failed_messages
        partial = await AudioFile.get(document_id=biggest.document_id)
        assert partial.downloaded_bytes >= 10 * MIB and Path(partial.partial_file_path).exists()
        # Space comes back: the same command again finishes everything, from where the big file stopped.
        monkeypatch.setattr(os, "pwrite", real_pwrite)
        second = await rig.download(MIXES)
        assert second["failed"] == 0 and second["downloaded"] == len(_document_ids(demo_catalogue, MIXES))
        resumed = [event for event in rig.of(EntryResumed) if event.file_id == partial.file_id]
        assert resumed and resumed[0].downloaded_bytes == partial.downloaded_bytes
        assert len(rig.check().completed) == len(_document_ids(demo_catalogue, CLASSICAL)) + len(
            _document_ids(demo_catalogue, MIXES)
        )
        assert {path: md5 for path, md5 in _completed_files(rig.out) if path in kept} == kept  # nothing lost


def _completed_files(out: Path) -> list[tuple[Path, str]]:
    return [(path, md5_of(path)) for path in out.rglob("*") if path.is_file() and not path.name.endswith(".part")]


async def test_read_only_output_folder_fails_in_words_and_the_queue_resumes(
    tmp_path: Path, demo_catalogue: Catalogue
) -> None:
    async with rig_for(tmp_path, demo_catalogue, max_concurrent=2) as rig:
        real_publish = job_module._publish
        locked, turned = ExitStack(), []

        def publish_into_a_folder_that_turns_read_only(part: Path, final: Path, reserved: set[Path]) -> Path:
            if not turned and len(rig.of(EntryFinished)) >= 5:
                turned.append(final)
                locked.enter_context(read_only(rig.out))  # this rename and every new .part file are refused
            return real_publish(part, final, reserved)

        with locked, pytest.MonkeyPatch.context() as patch:
            patch.setattr(job_module, "_publish", publish_into_a_folder_that_turns_read_only)
            first = await rig.download(CLASSICAL)
        assert turned and first["failed"] > 0
        verdict = rig.check()
        assert all(
            message.startswith("permission denied: cannot write to ") for message in verdict.failed_messages.values()
        ), verdict.failed_messages
        fetched = len(rig.server.requests("GetFileRequest"))
        unrenamed = [
            row for row in await AudioFile.filter(status=FileStatus.FAILED)
            if row.partial_file_path and Path(row.partial_file_path).exists() and row.downloaded_bytes == row.file_size
        ]
        assert unrenamed  # at least the file whose rename was refused: complete, waiting in its .part
        second = await rig.download(CLASSICAL)
        assert second["failed"] == 0, rig.check().failed_messages
        assert len(rig.check().completed) == len(_document_ids(demo_catalogue, CLASSICAL))
        again = rig.server.requests("GetFileRequest")[fetched:]
        assert not [r for r in again if any(f"id={row.document_id} " in r.detail for row in unrenamed)]


async def test_a_file_recorded_as_downloaded_whose_entry_still_runs_is_not_fetched_twice(
    tmp_path: Path, demo_catalogue: Catalogue
) -> None:
    """The state a kill between the two finishing writes left before they shared a transaction."""
    async with rig_for(tmp_path, demo_catalogue) as rig:
        await rig.download(CLASSICAL)
        row = await AudioFile.filter(status=FileStatus.COMPLETED).order_by("id").first()
        assert row is not None
        await QueueEntry.filter(audio_id=row.pk).update(state=QueueState.RUNNING)
        fetched = len(rig.server.requests("GetFileRequest"))
        outcomes = await rig.download(CLASSICAL)
        assert outcomes["downloaded"] == 0 and len(rig.server.requests("GetFileRequest")) == fetched
        assert len(rig.check().completed) == len(_document_ids(demo_catalogue, CLASSICAL))


def _hold_exclusive_lock(db: Path, seconds: float) -> subprocess.Popen[str]:
    """Another process holding BEGIN EXCLUSIVE on the library for ``seconds``; returns once it holds it."""
    code = (
        "import sqlite3, sys, time\n"
        f"conn = sqlite3.connect({str(db)!r}, timeout=30, isolation_level=None)\n"
        "conn.execute('BEGIN EXCLUSIVE')\n"
        "print('locked', flush=True)\n"
        f"time.sleep({seconds})\n"
        "conn.execute('COMMIT')\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
    return holder


async def test_database_locked_by_another_process_mid_download_waits_in_words(
    tmp_path: Path, demo_catalogue: Catalogue
) -> None:
    async with rig_for(tmp_path, demo_catalogue, latency=0.005, busy_timeout_ms=200, max_concurrent=2) as rig:
        holder: list[subprocess.Popen[str]] = []

        def lock_after_a_few(event: Event) -> None:
            if isinstance(event, EntryFinished) and not holder and len(rig.of(EntryFinished)) >= 4:
                holder.append(_hold_exclusive_lock(rig.paths.db, 1.5))

        rig.listen(lock_after_a_few)
        try:
            outcomes = await rig.download(CLASSICAL)
        finally:
            for process in holder:
                process.wait(timeout=30)
        notices = [event.text for event in rig.of(Notice)]
        assert holder and any(text.startswith(DATABASE_BUSY) for text in notices), notices
        assert notices[-1] == "the library database is free again: downloads go on"
        assert outcomes["failed"] == 0 and outcomes["downloaded"] == len(_document_ids(demo_catalogue, CLASSICAL))
        assert len(rig.check().completed) == len(_document_ids(demo_catalogue, CLASSICAL))


def test_database_locked_before_the_cli_starts_is_said_in_words(tmp_path: Path, demo_catalogue: Catalogue) -> None:
    config = write_config(tmp_path / "config.toml", demo_catalogue)
    data, out = tmp_path / "data", tmp_path / "out"
    args = ["download", CLASSICAL, "-o", str(out), "--json", "-l", "3"]
    assert run_cli(config, data, *args).returncode == 0
    holder = _hold_exclusive_lock(data / "library.sqlite3", 30)
    try:
        locked = run_cli(config, data, "download", CLASSICAL, "-o", str(out), "--json")
    finally:
        holder.kill()
        holder.wait()
    assert locked.returncode == 2 and "Traceback" not in locked.stderr, locked.stderr
    assert "is locked" in locked.stderr and "another program" in locked.stderr, locked.stderr
    check_invariants(root=tmp_path, data_dir=data, out_dir=out, catalogue=demo_catalogue, allowed=(config,))
    again = run_cli(config, data, "download", CLASSICAL, "-o", str(out), "--json")
    assert again.returncode == 0, again.stderr
    verdict = check_invariants(root=tmp_path, data_dir=data, out_dir=out, catalogue=demo_catalogue, allowed=(config,))
    assert len(verdict.completed) == len(_document_ids(demo_catalogue, CLASSICAL))


def test_any_command_meeting_a_locked_database_says_so_in_one_line(tmp_path: Path, demo_catalogue: Catalogue) -> None:
    config = write_config(tmp_path / "config.toml", demo_catalogue)
    data = tmp_path / "data"
    assert run_cli(config, data, "scan", CLASSICAL).returncode == 0
    holder = _hold_exclusive_lock(data / "library.sqlite3", 30)
    try:
        refreshed = run_cli(config, data, "groups")  # writes the groups Telegram lists
    finally:
        holder.kill()
        holder.wait()
    assert refreshed.returncode == 2, refreshed.stderr
    lines = refreshed.stderr.strip().splitlines()
    assert len(lines) == 1 and "locked by another program" in lines[0] and "unexpected" not in lines[0], lines


# ---- 5. SIGKILL of the real CLI ------------------------------------------------------------------------


@dataclass(frozen=True)
class KillPoint:
    group: str
    failpoint: str | None = None  # None: a random moment (see _kill_at_random)
    limit: int | None = None
    slow: bool = False  # the link slowed so transfers last long enough to be caught
    tags: bool = False  # tags and covers written: compared with an uninterrupted run, not with the source
    match: str | None = None  # download --match QUERY: only the files it matches
    files: int | None = None  # how many files of the group that is (None: all)

    @property
    def id(self) -> str:
        match = f"-{self.match.split()[0].lower()}" if self.match else ""
        return f"{self.group[10:]}-{self.failpoint or 'random'}{'-tags' if self.tags else ''}{match}"


KILL_POINTS = [
    # scan: mid-transaction and between the batches of the 1,090-audio archive (library.scan commits
    # every BATCH_ROWS = 500 rows: three batches, the last at the end)
    KillPoint(ARCHIVE, "scan.page:1", limit=2),
    KillPoint(ARCHIVE, "scan.page:2", limit=2),
    KillPoint(ARCHIVE, "scan.committed:1", limit=2),
    KillPoint(ARCHIVE, "scan.committed:2", limit=2),
    # queueing: inside the enqueue transaction
    KillPoint(CLASSICAL, "queue.enqueue:1"),
    KillPoint(CLASSICAL, "queue.enqueue:30"),
    # download: right after a part map save
    KillPoint(MIXES, "transfer.saved:1", limit=2, slow=True),
    KillPoint(MIXES, "transfer.saved:3", limit=2, slow=True),
    # the rename of a finished file, and the database writes around it
    KillPoint(CLASSICAL, "job.fsynced:1"),
    KillPoint(CLASSICAL, "job.fsynced:17"),
    KillPoint(CLASSICAL, "job.renamed:1"),
    KillPoint(CLASSICAL, "job.renamed:25"),
    KillPoint(CLASSICAL, "job.finishing:1"),
    KillPoint(CLASSICAL, "job.finishing:12"),
    # a file Telegram gives no title: named from its own tags at the end, not as planned at the start
    KillPoint(CLASSICAL, "job.finishing:1", match="Air on the G", files=1),
    KillPoint(CLASSICAL, "job.tagged:3", tags=True),
    KillPoint(CLASSICAL, "job.renamed:4", tags=True),
]
RANDOM_SCAN_KILLS = 2
RANDOM_DOWNLOAD_KILLS = 4


@pytest.fixture(scope="module")
def tagged_reference(tmp_path_factory: pytest.TempPathFactory, demo_catalogue: Catalogue) -> dict[str, Expected]:
    """MD5 and size of every classical file as an uninterrupted run with tag writing leaves it."""
    root = tmp_path_factory.mktemp("reference")
    config = write_config(root / "config.toml", demo_catalogue, tags=True)
    result = run_cli(config, root / "data", "download", CLASSICAL, "-o", str(root / "out"), "--json")
    assert result.returncode == 0, result.stderr
    return {
        event["file_id"]: Expected(event["checksum_md5"], event["file_size"])
        for event in json_lines(result.stdout)
        if event.get("event") == "downloaded"
    }


def _kill_then_finish(
    tmp_path: Path, catalogue: Catalogue, point: KillPoint, expected: dict[str, Expected] | None
) -> None:
    fast = write_config(tmp_path / "fast.toml", catalogue, tags=point.tags)
    slow = write_config(tmp_path / "slow.toml", catalogue, latency_ms=20, bandwidth="2MB", tags=point.tags)
    data, out = tmp_path / "data", tmp_path / "out"
    args = ["download", point.group, "-o", str(out), "--json", *(["-l", str(point.limit)] if point.limit else [])]
    args += ["--match", point.match] if point.match else []
    killed = run_cli(slow if point.slow else fast, data, *args, failpoint=point.failpoint)
    assert killed.returncode == -signal.SIGKILL, f"{point.failpoint} was never reached: {killed.stderr}"
    _finish_and_check(tmp_path, catalogue, point, fast, args, expected)


def _finish_and_check(
    tmp_path: Path, catalogue: Catalogue, point: KillPoint, config: Path, args: list[str], expected
) -> list[dict]:
    data, out = tmp_path / "data", tmp_path / "out"
    before = check_invariants(root=tmp_path, data_dir=data, out_dir=out, catalogue=catalogue, finished=False,
                              expected=expected, allowed=tuple(tmp_path.glob("*.toml")))
    again = run_cli(config, data, *args)
    assert again.returncode == 0, again.stderr
    events = json_lines(again.stdout)
    assert events[-1]["failed"] == 0, events
    verdict = check_invariants(root=tmp_path, data_dir=data, out_dir=out, catalogue=catalogue,
                               expected=expected, allowed=tuple(tmp_path.glob("*.toml")))
    total = point.files or sum(1 for m in catalogue.group(point.group).messages if m.file is not None)
    # With -l N the next run takes the first N files not yet done: one that the killed run finished
    # (a file on another DC has connections of its own and can) is not among them.
    done = len(before.completed)
    wanted = done + min(point.limit, total - done) if point.limit else total
    assert len(verdict.completed) == wanted, verdict
    return events


@pytest.mark.parametrize("point", KILL_POINTS, ids=lambda p: p.id)
def test_sigkill_at_a_named_point_then_the_next_run_finishes(
    tmp_path: Path, demo_catalogue: Catalogue, point: KillPoint, request: pytest.FixtureRequest
) -> None:
    expected = request.getfixturevalue("tagged_reference") if point.tags else None
    _kill_then_finish(tmp_path, demo_catalogue, point, expected)


@pytest.mark.parametrize("attempt", range(RANDOM_SCAN_KILLS))
def test_sigkill_at_a_random_moment_of_a_scan(tmp_path: Path, demo_catalogue: Catalogue, attempt: int) -> None:
    rng = random.Random(7001 + attempt)
    slow = write_config(tmp_path / "slow.toml", demo_catalogue, latency_ms=40)
    fast = write_config(tmp_path / "fast.toml", demo_catalogue)
    data, out = tmp_path / "data", tmp_path / "out"
    args = ["download", ARCHIVE, "-o", str(out), "--json", "-l", "2"]
    process = start_cli(slow, data, *args)
    deadline = time.monotonic() + 60
    while db_value(data / "library.sqlite3", "SELECT count(*) FROM audio_file") == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(rng.uniform(0.0, 0.4))
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=30)
    _finish_and_check(tmp_path, demo_catalogue, KillPoint(ARCHIVE, limit=2), fast, args, None)


@pytest.mark.parametrize("attempt", range(RANDOM_DOWNLOAD_KILLS))
def test_sigkill_at_a_random_moment_of_a_download(tmp_path: Path, demo_catalogue: Catalogue, attempt: int) -> None:
    rng = random.Random(9001 + attempt)
    slow = write_config(tmp_path / "slow.toml", demo_catalogue, latency_ms=20, bandwidth="2MB")
    fast = write_config(tmp_path / "fast.toml", demo_catalogue)
    data, out = tmp_path / "data", tmp_path / "out"
    args = ["download", MIXES, "-o", str(out), "--json", "-l", "2"]
    process = start_cli(slow, data, *args)
    query = "SELECT sum(downloaded_bytes) FROM audio_file"
    deadline = time.monotonic() + 60
    while db_value(data / "library.sqlite3", query) == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(rng.uniform(0.0, 1.5))
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=30)
    events = _finish_and_check(tmp_path, demo_catalogue, KillPoint(MIXES, limit=2), fast, args, None)
    assert any(event.get("event") == "resumed" and event["downloaded_bytes"] > 0 for event in events), events


# ---- Ctrl+C at chosen moments ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("failpoint", "group", "slow"),
    [
        ("scan.committed:2=int", ARCHIVE, False),  # while scanning (between batches)
        ("transfer.saved:2=int", MIXES, True),  # mid-file
        ("job.renamed:2=int", CLASSICAL, False),  # between the rename and the database write
        ("scheduler.stopping:1=int", CLASSICAL, False),  # as the finished run stops its scheduler
        ("transfer.saved:2=int,scheduler.stopping:1=int", MIXES, True),  # twice: again while stopping
    ],
    ids=["scan", "mid-file", "after-rename", "while-stopping", "twice"],
)
def test_ctrl_c_exits_130_in_words_and_the_next_run_finishes(
    tmp_path: Path, demo_catalogue: Catalogue, failpoint: str, group: str, slow: bool
) -> None:
    # As when pytest runs in the background of a script: SIGINT ignored here, and inherited as
    # ignored unless the child is started with the default (what made a Ctrl+C test exit 0).
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        _interrupt_then_finish(tmp_path, demo_catalogue, failpoint, group, slow)
    finally:
        signal.signal(signal.SIGINT, previous)


@pytest.mark.parametrize("failpoint", ["transfer.saved:2=term", "scan.page:1=term"], ids=["mid-file", "scan"])
def test_sigterm_stops_a_download_cleanly_with_143_and_the_next_run_finishes(
    tmp_path: Path, demo_catalogue: Catalogue, failpoint: str
) -> None:
    """``docker stop``, ``systemctl stop``, ``kill``: as Ctrl+C, not a kill (in a container tad-tui is
    process 1, which a SIGTERM without a handler would not stop at all)."""
    _interrupt_then_finish(tmp_path, demo_catalogue, failpoint, MIXES, True, status=143)


def _interrupt_then_finish(
    tmp_path: Path, demo_catalogue: Catalogue, failpoint: str, group: str, slow: bool, status: int = 130
) -> None:
    fast = write_config(tmp_path / "fast.toml", demo_catalogue)
    config = write_config(tmp_path / "slow.toml", demo_catalogue, latency_ms=20, bandwidth="2MB") if slow else fast
    limit = 2 if group != CLASSICAL else None
    data, out = tmp_path / "data", tmp_path / "out"
    args = ["download", group, "-o", str(out), "--json", *(["-l", str(limit)] if limit else [])]
    interrupted = run_cli(config, data, *args, failpoint=failpoint)
    assert interrupted.returncode == status, (interrupted.returncode, interrupted.stderr)
    assert "Traceback" not in interrupted.stderr and "run the same command again" in interrupted.stderr
    _finish_and_check(tmp_path, demo_catalogue, KillPoint(group, limit=limit), fast, args, None)
