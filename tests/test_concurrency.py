"""Adaptive concurrency: single-part files get slots of their own, sized by what more files pay.

The controller is driven by a fake clock (files finish at a rate the test decides); the engine
tests run the simulated Telegram and count, from EntryStarted and EntryFinished, how many files of
each kind ran at once. No test asserts a time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from pathlib import Path

import pytest

from tad_tui.config import ConfigError, Settings, default_settings, load_settings
from tad_tui.download import concurrency
from tad_tui.download.concurrency import Concurrency, SinglePartSlots, concurrency_words
from tad_tui.download.events import EntryFinished, EntryStarted, Event, EventBus
from tad_tui.download.job import JobContext
from tad_tui.download.limits import ByteRateLimiter
from tad_tui.download.pace import AccountPace
from tad_tui.download.scheduler import Scheduler
from tad_tui.download.transfer import Health
from tad_tui.engine import Engine
from tad_tui.library.scan import scan_group
from tad_tui.paths import Paths
from tad_tui.store import AudioFile, opened_store
from tad_tui.telegram.sim.limits import AccountLimits, AccountPolicy
from tad_tui.telegram.sim.server import SimulatedTelegram
from tad_tui.telegram.source import TelethonSource

CHUNK = 1024 * 1024


class Link:
    """Files finishing at ``rate(slots)`` a second while the slots are full, on a fake clock."""

    def __init__(self, rate: Callable[[int], float], *, start: int = 3, queued: Callable[[], int] | None = None) -> None:
        self.now = 1000.0
        self.rate = rate
        self.slots = SinglePartSlots(start, chunk_size=CHUNK, clock=lambda: self.now)
        self.queued = queued or (lambda: 10_000)  # single-part files waiting to run
        self.slots.running = lambda: min(self.slots.limit, self.queued())
        self._owed = 0.0

    def run(self, seconds: float, step: float = 0.05) -> list[int]:
        """Let ``seconds`` pass; returns the limits seen, one per step."""
        seen = []
        for _ in range(round(seconds / step)):
            self.now += step
            running = self.slots.running()
            self._owed += self.rate(running) * step if running else 0.0
            while self._owed >= 1:
                self._owed -= 1
                self.slots.on_event(EntryFinished(1, "f", "downloaded", file_size=5_000))
            seen.append(self.slots.update())
        return seen


def linear_until(knee: int, per_file: float = 10.0) -> Callable[[int], float]:
    """Each file adds ``per_file`` files a second, up to ``knee`` files; more add nothing."""
    return lambda files: per_file * min(files, knee)


def test_grows_while_more_files_raise_the_rate() -> None:
    link = Link(linear_until(64))
    seen = link.run(3.5)
    assert seen[0] == 3 and max(seen) >= 12  # doubling while each step pays: 3, 6, 12, 24…
    assert seen == sorted(seen)  # never back while every step paid
    assert link.slots.reason == "growing: more files raised the rate"
    seen = link.run(30)
    assert max(seen) == concurrency.MOST_SINGLE_PART  # and no further


def test_backs_off_when_more_files_do_not_raise_the_rate() -> None:
    link = Link(linear_until(10))
    seen = link.run(6)
    assert max(seen) > 10  # it tried beyond the knee…
    assert link.slots.limit <= 12  # …and came back below the level that did not pay (24, from 12)
    assert link.slots.reason == "holding: more files did not raise the rate"
    link.run(40)  # later steps, up and down, stay around the knee
    assert 6 <= link.slots.limit <= 15


def test_a_flat_rate_keeps_the_slots_where_they_are() -> None:
    link = Link(lambda files: 30.0)  # a link (or a disk) that more files cannot speed up
    seen = link.run(4)
    assert max(seen) == 6 and link.slots.limit == 3
    assert link.slots.reason == "holding: more files did not raise the rate"


def _flood(link: Link) -> Callable[[], None]:
    """A way to make Telegram push back now: Health.trouble_until moves (a 2-second flood wait)."""
    until = [0.0]
    link.slots.trouble = lambda: until[0]

    def flood() -> None:
        until[0] = link.now + 2

    return flood


def test_a_step_up_that_meets_a_flood_wait_is_undone_and_not_tried_again_for_a_while() -> None:
    link = Link(linear_until(64))
    flood = _flood(link)
    base = link.slots.limit
    while link.slots.limit == base:  # until the first step up, 3 to 6
        link.run(0.05)
    assert link.slots.reason == "probing: trying more files"
    flood()
    assert link.slots.update() == base and link.slots.reason == "flood waits or errors: fewer files"
    link.now += 2.5
    flood()  # the tail of the same wait (requests that met it as it ended): not a second cut
    assert link.slots.update() == base
    seen = link.run(concurrency.TROUBLE_MEMORY_SECONDS - 10)
    assert max(seen) == base  # more files would still pay, but that step met a flood wait
    seen = link.run(30)
    assert max(seen) > base  # once that is long past, it tries again


def test_a_flood_wait_at_a_settled_level_halves_the_slots_and_keeps_them_below_it() -> None:
    link = Link(linear_until(10))
    flood = _flood(link)
    link.run(6)
    assert link.slots.reason == "holding: more files did not raise the rate"
    before = link.slots.limit
    flood()
    assert link.slots.update() == before // 2 and link.slots.reason == "flood waits or errors: fewer files"
    assert link.slots.update() == before // 2  # the same trouble cuts once
    seen = link.run(concurrency.TROUBLE_MEMORY_SECONDS - 10)
    assert max(seen) < before and max(seen) > before // 2  # grown back, but not up to where it met the wait


def test_a_flood_wait_that_set_the_request_pace_cuts_nothing_and_is_not_measured() -> None:
    link = Link(linear_until(64))
    flood = _flood(link)
    paced_at: list[float | None] = [None]
    link.slots.paced_at = lambda: paced_at[0]
    base = link.slots.limit
    while link.slots.limit == base:  # until the first step up, 3 to 6
        link.run(0.05)
    probe = link.slots.limit
    flood()
    paced_at[0] = link.now  # the client lowered the pace of the refused kind just now
    assert link.slots.update() == probe  # the step stands: the pace, not fewer files, answers it
    assert link.slots.reason == "flood wait: requests paced to Telegram's rate"
    slow = link.rate
    link.rate = lambda files: 0.0  # every request waits out the flood wait: nothing finishes…
    link.run(2.0)
    link.rate = slow
    assert link.slots.limit == probe  # …and that is not taken as what the step paid
    link.run(3.0)
    assert link.slots.limit > probe and link.slots.reason == "growing: more files raised the rate"
    link.now += 30
    before = link.slots.limit
    flood()  # a flood wait that moved no pace (it came with server errors, say): trouble
    assert link.slots.update() < before and link.slots.reason == "flood waits or errors: fewer files"


def test_memory_pressure_and_a_busy_cpu_cut_the_slots_and_stop_growth() -> None:
    link = Link(linear_until(64))
    link.run(5)
    before = link.slots.limit
    pressure = [True]
    link.slots.pressure = lambda: pressure[0]
    seen = link.run(0.5)
    assert seen[-1] == before // 2 and link.slots.reason == "memory pressure: fewer files"
    seen = link.run(3)
    assert max(seen) <= before // 2 and link.slots.limit < before // 2  # cut again while it lasts
    pressure[0] = False
    busy = [True]
    link.slots.cpu_busy = lambda: busy[0]
    start = link.slots.limit
    seen = link.run(3)
    assert max(seen) <= start and link.slots.limit < start and link.slots.reason == "CPU busy: fewer files"
    busy[0] = False
    link.run(concurrency.HOLD_SECONDS + 10)
    assert link.slots.limit > start  # calm again: more files pay, so it grows


def test_slots_the_queue_cannot_fill_are_not_grown() -> None:
    link = Link(linear_until(64), start=8, queued=lambda: 2)  # two single-part files at a time to run
    seen = link.run(10)
    assert set(seen) == {8}
    assert link.slots.reason == "holding: not every slot is used"


def test_nothing_running_reads_as_idle_and_learns_nothing() -> None:
    link = Link(linear_until(64), queued=lambda: 0)
    assert set(link.run(10)) == {3}
    assert link.slots.reason == "idle: no single-part files running"


def test_only_downloaded_single_part_files_count() -> None:
    now = [0.0]
    slots = SinglePartSlots(3, chunk_size=CHUNK, clock=lambda: now[0])
    slots.running = lambda: 3
    for event in (
        EntryFinished(1, "a", "downloaded", file_size=CHUNK + 1),  # two parts
        EntryFinished(2, "b", "skipped", file_size=5_000),  # already on disk: no transfer
        EntryFinished(3, "c", "failed", file_size=5_000),
    ):
        slots.on_event(event)
    now[0] = 2.0
    assert slots.update() == 3 and slots._files == 0
    for n in range(9):
        slots.on_event(EntryFinished(n, "d", "downloaded", file_size=CHUNK))  # exactly one part
    now[0] = 3.0
    assert slots.update() == 6  # the window judged: a step up is tried


def _scheduler(**downloads: object) -> Scheduler:
    base = default_settings()
    settings = replace(base, downloads=replace(base.downloads, **downloads))  # type: ignore[arg-type]
    context = JobContext(
        settings=settings, source=None, client=None, pool=None, bandwidth=ByteRateLimiter(),  # type: ignore[arg-type]
        health=Health(), pace=AccountPace(), events=EventBus(), default_output=Path("."), reserved=set(),
    )
    return Scheduler(context, settings.downloads.max_concurrent)


def test_adaptive_off_is_max_concurrent_files_of_any_size() -> None:
    scheduler = _scheduler(adaptive=False, max_concurrent=4)
    assert scheduler.concurrency() == Concurrency(4, 4, "adaptive off", adaptive=False)
    assert scheduler.concurrency().to_json() == {"multi_part": 4, "single_part": 4, "total": 4}
    assert concurrency_words(scheduler.concurrency().to_json(), "adaptive off") == "4 files of any size (adaptive off)"
    on = _scheduler(max_concurrent=4)
    assert on.concurrency().to_json() == {"multi_part": 4, "single_part": 4, "total": 8}
    words = concurrency_words(on.concurrency().to_json(), on.concurrency().reason)
    assert words == "4 multi-part + 4 single-part files (idle: no single-part files running)" or words.startswith(
        "4 multi-part + 4 single-part files (starting"
    )
    on.admission = lambda: "memory limit: tad-tui uses 1100 MiB of max_memory_mb 1024 MiB"
    assert on.concurrency().reason == "memory limit: no new files start"


def test_adaptive_is_a_documented_boolean_with_a_clear_error(tmp_path: Path) -> None:
    assert default_settings().downloads.adaptive is True
    config = tmp_path / "config.toml"
    config.write_text("[downloads]\nadaptive = false\n")
    assert load_settings(config, env={}).downloads.adaptive is False
    config.write_text('[downloads]\nadaptive = "sometimes"\n')
    with pytest.raises(ConfigError) as error:
        load_settings(config, env={})
    assert "downloads.adaptive" in str(error.value) and "true or false" in str(error.value)
    assert "\n" not in str(error.value)


# ---- through the engine, on the simulated Telegram ---------------------------------------------


class Peaks:
    """How many files of each kind ran at once, at most, and the order multi-part files started."""

    def __init__(self) -> None:
        self.running: dict[int, bool] = {}  # entry id -> single-part
        self.peak = {True: 0, False: 0, None: 0}  # single-part, multi-part, either
        self.multi_order: list[int] = []

    def __call__(self, event: Event) -> None:
        if isinstance(event, EntryStarted):
            single = event.file_size <= CHUNK
            self.running[event.entry_id] = single
            if not single:
                self.multi_order.append(event.entry_id)
            kinds = list(self.running.values())
            self.peak[single] = max(self.peak[single], kinds.count(single))
            self.peak[None] = max(self.peak[None], len(kinds))
        elif isinstance(event, EntryFinished):
            self.running.pop(event.entry_id, None)


def _settings(**downloads: object) -> Settings:
    base = default_settings()
    return replace(base, downloads=replace(base.downloads, retry_delay=0.0, **downloads))  # type: ignore[arg-type]


@pytest.fixture
async def paths(tmp_path: Path) -> AsyncIterator[Paths]:
    paths = Paths(tmp_path / "data", output_override=tmp_path / "out")
    paths.ensure()
    async with opened_store(paths.db):
        yield paths


async def _mixes_then_archive(engine: Engine, source: TelethonSource, archive_files: int) -> list[int]:
    """The five multi-part mixes first in the queue, then single-part archive recordings."""
    source.client.latency = 0.03  # a round trip per file: what more files at once hide
    scheduler = await engine.start_downloads()
    queued: list[list[int]] = []
    for group, limit in (("@tad_demo_mixes", None), ("@tad_demo_archive", archive_files)):
        info = await engine.resolve_group(group)
        await scan_group(source, info)
        selection = await engine.select_for_download(info, limit=limit)
        queued.append((await scheduler.enqueue([row.pk for row in selection.to_fetch], batch_name=info.title)).entry_ids)
    assert len(queued[0]) == 5 and len(queued[1]) == archive_files
    return queued[0]


async def _single_part_connections(server: SimulatedTelegram) -> tuple[int, int]:
    """(connections, DCs) the single-part files' parts were fetched over."""
    ids = {str(i) for i in await AudioFile.filter(file_size__lte=CHUNK).values_list("document_id", flat=True)}
    requests = [
        r for r in server.requests("GetFileRequest")
        if r.detail.split()[0].removeprefix("id=") in ids and "thumb=" not in r.detail  # parts, not covers
    ]
    return len({(r.dc, r.connection) for r in requests}), len({r.dc for r in requests})


