"""The performance monitor: speed windows, its own cost, the shared sample, the memory limit."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tad_tui.config import default_settings
from tad_tui.download.events import EntryProgress, EntryResumed, EntryStarted, EventBus, Notice
from tad_tui.engine import Engine
from tad_tui.library.scan import scan_group
from tad_tui.monitor import Monitor, SpeedMeter, read_shared
from tad_tui.paths import Paths
from tad_tui.store import opened_store
from tad_tui.telegram.sim.catalogue import Catalogue
from tad_tui.telegram.source import TelethonSource

from helpers import assert_one_clean_line, run
from test_ui_support import NoFigures


class QuietProbe(NoFigures):
    """One download running over four connections, two files queued, no waits and no limit."""

    async def queue_counts(self) -> dict[str, int]:
        return {"queued": 2}

    def active_downloads(self) -> int:
        return 1

    def connections(self) -> int:
        return 4

    def parts_in_flight(self) -> int:
        return 8


def test_speed_meter_windows() -> None:
    meter = SpeedMeter()
    for second in range(100, 160):
        meter.add(1000, second + 0.5)
    meter.add(5000, 160.2)
    assert meter.rate(1, 160.9) == 1000
    assert meter.rate(10, 160.9) == 1000
    assert meter.rate(60, 160.9) == 1000
    assert meter.rate(1, 161.1) == 5000


async def test_progress_events_become_speeds_and_resumes_do_not_count(tmp_path: Path) -> None:
    bus = EventBus()
    monitor = Monitor(bus, QuietProbe, output_dir=tmp_path, shared_file=None, max_memory_mb=1024)
    bus.publish(EntryResumed(1, "f", 0, 50_000_000))
    bus.publish(EntryProgress(1, 50_000_000 + 2_000_000, 60_000_000))
    assert monitor.total.rate(1, time.time() + 1) == 2_000_000


async def test_sampler_costs_under_one_percent_of_a_core(tmp_path: Path) -> None:
    monitor = Monitor(EventBus(), QuietProbe, output_dir=tmp_path, shared_file=tmp_path / "monitor.json",
                      max_memory_mb=1024)
    await monitor.sample()  # warm up imports and psutil's first readings
    spent = 0.0
    for _ in range(30):
        before = time.process_time()
        await monitor.sample()
        spent += time.process_time() - before
    # Sampling happens once a second: 30 samples must cost under 1 % of 30 s of one core.
    assert spent < 0.01 * 30 * monitor.interval, spent
    assert len(monitor.samples) == 31


async def test_shared_sample_is_written_whole_and_read_while_fresh(tmp_path: Path) -> None:
    shared = tmp_path / "monitor.json"
    monitor = Monitor(EventBus(), QuietProbe, output_dir=tmp_path, shared_file=shared, max_memory_mb=1024)
    sample = await monitor.sample()
    data = read_shared(shared)
    assert data is not None and data["pid"] == os.getpid() and data["queued"] == 2
    assert data["active_downloads"] == 1 and data["rss_bytes"] == sample.rss_bytes > 0
    stale = dict(data, sampled_at=time.time() - 60)
    shared.write_text(json.dumps(stale))
    assert read_shared(shared) is None
    shared.write_text("{not json")
    assert read_shared(shared) is None
    # The same pid, another process (a container's next tad-tui is pid 1 again): not running.
    shared.write_text(json.dumps(dict(data, pid_started=data["pid_started"] - 30)))
    assert read_shared(shared) is None
    shared.write_text(json.dumps(dict(data, pid=2**22 + 12345)))  # beyond any pid: no such process
    assert read_shared(shared) is None


@pytest.fixture
async def engine(tmp_path: Path, source: TelethonSource) -> AsyncIterator[Engine]:
    paths = Paths(tmp_path / "data", output_override=tmp_path / "out")
    paths.ensure()
    async with opened_store(paths.db):
        engine = Engine(default_settings(), paths, source)
        yield engine
        await engine.close()


async def test_memory_limit_holds_new_downloads_until_memory_falls_back(engine: Engine) -> None:
    info = await engine.resolve_group("@tad_demo_mixes")
    await scan_group(engine.source, info)
    selection = await engine.select_for_download(info)
    scheduler = await engine.start_downloads()
    await scheduler.enqueue([row.pk for row in selection.to_fetch])
    seen: list[object] = []
    engine.events.subscribe(seen.append)
    monitor = engine.start_monitor(share=False)
    await monitor.stop()  # sample by hand below
    await engine.search_service.search("night drive")
    assert monitor.search_timings.p50() is not None and engine.search_service._tokens
    monitor.memory_limit = 1024 * 1024  # far below any real RSS
    await monitor.sample()
    assert not engine.search_service._tokens  # caches shrink under memory pressure
    runner = asyncio.create_task(scheduler.run(until_idle=True))
    await asyncio.sleep(0.5)
    assert not [e for e in seen if isinstance(e, EntryStarted)]
    notices = [e.text for e in seen if isinstance(e, Notice)]
    assert notices and notices[0].startswith("memory limit: ") and "new downloads wait" in notices[0]
    assert engine.scheduler.context.health.scale(8) == 4  # under pressure, fewer parts in flight
    monitor.memory_limit = 1024**4
    await monitor.sample()
    outcomes = await asyncio.wait_for(runner, timeout=60)
    assert outcomes["downloaded"] == len(selection.to_fetch)
    assert any(isinstance(e, Notice) and "back under" in e.text for e in seen)


def test_performance_json_with_no_running_instance_shows_history(tmp_path: Path, demo_config: Path) -> None:
    data = str(tmp_path / "data")
    assert run("--config", str(demo_config), "--demo", "--data-dir", data, "download", "@tad_demo_mixes",
               "-l", "2").returncode == 0
    result = run("--config", str(demo_config), "--demo", "--data-dir", data, "performance", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    keys = {"cpu_percent", "rss_bytes", "download_bps", "active_downloads", "queued", "completed", "failed",
            "flood_wait_seconds", "disk_free_bytes", "sampled_at"}
    assert keys <= set(report) and report["source"] == "no running instance"
    assert report["completed"] == 2 and report["history"]["files_downloaded"] == 2
    assert report["history"]["bytes_downloaded"] > 0
    check = run("--config", str(demo_config), "--demo", "--data-dir", data, "performance", "--check")
    assert check.returncode == 1 and check.stdout == ""  # the container's health check: none runs
    assert assert_one_clean_line(check) == f"no tad-tui is running on {Path(data).resolve()}"


def test_performance_beside_a_running_download_shows_it(tmp_path: Path, demo_catalogue: Catalogue) -> None:
    slow = tmp_path / "slow.toml"
    slow.write_text(f'[demo]\ncatalogue_dir = "{demo_catalogue.root}"\nlatency_ms = 20\nbandwidth_per_connection = "1MB"\npremium = true\n')
    data = str(tmp_path / "data")
    base = [sys.executable, "-m", "tad_tui", "--config", str(slow), "--demo", "--data-dir", data]
    download = subprocess.Popen([*base, "download", "@tad_demo_mixes"], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
    try:
        report: dict = {}
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            result = subprocess.run([*base, "performance", "--json"], capture_output=True, text=True, timeout=60)
            assert result.returncode == 0, result.stderr
            report = json.loads(result.stdout)
            if report["source"] == "running instance" and report["download_bps"] > 0:
                break
            time.sleep(0.5)
        assert report["active_downloads"] >= 1 and report["download_bps"] > 0
        concurrency = report["concurrency"]  # three mixes at a time (max_concurrent), single-part slots beside
        assert concurrency["multi_part"] == 3 and concurrency["total"] == 3 + concurrency["single_part"]
        assert report["concurrency_reason"]
        check = subprocess.run([*base, "performance", "--check"], capture_output=True, text=True, timeout=60)
        assert check.returncode == 0, check.stderr
        assert check.stdout.startswith(f"tad-tui (pid {download.pid}) is running on ") and "downloading" in check.stdout
        watch = subprocess.Popen([*base, "performance", "--watch"], stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True,
                                 preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        assert watch.stdout is not None
        first = [watch.stdout.readline(), watch.stdout.readline()]  # two redraws, however slow the machine
        watch.send_signal(signal.SIGINT)
        out, err = watch.communicate(timeout=30)
        out = "".join(first) + out
        assert watch.returncode == 0 and "Traceback" not in err
        assert len(out.strip().splitlines()) >= 2 and "active " in out
    finally:
        download.kill()
        download.wait()


def test_entry_speed_is_steady_when_parts_come_a_mebibyte_at_a_time() -> None:
    from tad_tui.monitor import EntrySpeed

    limit = 200 * 1024
    part = 2**20
    gap = part / limit  # 5.12 s between parts at the limit
    speed = EntrySpeed(started=0.0)
    landed = [0.3 + i * gap for i in range(12)]  # the first part is let through at once
    readings = []
    for tenth in range(1, 600):
        now = tenth / 10
        while landed and landed[0] <= now:
            speed.add(part, landed.pop(0))
        readings.append((now, speed.rate(now)))
    settled = [bps for now, bps in readings if 15 <= now <= 55]
    assert all(0.95 * limit <= bps <= 1.05 * limit for bps in settled), (min(settled), max(settled))
    assert max(bps for _, bps in readings) < 2.6 * limit  # never a whole part per second (1 MiB/s)
    stalled = EntrySpeed(started=0.0)
    stalled.add(part, 1.0)
    stalled.add(part, 6.0)
    going, slowing = stalled.rate(7.0), stalled.rate(12.0)  # asked in time order, as the sampler does
    assert going == 2**21 / 6 and slowing < going and stalled.rate(30.0) == 0.0  # a stall shows


async def test_per_download_speeds_never_exceed_the_limit(tmp_path: Path) -> None:
    class Limited(QuietProbe):
        def bandwidth_limit(self) -> int:
            return 200 * 1024

    bus = EventBus()
    monitor = Monitor(bus, Limited, output_dir=tmp_path, shared_file=None, max_memory_mb=1024)
    bus.publish(EntryStarted(1, "f", 60_000_000, "one"))
    bus.publish(EntryProgress(1, 2**20, 60_000_000))  # the first part, let through at once
    sample = await monitor.sample()
    assert sample.per_download_bps == {"1": 200 * 1024}
    unlimited = Monitor(bus, QuietProbe, output_dir=tmp_path, shared_file=None, max_memory_mb=1024)
    bus.publish(EntryStarted(2, "g", 60_000_000, "two"))
    bus.publish(EntryProgress(2, 2**20, 60_000_000))
    assert (await unlimited.sample()).per_download_bps["2"] == 2**20 / 2  # over at least 2 s


def test_performance_says_which_requests_telegrams_flood_waits_paced() -> None:
    from tad_tui.cli.performance import render

    history = {"files_downloaded": 0, "bytes_downloaded": 0, "average_bps": 0, "files_per_day": {}, "failures_by_reason": {}}
    report = {
        "source": "running instance", "sampled_at": "2026-12-03T09:00:00+00:00", "download_bps": 0.0,
        "active_downloads": 1, "queued": 0, "completed": 0, "failed": 0, "cpu_percent": 1.0, "rss_bytes": 1,
        "disk_free_bytes": 10**9, "history": history,
    }
    assert not any("paced" in line for line in render(report | {"request_pace": {}}))
    lines = render(report | {"request_pace": {"getFile": 45.9, "getFileHashes": 45.0}})
    assert "  paced         getFile 45.9/s, getFileHashes 45/s (Telegram's flood waits showed what it takes)" in lines
