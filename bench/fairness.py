"""Fair bandwidth and priorities through the engine, on one simulated link.

The link: a 60 ms round trip and 4 MB/s per connection (as download_throughput.py), a Premium
account (the user's ``bandwidth_limit`` is what binds). Figures:

1. ``small_file_s``: a 5 KB file queued (high priority) while a 50 MB file runs under a 200 KiB/s
   limit: seconds from queueing it to its finish. Target ≤ 2.
2. ``jain_index``: Jain's fairness index of the rates of 4 equal-priority 50 MB downloads under a
   4 MB/s limit over 10 s (1 = perfectly equal). Target ≥ 0.95. ``limit_error``: their total rate
   against the limit. Target within ±0.05.
3. ``weighted_ratio``: rate of a high-priority download over a normal one under a 2 MB/s limit,
   over 10 s (weights 4 and 2). Target 2 ± 0.3.
4. ``critical_start_s``: a critical 50 MB file queued while every slot (``max_concurrent`` 3) runs a
   normal 50 MB file (under an 8 MB/s limit, so none is about to finish): seconds to its first
   byte. Target ≤ 1.0.
5. ``many_small_files_per_s``: 1,000 files of 100 KB, no limit: files finished per second;
   ``many_small_files_speedup``: that over the same run with ``[downloads] adaptive = false``
   (1.0 when this version has no such setting). Target ≥ 3.

MB is 10^6 bytes; KiB 1024.

    python bench/fairness.py --json [--small-files 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from tad_tui.config import Settings, default_settings
from tad_tui.download.events import EntryFinished, EntryProgress, EntryStarted, Event
from tad_tui.download.scheduler import Scheduler
from tad_tui.engine import Engine
from tad_tui.library.scan import scan_group
from tad_tui.paths import Paths
from tad_tui.store import AudioFile, Priority, opened_store
from tad_tui.telegram.sim.catalogue import Catalogue, synthetic_catalogue
from tad_tui.telegram.sim.client import SimulatedClient
from tad_tui.telegram.sim.server import SimulatedTelegram
from tad_tui.telegram.source import TelethonSource

LATENCY = 0.060
PER_CONNECTION = 4_000_000
BIG = 50_000_000
KiB, MB = 1024, 1_000_000


class Watch:
    """When each entry started, got its first byte and finished; its byte count over time."""

    def __init__(self) -> None:
        self.first_byte: dict[int, float] = {}
        self.started: dict[int, float] = {}
        self.finished: dict[int, float] = {}
        self.bytes: dict[int, int] = {}
        self.changed = asyncio.Event()

    def __call__(self, event: Event) -> None:
        now = time.perf_counter()
        if isinstance(event, EntryStarted):
            self.started.setdefault(event.entry_id, now)
        elif isinstance(event, EntryProgress):
            self.bytes[event.entry_id] = event.downloaded_bytes
            if event.downloaded_bytes:
                self.first_byte.setdefault(event.entry_id, now)
        elif isinstance(event, EntryFinished):
            self.finished[event.entry_id] = now
        self.changed.set()

    async def until(self, condition: Callable[[], bool]) -> None:
        while not condition():
            self.changed.clear()
            await asyncio.wait_for(self.changed.wait(), 600)


@dataclasses.dataclass
class Rig:
    engine: Engine
    scheduler: Scheduler
    rows: list[AudioFile]
    watch: Watch

    async def queue(self, indexes: list[int], priority: Priority = Priority.NORMAL) -> list[int]:
        queued = await self.scheduler.enqueue([self.rows[i].pk for i in indexes], priority=priority)
        return queued.entry_ids


def _settings(limit: int, **downloads: Any) -> Settings:
    base = default_settings()
    known = {f.name for f in dataclasses.fields(base.downloads)}
    return replace(
        base,
        performance=replace(base.performance, bandwidth_limit=limit),
        downloads=replace(base.downloads, **{k: v for k, v in downloads.items() if k in known}),
    )


@asynccontextmanager
async def rig(catalogue: Catalogue, work: Path, settings: Settings) -> AsyncIterator[Rig]:
    paths = Paths(work / "data", output_override=work / "out")
    paths.ensure()
    server = SimulatedTelegram(catalogue)
    source = TelethonSource(SimulatedClient(server, latency=LATENCY, bandwidth_per_connection=PER_CONNECTION))
    await source.start()
    try:
        async with opened_store(paths.db):
            engine = Engine(settings, paths, source)
            info = await source.resolve_group("@" + catalogue.groups[0].username)
            await scan_group(source, info)
            rows = sorted((await engine.select_for_download(info)).to_fetch, key=lambda row: row.message_id)
            scheduler = await engine.start_downloads()
            watch = Watch()
            engine.events.subscribe(watch)
            runner = asyncio.create_task(scheduler.run(until_idle=False))
            try:
                yield Rig(engine, scheduler, rows, watch)
            finally:
                runner.cancel()
                await asyncio.gather(runner, return_exceptions=True)
                await engine.stop_downloads()
    finally:
        await source.stop()


async def small_file(catalogue: Catalogue, work: Path) -> float:
    async with rig(catalogue, work, _settings(200 * KiB)) as r:
        (big,) = await r.queue([0])
        await r.watch.until(lambda: r.watch.bytes.get(big, 0) >= 512 * KiB)
        (small,) = await r.queue([4], Priority.HIGH)
        asked = time.perf_counter()
        await r.watch.until(lambda: small in r.watch.finished)
        return r.watch.finished[small] - asked


async def rates(catalogue: Catalogue, work: Path, limit: int, priorities: list[Priority], seconds: float) -> list[float]:
    """Bytes per second of each download over ``seconds``, once all run."""
    async with rig(catalogue, work, _settings(limit, max_concurrent=len(priorities))) as r:
        entries = [(await r.queue([i], p))[0] for i, p in enumerate(priorities)]
        await r.watch.until(lambda: all(r.watch.bytes.get(e, 0) > 0 for e in entries))
        await asyncio.sleep(1.0)  # past the start
        before, start = dict(r.watch.bytes), time.perf_counter()
        await asyncio.sleep(seconds)
        after, took = dict(r.watch.bytes), time.perf_counter() - start
        return [(after[e] - before[e]) / took for e in entries]


async def critical_start(catalogue: Catalogue, work: Path) -> float:
    # Under an 8 MB/s limit each normal file takes about 19 s: none frees its slot by finishing.
    async with rig(catalogue, work, _settings(8 * MB, max_concurrent=3)) as r:
        running = await r.queue([0, 1, 2])
        await r.watch.until(lambda: all(r.watch.bytes.get(e, 0) > 0 for e in running))
        (critical,) = await r.queue([3], Priority.CRITICAL)
        asked = time.perf_counter()
        await r.watch.until(lambda: critical in r.watch.first_byte)
        return r.watch.first_byte[critical] - asked


async def many_small(catalogue: Catalogue, work: Path, adaptive: bool) -> float:
    async with rig(catalogue, work, _settings(0, adaptive=adaptive)) as r:
        count = len(r.rows)
        start = time.perf_counter()
        await r.queue(list(range(count)))
        await r.watch.until(lambda: len(r.watch.finished) >= count)
        return count / (time.perf_counter() - start)


def jain(values: list[float]) -> float:
    return sum(values) ** 2 / (len(values) * sum(v * v for v in values))


async def measure(small_files: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="tad-fair-") as folder:
        work = Path(folder)
        big = synthetic_catalogue(work / "big", sizes=[BIG] * 4 + [5_000])
        result: dict[str, Any] = {"small_file_s": await small_file(big, work / "small")}
        four = await rates(big, work / "jain", 4 * MB, [Priority.NORMAL] * 4, 10)
        result["jain_index"] = jain(four)
        result["limit_error"] = sum(four) / (4 * MB) - 1
        high, normal = await rates(big, work / "weights", 2 * MB, [Priority.HIGH, Priority.NORMAL], 10)
        result["weighted_ratio"] = high / normal
        result["critical_start_s"] = await critical_start(big, work / "critical")
        many = synthetic_catalogue(work / "many", sizes=[100_000] * small_files, seed=2)
        has_adaptive = "adaptive" in {f.name for f in dataclasses.fields(default_settings().downloads)}
        on = await many_small(many, work / "adaptive", adaptive=True)
        off = await many_small(many, work / "fixed", adaptive=False) if has_adaptive else on
        result |= {"many_small_files_per_s": on, "many_small_files_fixed_per_s": off, "many_small_files_speedup": on / off}
        return {key: round(value, 3) for key, value in result.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--small-files", type=int, default=1000)
    args = parser.parse_args()
    result = asyncio.run(measure(args.small_files))
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key}: {value:.3f}")


if __name__ == "__main__":
    main()
