"""Many small files on the simulated link: files finished per second, adaptive concurrency on and off.

The link: 60 ms round trip and 4 MB/s per connection (as download_throughput.py), a Premium account
(no account-wide allowance), no flood limit. Each run queues every file of a synthetic group and
times the queue from its start until it is idle, through the engine:

- ``many_small_files_per_s``: ``FILES`` files of ``SIZE`` bytes (1,000 of 100 KB) with
  ``[downloads] adaptive = true`` (the default); ``adaptive_off_files_per_s`` the same with
  ``adaptive = false`` (``max_concurrent`` = 3 files at once, as before);
  ``many_small_files_speedup`` = on / off (issue 13's target: ≥ 3);
- ``tiny_files_per_s``, ``tiny_adaptive_off_files_per_s``, ``tiny_files_speedup``: the same with
  ``TINY_FILES`` files of ``TINY_SIZE`` bytes (the demo archive's recordings are a few KB);
- ``single_part_slots``: the single-part files allowed at once when the big run ended, and
  ``concurrency_reason`` why.

    python bench/small_files.py --json [--files 1000] [--size 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from tad_tui.config import default_settings
from tad_tui.engine import Engine
from tad_tui.library.scan import scan_group
from tad_tui.paths import Paths
from tad_tui.store import opened_store
from tad_tui.telegram.sim.catalogue import Catalogue, synthetic_catalogue
from tad_tui.telegram.sim.client import SimulatedClient
from tad_tui.telegram.sim.server import SimulatedTelegram
from tad_tui.telegram.source import TelethonSource

LATENCY = 0.060
PER_CONNECTION = 4_000_000
FILES, SIZE = 1_000, 100_000
TINY_FILES, TINY_SIZE = 600, 5_000


async def run_queue(catalogue: Catalogue, work: Path, *, adaptive: bool) -> dict[str, object]:
    """Download every file of the catalogue's group; files a second from the queue's start to idle."""
    paths = Paths(work / "data", output_override=work / "out")
    paths.ensure()
    source = TelethonSource(
        SimulatedClient(SimulatedTelegram(catalogue), latency=LATENCY, bandwidth_per_connection=PER_CONNECTION)
    )
    await source.start()
    try:
        async with opened_store(paths.db):
            base = default_settings()
            settings = replace(base, downloads=replace(base.downloads, adaptive=adaptive))
            engine = Engine(settings, paths, source)
            info = await source.resolve_group("@" + catalogue.groups[0].username)
            await scan_group(source, info)
            selection = await engine.select_for_download(info)
            scheduler = await engine.start_downloads()
            await scheduler.enqueue([row.pk for row in selection.to_fetch])
            started = time.perf_counter()
            outcomes = await scheduler.run(until_idle=True)
            elapsed = time.perf_counter() - started
            concurrency = scheduler.concurrency()
            await engine.stop_downloads()
            if outcomes["failed"] or outcomes["downloaded"] != len(selection.to_fetch):
                raise SystemExit(f"not every file was downloaded: {dict(outcomes)}")
            return {
                "files_per_s": round(outcomes["downloaded"] / elapsed, 1),
                "single_part": concurrency.single_part,
                "reason": concurrency.reason,
            }
    finally:
        await source.stop()


async def measure(files: int, size: int) -> dict[str, object]:
    figures: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="tad-bench-") as folder:
        work = Path(folder)
        for name, count, each in (("many_small_files", files, size), ("tiny_files", TINY_FILES, TINY_SIZE)):
            catalogue = synthetic_catalogue(work / f"catalogue-{name}", sizes=[each] * count)
            print(f"{count} files of {each} bytes, adaptive on …", file=sys.stderr)
            on = await run_queue(catalogue, work / f"{name}-on", adaptive=True)
            print(f"{count} files of {each} bytes, adaptive off …", file=sys.stderr)
            off = await run_queue(catalogue, work / f"{name}-off", adaptive=False)
            figures[f"{name}_per_s"] = on["files_per_s"]
            prefix = "" if name == "many_small_files" else "tiny_"
            figures[f"{prefix}adaptive_off_files_per_s"] = off["files_per_s"]
            figures[f"{name}_speedup"] = round(float(on["files_per_s"]) / float(off["files_per_s"]), 2)  # type: ignore[arg-type]
            if name == "many_small_files":
                figures["single_part_slots"] = on["single_part"]
                figures["concurrency_reason"] = on["reason"]
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    parser.add_argument("--files", type=int, default=FILES)
    parser.add_argument("--size", type=int, default=SIZE, help="bytes per file (at most chunk_size: one part)")
    args = parser.parse_args()
    figures = asyncio.run(measure(args.files, args.size))
    if args.json:
        print(json.dumps(figures))
    else:
        for key, value in figures.items():
            print(f"{key:32} {value}")


if __name__ == "__main__":
    main()
