"""The fixed cost of a command: from starting ``tad-tui download`` to its first byte, and a whole
download with nothing new. Each is a new ``python -m tad_tui`` process, timed from just before it is
spawned (Python's start, imports, config, lock, database, connecting, checking for new messages).

The demo, as it is configured out of the box (60 ms round trip to the simulated Telegram, 4 MB/s a
connection, a non-Premium account), on @tad_demo_hostile (24 small files). Each run gets a fresh
data dir in which an untimed ``download --limit 23`` has scanned the group and fetched all but one
file; then:

1. ``start_to_first_byte_s``: ``download @tad_demo_hostile`` with that one small file to fetch:
   seconds until its first byte is on disk (the parent polls the download folder every 2 ms for a
   file of more than 0 bytes; ``.part`` files are created empty). Target ≤ 0.8.
2. ``nothing_new_s``: the same command again, nothing to fetch: seconds until the process has
   exited. Target ≤ 0.75. ``nothing_new_cpu_s``: the CPU time (user + system) of that process, a
   figure a busy machine changes less than the wall time.

The package's bytecode is compiled first, as an install compiles it (``installed.py``: without it,
this machine's ``PYTHONDONTWRITEBYTECODE=1`` made every start compile ~70 modules, about 0.1 s).
All are medians of ``--runs`` runs (default 5). The targets: Python with Telethon imported is about
0.25 s of CPU before anything can be sent, and the demo's 60 ms round trip makes four sequential
ones about 0.24 s (the connection, its config, the account, the scan's two searches asked at once);
the engine and Tortoise (~0.12 s) load while the first are in flight, and the demo reads its
catalogue's manifest (~0.05 s). Hence about 0.65 s for ``nothing_new_s`` on a quiet machine. The
first byte needs three round trips more (the download connection: connect and initConnection; then
upload.getFile), so about 0.8 s; the download connection is opened while the scan runs
(``Engine.warm_up_downloads``), which leaves one: about 0.7 s. Before this was cut (7 round trips
before the scan had answered, everything imported one after the other) on the same machine: 1.15 s
to the first byte, 1.03 s with nothing new; then 0.84 s and 0.71 s; with the connection opened
during the scan, 0.72 s to the first byte.

    python bench/start_cost.py --json [--runs 5] [--catalogue DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from installed import compile_package  # noqa: I001  (bench/ is on the path: a script of its own)

from tad_tui.telegram.sim.catalogue import load_catalogue

GROUP = "@tad_demo_hostile"
GROUP_FILES = 24
POLL_S = 0.002


def _env() -> dict[str, str]:
    # No account credentials or data dir of the user's: the demo only, in the folders given here.
    return {k: v for k, v in os.environ.items() if k not in {"API_ID", "API_HASH", "TAD_DATA_DIR"}}


def _command(config: Path, data: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "tad_tui", "--config", str(config), "--demo", "--data-dir", str(data), "download", GROUP, *args]


def _first_byte_on_disk(folder: Path) -> bool:
    """Whether a file under ``folder`` (a filename template may make sub-folders) holds a byte."""
    for parent, _, names in os.walk(folder):
        for name in names:
            try:
                if os.stat(os.path.join(parent, name)).st_size > 0:
                    return True
            except FileNotFoundError:  # a .part renamed between the listing and the stat
                return True
    return False


def _check(result: subprocess.CompletedProcess[str] | subprocess.Popen[str], what: str) -> None:
    if result.returncode != 0:
        stderr = result.stderr if isinstance(result.stderr, str) else (result.stderr.read() if result.stderr else "")
        raise SystemExit(f"{what} failed (exit {result.returncode}): {stderr.strip()[-500:]}")


def one_run(config: Path, data: Path) -> tuple[float, float, float]:
    """Seconds to the first byte of the one new file; wall and CPU seconds of a download with nothing new."""
    prepared = subprocess.run(_command(config, data, "--limit", str(GROUP_FILES - 1)), capture_output=True, text=True, env=_env())
    _check(prepared, "preparing the data dir")
    out = data / "first-byte"
    started = time.perf_counter()
    process = subprocess.Popen(
        _command(config, data, "--output", str(out)), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=_env()
    )
    first_byte = None
    while process.poll() is None:
        if _first_byte_on_disk(out):
            first_byte = time.perf_counter() - started
            break
        time.sleep(POLL_S)
    process.wait()
    _check(process, "downloading the new file")
    if first_byte is None:
        if not _first_byte_on_disk(out):
            raise SystemExit("the one new file was not downloaded")
        first_byte = time.perf_counter() - started  # finished between two polls: an upper bound
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    again = subprocess.run(_command(config, data), capture_output=True, text=True, env=_env())
    nothing_new = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    _check(again, "the download with nothing new")
    if "0 downloaded" not in again.stdout:
        raise SystemExit(f"expected nothing new, got: {again.stdout.strip()}")
    return first_byte, nothing_new, cpu


def measure(runs: int, catalogue: Path | None = None) -> dict[str, float | int]:
    with tempfile.TemporaryDirectory(prefix="tad-start-") as tmp:
        work = Path(tmp)
        catalogue = (catalogue or work / "catalogue").resolve()
        load_catalogue(catalogue)  # rendered once, untimed: the first demo run's cost is not a start's
        compile_package()  # as installed: bytecode compiled once (see installed.py)
        config = work / "config.toml"
        config.write_text(f'[demo]\ncatalogue_dir = "{catalogue}"\n', encoding="utf-8")
        first_bytes, nothing_new, cpu = [], [], []
        for index in range(runs):
            first_byte, idle, idle_cpu = one_run(config, work / f"data-{index}")
            first_bytes.append(first_byte)
            nothing_new.append(idle)
            cpu.append(idle_cpu)
    return {
        "start_to_first_byte_s": round(statistics.median(first_bytes), 3),
        "nothing_new_s": round(statistics.median(nothing_new), 3),
        "nothing_new_cpu_s": round(statistics.median(cpu), 3),
        "runs": runs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--runs", type=int, default=5, help="runs of each measurement (median reported)")
    parser.add_argument("--catalogue", type=Path, help="a demo catalogue folder to use (rendered there if missing)")
    args = parser.parse_args()
    result = measure(max(1, args.runs), args.catalogue)
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key}: {value}")


if __name__ == "__main__":
    main()
