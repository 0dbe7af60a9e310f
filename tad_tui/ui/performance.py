"""The Performance pane: the monitor's samples as figures and sparklines, redrawn once a second."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import islice
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Grid, Vertical
from textual.content import Content
from textual.widgets import Label, Sparkline

from tad_tui.engine import Engine
from tad_tui.monitor import Sample
from tad_tui.sizes import format_size
from tad_tui.ui import figures
from tad_tui.words import counted

WINDOW_SECONDS = 5 * 60  # what the sparklines cover
TOP_DOWNLOADS = 5


def recent(samples: Sequence[Sample], seconds: int) -> list[Sample]:
    start = max(len(samples) - seconds, 0)
    return list(islice(samples, start, None))


class PerformancePane(Vertical, can_focus=True):
    HELP_TITLE = "Performance pane"
    BINDINGS: ClassVar[list[BindingType]] = []

    def __init__(self, engine: Engine, names: Mapping[int, str], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.engine = engine
        self._names = names  # entry id -> file name, kept by the event bridge
        self._shown_at: float | None = None

    def compose(self) -> ComposeResult:
        with Grid(id="perf-graphs"):
            yield Label("", id="perf-cpu")
            yield Sparkline([], id="spark-cpu")
            yield Label("", id="perf-rss")
            yield Sparkline([], id="spark-rss")
            yield Label("", id="perf-speed")
            yield Sparkline([], id="spark-speed")
        yield Label("", id="perf-pressure")  # a sentence: too long for the column beside the graphs
        yield Label("Waiting for the first sample…", id="perf-counts")
        yield Label("", id="perf-concurrency")
        yield Label("", id="perf-links")
        yield Label("", id="perf-downloads")

    def on_mount(self) -> None:
        self.redraw()
        self.set_interval(1.0, self.redraw)

    def focus_list(self) -> None:
        self._shown_at = None  # shown again: redraw now rather than at the next tick
        self.redraw()
        self.screen.set_focus(self)

    def redraw(self) -> None:
        monitor = self.engine.monitor
        if monitor is None or not monitor.samples:
            return
        latest = monitor.samples[-1]
        if latest.sampled_at == self._shown_at:
            return
        self._shown_at = latest.sampled_at
        window = recent(monitor.samples, WINDOW_SECONDS)
        minutes = max(len(window) // 60, 1)
        self._set("#perf-cpu", f"CPU {latest.cpu_percent:.1f} %\nlast {minutes} min")
        limit = f" of {format_size(latest.memory_limit_bytes)}" if latest.memory_limit_bytes else ""
        self._set("#perf-rss", f"Memory {format_size(latest.rss_bytes)}{limit}")
        self._set("#perf-pressure", latest.memory_pressure or "")
        self.query_one("#perf-pressure").display = latest.memory_pressure is not None
        self._set(
            "#perf-speed",
            f"Download {figures.speed(latest.download_bps) or '0 B/s'}\n"
            f"10 s {figures.speed(latest.download_bps_10s) or '0 B/s'} · "
            f"60 s {figures.speed(latest.download_bps_60s) or '0 B/s'}",
        )
        self.query_one("#spark-cpu", Sparkline).data = [s.cpu_percent for s in window]
        self.query_one("#spark-rss", Sparkline).data = [float(s.rss_bytes) for s in window]
        self.query_one("#spark-speed", Sparkline).data = [s.download_bps for s in window]
        self._set(
            "#perf-counts",
            f"Downloads: {latest.active_downloads} running, {latest.queued} queued, {latest.waiting} waiting, "
            f"{latest.paused} paused, {latest.completed} done, {latest.failed} failed",
        )
        self._set("#perf-concurrency", self._concurrency(latest))
        self.query_one("#perf-concurrency").display = bool(latest.concurrency)
        flood = f"flood wait {latest.flood_wait_seconds:.0f} s" if latest.flood_wait_seconds else "no flood wait"
        if latest.account_pace_bps:  # Telegram throttles this account (no Premium): the pace it allows
            flood += f" · Premium limit {format_size(latest.account_pace_bps)}/s"
        if latest.request_pace:  # learned from flood waits: the slowest kind says most
            flood += f" · paced {min(latest.request_pace.values()):.0f} req/s"
        self._set(
            "#perf-links",
            f"Connections {latest.connections} · parts in flight {latest.parts_in_flight} · {flood} · "
            f"disk free {format_size(latest.disk_free_bytes)}",
        )
        self._set("#perf-downloads", self._per_download(latest))

    @staticmethod
    def _concurrency(latest: Sample) -> str:
        """One line at 80 columns: "At once: 3 + 12 single-part · growing: more files raised the rate"."""
        concurrency, reason = latest.concurrency, latest.concurrency_reason
        multi, single = concurrency.get("multi_part", 0), concurrency.get("single_part", 0)
        if concurrency.get("total") == multi:  # adaptive off: one kind of slot for every file
            return f"At once: {counted(multi, 'file')} of any size · {reason}"
        return f"At once: {multi} + {single} single-part · {reason}"

    def _per_download(self, latest: Sample) -> str:
        speeds = sorted(latest.per_download_bps.items(), key=lambda item: -item[1])
        if not speeds:
            return "Per download: nothing running"
        lines = ["Per download:"]
        for key, bps in speeds[:TOP_DOWNLOADS]:
            name = figures.clean(self._names.get(int(key), f"entry {key}"))
            lines.append(f"  {figures.speed(bps) or '0 B/s':>12}  {name}")
        if len(speeds) > TOP_DOWNLOADS:
            lines.append(f"  … and {len(speeds) - TOP_DOWNLOADS} more")
        return "\n".join(lines)

    def _set(self, selector: str, text: str) -> None:
        self.query_one(selector, Label).update(Content(text))  # download names are text, not markup
