"""The full-screen app with a big library: cold start, memory, queue pane, reorder.

Builds a 100,000-track library with a 10,000-entry queue (held paused, so nothing downloads) in a
temporary demo data dir, then drives one new ``tad-tui --demo`` process in a pseudo-terminal
(100×30, xterm-256color) as a person would, timing what comes back on the terminal:
- ``start_s``: from the process's launch (imports included) until its first frame shows the panes'
  titles; ``rss_mib`` of that process then;
- ``queue_open_ms``: from the F2 keystroke until the queue pane's frame (its "N entries" line) is
  written;
- ``reorder_ms``: median, over 20 moves of the last entry, from a shift+up keystroke until the
  repainted frame has been written (the end of that burst of output). The moves are checked in the
  database afterwards.
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

from tad_tui.store import opened_store  # noqa: E402
from tad_tui.telegram.sim.catalogue import load_catalogue  # noqa: E402

COLUMNS, ROWS = 100, 30
F2, END, SHIFT_UP, CTRL_Q = b"\x1bOQ", b"\x1b[F", b"\x1b[1;2A", b"\x11"
MOVES = 20


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


async def queue_ids(data: Path) -> list[int]:
    async with opened_store(data / "library.sqlite3"):
        rows = await connections.get("default").execute_query_dict(
            "SELECT id FROM queue_entry ORDER BY priority DESC, rank"
        )
    return [row["id"] for row in rows]


class Terminal:
    """One process in a pseudo-terminal: keys in, screen output out, with the time each arrived."""

    def __init__(self, command: list[str]) -> None:
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLUMNS, 0, 0))
        env = {**os.environ, "TERM": "xterm-256color", "COLORTERM": "truecolor"}
        self.started = time.perf_counter()
        self.process = subprocess.Popen(command, stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True)
        os.close(slave)
        self.master = master
        self.seen = b""

    def _read(self, timeout: float) -> bool:
        if not select.select([self.master], [], [], timeout)[0]:
            return False
        try:
            self.seen += os.read(self.master, 1 << 20)
        except OSError:
            return False
        return True

    def wait_for(self, *texts: bytes, since: int = 0, timeout: float = 30.0) -> float:
        """Seconds (perf_counter) when every text has appeared after offset ``since``."""
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            if all(text in self.seen[since:] for text in texts):
                return time.perf_counter()
            self._read(0.01)
        raise TimeoutError(f"{texts!r} never appeared on the screen")

    def settle(self, quiet: float = 0.5, timeout: float = 30.0) -> None:
        """Until nothing has been written for ``quiet`` seconds."""
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline and self._read(quiet):
            pass

    def key(self, data: bytes) -> float:
        os.write(self.master, data)
        return time.perf_counter()

    def frame_after(self, data: bytes, timeout: float = 5.0) -> float:
        """Milliseconds from the keystroke until its frame is written (the end of the burst)."""
        sent = self.key(data)
        if not self._read(timeout):
            raise TimeoutError("no repaint after the keystroke")
        last = time.perf_counter()
        while self._read(0.005):
            last = time.perf_counter()
        return (last - sent) * 1000

    def close(self) -> None:
        try:
            self.key(CTRL_Q)
            deadline = time.perf_counter() + 20
            while self.process.poll() is None and time.perf_counter() < deadline:
                self._read(0.05)
        finally:
            if self.process.poll() is None:
                self.process.kill()
            self.process.wait()
            os.close(self.master)


def drive(config: Path, data: Path, queue: int) -> dict[str, float]:
    command = [sys.executable, "-m", "tad_tui", "--config", str(config), "--demo", "--data-dir", str(data)]
    terminal = Terminal(command)
    try:
        shown = terminal.wait_for(b"Queue F2", b"Performance F4")
        figures = {
            "start_s": shown - terminal.started,
            "rss_mib": psutil.Process(terminal.process.pid).memory_info().rss / 2**20,
        }
        terminal.settle()  # groups from Telegram, search warm-up: what a person waits for anyway
        since = len(terminal.seen)
        pressed = terminal.key(F2)
        figures["queue_open_ms"] = (terminal.wait_for(f"{queue} entries".encode(), since=since) - pressed) * 1000
        terminal.settle()
        terminal.key(END)
        terminal.settle()
        moves = []
        for _ in range(MOVES):
            moves.append(terminal.frame_after(SHIFT_UP))
            terminal.settle(0.05)
        figures["reorder_ms"] = statistics.median(moves)
        terminal.settle()
    finally:
        terminal.close()
    return figures


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
        before = asyncio.run(queue_ids(data))
        drive(config, data, args.queue)  # once to warm the OS file cache, as a second start would be
        after_warm_up = asyncio.run(queue_ids(data))
        figures = drive(config, data, args.queue)
        after = asyncio.run(queue_ids(data))
    for old, new in ((before, after_warm_up), (after_warm_up, after)):
        moved = len(old) - 1 - new.index(old[-1])
        if moved != MOVES:
            sys.exit(f"the moves did not reach the database: the last entry moved {moved} places, not {MOVES}")
    result = {
        "tracks": args.tracks,
        "queue": args.queue,
        "start_s": round(figures["start_s"], 3),
        "rss_mib": round(figures["rss_mib"], 1),
        "queue_open_ms": round(figures["queue_open_ms"], 1),
        "reorder_ms": round(figures["reorder_ms"], 2),
    }
    print(json.dumps(result) if args.json else "\n".join(f"{k:>14}: {v}" for k, v in result.items()))


if __name__ == "__main__":
    main()
