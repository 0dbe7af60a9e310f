"""Scanning a big group: messages stored per second.

A synthetic group of 100,000 audio messages (empty files: only the messages matter) is scanned into a
new library through the real path — Telethon's paging of ``messages.search`` over the simulated
Telegram, ``parse_audio``, one transaction per page with the search index kept by its triggers.
The link has no latency here (``latency_ms`` 0): this measures what tad-tui itself costs per message;
over a real link each page also waits one round trip (100 messages per page).
Target: ≥ 20,000 messages/s stored.

    python bench/scan_throughput.py --json [--messages 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

from tad_tui.library.scan import scan_group
from tad_tui.store import AudioFile, opened_store
from tad_tui.telegram.sim.catalogue import synthetic_catalogue
from tad_tui.telegram.sim.client import SimulatedClient
from tad_tui.telegram.sim.server import SimulatedTelegram
from tad_tui.telegram.source import TelethonSource


async def scan(root: Path, messages: int) -> dict[str, float]:
    catalogue = synthetic_catalogue(root / "catalogue", sizes=[0] * messages)
    source = TelethonSource(SimulatedClient(SimulatedTelegram(catalogue), latency=0.0))
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
    return {"messages": messages, "seconds": round(seconds, 2), "messages_per_s": round(messages / seconds)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--messages", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tad-bench-scan-") as folder:
        print(f"a group of {args.messages} audio messages …", file=sys.stderr)
        result = asyncio.run(scan(Path(folder), args.messages))
    print(json.dumps(result) if args.json else "\n".join(f"{k:>15}: {v}" for k, v in result.items()))


if __name__ == "__main__":
    main()
