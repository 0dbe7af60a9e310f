"""Downloads checked against the hashes Telegram holds (upload.getFileHashes), and honest checksums.

The simulated Telegram answers getFileHashes as Telegram does (SHA-256 of 128 KiB ranges, eight to an
answer) and can send parts with flipped bytes, which only a hash can tell from good ones. The engine
runs here over it, as in tests/test_faults.py, judged by ``check_invariants``; the CLI runs for the
JSON events and for a kill between writing tags and the rename. Nothing here asserts a time.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import os
import signal
import sqlite3
import zlib
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest
from telethon import errors
from telethon.tl import functions, types

from faults_support import PartWriteAudit, Verdict, check_invariants, json_lines, md5_of, run_cli, write_config
from tad_tui.config import Settings, default_settings
from tad_tui.download.events import EntryFinished, Event
from tad_tui.download.integrity import RangeHashes
from tad_tui.download.parts import PartMap
from tad_tui.engine import Engine
from tad_tui.library.scan import scan_group
from tad_tui.paths import Paths
from tad_tui.store import AudioFile, FileStatus, opened_store
from tad_tui.telegram.sim.catalogue import Catalogue
from tad_tui.telegram.sim.client import SimulatedClient
from tad_tui.telegram.sim.server import HASH_RANGE, FaultRule, SimulatedTelegram
from tad_tui.telegram.source import TelethonSource

CLASSICAL, MIXES, HOSTILE = "@tad_demo_classical", "@tad_demo_mixes", "@tad_demo_hostile"
MIB = 1024 * 1024
KIB = 1024
HASHES = "GetFileHashesRequest"


def _files(catalogue: Catalogue, group: str) -> list:
    return [message.file for message in catalogue.group(group).messages if message.file is not None]


def _biggest(catalogue: Catalogue, group: str):
    return max(_files(catalogue, group), key=lambda file: file.size)


# ---- the engine in this process, over a simulated Telegram (as in tests/test_faults.py) -----------


def _settings(*, tags: bool = False, verify: bool = True, **downloads: object) -> Settings:
    base = default_settings()
    return replace(
        base,
        telegram=replace(base.telegram, flood_sleep_threshold=1),
        downloads=replace(base.downloads, **{"retry_delay": 0.02, "retry_attempts": 6, **downloads}),  # type: ignore
        metadata=replace(base.metadata, update_id3_tags=tags, embed_cover=tags, verify_checksums=verify),
    )


@dataclass
class Rig:
    root: Path
    catalogue: Catalogue
    server: SimulatedTelegram
    source: TelethonSource
    paths: Paths
    settings: Settings
    events: list[Event] = field(default_factory=list)

    @property
    def out(self) -> Path:
        assert self.paths.output_override is not None
        return self.paths.output_override

    async def download(self, *groups: str) -> Counter[str]:
        """What ``tad-tui download GROUP`` does, on a fresh engine: scan, queue (each group in turn),
        run until idle."""
        engine = Engine(self.settings, self.paths, self.source)
        engine.events.subscribe(self.events.append)
        try:
            scheduler = await engine.start_downloads()
            for group in groups:
                info = await engine.resolve_group(group)
                await scan_group(self.source, info)
                selection = await engine.select_for_download(info)
                await scheduler.enqueue([row.pk for row in selection.to_fetch], batch_name=info.title)
            return await scheduler.run(until_idle=True)
        finally:
            await engine.stop_downloads()

    async def scan(self, group: str) -> None:
        engine = Engine(self.settings, self.paths, self.source)
        await scan_group(self.source, await engine.resolve_group(group))

    def check(self, **options: object) -> Verdict:
        return check_invariants(
            root=self.root, data_dir=self.paths.data_dir, out_dir=self.out, catalogue=self.catalogue, **options
        )

    def hash_requests(self, document_id: int) -> list[int]:
        """The offsets of the getFileHashes requests the server saw for one document."""
        return [
            int(entry.detail.split("offset=")[1])
            for entry in self.server.requests(HASHES)
            if entry.detail.startswith(f"id={document_id} ")
        ]

    def finished(self, outcome: str) -> list[EntryFinished]:
        return [e for e in self.events if isinstance(e, EntryFinished) and e.outcome == outcome]


@asynccontextmanager
async def rig_for(
    tmp_path: Path,
    catalogue: Catalogue,
    *,
    file_hashes: bool = True,
    latency: float = 0.0,
    tags: bool = False,
    verify: bool = True,
    **downloads: object,
) -> AsyncIterator[Rig]:
    server = SimulatedTelegram(catalogue, file_hashes=file_hashes)
    source = TelethonSource(SimulatedClient(server, latency=latency, flood_sleep_threshold=1))
    await source.start()
    paths = Paths(tmp_path / "data", output_override=tmp_path / "out")
    paths.ensure()
    paths.output_override.mkdir(parents=True, exist_ok=True)  # type: ignore[union-attr]
    try:
        async with opened_store(paths.db):
            yield Rig(tmp_path, catalogue, server, source, paths, _settings(tags=tags, verify=verify, **downloads))
    finally:
        await source.stop()


def _sources(rows: list[AudioFile], catalogue: Catalogue, audit: PartWriteAudit) -> dict[str, Path]:
    return {audit.part_of(row.local_path): catalogue.document(row.document_id).path for row in rows}


# ---- the simulated server's getFileHashes --------------------------------------------------------


def _sha256_ranges(path: Path, first: int, count: int) -> list[tuple[int, int, bytes]]:
    data = path.read_bytes()
    ranges = []
    for index in range(first, min(first + count, math.ceil(len(data) / HASH_RANGE))):
        chunk = data[index * HASH_RANGE : (index + 1) * HASH_RANGE]
        ranges.append((index * HASH_RANGE, len(chunk), hashlib.sha256(chunk).digest()))
    return ranges


async def _location(source: TelethonSource, group: str, document_id: int):
    info = await source.resolve_group(group)
    found = [audio async for page in source.scan_audio(info) for audio in page]
    return next(audio.location for audio in found if audio.location.document_id == document_id)


async def test_get_file_hashes_answers_eight_ranges_from_the_one_holding_the_offset(
    source: TelethonSource, demo_catalogue: Catalogue
) -> None:
    biggest = _biggest(demo_catalogue, MIXES)
    location = (await _location(source, MIXES, biggest.document_id)).input_location()
    for offset, first in [(0, 0), (5 * MIB + 4096, 40), (HASH_RANGE - 1, 0)]:
        answer = await source.client(functions.upload.GetFileHashesRequest(location=location, offset=offset))
        assert all(isinstance(item, types.FileHash) for item in answer)
        assert [(h.offset, h.limit, h.hash) for h in answer] == _sha256_ranges(biggest.path, first, 8)
    last = biggest.size // HASH_RANGE  # the file does not end on a range boundary: its last range is shorter
    answer = await source.client(functions.upload.GetFileHashesRequest(location=location, offset=biggest.size - 1))
    assert [(h.offset, h.limit) for h in answer] == [(last * HASH_RANGE, biggest.size - last * HASH_RANGE)]
    assert 0 < answer[0].limit < HASH_RANGE
    assert await source.client(functions.upload.GetFileHashesRequest(location=location, offset=biggest.size)) == []


async def test_get_file_hashes_checks_the_location_as_get_file_does(
    source: TelethonSource, server: SimulatedTelegram, demo_catalogue: Catalogue
) -> None:
    biggest = _biggest(demo_catalogue, MIXES)
    location = await _location(source, MIXES, biggest.document_id)
    good = location.input_location()

    def both(input_location) -> list:
        return [
            functions.upload.GetFileHashesRequest(location=input_location, offset=0),
            functions.upload.GetFileRequest(location=input_location, offset=0, limit=MIB),
        ]

    wrong_hash = types.InputDocumentFileLocation(good.id, good.access_hash ^ 1, good.file_reference, "")
    for request in both(wrong_hash):
        with pytest.raises(errors.LocationInvalidError):
            await source.client(request)
    other_dc = await source.client.open_extra_sender(location.dc_id + 1)
    try:
        for request in both(good):
            with pytest.raises(errors.FileMigrateError) as migrate:
                await source.client._call(other_dc, request)
            assert migrate.value.new_dc == location.dc_id
    finally:
        await other_dc.disconnect()
    server.expire_file_reference(biggest.document_id)
    for request in both(good):
        with pytest.raises(errors.FileReferenceExpiredError):
            await source.client(request)


async def test_a_server_without_file_hashes_refuses_the_method(demo_catalogue: Catalogue) -> None:
    server = SimulatedTelegram(demo_catalogue, file_hashes=False)
    source = TelethonSource(SimulatedClient(server))
    await source.start()
    try:
        biggest = _biggest(demo_catalogue, MIXES)
        location = (await _location(source, MIXES, biggest.document_id)).input_location()
        with pytest.raises(errors.MethodInvalidError):
            await source.client(functions.upload.GetFileHashesRequest(location=location, offset=0))
        part = await source.client(functions.upload.GetFileRequest(location=location, offset=0, limit=MIB))
        assert part.bytes == biggest.path.read_bytes()[:MIB]  # files themselves are still served
    finally:
        await source.stop()


async def test_a_flipped_part_has_the_right_length_and_other_bytes(
    source: TelethonSource, server: SimulatedTelegram, demo_catalogue: Catalogue
) -> None:
    biggest = _biggest(demo_catalogue, MIXES)
    location = (await _location(source, MIXES, biggest.document_id)).input_location()
    server.inject(FaultRule("GetFileRequest", damage="flip"))
    flipped = await source.client(functions.upload.GetFileRequest(location=location, offset=MIB, limit=MIB))
    good = biggest.path.read_bytes()[MIB : 2 * MIB]
    assert len(flipped.bytes) == len(good) and flipped.bytes != good
    assert sum(a != b for a, b in zip(flipped.bytes, good)) == 2


async def test_get_file_hashes_is_paced_by_bandwidth_not_by_the_request_rate_limiter(
    source: TelethonSource, demo_catalogue: Catalogue
) -> None:
    class CountingLimiter:
        def __init__(self) -> None:
            self.acquired = 0

        async def acquire(self) -> None:
            self.acquired += 1

    biggest = _biggest(demo_catalogue, MIXES)
    location = (await _location(source, MIXES, biggest.document_id)).input_location()
    limiter = CountingLimiter()
    source.client.request_limiter = limiter  # type: ignore[assignment]
    await source.client(functions.upload.GetFileHashesRequest(location=location, offset=0))
    await source.client(functions.upload.GetFileRequest(location=location, offset=0, limit=MIB))
    assert limiter.acquired == 0
    await source.client(functions.help.GetConfigRequest())  # any other request is paced
    assert limiter.acquired == 1


# ---- the engine ------------------------------------------------------------------------------------


async def test_flipped_parts_are_fetched_again_and_never_written(
    tmp_path: Path, demo_catalogue: Catalogue, monkeypatch: pytest.MonkeyPatch
) -> None:
    audit = PartWriteAudit()
    monkeypatch.setattr(os, "pwrite", audit)
    monkeypatch.setattr(os, "replace", audit.replace)
    async with rig_for(tmp_path, demo_catalogue, latency=0.002) as rig:
        rule = rig.server.inject(FaultRule("GetFileRequest", damage="flip", skip=2, every=4, times=12))
        outcomes = await rig.download(MIXES)
        assert outcomes["failed"] == 0, rig.check().failed_messages
        assert rule.times == 0  # every flip was sent, and each was caught
        verdict = rig.check()  # every file has the source's MD5
        assert len(verdict.completed) == len(_files(demo_catalogue, MIXES))
        rows = await AudioFile.filter(status=FileStatus.COMPLETED)
        parts = sum(math.ceil(row.file_size / MIB) for row in rows)
        assert audit.assert_all_good(_sources(rows, demo_catalogue, audit)) == parts  # one write per part, none wrong
        assert len(rig.server.requests("GetFileRequest")) == parts + 12
        assert {row.source_md5 for row in rows} == {demo_catalogue.document(row.document_id).md5 for row in rows}


async def test_parts_smaller_than_a_hash_range_are_checked_with_their_range(
    tmp_path: Path, demo_catalogue: Catalogue, monkeypatch: pytest.MonkeyPatch
) -> None:
    audit = PartWriteAudit()
    monkeypatch.setattr(os, "pwrite", audit)
    monkeypatch.setattr(os, "replace", audit.replace)
    async with rig_for(tmp_path, demo_catalogue, chunk_size=32 * KIB) as rig:
        rule = rig.server.inject(FaultRule("GetFileRequest", damage="flip", skip=5, every=7, times=10))
        outcomes = await rig.download(CLASSICAL)
        assert outcomes["failed"] == 0, rig.check().failed_messages
        assert rule.times == 0
        verdict = rig.check()
        assert len(verdict.completed) == len(_files(demo_catalogue, CLASSICAL))
        rows = await AudioFile.filter(status=FileStatus.COMPLETED)
        assert audit.assert_all_good(_sources(rows, demo_catalogue, audit)) == sum(
            math.ceil(row.file_size / (32 * KIB)) for row in rows
        )
        for row in rows:  # still one request per MiB of a file, not one per part
            assert len(rig.hash_requests(row.document_id)) <= math.ceil(row.file_size / MIB) + 1, row.file_name


async def test_a_wrong_part_left_on_disk_in_a_range_is_fetched_again_with_it(
    tmp_path: Path, demo_catalogue: Catalogue
) -> None:
    """Parts smaller than a range, resumed: parts 0 and 1 on disk (1 wrong, with a CRC that agrees, as
    an earlier run without hashes may leave it), 2 and 3 missing. The range cannot match until the
    wrong part on disk is fetched again too."""
    chunk = 32 * KIB
    biggest = _biggest(demo_catalogue, CLASSICAL)
    async with rig_for(tmp_path, demo_catalogue, chunk_size=chunk) as rig:
        await rig.scan(CLASSICAL)
        row = await AudioFile.get(document_id=biggest.document_id)
        good = biggest.path.read_bytes()
        bad = bytearray(good[chunk : 2 * chunk])
        bad[100] ^= 0xFF
        part = rig.out / "resumed.mp3.part"
        part.write_bytes(good[:chunk] + bytes(bad))
        row.partial_file_path = str(part)
        row.resume_state = PartMap(row.file_size, chunk, {0: zlib.crc32(good[:chunk]), 1: zlib.crc32(bad)}).to_json()
        await row.save()
        outcomes = await rig.download(CLASSICAL)
        assert outcomes["failed"] == 0, rig.check().failed_messages
        rig.check()  # the resumed file too has the source's MD5
        # resumed from its .part, then named from its tags (the default template) when complete
        named = rig.out / "Johann Sebastian Bach - Toccata and Fugue in D minor, BWV 565.flac"
        assert (await AudioFile.get(document_id=biggest.document_id)).local_path == str(named)
        assert not part.exists()
        fetched = [e.detail for e in rig.server.requests("GetFileRequest") if f"id={biggest.document_id} " in e.detail]
        assert sum(f"offset={chunk} " in detail for detail in fetched) == 1  # the wrong part, once
        assert sum(detail.endswith(" offset=0 limit=32768") for detail in fetched) == 1  # the good one too


async def test_a_part_that_never_matches_fails_its_file_in_words(tmp_path: Path, demo_catalogue: Catalogue) -> None:
    async with rig_for(tmp_path, demo_catalogue, retry_attempts=2, max_concurrent=1) as rig:
        rig.server.inject(FaultRule("GetFileRequest", damage="flip", times=-1))
        outcomes = await rig.download(CLASSICAL)
        assert outcomes["downloaded"] == 0 and outcomes["failed"] == len(_files(demo_catalogue, CLASSICAL))
        verdict = rig.check()
        messages = set(verdict.failed_messages.values())
        assert all(
            message.startswith("part ") and "does not match Telegram's hash of bytes" in message
            and message.endswith("gave up after 3 attempts")
            for message in messages
        ), messages
        for row in await AudioFile.all():  # not a byte of any part was written
            part = Path(row.partial_file_path or "")
            assert row.downloaded_bytes == 0 and (not part.is_file() or part.stat().st_size == 0), row.file_name


async def test_without_hashes_from_telegram_files_download_with_crc_checks_only(
    tmp_path: Path, demo_catalogue: Catalogue, caplog: pytest.LogCaptureFixture
) -> None:
    async with rig_for(tmp_path, demo_catalogue, file_hashes=False, latency=0.002) as rig:
        with caplog.at_level("WARNING", logger="tad_tui.download.integrity"):
            outcomes = await rig.download(MIXES)
        assert outcomes["failed"] == 0, rig.check().failed_messages
        verdict = rig.check()  # MD5 of every file equal to the source's
        assert len(verdict.completed) == len(_files(demo_catalogue, MIXES))
        rows = await AudioFile.filter(status=FileStatus.COMPLETED)
        assert all(row.checksum_md5 == row.source_md5 == md5_of(Path(row.local_path)) for row in rows)
        said = [record.getMessage() for record in caplog.records]
        for row in rows:  # refused once (or for each part asked for at once), said once, never asked again
            asked = rig.hash_requests(row.document_id)
            assert 1 <= len(asked) <= min(16, math.ceil(row.file_size / MIB)), (row.file_name, asked)
            assert sum(Path(row.local_path).name in line for line in said) == 1, said
        assert all("METHOD_INVALID" in line and "checked by their CRC only" in line for line in said), said


async def test_hashes_are_asked_for_once_per_mib_of_each_file(tmp_path: Path, demo_catalogue: Catalogue) -> None:
    async with rig_for(tmp_path, demo_catalogue, latency=0.002) as rig:
        assert (await rig.download(MIXES))["failed"] == 0
        rig.check()
        for file in _files(demo_catalogue, MIXES):
            asked = rig.hash_requests(file.document_id)
            assert sorted(asked) == list(range(0, file.size, MIB)), file.file_name  # each MiB once, none twice


async def test_smaller_parts_share_one_hash_request_per_mib(tmp_path: Path, demo_catalogue: Catalogue) -> None:
    async with rig_for(tmp_path, demo_catalogue, latency=0.002, chunk_size=256 * KIB) as rig:
        assert (await rig.download(MIXES))["failed"] == 0
        rig.check()
        biggest = _biggest(demo_catalogue, MIXES)
        asked = rig.hash_requests(biggest.document_id)
        mibs, parts = math.ceil(biggest.size / MIB), math.ceil(biggest.size / (256 * KIB))
        assert len(asked) == len(set(asked)) and mibs <= len(asked) <= mibs + mibs // 4 < parts


async def test_flood_waits_on_hashes_are_waited_out_and_the_parts_still_checked(
    tmp_path: Path, demo_catalogue: Catalogue, monkeypatch: pytest.MonkeyPatch
) -> None:
    audit = PartWriteAudit()
    monkeypatch.setattr(os, "pwrite", audit)
    monkeypatch.setattr(os, "replace", audit.replace)
    async with rig_for(tmp_path, demo_catalogue, latency=0.002) as rig:
        waits = rig.server.inject(FaultRule(HASHES, "FLOOD_WAIT_1", skip=3, every=10, times=3))
        flips = rig.server.inject(FaultRule("GetFileRequest", damage="flip", skip=20, every=9, times=4))
        outcomes = await rig.download(MIXES)
        assert outcomes["failed"] == 0, rig.check().failed_messages
        assert waits.times == 0 and flips.times == 0
        assert rig.server.flood_violations == []  # no getFileHashes sent while a wait was in force
        rig.check()
        rows = await AudioFile.filter(status=FileStatus.COMPLETED)
        assert audit.assert_all_good(_sources(rows, demo_catalogue, audit)) == sum(math.ceil(r.file_size / MIB) for r in rows)


async def test_verify_checksums_off_asks_for_no_hashes(tmp_path: Path, demo_catalogue: Catalogue) -> None:
    async with rig_for(tmp_path, demo_catalogue, verify=False) as rig:
        assert (await rig.download(CLASSICAL))["failed"] == 0
        assert len(rig.check().completed) == len(_files(demo_catalogue, CLASSICAL))
        assert rig.server.requests(HASHES) == []


async def test_source_md5_is_what_telegram_sent_and_checksum_md5_the_file_on_disk(
    tmp_path: Path, demo_catalogue: Catalogue
) -> None:
    async with rig_for(tmp_path, demo_catalogue, tags=True) as rig:
        assert (await rig.download(CLASSICAL))["failed"] == 0
        rows = await AudioFile.filter(status=FileStatus.COMPLETED)
        assert len(rows) == len(_files(demo_catalogue, CLASSICAL))
        tagged = 0
        for row in rows:
            source = demo_catalogue.document(row.document_id)
            on_disk = md5_of(Path(row.local_path))
            assert row.source_md5 == source.md5 and row.checksum_md5 == on_disk, row.file_name
            # Written into: an untagged file (Telegram's tags), or one with a cover (it gets it).
            assert (on_disk != source.md5) == (source.cover is not None or not source.tags), row.file_name
            tagged += on_disk != source.md5
        assert tagged > 0
        events = {event.file_id: event for event in rig.finished("downloaded")}
        assert {(row.checksum_md5, row.source_md5) for row in rows} == {
            (events[row.file_id].checksum_md5, events[row.file_id].source_md5) for row in rows
        }


async def test_a_twin_skipped_as_already_downloaded_keeps_the_source_md5(
    tmp_path: Path, demo_catalogue: Catalogue
) -> None:
    async with rig_for(tmp_path, demo_catalogue, tags=True, max_concurrent=1) as rig:
        # Both groups queued at once: the copy in the second is found downloaded when its turn comes.
        outcomes = await rig.download(CLASSICAL, HOSTILE)
        assert outcomes["failed"] == 0 and outcomes["skipped"] == 1
        skipped = await AudioFile.filter(status=FileStatus.SKIPPED)
        assert len(skipped) == 1  # the file posted in both groups
        for row in skipped:
            assert row.source_md5 == demo_catalogue.document(row.document_id).md5
        assert {e.source_md5 for e in rig.finished("skipped")} == {row.source_md5 for row in skipped}


def test_range_hashes_ignore_malformed_answers_and_give_up_on_empty_ones() -> None:
    hashes = RangeHashes(3 * HASH_RANGE + 10, label="x.mp3")
    good = [types.FileHash(offset=i * HASH_RANGE, limit=HASH_RANGE, hash=bytes([i]) * 32) for i in range(2)]
    bad = [
        types.FileHash(offset=-HASH_RANGE, limit=HASH_RANGE, hash=b"\x00" * 32),
        types.FileHash(offset=2 * HASH_RANGE, limit=HASH_RANGE, hash=b"short"),
        types.FileHash(offset=9 * HASH_RANGE, limit=HASH_RANGE, hash=b"\x00" * 32),  # past the end
    ]
    assert hashes.add(good + bad) == 2
    assert hashes.first_unknown(0, 3 * HASH_RANGE + 10) == 2 * HASH_RANGE
    last = types.FileHash(offset=3 * HASH_RANGE, limit=HASH_RANGE, hash=hashlib.sha256(b"z" * 10).digest())
    assert hashes.add([last]) == 1
    assert hashes.range_at(3 * HASH_RANGE + 9).end == 3 * HASH_RANGE + 10  # never past the end of the file
    assert hashes.mismatch(3 * HASH_RANGE, b"z" * 10) is None
    assert hashes.mismatch(3 * HASH_RANGE, b"y" * 10).offset == 3 * HASH_RANGE
    assert hashes.mismatch(0, b"\x00" * HASH_RANGE).offset == 0
    assert hashes.unavailable is None
    hashes.give_up("Telegram answered no hashes for it")
    assert hashes.unavailable == "Telegram answered no hashes for it" and not hashes.wanted(2 * HASH_RANGE, 10)


class ScriptedTelegram:
    """A client whose getFileHashes answers come from ``answer(offset)`` (a list, or an error to raise)."""

    def __init__(self, answer) -> None:
        self.answer = answer
        self.asked: list[int] = []

    async def _call(self, sender, request, flood_sleep_threshold=None):
        self.asked.append(request.offset)
        await asyncio.sleep(0.01)
        result = self.answer(request.offset)
        if isinstance(result, BaseException):
            raise result
        return result


def _telegram_like(size: int, offset: int) -> list:
    first = offset // HASH_RANGE
    return [
        types.FileHash(offset=i * HASH_RANGE, limit=min(HASH_RANGE, size - i * HASH_RANGE), hash=bytes([i % 256]) * 32)
        for i in range(first, min(first + 8, math.ceil(size / HASH_RANGE)))
    ]


async def test_range_hashes_ask_once_for_ranges_asked_for_at_the_same_time() -> None:
    size = 3 * MIB + 5
    telegram = ScriptedTelegram(lambda offset: _telegram_like(size, offset))
    hashes = RangeHashes(size)
    await asyncio.gather(*(hashes.ensure(telegram, None, None, offset, offset + 256 * KIB) for offset in
                           range(0, size, 256 * KIB)))
    assert telegram.asked == [0, MIB, 2 * MIB, 3 * MIB] and hashes.unavailable is None
    assert hashes.first_unknown(0, size) is None
    await hashes.ensure(telegram, None, None, 4096, MIB)  # known: nothing asked
    assert len(telegram.asked) == 4


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (lambda offset: [], "Telegram answered no hashes for it"),
        (lambda offset: _telegram_like(3 * MIB, offset + MIB), "Telegram's hashes do not cover byte 0"),
        (lambda offset: errors.MethodInvalidError(None), "Telegram gives no hashes for it (METHOD_INVALID)"),
        (lambda offset: errors.RPCError(None, "HASHES_NOT_READY", 400), "Telegram gives no hashes for it (HASHES_NOT_READY)"),
    ],
    ids=["empty", "elsewhere", "refused", "unknown-error"],
)
async def test_range_hashes_give_up_once_when_telegram_gives_none(answer, reason: str) -> None:
    telegram = ScriptedTelegram(answer)
    hashes = RangeHashes(3 * MIB)
    await hashes.ensure(telegram, None, None, 0, MIB)
    assert hashes.unavailable == reason
    await hashes.ensure(telegram, None, None, MIB, 2 * MIB)
    assert telegram.asked == [0]  # never asked again


@pytest.mark.parametrize(
    "error",
    [
        errors.FloodWaitError(None, capture=3),
        errors.FileMigrateError(None, capture=4),
        errors.FileReferenceExpiredError(None),
        errors.RpcCallFailError(None),
    ],
    ids=["flood-wait", "file-migrate", "reference-expired", "server-error"],
)
async def test_range_hashes_raise_what_getfile_handles(error: Exception) -> None:
    telegram = ScriptedTelegram(lambda offset: error)
    hashes = RangeHashes(3 * MIB)
    with pytest.raises(type(error)):
        await hashes.ensure(telegram, None, None, 0, MIB)
    assert hashes.unavailable is None and hashes.wanted(0, MIB)  # asked again when the part is retried


# ---- the CLI ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("failpoint", ["job.tagged:3", "job.renamed:4"])
def test_killed_between_tags_and_the_rename_then_the_json_events_carry_the_source_md5(
    tmp_path: Path, demo_catalogue: Catalogue, failpoint: str
) -> None:
    config = write_config(tmp_path / "config.toml", demo_catalogue, tags=True)
    data, out = tmp_path / "data", tmp_path / "out"
    args = ["download", CLASSICAL, "-o", str(out), "--json"]
    killed = run_cli(config, data, *args, failpoint=failpoint)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    again = run_cli(config, data, *args)
    assert again.returncode == 0, again.stderr
    events = json_lines(again.stdout)
    assert events[-1]["failed"] == 0
    with sqlite3.connect(data / "library.sqlite3") as conn:
        rows = conn.execute(
            "SELECT file_id, document_id, status, source_md5, checksum_md5, local_path FROM audio_file"
        ).fetchall()
    assert {status for _, _, status, *_ in rows} == {"completed"}
    documents = {file_id: document_id for file_id, document_id, *_ in rows}
    for file_id, document_id, _, source_md5, checksum_md5, local_path in rows:
        assert source_md5 == demo_catalogue.document(document_id).md5, local_path
        assert checksum_md5 == md5_of(Path(local_path)), local_path
    finished = [event for event in events if event.get("event") in ("downloaded", "skipped")]
    assert len(finished) == len(rows)  # downloaded now, or already before the kill ("skipped")
    for event in finished:
        assert event["source_md5"] == demo_catalogue.document(documents[event["file_id"]]).md5, event
        assert event["checksum_md5"] == md5_of(Path(event["local_path"])), event
    tagged = [event for event in finished if event["checksum_md5"] != event["source_md5"]]
    assert tagged  # the MD5 of a file with tags written in is not the MD5 of what Telegram sent
