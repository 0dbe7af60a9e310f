"""Building a TUI over the simulated Telegram for tests: engine, held downloads, frozen figures."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from textual.widget import Widget

from tad_tui.config import Settings, default_settings
from tad_tui.engine import Engine
from tad_tui.library.scan import scan_group
from tad_tui.monitor import Monitor, Sample
from tad_tui.paths import Paths
from tad_tui.store.models import Priority
from tad_tui.telegram.sim.catalogue import build_demo_plan
from tad_tui.telegram.source import TelethonSource

FROZEN_NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
# The demo catalogue's groups (the Groups pane lists them all once Telegram has answered).
DEMO_GROUPS = len(build_demo_plan().groups)


def ui_settings(config_file: Path) -> Settings:
    base = default_settings()
    return replace(base, downloads=replace(base.downloads, retry_delay=0.0), config_file=config_file)


class Gate:
    """Holds the scheduler back (its admission hook) until the test opens it."""

    def __init__(self, engine: Engine) -> None:
        self.reason: str | None = "held by the test"
        self._engine = engine

    def __call__(self) -> str | None:
        return self.reason

    def open(self) -> None:
        self.reason = None
        self._engine.scheduler.nudge()


def held_engine(tmp_path: Path, source: TelethonSource, monitor: Monitor | None = None) -> tuple[Engine, Gate]:
    """An engine whose downloads wait for ``gate.open()``; its monitor is not wired to the scheduler."""
    paths = Paths(tmp_path / "data", output_override=tmp_path / "out")
    paths.ensure()
    engine = Engine(ui_settings(tmp_path / "config.toml"), paths, source)
    engine.monitor = monitor or Monitor(
        engine.events, lambda: NoFigures(), output_dir=paths.downloads_dir, shared_file=None, max_memory_mb=512
    )
    gate = Gate(engine)
    engine.scheduler.admission = gate
    return engine, gate


class NoFigures:
    """A monitor's probe with nothing going on."""

    async def queue_counts(self) -> dict[str, int]:
        return {}

    def active_downloads(self) -> int:
        return 0

    def connections(self) -> int:
        return 0

    def parts_in_flight(self) -> int:
        return 0

    def flood_wait_seconds(self) -> float:
        return 0.0

    def premium_wait_seconds(self) -> float:
        return 0.0

    def account_pace_bps(self) -> int:
        return 0

    def bandwidth_limit(self) -> int:
        return 0

    def concurrency(self) -> None:
        return None

    def request_pace(self) -> dict[str, float]:
        return {}


async def queue_group(
    engine: Engine, username: str, priority: Priority = Priority.NORMAL, limit: int | None = None
) -> list[int]:
    info = await engine.resolve_group(username)
    await scan_group(engine.source, info)
    selection = await engine.select_for_download(info, limit=limit)
    queued = await engine.scheduler.enqueue(
        [row.pk for row in selection.to_fetch], priority=priority, batch_name=info.title
    )
    return queued.entry_ids


class FrozenMonitor:
    """Fixed samples for snapshots: the real monitor measures this machine, which varies."""

    def __init__(self, samples: list[Sample]) -> None:
        self.samples: deque[Sample] = deque(samples)

    def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass


def frozen_samples(count: int = 180, per_download: dict[str, float] | None = None) -> list[Sample]:
    start = FROZEN_NOW.timestamp() - count
    samples = []
    for i in range(count):
        wave = (i % 30) / 30
        samples.append(
            Sample(
                sampled_at=start + i,
                pid=1,
                cpu_percent=round(5 + 40 * wave, 1),
                rss_bytes=80 * 2**20 + i * 2**16,
                memory_limit_bytes=512 * 2**20,
                system_memory_percent=40.0,
                net_recv_bps=0.0,
                net_sent_bps=0.0,
                disk_read_bps=0.0,
                disk_write_bps=0.0,
                disk_free_bytes=120 * 2**30,
                download_bps=float(int(4 * 2**20 * wave)),
                download_bps_10s=3 * 2**20,
                download_bps_60s=2 * 2**20,
                per_download_bps=per_download or {},
                active_downloads=2,
                connections=6,
                parts_in_flight=12,
                queued=38,
                waiting=1,
                paused=1,
                completed=2,
                failed=1,
                flood_wait_seconds=37.0,
                memory_pressure=None,
                search_ms_p50=None,
                db_ms=0.4,
                concurrency={"multi_part": 3, "single_part": 12, "total": 15},
                concurrency_reason="growing: more files raised the rate",
            )
        )
    return samples


async def until(condition: Callable[[], bool], pause: Callable[[], object], *, timeout: float = 20.0) -> None:
    """Let the app run until ``condition`` holds (fails the test after ``timeout`` seconds)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        result = pause()
        if asyncio.iscoroutine(result):
            await result
        else:
            await asyncio.sleep(0.02)


def shown_words(widget: Widget) -> str:
    """What the screen shows inside the widget's region, its lines joined by single spaces.

    Read from the screen's compositor (what the terminal gets), so a clipped or unwrapped line is
    missing words here even when the widget holds the whole text.
    """
    compositor = widget.screen._compositor  # the pinned Textual's frame, as painted
    region = compositor.find_widget(widget).visible_region
    lines = compositor.render_strips()
    cropped = (lines[y].crop(region.x, region.right).text for y in range(region.y, region.bottom))
    return " ".join(" ".join(cropped).split())