async def test_single_part_files_run_beyond_max_concurrent_and_multi_part_ones_never_do(
    paths: Paths, source: TelethonSource, server: SimulatedTelegram
) -> None:
    engine = Engine(_settings(max_concurrent=2), paths, source)
    peaks = Peaks()
    engine.events.subscribe(peaks)
    try:
        mixes = await _mixes_then_archive(engine, source, 150)
        outcomes = await engine.scheduler.run(until_idle=True)
        monitor = engine.start_monitor(share=False)  # after the run: its CPU reading cuts nothing here
        sample = await monitor.sample()
    finally:
        await engine.close()
    assert outcomes["downloaded"] == 155 and not outcomes["failed"]
    assert peaks.peak[True] > 2  # single-part files past max_concurrent…
    assert peaks.peak[False] == 2  # …while multi-part ones keep to it
    assert peaks.multi_order == mixes  # and start in their queue order, ahead of none of each other
    connections, dcs = await _single_part_connections(server)
    assert connections > dcs  # spread over the connections of each DC, not all on its first
    # The sample tells the slots as they were when it was taken (the adaptive count may move after).
    single = sample.concurrency["single_part"]
    assert sample.concurrency == {"multi_part": 2, "single_part": single, "total": 2 + single} and single >= 1
    assert sample.concurrency_reason


