"""Scanning a big group: messages stored per second, through production's path and by the ingest alone.

A synthetic group of audio messages (empty files: only the messages matter) is scanned into a new
library through the real path — Telethon's paging of ``messages.search`` over the simulated
Telegram (100 messages a request), ``parse_audio``, one transaction per page with the search index
kept by its triggers — twice:

- ``ingest_per_s`` (100,000 messages): the link has no round trip and no request limiter is
  attached. This is what tad-tui itself costs per message: parsing, storing, indexing. Target:
  ≥ 20,000 messages/s.
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
from pathlib import Path

from tad_tui.config import default_settings
from tad_tui.download.limits import RequestRateLimiter
from tad_tui.library.scan import scan_group
from tad_tui.store import AudioFile, opened_store
from tad_tui.telegram.sim.catalogue import synthetic_catalogue
from tad_tui.telegram.sim.client import SimulatedClient
from tad_tui.telegram.sim.server import SimulatedTelegram
from tad_tui.telegram.source import TelethonSource

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--messages", type=int, default=100_000, help="messages for ingest_per_s")
    parser.add_argument("--production-messages", type=int, default=10_000, help="messages for messages_per_s")
    args = parser.parse_args()
    settings = default_settings()
    with tempfile.TemporaryDirectory(prefix="tad-bench-scan-") as folder:
        print(f"ingest: a group of {args.messages} audio messages …", file=sys.stderr)
        ingest = asyncio.run(scan(Path(folder) / "ingest", args.messages, production=False))
        print(f"production path: a group of {args.production_messages} audio messages …", file=sys.stderr)
        real = asyncio.run(scan(Path(folder) / "production", args.production_messages, production=True))
    result = {
        "messages": args.messages,
        "ingest_seconds": round(ingest, 2),
        "ingest_per_s": round(args.messages / ingest),
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
