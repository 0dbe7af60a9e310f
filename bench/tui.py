"""The full-screen app with a big library: cold start, memory, queue pane, reorder.

Builds a 100,000-track library with a 10,000-entry queue (held paused, so nothing downloads) in a
temporary demo data dir, then measures
- ``start_s``: a new ``tad-tui --demo`` process in a pseudo-terminal (100×30), imports included, until
  its first frame shows the panes' titles; ``rss_mib`` of that process then;
- ``queue_open_ms``: from F2 until the queue pane holds every entry (in-process, headless);
- ``reorder_ms``: median from a shift+up keystroke to the repainted table (20 moves), driven by
  Textual's Pilot; ``pilot_keystroke_ms`` is what Pilot costs for a key that changes nothing, so the
  move itself costs about the difference.
Targets: start_s ≤ 0.8, rss_mib ≤ 150, queue_open_ms ≤ 300, reorder_ms ≤ 16.

    python bench/tui.py --json [--tracks 100000] [--queue 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import fcntl
import json
import os
import pty
import select
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path

import psutil
from tortoise import connections

sys.path.insert(0, str(Path(__file__).resolve().parent))
from search_latency import build_library  # noqa: E402  (the same synthetic library as the search bench)

from tad_tui.config import build_paths, load_settings  # noqa: E402
from tad_tui.runtime import open_engine  # noqa: E402
from tad_tui.store import opened_store  # noqa: E402
from tad_tui.telegram.sim.catalogue import load_catalogue  # noqa: E402

COLUMNS, ROWS = 100, 30


async def prepare(data: Path, tracks: int, queue: int) -> None:
    async with opened_store(data / "library.sqlite3"):
        await build_library(tracks)
        connection = connections.get("default")
        await connection.execute_query("DELETE FROM queue_entry")
        step = max(1, tracks // queue)
        await connection.execute_query(
            "INSERT INTO queue_entry (priority, rank, state, created_at, updated_at, audio_id) "
            "SELECT 1, id * 4294967296, 'paused', datetime('now'), datetime('now'), id FROM audio_file "
            f"WHERE id % {step} = 0 LIMIT {queue}"
        )


def cold_start(config: Path, data: Path) -> tuple[float, float]:
    """Seconds to the first frame with the tab titles, and the process's RSS then (MiB)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLUMNS, 0, 0))
    env = {**os.environ, "TERM": "xterm-256color", "COLORTERM": "truecolor"}
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "tad_tui", "--config", str(config), "--demo", "--data-dir", str(data)],
        stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True,
    )
    os.close(slave)
    seen = b""
    elapsed = rss = float("nan")
    try:
        while time.perf_counter() - started < 30:
            ready, _, _ = select.select([master], [], [], 0.05)
            if ready:
                seen += os.read(master, 65536)
                if b"Queue F2" in seen and b"Performance F4" in seen:
                    elapsed = time.perf_counter() - started
                    rss = psutil.Process(process.pid).memory_info().rss / 2**20
                    break
        os.write(master, b"\x11")  # ctrl+q
        deadline = time.perf_counter() + 20
        while process.poll() is None and time.perf_counter() < deadline:
            if select.select([master], [], [], 0.05)[0]:
                try:
                    os.read(master, 65536)
                except OSError:
                    break
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
        os.close(master)
    return elapsed, rss


async def queue_and_reorder(config: Path, data: Path, queue: int) -> tuple[float, float, float]:
    from tad_tui.ui.app import TadApp
    from tad_tui.ui.queue import QueuePane

    settings = load_settings(config, overrides={"general.data_dir": str(data)})
    paths = build_paths(settings, demo=True)
    async with open_engine(settings, paths, demo=True, writer=True) as engine:
        app = TadApp(engine)
        async with app.run_test(size=(COLUMNS, ROWS)) as pilot:
            await pilot.pause(1.0)  # let start-up work (groups, search warm-up) finish first
            table = app.query_one(QueuePane).table
            started = time.perf_counter()
            await pilot.press("f2")
            while len(table.rows) < queue and time.perf_counter() - started < 30:
                await asyncio.sleep(0.001)
            await pilot.pause()
            open_ms = (time.perf_counter() - started) * 1000
            table.go_to(len(table.rows) // 2)
            await pilot.pause()
            moves = []
            for _ in range(20):
                before = [line.id for line in table.rows[: len(table.rows)]]
                started = time.perf_counter()
                await pilot.press("shift+up")
                while [line.id for line in table.rows] == before and time.perf_counter() - started < 5:
                    await asyncio.sleep(0)
                await pilot.pause()
                moves.append((time.perf_counter() - started) * 1000)
            idle = []
            for _ in range(20):  # a key that changes nothing: what Pilot itself costs per keystroke
                started = time.perf_counter()
                await pilot.press("f12")
                await pilot.pause()
                idle.append((time.perf_counter() - started) * 1000)
            await app.action_quit()
    return open_ms, statistics.median(moves), statistics.median(idle)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--tracks", type=int, default=100_000)
    parser.add_argument("--queue", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tad-bench-tui-") as folder:
        root = Path(folder)
        data = root / "data"
        data.mkdir()
        config = root / "config.toml"
        config.write_text(f'[demo]\ncatalogue_dir = "{root / "catalogue"}"\n')
        print("demo catalogue …", file=sys.stderr)
        load_catalogue(root / "catalogue")
        print(f"library of {args.tracks} tracks, queue of {args.queue} …", file=sys.stderr)
        asyncio.run(prepare(data, args.tracks, args.queue))
        cold_start(config, data)  # once to warm the OS file cache, as a second start would be
        start_s, rss_mib = cold_start(config, data)
        queue_open_ms, reorder_ms, pilot_ms = asyncio.run(queue_and_reorder(config, data, args.queue))
    result = {
        "tracks": args.tracks,
        "queue": args.queue,
        "start_s": round(start_s, 3),
        "rss_mib": round(rss_mib, 1),
        "queue_open_ms": round(queue_open_ms, 1),
        "reorder_ms": round(reorder_ms, 2),
        "pilot_keystroke_ms": round(pilot_ms, 2),
    }
    print(json.dumps(result) if args.json else "\n".join(f"{k:>14}: {v}" for k, v in result.items()))


if __name__ == "__main__":
    main()
