"""``tad-tui performance``: the running instance's live figures, or the machine and the history.

Read-only: it never takes the data dir's lock. A running ``tad-tui`` (TUI or headless download)
writes its latest sample to ``monitor.json`` once a second; without one, the machine's figures are
sampled here and the download history comes from the library.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import psutil

from tad_tui.api import concurrency_words
from tad_tui.monitor import disk_free, read_shared
from tad_tui.sizes import format_size
from tad_tui.words import counted

HISTORY_DAYS = 14


async def download_history(engine: Any) -> dict[str, Any]:
    """Totals, average speed, files per day and failures by reason, from the library."""
    history = await engine.download_history()
    done = history.completed
    total_bytes = sum(size for size, _, _ in done)
    seconds = sum(
        (finished - started).total_seconds()
        for _, finished, started in done
        if finished and started and finished > started
    )
    since = datetime.now(UTC) - timedelta(days=HISTORY_DAYS)
    per_day = Counter(finished.date().isoformat() for _, finished, _ in done if finished and finished >= since)
    failures = Counter(
        (reason or "unknown").split(";")[0][:80]
        for reason in history.failure_reasons
    )
    return {
        "files_downloaded": len(done),
        "bytes_downloaded": total_bytes,
        "average_bps": round(total_bytes / seconds, 1) if seconds else 0.0,
        "files_per_day": dict(sorted(per_day.items())),
        "failures_by_reason": dict(failures.most_common(10)),
    }


async def snapshot(engine: Any) -> dict[str, Any]:
    """One report: a running instance's sample if there is one, else this machine now."""
    live = read_shared(engine.paths.monitor_file)
    history = await download_history(engine)
    if live is not None:
        report = {"source": "running instance", **live}
    else:
        counts = await engine.queue_counts()
        memory = psutil.virtual_memory()
        report = {
            "source": "no running instance",
            "cpu_percent": psutil.cpu_percent(interval=0.1),
            "rss_bytes": 0,
            "system_memory_percent": memory.percent,
            "download_bps": 0.0,
            "active_downloads": 0,
            "queued": counts.get("queued", 0),
            "completed": counts.get("completed", 0),
            "failed": counts.get("failed", 0),
            "flood_wait_seconds": 0.0,
            "premium_wait_seconds": 0.0,
            "account_pace_bps": 0,
            "concurrency": {},
            "concurrency_reason": "no downloads running here",
            "request_pace": {},
            "disk_free_bytes": disk_free(engine.paths.downloads_dir),
            "sampled_at": datetime.now(UTC).timestamp(),
        }
    report["sampled_at"] = datetime.fromtimestamp(float(report["sampled_at"]), UTC).isoformat()
    report["history"] = history
    return report


def render(report: dict[str, Any]) -> list[str]:
    """The report as lines for a terminal."""
    history = report["history"]
    lines = [
        f"tad-tui performance — {report['source']} — {report['sampled_at']}",
        "",
        f"  download      {format_size(int(report['download_bps']))}/s"
        + (f"   10 s {format_size(int(report['download_bps_10s']))}/s" if "download_bps_10s" in report else ""),
        f"  downloads     {report['active_downloads']} running, {report['queued']} queued, "
        f"{report['completed']} completed, {report['failed']} failed",
        f"  cpu           {report['cpu_percent']:.1f} %" + ("" if report["rss_bytes"] else " (whole machine)"),
        "  memory        "
        + (f"{format_size(report['rss_bytes'])} RSS, " if report["rss_bytes"] else "")
        + f"machine {report.get('system_memory_percent', 0):.0f} % used",
        f"  disk free     {format_size(report['disk_free_bytes'])} in the output folder",
    ]
    if "connections" in report:
        lines.append(f"  connections   {report['connections']}, {counted(report['parts_in_flight'], 'part')} in flight")
    if report.get("concurrency"):
        lines.append(f"  at once       {concurrency_words(report['concurrency'], report.get('concurrency_reason', ''))}")
    if report.get("flood_wait_seconds"):
        lines.append(f"  flood wait    {report['flood_wait_seconds']:.0f} s left")
    if report.get("request_pace"):
        paces = ", ".join(f"{method} {rate:g}/s" for method, rate in report["request_pace"].items())
        lines.append(f"  paced         {paces} (Telegram's flood waits showed what it takes)")
    if report.get("account_pace_bps"):
        waiting = report.get("premium_wait_seconds") or 0
        lines.append(
            f"  no Premium    Telegram limits this account: paced at {format_size(report['account_pace_bps'])}/s"
            + (f", {waiting:.0f} s left of a wait" if waiting else "")
        )
    if report.get("memory_pressure"):
        lines.append(f"  {report['memory_pressure']}")
    lines += [
        "",
        f"  history       {counted(history['files_downloaded'], 'file')}, {format_size(history['bytes_downloaded'])}, "
        f"average {format_size(int(history['average_bps']))}/s",
    ]
    for day, count in list(history["files_per_day"].items())[-7:]:
        lines.append(f"    {day}  {counted(count, 'file')}")
    for reason, count in history["failures_by_reason"].items():
        lines.append(f"    failed ×{count}: {reason}")
    return lines


def one_line(report: dict[str, Any]) -> str:
    return (
        f"{report['sampled_at']} download {format_size(int(report['download_bps']))}/s "
        f"active {report['active_downloads']} queued {report['queued']} completed {report['completed']} "
        f"failed {report['failed']} cpu {report['cpu_percent']:.1f}% rss {format_size(report['rss_bytes'])}"
    )


def health(paths: Any) -> tuple[bool, str]:
    """Whether a tad-tui runs on this data dir (its sample is fresh and its process alive), in words."""
    live = read_shared(paths.monitor_file)
    if live is None:
        return False, f"no tad-tui is running on {paths.data_dir}"
    return True, (
        f"tad-tui (pid {live.get('pid')}) is running on {paths.data_dir}: "
        f"{live.get('active_downloads', 0)} downloading, {live.get('queued', 0)} queued, "
        f"{format_size(int(live.get('download_bps', 0)))}/s"
    )


async def run_performance(args: argparse.Namespace, settings: Any, paths: Any) -> int:
    from tad_tui.runtime import open_engine

    if args.check:  # no database: a health check every minute must cost next to nothing
        healthy, words = health(paths)
        print(words, file=sys.stdout if healthy else sys.stderr)
        return 0 if healthy else 1

    async with open_engine(settings, paths, demo=args.demo, writer=False) as engine:
        if not args.watch:
            report = await snapshot(engine)
            print(json.dumps(report, ensure_ascii=False) if args.json else "\n".join(render(report)))
            return 0
        await _watch(engine, as_json=args.json)
    return 0


async def _watch(engine: Any, *, as_json: bool) -> None:
    """Redraw once a second until Ctrl+C (which ends it cleanly, status 0)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGINT, stop.set)
    redraw = sys.stdout.isatty() and not as_json
    try:
        while not stop.is_set():
            report = await snapshot(engine)
            if as_json:
                print(json.dumps(report, ensure_ascii=False), flush=True)
            elif redraw:
                sys.stdout.write("\x1b[H\x1b[2J" + "\n".join(render(report)) + "\n\n  Ctrl+C to stop\n")
                sys.stdout.flush()
            else:
                print(one_line(report), flush=True)
            try:
                await asyncio.wait_for(stop.wait(), timeout=1.0)
            except TimeoutError:
                pass
    finally:
        loop.remove_signal_handler(signal.SIGINT)
