"""Download throughput: the engine against Telethon's own ``download_media``, and the bandwidth limit.

One 100 MB file on the simulated link (60 ms round trip, 4 MB/s per connection), fetched
1. by the engine (several connections, several parts in flight),
2. by Telethon's ``download_media`` over one connection of the same link,
3. by the engine under an 8 MB/s ``bandwidth_limit``.
MB here is 10^6 bytes. Prints one JSON object with ``--json``; targets: ratio ≥ 8, |limit_error| ≤ 0.10.

    python bench/download_throughput.py --json [--size-mb 100] [--skip-telethon]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
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
LIMIT = 8_000_000
MB = 1_000_000


def _source(catalogue: Catalogue) -> TelethonSource:
    client = SimulatedClient(SimulatedTelegram(catalogue), latency=LATENCY, bandwidth_per_connection=PER_CONNECTION)
    return TelethonSource(client)


async def engine_download(catalogue: Catalogue, work: Path, *, bandwidth_limit: int) -> tuple[float, str]:
    """Seconds to fetch the file through the engine's queue, and the MD5 it stored."""
    base = default_settings()
    settings = replace(base, performance=replace(base.performance, bandwidth_limit=bandwidth_limit))
    paths = Paths(work / "data", output_override=work / "out")
    paths.ensure()
    source = _source(catalogue)
    await source.start()
    try:
        async with opened_store(paths.db):
            engine = Engine(settings, paths, source)
            info = await source.resolve_group("@" + catalogue.groups[0].username)
            await scan_group(source, info)
            selection = await engine.select_for_download(info)
            scheduler = await engine.start_downloads()
            await scheduler.enqueue([row.pk for row in selection.to_fetch])
            started = time.perf_counter()
            outcomes = await scheduler.run(until_idle=True)
            elapsed = time.perf_counter() - started
            await engine.stop_downloads()
            if outcomes["downloaded"] != 1:
                raise SystemExit(f"engine download failed: {dict(outcomes)}")
            row = selection.to_fetch[0]
            await row.refresh_from_db()
            return elapsed, row.checksum_md5 or ""
    finally:
        await source.stop()


async def telethon_download(catalogue: Catalogue, work: Path) -> tuple[float, str]:
    """Seconds for Telethon's own ``download_media`` over the same link."""
    source = _source(catalogue)
    await source.start()
    try:
        info = await source.resolve_group("@" + catalogue.groups[0].username)
        message = (await source.client.get_messages(info.input_peer(), limit=1))[0]
        target = work / "telethon.bin"
        started = time.perf_counter()
        await source.client.download_media(message, file=str(target))
        elapsed = time.perf_counter() - started
        return elapsed, hashlib.md5(target.read_bytes()).hexdigest()
    finally:
        await source.stop()


async def measure(size: int, *, skip_telethon: bool) -> dict[str, float | int | None]:
    with tempfile.TemporaryDirectory(prefix="tad-bench-") as folder:
        work = Path(folder)
        catalogue = synthetic_catalogue(work / "catalogue", sizes=[size])
        expected = catalogue.groups[0].messages[0].file.md5  # type: ignore[union-attr]
        print(f"engine, {size / MB:.0f} MB …", file=sys.stderr)
        engine_s, engine_md5 = await engine_download(catalogue, work / "engine", bandwidth_limit=0)
        telethon_s, telethon_md5 = None, expected
        if not skip_telethon:
            print("Telethon download_media (slow: one connection, 128 KiB requests) …", file=sys.stderr)
            telethon_s, telethon_md5 = await telethon_download(catalogue, work)
        print(f"engine under a {LIMIT / MB:.0f} MB/s limit …", file=sys.stderr)
        limited_s, limited_md5 = await engine_download(catalogue, work / "limited", bandwidth_limit=LIMIT)
        if {engine_md5, telethon_md5, limited_md5} != {expected}:
            raise SystemExit("a download did not match the source MD5")
    engine_mbps = size / engine_s / MB
    telethon_mbps = size / telethon_s / MB if telethon_s else None
    limited_mbps = size / limited_s / MB
    return {
        "size_mb": round(size / MB, 1),
        "engine_mbps": round(engine_mbps, 2),
        "telethon_mbps": round(telethon_mbps, 2) if telethon_mbps else None,
        "ratio": round(engine_mbps / telethon_mbps, 2) if telethon_mbps else None,
        "limit_mbps": LIMIT / MB,
        "limited_mbps": round(limited_mbps, 2),
        "limit_error": round((limited_mbps - LIMIT / MB) / (LIMIT / MB), 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--size-mb", type=int, default=100, help="file size in MB (default 100)")
    parser.add_argument("--skip-telethon", action="store_true", help="skip the slow download_media baseline")
    args = parser.parse_args()
    result = asyncio.run(measure(args.size_mb * MB, skip_telethon=args.skip_telethon))
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>14}: {value}")


if __name__ == "__main__":
    main()
