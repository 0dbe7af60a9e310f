"""Run every benchmark in bench/ and write their figures into bench/RESULTS.md: each figure, its
target, met or not, and when each benchmark ran (with the machine's load then).

    python bench/run_all.py [--only NAME ...]

Each script is run as ``python bench/NAME.py --json`` and must print one JSON object last. Only the
part of RESULTS.md between its two ``run_all.py`` markers is written, and in it only the rows of the
benchmarks that ran (``--only``): the other benchmarks' rows and everything outside the markers
(notes written by hand) stay as they are.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import psutil

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "RESULTS.md"
BEGIN = "<!-- run_all.py writes from here -->"
END = "<!-- run_all.py writes up to here -->"
HEADER = ["| benchmark | figure | value | target | met |", "| --- | --- | --- | --- | --- |"]

# (benchmark, figure) -> (target as written, check)
TARGETS: dict[tuple[str, str], tuple[str, Callable[[float], bool]]] = {
    ("download_throughput", "ratio"): ("≥ 8× Telethon's download_media", lambda v: v >= 8),
    ("download_throughput", "limit_error"): ("within ±10 % of the limit", lambda v: abs(v) <= 0.10),
    ("download_throughput", "cap_fraction"): ("≥ 0.90 of connections × per-connection cap", lambda v: v >= 0.90),
    ("download_throughput", "engine_vs_parallel"): ("≥ 1.2× a plain parallel downloader", lambda v: v >= 1.2),
    ("download_throughput", "free_account_cap_fraction"): ("≥ 0.85 of a non-Premium account's limit", lambda v: v >= 0.85),
    ("download_throughput", "free_account_failed"): ("0 files failed", lambda v: v == 0),
    ("download_throughput", "free_account_md5_ok"): ("every file's MD5 the source's", lambda v: v == 1),
    ("fairness", "small_file_s"): ("≤ 2 s for a 5 KB file beside a 50 MB one at 200 KiB/s", lambda v: v <= 2),
    ("fairness", "jain_index"): ("≥ 0.95 for 4 equal downloads under 4 MB/s", lambda v: v >= 0.95),
    ("fairness", "limit_error"): ("within ±5 % of the limit", lambda v: abs(v) <= 0.05),
    ("fairness", "weighted_ratio"): ("2 ± 0.3 (high over normal)", lambda v: abs(v - 2) <= 0.3),
    ("fairness", "critical_start_s"): ("≤ 1.0 s to a critical file's first byte, slots full", lambda v: v <= 1.0),
    ("fairness", "many_small_files_speedup"): ("≥ 3× with adaptive concurrency", lambda v: v >= 3),
    ("search_latency", "p95_ms"): ("≤ 16 ms per keystroke at 100k tracks", lambda v: v <= 16),
    ("search_latency", "recall_at_10"): ("≥ 0.95 of a brute-force ranking's 10 best", lambda v: v >= 0.95),
    ("scan_throughput", "ingest_per_s"): ("≥ 20,000 messages/s stored (messages received to library rows)", lambda v: v >= 20_000),
    ("start_cost", "start_to_first_byte_s"): ("≤ 0.8 s from starting a download to its first byte (demo, 60 ms RTT)", lambda v: v <= 0.8),
    ("start_cost", "nothing_new_s"): ("≤ 0.75 s for a whole download with nothing new (demo, 60 ms RTT)", lambda v: v <= 0.75),
    ("tui", "warm_start_s"): ("≤ 0.8 s to the first frame", lambda v: v <= 0.8),
    ("tui", "cold_start_s"): ("≤ 1.5 s to the first frame, first launch", lambda v: v <= 1.5),
    ("tui", "rss_settled_mib"): ("≤ 150 MiB, vocabulary and queue loaded", lambda v: v <= 150),
    ("tui", "queue_load_ms"): ("≤ 300 ms for 10,000 entries", lambda v: v <= 300),
    ("tui", "reorder_ms"): ("≤ 16 ms from keystroke to repaint", lambda v: v <= 16),
}


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = psutil.virtual_memory().total / 2**30
    return (
        f"{cpu}, {os.cpu_count()} cores, {memory:.0f} GiB, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}"
    )


def run_script(path: Path) -> tuple[dict[str, object] | None, str, float]:
    started = time.perf_counter()
    result = subprocess.run([sys.executable, str(path), "--json"], capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    lines = [line for line in result.stdout.splitlines() if line.strip().startswith("{")]
    if result.returncode != 0 or not lines:
        tail = (result.stderr.strip().splitlines() or ["no output"])[-1]
        return None, f"failed (exit {result.returncode}): {tail}", elapsed
    return json.loads(lines[-1]), "", elapsed


def rows_of(name: str, figures: dict[str, object] | None, error: str) -> list[str]:
    if figures is None:
        return [f"| {name} | — | {error} | — | no |"]
    rows = []
    for figure, value in figures.items():
        target, check = TARGETS.get((name, figure), ("", None))
        met = ""
        if check is not None and isinstance(value, (int, float)):
            met = "yes" if check(float(value)) else "**no**"
        rows.append(f"| {name} | {figure} | {value} | {target} | {met} |")
    return rows


def read_region(text: str) -> tuple[dict[str, list[str]], dict[str, str]]:
    """The table rows and the run line of each benchmark in RESULTS.md's marked part."""
    if BEGIN not in text or END not in text:
        return {}, {}
    region = text[text.index(BEGIN) + len(BEGIN) : text.index(END)]
    rows: dict[str, list[str]] = {}
    runs: dict[str, str] = {}
    for line in region.splitlines():
        if line.startswith("| ") and line not in HEADER:
            rows.setdefault(line.split("|")[1].strip(), []).append(line)
        elif line.startswith("- ") and ": " in line:
            runs[line[2:].split(":", 1)[0]] = line
    return rows, runs


