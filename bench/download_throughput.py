"""Download throughput on one simulated link, against the strongest fair baselines, Premium or not.

Every run uses the same simulated link: 60 ms round trip and 4 MB/s per connection; the link caps
each connection, not the account (a Premium account), unless the account is non-Premium, when
Telegram's account-wide allowance (``FREE_LIMIT``) is enforced with FLOOD_PREMIUM_WAIT_X. Fetched:

1. ``engine_mbps``: one 100 MB file through the engine's queue (several connections, two parts in
   flight on each); ``connections`` it used; ``cap_mbps`` = connections × per-connection cap, what
   the link allows; ``cap_fraction`` = engine / cap.
2. ``telethon_mbps``: Telethon's ``download_media`` as it comes (one connection, 128 KiB parts);
   ``telethon_best_mbps``: Telethon's ``download_file`` (what ``download_media`` calls) with its
   best ``part_size_kb`` of 128, 256 and 512; ``ratio`` = engine / ``telethon_mbps``.
3. ``parallel_baseline_mbps``: a plain multi-connection downloader of the well-known "several
   senders, one part each" kind (FastTelethon, mautrix's parallel transfer), written here: as many
   connections as the engine used, opened the same way, 1 MiB parts (its best), each connection
   asking for its next part when the last arrived, each part written at its offset as it arrives and
   the file synced at the end (the engine's time includes the same, plus its checks);
   ``engine_vs_parallel`` = engine / it.
4. ``limited_mbps``: the engine under an 8 MB/s ``bandwidth_limit``; ``limit_error`` its error.
5. ``free_account_*``: the engine on a non-Premium account limited to ``FREE_LIMIT`` bytes/s, over
   ``FREE_FILES`` files of ``FREE_SIZE``: ``free_account_mbps``, ``free_account_cap_fraction`` =
   engine / the account limit, ``free_account_failed`` (files failed), ``free_account_md5_ok`` (every
   file's MD5 equals the source's), ``free_account_premium_waits`` (FLOOD_PREMIUM_WAITs answered).

MB here is 10^6 bytes. Targets: cap_fraction ≥ 0.90, engine_vs_parallel ≥ 1.2,
free_account_cap_fraction ≥ 0.85 with 0 failed and identical MD5s, |limit_error| ≤ 0.10.

    python bench/download_throughput.py --json [--size-mb 100] [--skip-telethon]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from telethon.tl import functions, types

from tad_tui.config import Settings, default_settings
from tad_tui.engine import Engine
from tad_tui.library.scan import scan_group
from tad_tui.paths import Paths
from tad_tui.store import AudioFile, opened_store
from tad_tui.telegram.sim.catalogue import Catalogue, synthetic_catalogue
from tad_tui.telegram.sim.client import SimulatedClient
from tad_tui.telegram.sim.limits import AccountLimits
from tad_tui.telegram.sim.server import SimulatedTelegram
from tad_tui.telegram.source import TelethonSource

LATENCY = 0.060
PER_CONNECTION = 4_000_000
LIMIT = 8_000_000
FREE_LIMIT = 8_000_000
FREE_FILES = 8
FREE_SIZE = 50_000_000
PART = 1024 * 1024
MB = 1_000_000


def _source(catalogue: Catalogue, limits: AccountLimits | None = None) -> tuple[TelethonSource, SimulatedTelegram]:
    server = SimulatedTelegram(catalogue, limits=limits)
    client = SimulatedClient(server, latency=LATENCY, bandwidth_per_connection=PER_CONNECTION)
    return TelethonSource(client), server


def _settings(bandwidth_limit: int) -> Settings:
    base = default_settings()
    return replace(base, performance=replace(base.performance, bandwidth_limit=bandwidth_limit))


async def engine_download(
    catalogue: Catalogue, work: Path, *, bandwidth_limit: int = 0, limits: AccountLimits | None = None
) -> dict[str, object]:
    """Fetch every file of the catalogue's group through the engine's queue."""
    paths = Paths(work / "data", output_override=work / "out")
    paths.ensure()
    source, server = _source(catalogue, limits)
    await source.start()
    try:
        async with opened_store(paths.db):
            engine = Engine(_settings(bandwidth_limit), paths, source)
            info = await source.resolve_group("@" + catalogue.groups[0].username)
            await scan_group(source, info)
            selection = await engine.select_for_download(info)
            scheduler = await engine.start_downloads()
            await scheduler.enqueue([row.pk for row in selection.to_fetch])
            started = time.perf_counter()
            outcomes = await scheduler.run(until_idle=True)
            elapsed = time.perf_counter() - started
            await engine.stop_downloads()
            sources = {str(f.document_id): f.md5 for f in catalogue.files}
            rows = await AudioFile.filter(group_id=info.group_id).values_list("file_unique_id", "checksum_md5")
            return {
                "seconds": elapsed,
                "downloaded": outcomes["downloaded"],
                "failed": outcomes["failed"],
                "md5_ok": all(md5 == sources[unique] for unique, md5 in rows) and len(rows) == len(sources),
                "connections": len({e.connection for e in server.requests("GetFileRequest")}),
                "premium_waits": server.policy.premium_waits,
            }
    finally:
        await source.stop()


async def _first_message(source: TelethonSource, catalogue: Catalogue):
    info = await source.resolve_group("@" + catalogue.groups[0].username)
    return (await source.client.get_messages(info.input_peer(), limit=1))[0]


async def telethon_download(catalogue: Catalogue, work: Path, part_size_kb: int | None = None) -> tuple[float, str]:
    """Seconds for Telethon's own download over the same link: ``download_media`` as it comes, or
    ``download_file`` (what it calls) with a chosen part size."""
    source, _ = _source(catalogue)
    await source.start()
    try:
        message = await _first_message(source, catalogue)
        target = work / f"telethon-{part_size_kb}.bin"
        started = time.perf_counter()
        if part_size_kb is None:
            await source.client.download_media(message, file=str(target))
        else:
            await source.client.download_file(message.document, str(target), part_size_kb=part_size_kb)
        elapsed = time.perf_counter() - started
        return elapsed, hashlib.md5(target.read_bytes()).hexdigest()
    finally:
        await source.stop()


async def parallel_baseline(catalogue: Catalogue, work: Path, connections: int) -> tuple[float, str]:
    """Several senders, one part each: sender i fetches parts i, i+n, i+2n… one request at a time."""
    source, _ = _source(catalogue)
    await source.start()
    try:
        message = await _first_message(source, catalogue)
        document = message.document
        client = source.client
        location = types.InputDocumentFileLocation(
            id=document.id, access_hash=document.access_hash, file_reference=document.file_reference, thumb_size=""
        )
        parts = -(-document.size // PART)
        target = work / "parallel.bin"
        started = time.perf_counter()
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        senders = await asyncio.gather(*(client.open_extra_sender(document.dc_id) for _ in range(connections)))

        async def fetch(first: int, sender) -> None:
            for index in range(first, parts, connections):
                request = functions.upload.GetFileRequest(location=location, offset=index * PART, limit=PART)
                data = (await client._call(sender, request)).bytes
                await asyncio.to_thread(os.pwrite, fd, data, index * PART)  # as it arrives, like any downloader

        await asyncio.gather(*(fetch(i, sender) for i, sender in enumerate(senders)))
        await asyncio.to_thread(os.fsync, fd)  # the file is there, as the engine's is when it finishes
        os.close(fd)
        elapsed = time.perf_counter() - started
        for sender in senders:
            await sender.disconnect()
        return elapsed, hashlib.md5(target.read_bytes()).hexdigest()
    finally:
        await source.stop()


async def measure(size: int, *, skip_telethon: bool) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="tad-bench-") as folder:
        work = Path(folder)
        catalogue = synthetic_catalogue(work / "catalogue", sizes=[size])
        expected = catalogue.groups[0].messages[0].file.md5  # type: ignore[union-attr]
        md5s = []
        print(f"engine, {size / MB:.0f} MB …", file=sys.stderr)
        engine = await engine_download(catalogue, work / "engine")
        if not engine["md5_ok"] or engine["failed"]:
            raise SystemExit(f"engine download failed: {engine}")
        connections = int(engine["connections"])  # type: ignore[arg-type]
        print(f"plain parallel downloader, {connections} connections …", file=sys.stderr)
        parallel_s, parallel_md5 = await parallel_baseline(catalogue, work, connections)
        md5s.append(parallel_md5)
        telethon_s = telethon_best_s = None
        if not skip_telethon:
            print("Telethon download_media (slow: one connection, 128 KiB requests) …", file=sys.stderr)
            telethon_s, telethon_md5 = await telethon_download(catalogue, work)
            md5s.append(telethon_md5)
            for kb in (256, 512):
                print(f"Telethon download_file, part_size_kb={kb} …", file=sys.stderr)
                seconds, md5 = await telethon_download(catalogue, work, kb)
                md5s.append(md5)
                telethon_best_s = min(seconds, telethon_best_s or seconds)
            telethon_best_s = min(telethon_s, telethon_best_s or telethon_s)
        print(f"engine under a {LIMIT / MB:.0f} MB/s limit …", file=sys.stderr)
        limited = await engine_download(catalogue, work / "limited", bandwidth_limit=LIMIT)
        if set(md5s) - {expected} or not limited["md5_ok"]:
            raise SystemExit("a download did not match the source MD5")
        print(f"engine, non-Premium account limited to {FREE_LIMIT / MB:.0f} MB/s, "
              f"{FREE_FILES} × {FREE_SIZE / MB:.0f} MB …", file=sys.stderr)  # fmt: skip
        free_catalogue = synthetic_catalogue(work / "free-catalogue", sizes=[FREE_SIZE] * FREE_FILES, seed=1)
        free = await engine_download(
            free_catalogue, work / "free", limits=AccountLimits(premium=False, download_limit=FREE_LIMIT)
        )
    engine_mbps = size / float(engine["seconds"]) / MB  # type: ignore[arg-type]
    cap = connections * PER_CONNECTION / MB
    parallel_mbps = size / parallel_s / MB
    telethon_mbps = size / telethon_s / MB if telethon_s else None
    limited_mbps = size / float(limited["seconds"]) / MB  # type: ignore[arg-type]
    free_mbps = FREE_FILES * FREE_SIZE / float(free["seconds"]) / MB  # type: ignore[arg-type]
    return {
        "size_mb": round(size / MB, 1),
        "engine_mbps": round(engine_mbps, 2),
        "connections": connections,
        "cap_mbps": round(cap, 2),
        "cap_fraction": round(engine_mbps / cap, 3),
        "telethon_mbps": round(telethon_mbps, 2) if telethon_mbps else None,
        "telethon_best_mbps": round(size / telethon_best_s / MB, 2) if telethon_best_s else None,
        "ratio": round(engine_mbps / telethon_mbps, 2) if telethon_mbps else None,
        "parallel_baseline_mbps": round(parallel_mbps, 2),
        "engine_vs_parallel": round(engine_mbps / parallel_mbps, 3),
        "limit_mbps": LIMIT / MB,
        "limited_mbps": round(limited_mbps, 2),
        "limit_error": round((limited_mbps - LIMIT / MB) / (LIMIT / MB), 4),
        "free_account_limit_mbps": FREE_LIMIT / MB,
        "free_account_mbps": round(free_mbps, 2),
        "free_account_cap_fraction": round(free_mbps / (FREE_LIMIT / MB), 3),
        "free_account_failed": free["failed"],
        "free_account_md5_ok": free["md5_ok"],
        "free_account_premium_waits": free["premium_waits"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--size-mb", type=int, default=100, help="file size in MB (default 100)")
    parser.add_argument("--skip-telethon", action="store_true", help="skip the slow Telethon baselines")
    args = parser.parse_args()
    result = asyncio.run(measure(args.size_mb * MB, skip_telethon=args.skip_telethon))
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>26}: {value}")


if __name__ == "__main__":
    main()
