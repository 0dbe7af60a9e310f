"""Run every benchmark in bench/ and write bench/RESULTS.md: each figure, its target, met or not.

    python bench/run_all.py [--only NAME ...]

Each script is run as ``python bench/NAME.py --json`` and must print one JSON object last.
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


def table(results: dict[str, tuple[dict[str, object] | None, str, float]]) -> list[str]:
    rows = ["| benchmark | figure | value | target | met |", "| --- | --- | --- | --- | --- |"]
    for name, (figures, error, _) in results.items():
        if figures is None:
            rows.append(f"| {name} | — | {error} | — | no |")
            continue
        for figure, value in figures.items():
            target, check = TARGETS.get((name, figure), ("", None))
            met = ""
            if check is not None and isinstance(value, (int, float)):
                met = "yes" if check(float(value)) else "**no**"
            rows.append(f"| {name} | {figure} | {value} | {target} | {met} |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="run only these scripts (names without .py)")
    args = parser.parse_args()
    scripts = sorted(p for p in BENCH.glob("*.py") if p.name != Path(__file__).name)
    if args.only:
        scripts = [p for p in scripts if p.stem in args.only]
    results = {}
    for script in scripts:
        print(f"running {script.name} …", file=sys.stderr, flush=True)
        results[script.stem] = run_script(script)
        figures, error, elapsed = results[script.stem]
        print(f"  {elapsed:.0f} s: {json.dumps(figures) if figures else error}", file=sys.stderr, flush=True)
    lines = [
        "# Benchmark results",
        "",
        f"Written by `python bench/run_all.py` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC.",
        "",
        f"Machine: {machine()}.",
        "",
        *table(results),
        "",
        "Each script prints its figures as one JSON object with `--json`; see its docstring for what",
        "it measures and how. Tests never assert times: these figures are checked here.",
        "",
    ]
    RESULTS.write_text("\n".join(lines), encoding="utf-8")
    print(RESULTS.read_text(encoding="utf-8"))


if __name__ == "__main__":
    main()
