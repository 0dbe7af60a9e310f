"""The performance monitor: one sample a second of the process, the machine and the downloads.

Runs on the engine's event loop (psutil calls take microseconds). Keeps 15 minutes of samples for
the TUI's graphs, writes the latest one atomically to ``monitor.json`` in the data dir so
``tad-tui performance`` in another terminal can read it, and enforces ``max_memory_mb``: close to
the limit fewer parts are kept in flight; past it no new download starts until memory falls back.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import statistics
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psutil

from tad_tui.download.events import (
    EntryFinished,
    EntryProgress,
    EntryResumed,
    EntryStarted,
    Event,
    EventBus,
    Notice,
)

log = logging.getLogger(__name__)

HISTORY_SECONDS = 15 * 60
PRESSURE_SHARE = 0.85  # above this share of max_memory_mb, transfers use fewer parts
CPU_BUSY_PERCENT = 90.0  # of one core: the event loop runs on one, so past this more files only queue for it
CPU_BUSY_SAMPLES = 3  # averaged over this many samples, so one busy second does not count
FRESH_SECONDS = 5.0  # a shared sample older than this means no instance is running


class SpeedMeter:
    """Bytes per second over the last 1, 10 and 60 seconds, from per-second buckets."""

    def __init__(self) -> None:
        self._buckets: deque[list[float]] = deque()  # [second, bytes]

    def add(self, nbytes: int, now: float) -> None:
        second = float(int(now))
        if self._buckets and self._buckets[-1][0] == second:
            self._buckets[-1][1] += nbytes
        else:
            self._buckets.append([second, float(nbytes)])
        while self._buckets and self._buckets[0][0] < second - 60:
            self._buckets.popleft()

    def rate(self, window: int, now: float) -> float:
        """Average over the last ``window`` whole seconds before ``now``."""
        current = int(now)
        total = sum(b for s, b in self._buckets if current - window <= s < current)
        return total / window


ENTRY_SPEED_WINDOW = 10.0  # seconds of a download's progress its speed is measured over
ENTRY_SPEED_MIN_SPAN = 2.0  # a first part that lands at once does not read as its size per tenth of a second


class EntrySpeed:
    """One download's speed, steady although its progress comes in whole parts (1 MiB at a time).

    The bytes of the parts that landed in the last ENTRY_SPEED_WINDOW seconds, over the time from
    the part before them (or the start) to the latest one: at 200 KiB/s a part lands every 5 s and
    this reads 200 KiB/s throughout, where bytes per fixed window read 0 or 1 MiB/s in turn. A stall
    shows: once the wait since the latest part is longer than the usual gap, the wait counts too.
    """

    def __init__(self, started: float) -> None:
        self._parts: deque[tuple[float, int]] = deque([(started, 0)])  # the first one is the anchor

    def add(self, nbytes: int, now: float) -> None:
        self._parts.append((now, nbytes))

    def rate(self, now: float) -> float:
        parts = self._parts
        while len(parts) > 1 and parts[1][0] <= now - ENTRY_SPEED_WINDOW:
            parts.popleft()  # the latest part before the window stays, as the anchor
        if len(parts) < 2:
            return 0.0
        anchor = parts[0][0]
        latest = parts[-1][0]
        gap = (latest - anchor) / (len(parts) - 1)
        span = max(latest - anchor, now - anchor - gap, ENTRY_SPEED_MIN_SPAN)
        return sum(nbytes for _, nbytes in list(parts)[1:]) / span


@dataclass
class Sample:
    sampled_at: float
    pid: int
    cpu_percent: float
    rss_bytes: int
    memory_limit_bytes: int
    system_memory_percent: float
    net_recv_bps: float
    net_sent_bps: float
    disk_read_bps: float
    disk_write_bps: float
    disk_free_bytes: int
    download_bps: float
    download_bps_10s: float
    download_bps_60s: float
    per_download_bps: dict[str, float]
    active_downloads: int
    connections: int
    parts_in_flight: int
    queued: int
    waiting: int
    paused: int
    completed: int
    failed: int
    flood_wait_seconds: float
    memory_pressure: str | None
    search_ms_p50: float | None
    db_ms: float
    premium_wait_seconds: float = 0.0  # Telegram throttling this account (no Premium): seconds left
    account_pace_bps: int = 0  # the download rate learned from Telegram's throttle; 0 = not throttled
    concurrency: dict[str, int] = field(default_factory=dict)  # files allowed at once: multi_part, single_part, total
    concurrency_reason: str = ""  # why that many, in a few words (concurrency.py)
    request_pace: dict[str, float] = field(default_factory=dict)  # requests a second by method, learned from flood waits
    # When the process began (psutil's create_time): with ``pid``, it tells this process from another
    # that has the same pid later or elsewhere (in a container every tad-tui is pid 1).
    pid_started: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Timings:
    """Recent durations of one kind of work (searches), for the p50 shown in samples."""

    recent: deque[float] = field(default_factory=lambda: deque(maxlen=200))

    def record(self, milliseconds: float) -> None:
        self.recent.append(milliseconds)

    def p50(self) -> float | None:
        return round(statistics.median(self.recent), 2) if self.recent else None


class Monitor:
    """Samples once a second while started; ``probe`` supplies the engine's live figures."""

    def __init__(
        self,
        events: EventBus,
        probe: Callable[[], Any],
        *,
        output_dir: Path,
        shared_file: Path | None,
        max_memory_mb: int,
        interval: float = 1.0,
    ) -> None:
        self.events = events
        self.probe = probe
        self.output_dir = output_dir
        self.shared_file = shared_file
        self.memory_limit = max_memory_mb * 1024 * 1024
        self.interval = interval
        self.samples: deque[Sample] = deque(maxlen=int(HISTORY_SECONDS / interval))
        self.search_timings = Timings()
        self.total = SpeedMeter()
        self._per_entry: dict[int, EntrySpeed] = {}
        self._seen: dict[int, int] = {}
        self._process = psutil.Process()
        self._process.cpu_percent(None)  # the first call only sets the baseline
        self._last_io: tuple[float, Any, Any] | None = None
        self._task: asyncio.Task[None] | None = None
        self._held = False
        self.on_memory_change: Callable[[], None] = lambda: None
        self.on_pressure: Callable[[], None] = lambda: None  # shrink caches as RSS nears the limit
        events.subscribe(self._on_event)

    # ---- download speed from progress events --------------------------------------------------------

    def _on_event(self, event: Event) -> None:
        if isinstance(event, EntryStarted):
            self._per_entry[event.entry_id] = EntrySpeed(time.time())
        elif isinstance(event, EntryResumed):
            self._seen[event.entry_id] = event.downloaded_bytes
        elif isinstance(event, EntryProgress):
            delta = event.downloaded_bytes - self._seen.get(event.entry_id, 0)
            self._seen[event.entry_id] = event.downloaded_bytes
            if delta > 0:
                now = time.time()
                self.total.add(delta, now)
                if event.entry_id in self._per_entry:
                    self._per_entry[event.entry_id].add(delta, now)
                else:  # started before the monitor: this part is where its measure starts
                    self._per_entry[event.entry_id] = EntrySpeed(now)
        elif isinstance(event, EntryFinished):
            self._seen.pop(event.entry_id, None)
            self._per_entry.pop(event.entry_id, None)

    def _download_speeds(self, now: float, limit: int) -> dict[str, float]:
        """Each running download's steady speed; never above the total limit, which no one download
        can pass for long (the limiter lets a first part through at once)."""
        speeds = {str(k): speed.rate(now) for k, speed in self._per_entry.items()}
        return {k: min(v, limit) for k, v in speeds.items()} if limit else speeds

    # ---- memory ---------------------------------------------------------------------------------

    def memory_hold(self) -> str | None:
        """Why new downloads must wait (RSS past ``max_memory_mb``), or None."""
        latest = self.samples[-1] if self.samples else None
        if latest is None or latest.rss_bytes <= self.memory_limit:
            return None
        return latest.memory_pressure

    def under_pressure(self) -> bool:
        latest = self.samples[-1] if self.samples else None
        return latest is not None and latest.rss_bytes > PRESSURE_SHARE * self.memory_limit

    def cpu_busy(self) -> bool:
        """The process has kept about a core busy over the last few samples."""
        if len(self.samples) < CPU_BUSY_SAMPLES:
            return False
        recent = (self.samples[-i].cpu_percent for i in range(1, CPU_BUSY_SAMPLES + 1))
        return statistics.fmean(recent) >= CPU_BUSY_PERCENT

    def _check_memory(self, sample: Sample) -> None:
        held = sample.memory_pressure is not None and sample.rss_bytes > self.memory_limit
        if held != self._held:
            self._held = held
            self.events.publish(Notice(sample.memory_pressure or "memory back under max_memory_mb: downloads go on"))
            self.on_memory_change()

    # ---- sampling ---------------------------------------------------------------------------------

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="tad-monitor")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                await self.sample()
            except Exception:  # a failed sample must not stop the monitor (or the app)
                log.exception("performance sample failed")
            await asyncio.sleep(self.interval)

    async def sample(self) -> Sample:
        now = time.time()
        live = self.probe()
        started = time.perf_counter()
        counts = await live.queue_counts()
        db_ms = (time.perf_counter() - started) * 1000
        net_recv, net_sent, disk_read, disk_write = self._io_rates(now)
        rss = self._process.memory_info().rss
        sample = Sample(
            sampled_at=now,
            pid=os.getpid(),
            pid_started=self._process.create_time(),
            cpu_percent=self._process.cpu_percent(None),
            rss_bytes=rss,
            memory_limit_bytes=self.memory_limit,
            system_memory_percent=psutil.virtual_memory().percent,
            net_recv_bps=net_recv,
            net_sent_bps=net_sent,
            disk_read_bps=disk_read,
            disk_write_bps=disk_write,
            disk_free_bytes=disk_free(self.output_dir),
            download_bps=self.total.rate(1, now),
            download_bps_10s=self.total.rate(10, now),
            download_bps_60s=self.total.rate(60, now),
            per_download_bps=self._download_speeds(now, live.bandwidth_limit()),
            active_downloads=live.active_downloads(),
            connections=live.connections(),
            parts_in_flight=live.parts_in_flight(),
            queued=counts.get("queued", 0),
            waiting=counts.get("waiting", 0),
            paused=counts.get("paused", 0),
            completed=counts.get("completed", 0),
            failed=counts.get("failed", 0),
            flood_wait_seconds=round(live.flood_wait_seconds(), 1),
            memory_pressure=None,
            search_ms_p50=self.search_timings.p50(),
            db_ms=round(db_ms, 3),
            premium_wait_seconds=round(live.premium_wait_seconds(), 1),
            account_pace_bps=live.account_pace_bps(),
            request_pace=live.request_pace(),
        )
        concurrency = live.concurrency()
        if concurrency is not None:
            sample.concurrency, sample.concurrency_reason = concurrency.to_json(), concurrency.reason
        if rss > PRESSURE_SHARE * self.memory_limit:
            sample.memory_pressure = (
                f"memory limit: tad-tui uses {rss // 2**20} MiB of max_memory_mb {self.memory_limit // 2**20} MiB"
                + ("; new downloads wait until it falls back" if rss > self.memory_limit else "; fewer parts in flight")
            )
        self.samples.append(sample)
        if sample.memory_pressure is not None:
            self.on_pressure()
        self._check_memory(sample)
        if self.shared_file is not None:
            write_shared(self.shared_file, sample)
        return sample

    def _io_rates(self, now: float) -> tuple[float, float, float, float]:
        net, disk = psutil.net_io_counters(), psutil.disk_io_counters()
        previous, self._last_io = self._last_io, (now, net, disk)
        if previous is None or net is None:
            return 0.0, 0.0, 0.0, 0.0
        elapsed = max(now - previous[0], 1e-6)
        old_net, old_disk = previous[1], previous[2]
        disk_read = (disk.read_bytes - old_disk.read_bytes) / elapsed if disk and old_disk else 0.0
        disk_write = (disk.write_bytes - old_disk.write_bytes) / elapsed if disk and old_disk else 0.0
        return (
            (net.bytes_recv - old_net.bytes_recv) / elapsed,
            (net.bytes_sent - old_net.bytes_sent) / elapsed,
            disk_read,
            disk_write,
        )


def disk_free(folder: Path) -> int:
    """Free bytes on the file system that holds ``folder`` (or its nearest existing parent)."""
    for candidate in (folder, *folder.parents):
        if candidate.exists():
            try:
                return shutil.disk_usage(candidate).free
            except OSError:
                return 0
    return 0


def write_shared(path: Path, sample: Sample) -> None:
    """Replace the shared sample atomically: a reader never sees half a file."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(sample.to_json()), encoding="utf-8")
    os.replace(temporary, path)


def read_shared(path: Path) -> dict[str, Any] | None:
    """The latest sample of a running instance, or None if there is none (or it is stale)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or time.time() - float(data.get("sampled_at", 0)) > FRESH_SECONDS:
        return None
    try:
        process = psutil.Process(int(data.get("pid", -1)))
        started = process.create_time()
    except (psutil.Error, ValueError, TypeError):
        return None  # gone (or never a process)
    if data.get("pid_started") and abs(started - float(data["pid_started"])) > 1.0:
        return None  # another process with the same pid: the one that wrote it has ended
    return data
