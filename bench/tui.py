"""The full-screen app with a big library: cold and warm start, settled memory, queue load, reorder.

Builds a 100,000-track library with a 10,000-entry queue (held paused, so nothing downloads) in a
temporary demo data dir (the demo catalogue is rendered beforehand, in its own folder: its first-run
generation is not part of a start), then launches ``tad-tui --demo`` in a pseudo-terminal (100×30,
xterm-256color) twice and drives it as a person would, timing what comes back on the terminal:
- ``cold_start_s``: the first launch on that data dir (no session, no server state, no log yet; the
  OS file cache as the library's build left it, not dropped), from the process's launch (imports
  included) until its first frame shows the panes' titles;
- ``warm_start_s``: the same for the second launch, the one a person makes every day after;
- ``rss_settled_mib``: the second process's resident memory once it has settled with the search
  vocabulary loaded (a search typed in the Search pane has been answered) and the queue's 10,000
  entries loaded (the Queue pane has shown them);
- ``queue_load_ms``: 10,000 entries from the database to the first painted frame of the Queue pane:
  with a filter on that shows none of them, from the keystroke that turns the filter to "paused"
  (the pane reads every entry from the database again and shows all 10,000) until that frame (its
  "10000 shown" line) is written;
- ``reorder_ms``: median, over 20 moves of the last entry, from a shift+up keystroke until the
  repainted frame has been written (the end of that burst of output). The moves are checked in the
  database afterwards.
Targets: warm_start_s ≤ 0.8, cold_start_s ≤ 1.5, rss_settled_mib ≤ 150, queue_load_ms ≤ 300,
reorder_ms ≤ 16.

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
from installed import compile_package  # noqa: E402  (bytecode compiled as an install compiles it)
from search_latency import build_library  # noqa: E402  (the same synthetic library as the search bench)

from tad_tui.store import opened_store  # noqa: E402
from tad_tui.telegram.sim.catalogue import load_catalogue  # noqa: E402

COLUMNS, ROWS = 100, 30
F2, F3, END, SHIFT_UP, CTRL_Q, FILTER = b"\x1bOQ", b"\x1bOR", b"\x1b[F", b"\x1b[1;2A", b"\x11", b"f"
MOVES = 20
SEARCHED = "blue"  # typed in the search pane: its answer shows the vocabulary has loaded
# The queue pane's filter key cycles all → running → queued → paused → failed → finished → all; the
# bench's entries are all paused.
FILTERS_BEFORE_PAUSED, FILTERS_AFTER_PAUSED = ("running", "queued"), ("failed", "finished", "all")


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


def launch(config: Path, data: Path) -> tuple[Terminal, float]:
    """A new ``tad-tui --demo`` process and the seconds from its launch to its first frame."""
    command = [sys.executable, "-m", "tad_tui", "--config", str(config), "--demo", "--data-dir", str(data)]
    terminal = Terminal(command)
    try:
        shown = terminal.wait_for(b"Queue F2", b"Performance F4")
    except BaseException:
        terminal.close()
        raise
    return terminal, shown - terminal.started


def cold_start(config: Path, data: Path) -> float:
    """The first launch on this data dir: seconds to the first frame."""
    terminal, seconds = launch(config, data)
    try:
        terminal.settle()
    finally:
        terminal.close()
    return seconds


def drive(config: Path, data: Path, queue: int) -> dict[str, float]:
    """A later launch: its start, its memory once settled, the queue's load, the reorders."""
    terminal, seconds = launch(config, data)
    figures = {"warm_start_s": seconds}
    try:
        terminal.settle()  # groups from Telegram, search warm-up: what a person waits for anyway
        since = len(terminal.seen)
        terminal.key(F2)
        terminal.wait_for(f"{queue} entries".encode(), since=since)
        terminal.key(F3)
        terminal.settle(0.2)
        since = len(terminal.seen)
        for char in SEARCHED:
            terminal.key(char.encode())
            terminal.settle(0.05)
        terminal.wait_for(b" match", since=since)  # a search answered: the vocabulary is loaded
        terminal.settle()
        figures["rss_settled_mib"] = psutil.Process(terminal.process.pid).memory_info().rss / 2**20
        terminal.key(F2)
        terminal.settle()
        for _ in FILTERS_BEFORE_PAUSED:  # to a filter that shows none of the entries
            terminal.key(FILTER)
            terminal.settle()
        since = len(terminal.seen)
        pressed = terminal.key(FILTER)  # "paused": every entry read again from the database and shown
        figures["queue_load_ms"] = (terminal.wait_for(f"{queue} shown".encode(), since=since) - pressed) * 1000
        terminal.settle()
        for _ in FILTERS_AFTER_PAUSED:  # back to the whole queue
            terminal.key(FILTER)
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
        compile_package()
        print(f"library of {args.tracks} tracks, queue of {args.queue} …", file=sys.stderr)
        asyncio.run(prepare(data, args.tracks, args.queue))
        before = asyncio.run(queue_ids(data))
        cold = cold_start(config, data)
        figures = drive(config, data, args.queue)
        after = asyncio.run(queue_ids(data))
    moved = len(before) - 1 - after.index(before[-1])
    if moved != MOVES:
        sys.exit(f"the moves did not reach the database: the last entry moved {moved} places, not {MOVES}")
    result = {
        "tracks": args.tracks,
        "queue": args.queue,
        "cold_start_s": round(cold, 3),
        "warm_start_s": round(figures["warm_start_s"], 3),
        "rss_settled_mib": round(figures["rss_settled_mib"], 1),
        "queue_load_ms": round(figures["queue_load_ms"], 1),
        "reorder_ms": round(figures["reorder_ms"], 2),
    }
    print(json.dumps(result) if args.json else "\n".join(f"{k:>14}: {v}" for k, v in result.items()))


if __name__ == "__main__":
    main()
