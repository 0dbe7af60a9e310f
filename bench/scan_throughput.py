"""Scanning a big group: messages stored per second, through production's path and by the ingest alone.

A synthetic group of audio messages (empty files: only the messages matter) is scanned into a new
library through the real path — Telethon's paging of ``messages.search`` over the simulated
Telegram (100 messages a request), ``parse_audio``, ``library.scan.store_pages`` (a transaction per
batch of ``BATCH_ROWS`` rows, the search index kept by its triggers) — twice:

- ``ingest_per_s`` (100,000 messages): the ingest alone, what tad-tui does with messages it has
  received: Telethon's message objects (fetched first, untimed) parsed by ``parse_audio`` a page of
  100 at a time and handed to ``store_pages``, the function a scan stores its pages with. Target:
  ≥ 20,000 messages/s.
  ``ingest_per_cpu_s``: the same messages over the CPU seconds the process spent storing them (all
  its threads). The ingest runs one step at a time (the event loop, then SQLite in aiosqlite's
  thread), so on an idle machine it is close to ``ingest_per_s``; a busy machine lowers the wall
  figure far more than this one. No target of its own.
- ``local_scan_per_s`` (the same messages): the whole scan with no round trip and no limiter, the
  simulated server's building and serializing of each page included (it runs in this process,
  where a real server's work costs tad-tui nothing). No target.
- ``messages_per_s`` (10,000 messages): the path a real scan takes. The client gets the request
  limiter production attaches (``runtime.build_source``: ``rate_limit_requests_per_second`` and
  ``rate_limit_burst_size`` at their defaults, 20 a second with a burst of 40) and each request
  waits the demo's round trip (``[demo] latency_ms``, 60 ms). No target: Telegram bounds it.

Which one Telegram bounds: ``messages_per_s``. Telegram returns at most 100 messages per request
and answers FLOOD_WAIT to an account that asks too often, which is why production paces its
requests (20 a second: ``limit_per_s`` = 2,000 messages/s at most, with Telethon's paging waiting
each round trip before the next request, fewer). ``ingest_per_s`` is bounded by tad-tui's own CPU
and SQLite only, so it is the figure tad-tui can improve, and it stays far above what the link
delivers.

    python bench/scan_throughput.py --json [--messages 100000] [--production-messages 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

from tad_tui.config import default_settings
from tad_tui.download.limits import RequestRateLimiter
from telethon.tl import types

from tad_tui.library.scan import scan_group, store_pages, upsert_group
from tad_tui.store import AudioFile, opened_store
from tad_tui.telegram.sim.catalogue import synthetic_catalogue
from tad_tui.telegram.sim.client import SimulatedClient
from tad_tui.telegram.sim.server import SimulatedTelegram
from tad_tui.telegram.source import AudioInfo, TelethonSource, parse_audio

PAGE = 100  # messages Telegram returns per messages.search request


async def scan(root: Path, messages: int, *, production: bool) -> float:
    """Seconds to scan a group of ``messages`` audio messages into a new library."""
    catalogue = synthetic_catalogue(root / "catalogue", sizes=[0] * messages)
    settings = default_settings()
    latency = settings.demo.latency_ms / 1000 if production else 0.0
    source = TelethonSource(SimulatedClient(SimulatedTelegram(catalogue), latency=latency))
    if production:  # as runtime.build_source attaches it
        performance = settings.performance
        source.client.request_limiter = RequestRateLimiter(
            performance.rate_limit_requests_per_second, performance.rate_limit_burst_size
        )
    await source.start()
    try:
        async with opened_store(root / "library.sqlite3"):
            info = await source.resolve_group("@" + catalogue.groups[0].username)
            started = time.perf_counter()
            result = await scan_group(source, info)
            seconds = time.perf_counter() - started
            stored = await AudioFile.all().count()
    finally:
        await source.stop()
    if stored != messages or result.new != messages:
        sys.exit(f"the scan stored {stored} of {messages} messages")
    return seconds


async def ingest(root: Path, messages: int) -> tuple[float, float]:
    """Seconds to store ``messages`` audio messages already received (see the module's docstring),
    and the CPU seconds the process spent meanwhile (every thread: SQLite works in aiosqlite's)."""
    catalogue = synthetic_catalogue(root / "catalogue", sizes=[0] * messages)
    source = TelethonSource(SimulatedClient(SimulatedTelegram(catalogue), latency=0.0))
    await source.start()
    try:
        async with opened_store(root / "library.sqlite3"):
            info = await source.resolve_group("@" + catalogue.groups[0].username)
            music = types.InputMessagesFilterMusic()
            received = [m async for m in source.client.iter_messages(info.input_peer(), filter=music, reverse=True, wait_time=0)]
            started, cpu_started = time.perf_counter(), time.process_time()
            group = await upsert_group(info)

            async def pages() -> AsyncIterator[list[AudioInfo]]:  # as TelethonSource.scan_audio gives them
                for start in range(0, len(received), PAGE):
                    yield [a for m in received[start : start + PAGE] if (a := parse_audio(info.group_id, m)) is not None]

            await store_pages(group, pages())
            seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
            stored = await AudioFile.all().count()
    finally:
        await source.stop()
    if stored != messages:
        sys.exit(f"the ingest stored {stored} of {messages} messages")
    return seconds, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--messages", type=int, default=100_000, help="messages for ingest_per_s and local_scan_per_s")
    parser.add_argument("--production-messages", type=int, default=10_000, help="messages for messages_per_s")
    args = parser.parse_args()
    settings = default_settings()
    with tempfile.TemporaryDirectory(prefix="tad-bench-scan-") as folder:
        print(f"ingest: {args.messages} audio messages received …", file=sys.stderr)
        stored, stored_cpu = asyncio.run(ingest(Path(folder) / "ingest", args.messages))
        print(f"local scan: a group of {args.messages} audio messages …", file=sys.stderr)
        local = asyncio.run(scan(Path(folder) / "local", args.messages, production=False))
        print(f"production path: a group of {args.production_messages} audio messages …", file=sys.stderr)
        real = asyncio.run(scan(Path(folder) / "production", args.production_messages, production=True))
    result = {
        "messages": args.messages,
        "ingest_seconds": round(stored, 2),
        "ingest_per_s": round(args.messages / stored),
        "ingest_cpu_seconds": round(stored_cpu, 2),
        "ingest_per_cpu_s": round(args.messages / stored_cpu),
        "local_scan_seconds": round(local, 2),
        "local_scan_per_s": round(args.messages / local),
        "production_messages": args.production_messages,
        "production_seconds": round(real, 2),
        "messages_per_s": round(args.production_messages / real),
        "requests_per_s": settings.performance.rate_limit_requests_per_second,
        "round_trip_ms": settings.demo.latency_ms,
        "limit_per_s": round(settings.performance.rate_limit_requests_per_second * PAGE),
    }
    print(json.dumps(result) if args.json else "\n".join(f"{k:>19}: {v}" for k, v in result.items()))


if __name__ == "__main__":
    main()
