"""Bandwidth shared fairly through the real engine, on the simulated Telegram: equal downloads get
equal bytes under a limit, and a small file is not starved by a big one. Measured in bytes (what
each download had when another event happened), never in seconds."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tad_tui.api import Track
from tad_tui.download.events import EntryFinished, EntryProgress, EntryStarted, Event
from tad_tui.engine import Engine
from tad_tui.library.scan import scan_group
from tad_tui.store import Priority
from tad_tui.telegram.sim.catalogue import synthetic_catalogue
from tad_tui.telegram.sim.limits import AccountLimits

from test_download import engine  # noqa: F401  (the fixture: the engine on the simulated Telegram)
from test_faults import rig_for

KiB, MiB = 1024, 1024 * 1024


class Progress:
    """The latest byte count of each running entry, and the order things happened in."""

    def __init__(self) -> None:
        self.bytes: dict[int, int] = {}
        self.started: list[int] = []
        self.finished: dict[int, str] = {}
        self.changed = asyncio.Event()

    def __call__(self, event: Event) -> None:
        if isinstance(event, EntryProgress):
            self.bytes[event.entry_id] = event.downloaded_bytes
        elif isinstance(event, EntryStarted):
            self.started.append(event.entry_id)
        elif isinstance(event, EntryFinished):
            self.finished[event.entry_id] = event.outcome
        self.changed.set()

    async def until(self, condition) -> None:  # type: ignore[no-untyped-def]
        while not condition():
            self.changed.clear()
            await asyncio.wait_for(self.changed.wait(), 60)


async def _scanned(engine: Engine, username: str) -> list[Track]:
    info = await engine.resolve_group(username)
    await scan_group(engine.source, info)
    return list((await engine.select_for_download(info)).to_fetch)


async def _running(engine: Engine, progress: Progress, limit: int) -> asyncio.Task:
    scheduler = await engine.start_downloads()
    scheduler.context.bandwidth.set_rate(limit)
    engine.events.subscribe(progress)
    return asyncio.create_task(scheduler.run(until_idle=False))


async def _stop(runner: asyncio.Task) -> None:
    runner.cancel()
    await asyncio.gather(runner, return_exceptions=True)


async def test_equal_downloads_under_a_limit_get_equal_bytes(engine: Engine) -> None:
    mixes = await _scanned(engine, "@tad_demo_mixes")
    assert len(mixes) >= 3
    progress = Progress()
    runner = await _running(engine, progress, MiB)
    try:
        queued = await engine.scheduler.enqueue([m.pk for m in mixes[:3]])
        entries = queued.entry_ids
        await progress.until(lambda: all(e in progress.started for e in entries))
        await progress.until(lambda: sum(progress.bytes.get(e, 0) for e in entries) >= 6 * MiB)
        counts = [progress.bytes.get(e, 0) for e in entries]
    finally:
        await _stop(runner)
    # First come, first served gave the first mix all of it and the others nothing for seconds.
    assert min(counts) >= 0.75 * max(counts), counts


async def test_a_small_file_finishes_while_a_big_one_runs_under_a_small_limit(engine: Engine) -> None:
    mix = max(await _scanned(engine, "@tad_demo_mixes"), key=lambda row: row.file_size)
    track = min(await _scanned(engine, "@tad_demo_archive"), key=lambda row: row.file_size)
    assert track.file_size < 64 * KiB < 50 * MiB < mix.file_size
    progress = Progress()
    runner = await _running(engine, progress, 200 * KiB)
    try:
        (big,) = (await engine.scheduler.enqueue([mix.pk])).entry_ids
        await progress.until(lambda: progress.bytes.get(big, 0) >= 512 * KiB)  # well under way
        before = progress.bytes[big]
        (small,) = (await engine.scheduler.enqueue([track.pk], priority=Priority.HIGH)).entry_ids
        await progress.until(lambda: small in progress.finished)
        during = progress.bytes[big] - before
    finally:
        await _stop(runner)
    assert progress.finished[small] == "downloaded"
    # Behind the mix's sixteen queued 1 MiB requests it waited for 16 MiB of the mix; now for at
    # most a few of the mix's pieces (each about a second of its share).
    assert during <= 768 * KiB, during


async def test_a_running_downloads_new_priority_changes_its_share(engine: Engine) -> None:
    mixes = await _scanned(engine, "@tad_demo_mixes")
    progress = Progress()
    runner = await _running(engine, progress, MiB)
    try:
        first, second = (await engine.scheduler.enqueue([m.pk for m in mixes[:2]])).entry_ids
        await progress.until(lambda: progress.bytes.get(first, 0) > 0 and progress.bytes.get(second, 0) > 0)
        await engine.scheduler.set_priority(second, Priority.CRITICAL)  # weight 8 against 2
        at = dict(progress.bytes)
        await progress.until(lambda: progress.bytes[second] - at[second] >= 4 * MiB)
        gained = (progress.bytes[first] - at[first], progress.bytes[second] - at[second])
    finally:
        await _stop(runner)
    assert gained[1] >= 2.5 * gained[0], gained  # four times, less the pieces already asked for


async def test_a_non_premium_accounts_allowance_is_shared_by_weight(tmp_path: Path) -> None:
    """No limit of the user's: Telegram's throttle of an account without Premium binds, and the pace
    learned from it is shared by weight like a limit (a high download gets twice a normal one's)."""
    catalogue = synthetic_catalogue(tmp_path / "catalogue", sizes=[32 * MiB] * 2)
    limits = AccountLimits(premium=False, download_limit=3 * MiB)
    async with rig_for(tmp_path, catalogue, latency=0.002, bandwidth=16 * MiB, limits=limits) as rig:
        progress = Progress()
        rig.listen(progress)
        runner = asyncio.create_task(rig.download("@" + catalogue.groups[0].username))
        try:
            await progress.until(lambda: len(progress.started) == 2 and rig.engine.scheduler.context.pace.rate > 0)
            high, normal = progress.started
            await rig.engine.scheduler.set_priority(high, Priority.HIGH)
            def gained() -> tuple[int, int]:
                return tuple(progress.bytes.get(e, 0) - at.get(e, 0) for e in (high, normal))  # type: ignore[return-value]

            at = dict(progress.bytes)
            await progress.until(lambda: sum(gained()) >= 18 * MiB)
            high_got, normal_got = gained()
        finally:
            runner.cancel()
            await asyncio.gather(runner, return_exceptions=True)
    assert high_got >= 1.5 * normal_got, (high_got, normal_got)  # first come, first served: the same