async def test_adaptive_off_runs_max_concurrent_files_of_any_size(
    paths: Paths, source: TelethonSource, server: SimulatedTelegram
) -> None:
    engine = Engine(_settings(max_concurrent=2, adaptive=False), paths, source)
    peaks = Peaks()
    engine.events.subscribe(peaks)
    try:
        await _mixes_then_archive(engine, source, 40)
        outcomes = await engine.scheduler.run(until_idle=True)
    finally:
        await engine.stop_downloads()
    assert outcomes["downloaded"] == 45
    assert peaks.peak[None] == 2
    connections, dcs = await _single_part_connections(server)
    assert connections == dcs  # as before: a file's one part on its DC's first connection
    assert engine.scheduler.concurrency() == Concurrency(2, 2, "adaptive off", adaptive=False)



@pytest.mark.parametrize("adaptive", [True, False])
async def test_after_a_flood_wait_requests_of_its_kind_are_paced_and_not_refused_again(
    paths: Paths, source: TelethonSource, server: SimulatedTelegram, adaptive: bool
) -> None:
    # Telegram refuses more than 20 requests of one kind a second; three files at once on a 30 ms
    # round trip ask about twice that. Unpaced, each wait's end sent every held request at once
    # into the next flood wait, and a file got through between them.
    server.policy = AccountPolicy(AccountLimits(requests_per_second=20, flood_wait_seconds=1))
    source.client.latency = 0.03
    engine = Engine(_settings(max_concurrent=3, adaptive=adaptive), paths, source)
    try:
        info = await engine.resolve_group("@tad_demo_archive")
        await scan_group(source, info)
        selection = await engine.select_for_download(info, limit=60)
        await (await engine.start_downloads()).enqueue([row.pk for row in selection.to_fetch])
        outcomes = await engine.scheduler.run(until_idle=True)
        sample = await engine.start_monitor(share=False).sample()
    finally:
        await engine.close()
    assert outcomes["downloaded"] == 60 and not outcomes["failed"]
    floods = server.policy.volume_floods
    assert floods.get("GetFileRequest", 0) >= 1  # the limit was met…
    assert all(count <= 2 for count in floods.values()), floods  # …and then kept to
    paces = source.client.pace.paces()
    assert set(paces) <= {"getFile", "getFileHashes"} and "getFile" in paces
    assert all(pace <= 20 for pace in paces.values())
    assert sample.request_pace == paces
