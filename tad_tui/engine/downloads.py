"""The downloads behind the engine: building the scheduler, the monitor that watches and steers it,
the total bandwidth limit, and the history of what was downloaded."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from tad_tui.api import DownloadHistory
from tad_tui.audit import recorded
from tad_tui.config import ConfigError, save_setting
from tad_tui.sizes import format_size_exact
from tad_tui.store.models import AudioFile, FileStatus

if TYPE_CHECKING:
    from tad_tui.download.concurrency import Concurrency
    from tad_tui.download.limits import ByteRateLimiter
    from tad_tui.download.scheduler import Scheduler
    from tad_tui.engine.facade import Engine
    from tad_tui.monitor import Monitor


def build_scheduler(engine: Engine) -> Scheduler:
    from tad_tui.download.job import JobContext
    from tad_tui.download.limits import ByteRateLimiter
    from tad_tui.download.pace import AccountPace
    from tad_tui.download.scheduler import Scheduler
    from tad_tui.download.transfer import ConnectionPool, Health

    source = engine.source
    client = source.client
    downloads = engine.settings.downloads
    context = JobContext(
        settings=engine.settings,
        source=source,
        client=client,
        pool=ConnectionPool(client, downloads.parts_per_file),
        bandwidth=ByteRateLimiter(engine.settings.performance.bandwidth_limit),
        health=Health(),
        pace=AccountPace(),
        events=engine.events,
        default_output=engine.paths.downloads_dir,
        reserved=set(),
    )
    return Scheduler(context, downloads.max_concurrent)


def build_monitor(engine: Engine, *, share: bool) -> Monitor:
    """The monitor, and with Telegram to download from, the scheduler it holds back under memory
    pressure and a busy CPU."""
    from tad_tui.monitor import Monitor

    monitor = Monitor(
        engine.events,
        lambda: LiveFigures(engine),
        output_dir=engine.paths.downloads_dir,
        shared_file=engine.paths.monitor_file if share else None,
        max_memory_mb=engine.settings.performance.max_memory_mb,
    )
    if engine._source is not None:
        scheduler = engine.scheduler
        scheduler.admission = monitor.memory_hold
        scheduler.context.health.squeeze = monitor.under_pressure
        scheduler.single_part.pressure = monitor.under_pressure
        scheduler.single_part.cpu_busy = monitor.cpu_busy
        monitor.on_memory_change = scheduler.nudge
    return monitor


class LiveFigures:
    """What the monitor reads from the engine at each sample."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._scheduler = engine._scheduler

    async def queue_counts(self) -> dict[str, int]:
        return await self._engine.queue_counts()

    def active_downloads(self) -> int:
        return len(self._scheduler.running) if self._scheduler else 0

    def connections(self) -> int:
        return self._scheduler.context.pool.in_use() if self._scheduler else 0

    def parts_in_flight(self) -> int:
        return self._scheduler.context.pool.requests_in_flight if self._scheduler else 0

    def flood_wait_seconds(self) -> float:
        source = self._engine._source
        return source.client.flood_wait_remaining() if source is not None else 0.0

    def premium_wait_seconds(self) -> float:
        return self._scheduler.context.pace.waiting() if self._scheduler else 0.0

    def account_pace_bps(self) -> int:
        return self._scheduler.context.pace.rate if self._scheduler else 0

    def bandwidth_limit(self) -> int:
        return self._scheduler.context.bandwidth.rate if self._scheduler else 0

    def request_pace(self) -> dict[str, float]:
        source = self._engine._source
        return source.client.pace.paces() if source is not None else {}

    def concurrency(self) -> Concurrency | None:
        return self._scheduler.concurrency() if self._scheduler else None


def set_bandwidth_limit(bandwidth: ByteRateLimiter, bytes_per_second: int, *, save_to: Path | None) -> None:
    fields: dict[str, Any] = {"key": "performance.bandwidth_limit", "old": bandwidth.rate, "new": bytes_per_second}
    fields |= {"saved": True, "file": str(save_to)} if save_to else {"saved": False}
    with recorded("config_changed", refused=(ConfigError,), **fields):
        if save_to is not None:
            text = format_size_exact(bytes_per_second)  # "512KiB" as a person would write it
            value = int(text) if text.isdigit() else text
            save_setting(save_to, "performance", "bandwidth_limit", value, what="the download limit")
        bandwidth.set_rate(bytes_per_second)


async def download_history() -> DownloadHistory:
    done = await AudioFile.filter(status=FileStatus.COMPLETED).values_list(
        "file_size", "downloaded_at", "last_attempt_at"
    )
    reasons = await AudioFile.filter(status=FileStatus.FAILED).values_list("error_message", flat=True)
    return DownloadHistory(tuple(done), tuple(reasons))