def write_region(text: str, rows: dict[str, list[str]], runs: dict[str, str]) -> str:
    names = sorted(rows)
    region = [
        BEGIN,
        "",
        f"Machine: {machine()}.",
        "",
        *HEADER,
        *(row for name in names for row in rows[name]),
        "",
        "When each ran (`python bench/run_all.py`; times move with the machine's load):",
        "",
        *(runs[name] for name in names if name in runs),
        "",
        END,
    ]
    block = "\n".join(region)
    if BEGIN in text and END in text:
        return text[: text.index(BEGIN)] + block + text[text.index(END) + len(END) :]
    return (text.rstrip("\n") + "\n\n" if text.strip() else "# Benchmark results\n\n") + block + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="run only these scripts (names without .py)")
    args = parser.parse_args()
    scripts = sorted(p for p in BENCH.glob("*.py") if p.name != Path(__file__).name)
    if args.only:
        scripts = [p for p in scripts if p.stem in args.only]
    results = {}
    started: dict[str, tuple[str, float]] = {}  # when each ran, and the load average then
    for script in scripts:
        print(f"running {script.name} …", file=sys.stderr, flush=True)
        started[script.stem] = f"{datetime.now(UTC):%Y-%m-%d %H:%M}", os.getloadavg()[0]
        results[script.stem] = run_script(script)
        figures, error, elapsed = results[script.stem]
        print(f"  {elapsed:.0f} s: {json.dumps(figures) if figures else error}", file=sys.stderr, flush=True)
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else ""
    rows, runs = read_region(text)
    for name, (figures, error, elapsed) in results.items():
        when, load = started[name]
        rows[name] = rows_of(name, figures, error)
        runs[name] = f"- {name}: {when} UTC, load average {load:.1f} before it, {elapsed:.0f} s"
    RESULTS.write_text(write_region(text, rows, runs), encoding="utf-8")
    print("\n".join(row for name in results for row in rows[name]))

if __name__ == "__main__":
    main()
