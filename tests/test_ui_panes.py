"""Pilot tests for what tests/test_ui.py leaves out: each pane's figures, keys, palette, themes, notices.

Row contents are read from the lines the tables draw (``render_line``), so a column that shows the
wrong field fails here, not only in a snapshot picture.
"""

from __future__ import annotations

import asyncio
import os
import stat
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from textual.binding import Binding
from textual.command import CommandInput, CommandList, CommandPalette
from textual.widgets import Label, Sparkline, TabbedContent

from tad_tui.config import default_settings, load_settings
from tad_tui.download.events import (
    BatchProgress,
    EntryFinished,
    EntryProgress,
    EntryStarted,
    EntryWaiting,
    wait_words,
    EventBus,
    QueueIdle,
)
from tad_tui.engine import Engine
from tad_tui.library.scan import scan_group
from tad_tui.notify import Notifier
from tad_tui.paths import user_themes_dir
from tad_tui.store.models import AudioFile, QueueEntry, QueueState
from tad_tui.ui import figures
from tad_tui.ui.app import TadApp
from tad_tui.ui.groups import GroupsPane
from tad_tui.ui.help import HelpScreen, KeyHelp
from tad_tui.ui.performance import PerformancePane
from tad_tui.ui.queue import QueuePane
from tad_tui.ui.search import SearchInput, SearchPane
from tad_tui.ui.table import RowTable
from tad_tui.ui.themes import shipped_themes_dir
from test_ui import CLASSICAL, held, make_app, settle  # noqa: F401  (held: the fixture)
from test_ui_support import DEMO_GROUPS, FrozenMonitor, Gate, frozen_samples, queue_group, shown_words, until


async def scanned(engine: Engine, username: str = CLASSICAL) -> None:
    await scan_group(engine.source, await engine.resolve_group(username))


def quick(app: TadApp) -> TadApp:
    """No animations: Pilot waits for each one (the tab underline's slide) after every key."""
    app.animation_level = "none"
    return app


def drawn(table: RowTable, index: int) -> str:
    """The text of row ``index`` as the table draws it (the row must be on screen), without the padding."""
    return table.render_line(index - int(table.scroll_y) + 1).text.strip()


def title_index(groups: GroupsPane, username: str) -> int:
    return next(i for i, g in enumerate(groups._groups.rows) if g.username == username)


# ---- groups pane ------------------------------------------------------------------------------


async def test_group_rows_show_audio_count_and_how_long_ago_the_last_scan_was(held: tuple[Engine, Gate]) -> None:
    engine, _ = held
    now = [datetime.now(UTC)]
    app = quick(TadApp(engine, clock=lambda: now[0], theme_dirs=[shipped_themes_dir()]))
    async with app.run_test(size=(100, 30)) as pilot:
        groups = app.query_one(GroupsPane)
        await until(lambda: len(groups._groups.rows) == DEMO_GROUPS, pilot.pause)
        i = title_index(groups, "tad_demo_classical")
        assert drawn(groups._groups, i).split()[-2:] == ["0", "never"]
        groups._groups.go_to(i)
        await pilot.press("s")
        await until(lambda: groups._groups.rows[i].audio_count > 0, pilot.pause)
        stored = await AudioFile.filter(group__username="tad_demo_classical").count()
        line = drawn(groups._groups, i)
        assert f" {stored} just now" in line and "@tad_demo_classical" in line and "channel" in line
        assert drawn(groups._groups, title_index(groups, "tad_demo_mixes")).split()[-2:] == ["0", "never"]
        # Two hours on, the same row (nothing reloaded) must not still say "just now".
        now[0] = datetime.now(UTC) + timedelta(hours=2, minutes=1)
        groups.refresh_ages()
        await pilot.pause()
        assert f" {stored} 2 h ago" in drawn(groups._groups, i)


async def test_open_group_rows_show_title_performer_length_size_format_and_status(
    held: tuple[Engine, Gate],
) -> None:
    engine, _ = held
    ids = await queue_group(engine, CLASSICAL, limit=1)
    app = quick(make_app(engine))
    async with app.run_test(size=(120, 30)) as pilot:
        groups = app.query_one(GroupsPane)
        await until(lambda: len(groups._groups.rows) == DEMO_GROUPS, pilot.pause)
        groups._groups.go_to(title_index(groups, "tad_demo_classical"))
        await pilot.press("enter")
        rows = await AudioFile.filter(group__username="tad_demo_classical").order_by("message_id")
        await until(lambda: len(groups._tracks.rows) == len(rows), pilot.pause)
        queued_audio = (await QueueEntry.get(id=ids[0])).audio_id
        for index, row in enumerate(rows[:5]):
            line = drawn(groups._tracks, index)
            assert (row.title or "")[:8] in line and (row.performer or "")[:8] in line
            assert figures.duration(row.duration) in line and figures.format_size(row.file_size) in line
            assert f" {figures.audio_format(row.mime_type, row.file_name)} " in line
            assert line.endswith("queued" if row.pk == queued_audio else "new")
        title = str(app.query_one("#tracks-title", Label).content)
        assert f"{len(rows)} tracks, 0 downloaded" in title
        await pilot.press("space", "space")
        assert "2 selected" in str(app.query_one("#tracks-title", Label).content)
        assert drawn(groups._tracks, 0).startswith("●") and drawn(groups._tracks, 1).startswith("●")
        assert not drawn(groups._tracks, 2).startswith("●")
        # The header names each column over its marks: ● (selected) over the bullets, ✓ (downloaded) over the ticks.
        header = groups._tracks.render_line(0).text
        selected = groups._tracks.render_line(1).text
        assert header.index("●") == selected.index("●") and header.index("✓") == selected.index("●") + 2


async def test_scan_reports_live_progress_then_a_rescan_finds_nothing_new(held: tuple[Engine, Gate]) -> None:
    engine, _ = held
    app = quick(make_app(engine))
    async with app.run_test(size=(100, 30)) as pilot:
        groups = app.query_one(GroupsPane)
        await until(lambda: len(groups._groups.rows) == DEMO_GROUPS, pilot.pause)
        groups._groups.go_to(title_index(groups, "tad_demo_classical"))
        shown: list[str] = []
        real_status = groups._status
        groups._status = lambda text, group_id=None: (shown.append(text), real_status(text, group_id))[-1]  # type: ignore[method-assign]
        await pilot.press("s")
        await until(lambda: any(" new, " in t for t in shown), pilot.pause)
        stored = await AudioFile.filter(group__username="tad_demo_classical").count()
        assert shown[0].startswith("Scanning TAD Demo · Classical")
        progress = [t for t in shown if t.endswith("new audio messages")]
        assert progress, shown  # the count while the scan runs, not only at its end
        assert shown[-1] == f"TAD Demo · Classical: {stored} new, {stored} in the library"
        assert app.query_one("#groups-status", Label).display
        shown.clear()
        await pilot.press("s")
        await until(lambda: any(" new, " in t for t in shown), pilot.pause)
        assert shown[-1] == f"TAD Demo · Classical: 0 new, {stored} in the library"
        assert await AudioFile.filter(group__username="tad_demo_classical").count() == stored


async def test_a_second_scan_key_before_the_first_scan_starts_does_not_scan_twice(held: tuple[Engine, Gate]) -> None:
    engine, _ = held
    app = quick(make_app(engine))
    async with app.run_test(size=(80, 24)) as pilot:
        groups = app.query_one(GroupsPane)
        await until(lambda: len(groups._groups.rows) == DEMO_GROUPS, pilot.pause)
        groups._groups.go_to(title_index(groups, "tad_demo_classical"))
        calls: list[str] = []
        real_scan = engine.scan

        async def counted(key: str, **kwargs):
            calls.append(key)
            return await real_scan(key, **kwargs)

        engine.scan = counted  # type: ignore[method-assign]
        # Two keys handled in one go (key repeat, a paste): the first scan's worker has not run yet.
        groups.action_scan()
        groups.action_scan()
        await settle(app, pilot)
        assert len(calls) == 1
        assert any("being scanned already" in n.message for n in app._notifications)


# ---- queue pane -------------------------------------------------------------------------------


async def _record_states(running: int, failed: int | None = None, error: str | None = None) -> None:
    from tad_tui.store import QueueEntry, QueueState

    await QueueEntry.filter(id=running).update(state=QueueState.RUNNING)
    if failed is not None:
        await QueueEntry.filter(id=failed).update(state=QueueState.FAILED, error_message=error)


async def test_queue_rows_draw_state_bar_speed_eta_priority_error_and_batch(held: tuple[Engine, Gate]) -> None:
    engine, _ = held
    ids = await queue_group(engine, CLASSICAL, limit=4)
    first, second = ids[0], ids[1]
    engine.monitor = FrozenMonitor(frozen_samples(per_download={str(first): 2 * 2**20}))  # type: ignore[assignment]
    app = quick(make_app(engine))
    async with app.run_test(size=(110, 30)) as pilot:
        await pilot.press("f2")
        queue = app.query_one(QueuePane)
        await until(lambda: len(queue.table.rows) == len(ids), pilot.pause)
        size = queue.table.rows[queue.table.index_of(first)].entry.file_size
        # As the scheduler does: the library first, then the events (the pane reloads from the
        # library now and then, and must find there what the events said).
        await _record_states(first, second, "disk full: 0 B free")
        engine.events.publish(EntryStarted(first, "x", size, "x"))
        engine.events.publish(EntryProgress(first, size // 2, size))
        engine.events.publish(EntryFinished(second, "y", "failed", error_message="disk full: 0 B free"))
        engine.events.publish(BatchProgress(1, "TAD Demo · Classical", 1, len(ids), 1))
        app.bridge.flush()
        await until(lambda: queue.table.rows[queue.table.index_of(first)].bps > 0, pilot.pause)
        # What is drawn lags the rows until the next refresh runs (a busy machine showed the old line).
        await until(lambda: drawn(queue.table, queue.table.index_of(first)).startswith("running"), pilot.pause)
        line = drawn(queue.table, queue.table.index_of(first))
        assert line.startswith("running") and "50%" in line and "█████" in line
        assert line.split()[-4:] == [*figures.speed(2 * 2**20).split(), figures.eta(size - size // 2, 2 * 2**20), "normal"]
        failed = drawn(queue.table, queue.table.index_of(second))
        assert failed.startswith("failed") and "disk full: 0 B free" in failed
        summary = str(app.query_one("#queue-summary", Label).content)
        assert f"Batch TAD Demo · Classical: 1/{len(ids)} done, 1 failed" in summary
        assert "1 running" in summary and "1 failed" in summary
        queue.table.go_to_key(second)
        await pilot.pause()
        assert "disk full" in str(app.query_one("#queue-detail", Label).content)


@pytest.mark.parametrize(
    ("kind", "row", "sentence"),
    [
        ("flood", "flood wait: {} s", "waiting {} s: flood wait"),
        ("premium", "Premium limit: {} s", "Telegram limits this account's download speed (Premium lifts it): {} s"),
    ],
)
async def test_a_wait_counts_down_on_its_row(held: tuple[Engine, Gate], kind: str, row: str, sentence: str) -> None:
    engine, _ = held
    ids = await queue_group(engine, CLASSICAL, limit=2)
    app = quick(make_app(engine))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f2")
        queue = app.query_one(QueuePane)
        await until(lambda: len(queue.table.rows) == len(ids), pilot.pause)
        detail = lambda: str(app.query_one("#queue-detail", Label).content)  # noqa: E731
        engine.events.publish(EntryStarted(ids[0], "x", 1, "x"))
        engine.events.publish(EntryWaiting(ids[0], wait_words(kind, 37), time.time() + 37, kind))
        await until(lambda: row.format(37) in drawn(queue.table, 0), pilot.pause)
        queue.refresh_speeds()  # what the once-a-second timer does
        assert any(row.format(s) in drawn(queue.table, 0) for s in (36, 37))
        queue._put(replace(queue.table.rows[0], wait_until=time.time() + 5.5))  # as if 31.5 s later
        queue.refresh_speeds()
        await pilot.pause()
        assert row.format(6) in drawn(queue.table, 0)
        queue.table.go_to_key(ids[0])
        await pilot.pause()
        assert sentence.format(6) in detail()  # the whole sentence, first on the detail line
        engine.events.publish(EntryWaiting(ids[0], None))
        await until(lambda: row.format(6) not in drawn(queue.table, 0), pilot.pause)


# ---- search pane ------------------------------------------------------------------------------


async def test_a_slow_earlier_search_never_paints_over_the_latest(held: tuple[Engine, Gate]) -> None:
    engine, _ = held
    await scanned(engine)
    app = quick(make_app(engine))
    async with app.run_test(size=(100, 30)) as pilot:
        pane = app.query_one(SearchPane)
        await pilot.press("f3")
        await settle(app, pilot)
        service = engine.search_service
        real_search = service.search
        release = asyncio.Event()
        finished: list[str] = []

        async def held_back(text: str, **kwargs):
            if text == "bach":
                await release.wait()  # this one is slow
            result = await real_search(text, **kwargs)
            finished.append(text)
            return result

        service.search = held_back  # type: ignore[method-assign]
        pane.input.value = "bach"
        await pilot.pause()
        pane.input.value = "bethov"
        await until(lambda: pane.shown_text == "bethov", pilot.pause)
        release.set()
        await settle(app, pilot)
        await pilot.pause(0.1)
        assert finished == ["bethov"]  # the stale search was cancelled, not merely hidden
        assert pane.shown_text == "bethov" and "Beethoven" in pane.table.rows[0].name


async def test_a_result_shows_its_title_first_at_80_columns(held: tuple[Engine, Gate]) -> None:
    engine, _ = held
    await scanned(engine)
    app = quick(make_app(engine))
    async with app.run_test(size=(80, 24)) as pilot:
        pane = app.query_one(SearchPane)
        await pilot.press("f3", *"symphony 5 beethoven")
        await until(lambda: pane.shown_text == "symphony 5 beethoven" and bool(pane.table.rows), pilot.pause)
        hit = pane.table.rows[0]
        assert hit.name == f"{hit.title} – {hit.performer}"
        assert drawn(pane.table, 0).startswith("Symphony No. 5 in C minor")  # not "Ludwig van Beethoven – Sym…"


async def test_enter_on_a_downloaded_result_shows_where_the_file_is(held: tuple[Engine, Gate]) -> None:
    engine, gate = held
    ids = await queue_group(engine, CLASSICAL, limit=1)
    gate.open()
    await engine.scheduler.run(until_idle=True)
    entry = await QueueEntry.get(id=ids[0]).prefetch_related("audio")
    local_path = entry.audio.local_path
    assert local_path and Path(local_path).is_file()
    app = quick(make_app(engine))
    async with app.run_test(size=(100, 30)) as pilot:
        pane = app.query_one(SearchPane)
        await pilot.press("f3", *(entry.audio.title or entry.audio.file_name).split()[0].lower(), "enter")
        await settle(app, pilot)
        assert pane.table.has_focus
        pane.table.go_to_key(entry.audio.pk)
        assert pane.table.current.status == "downloaded"
        await pilot.press("enter")
        await pilot.pause()
        toast = [n for n in app._notifications if n.title == "Downloaded"]
        assert toast and local_path in toast[-1].message
        assert await QueueEntry.all().count() == 1  # shown, not queued again


# ---- performance pane -------------------------------------------------------------------------


async def test_performance_pane_shows_every_figure_and_redraws_each_second(held: tuple[Engine, Gate]) -> None:
    engine, _ = held
    per_download = {str(n): float(n) * 2**20 for n in range(1, 8)}  # seven downloads: the top five shown
    monitor = FrozenMonitor(frozen_samples(per_download=per_download))
    engine.monitor = monitor  # type: ignore[assignment]
    app = quick(make_app(engine))
    async with app.run_test(size=(100, 30)) as pilot:
        for n in range(1, 8):
            engine.events.publish(EntryStarted(n, f"f{n}", 1000, f"Track {n}"))
        await pilot.press("f4")
        await pilot.pause()
        assert app.query_one(TabbedContent).active == "performance"
        await pilot.pause()
        latest = monitor.samples[-1]

        def text(selector: str) -> str:
            return str(app.query_one(selector, Label).content)

        assert text("#perf-cpu").startswith(f"CPU {latest.cpu_percent:.1f} %")
        assert "of 512 MiB" in text("#perf-rss") and text("#perf-rss").startswith("Memory 91")
        assert text("#perf-speed").startswith(f"Download {figures.speed(latest.download_bps)}")
        assert f"10 s {figures.speed(3 * 2**20)} · 60 s {figures.speed(2 * 2**20)}" in text("#perf-speed")
        for spark in ("#spark-cpu", "#spark-rss", "#spark-speed"):
            assert len(app.query_one(spark, Sparkline).data) == len(monitor.samples)
        assert app.query_one("#spark-cpu", Sparkline).data[-1] == latest.cpu_percent
        assert text("#perf-counts") == (
            "Downloads: 2 running, 38 queued, 1 waiting, 1 paused, 2 done, 1 failed"
        )
        assert text("#perf-links") == (
            "Connections 6 · parts in flight 12 · flood wait 37 s · disk free 120 GiB"
        )
        assert text("#perf-concurrency") == "At once: 3 + 12 single-part · growing: more files raised the rate"
        downloads = text("#perf-downloads").splitlines()
        assert downloads[0] == "Per download:" and downloads[-1].strip() == "… and 2 more"
        assert [line.split()[-1] for line in downloads[1:6]] == ["7", "6", "5", "4", "3"]
        assert downloads[1].split()[:2] == figures.speed(7 * 2**20).split()
        # A new sample arrives: the pane shows it within about a second, with no key pressed.
        monitor.samples.append(
            replace(latest, sampled_at=latest.sampled_at + 1, cpu_percent=77.0, flood_wait_seconds=0.0, per_download_bps={},
                    concurrency={"multi_part": 3, "single_part": 3, "total": 3}, concurrency_reason="adaptive off",
                    request_pace={"getFile": 45.9, "getFileHashes": 41.3})
        )
        await until(lambda: text("#perf-cpu").startswith("CPU 77.0 %"), pilot.pause, timeout=3)
        assert "no flood wait" in text("#perf-links") and text("#perf-downloads") == "Per download: nothing running"
        assert "· paced 41 req/s ·" in text("#perf-links")  # the slowest kind a flood wait paced
        assert text("#perf-concurrency") == "At once: 3 files of any size · adaptive off"


async def test_performance_pane_shows_every_word_and_unit_at_80_columns(held: tuple[Engine, Gate]) -> None:
    engine, _ = held
    widest = 1023.9 * 2**10  # "1023.9 KiB/s": the longest speed format_size writes
    sample = replace(
        frozen_samples(count=1)[0],
        download_bps=widest, download_bps_10s=widest, download_bps_60s=widest,
        rss_bytes=1023 * 2**20, memory_limit_bytes=1000 * 2**20,
        memory_pressure="memory limit: tad-tui uses 1023 MiB of max_memory_mb 1000 MiB",
        account_pace_bps=int(widest),
        request_pace={"getFile": 1000.0, "getFileHashes": 999.9},
        concurrency={"multi_part": 32, "single_part": 64, "total": 96},  # the widest counts…
        concurrency_reason="holding: more files did not raise the rate",  # …and the longest reason
    )
    engine.monitor = FrozenMonitor([sample])  # type: ignore[assignment]
    app = quick(make_app(engine))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f4")
        await pilot.pause()
        assert "60 s 1023.9 KiB/s" in str(app.query_one("#perf-speed", Label).content)
        assert app.query_one("#perf-concurrency", Label).size.height == 1  # one line at 80 columns
        for label in app.query_one(PerformancePane).query(Label):
            assert shown_words(label) == " ".join(str(label.content).split()), label.id


# ---- keys, help, palette ----------------------------------------------------------------------


async def test_each_pane_key_its_alt_digit_and_the_option_digit_character(held: tuple[Engine, Gate]) -> None:
    engine, _ = held
    app = quick(make_app(engine))
    async with app.run_test(size=(80, 24)) as pilot:
        tabs = app.query_one(TabbedContent)
        focus_in = {
            "groups": lambda: app.focused is app.query_one(GroupsPane)._groups,
            "queue": lambda: app.focused is app.query_one(QueuePane).table,
            "search": lambda: isinstance(app.focused, SearchInput),
            "performance": lambda: isinstance(app.focused, PerformancePane),
        }
        # F-keys; alt+digit as Pilot names it; and what Textual reads for Escape+digit (alt+digit over SSH).
        variants = [
            {"groups": "f1", "queue": "f2", "search": "f3", "performance": "f4"},
            {"groups": "alt+1", "queue": "alt+2", "search": "alt+3", "performance": "alt+4"},
            {
                "groups": "inverted_exclamation_mark",
                "queue": "trade_mark_sign",
                "search": "pound_sign",
                "performance": "cent_sign",
            },
        ]
        for keys in variants:
            for pane in ("queue", "search", "performance", "groups"):  # each key changes the pane
                await pilot.press(keys[pane])
                assert tabs.active == pane, keys[pane]
                assert focus_in[pane](), (keys[pane], app.focused)
                if pane == "search":
                    await pilot.press("escape")  # out of the box: there these keys are text


def _descriptions(sections: list[tuple[str, list[KeyHelp]]]) -> dict[str, set[str]]:
    return {title: {line.description for line in lines} for title, lines in sections}


async def test_help_lists_every_binding_of_the_focused_pane_and_of_the_app(held: tuple[Engine, Gate]) -> None:
    engine, _ = held
    app = quick(make_app(engine))
    async with app.run_test(size=(100, 30)) as pilot:
        expected = {
            "f1": ("Groups pane", GroupsPane.BINDINGS),
            "f2": ("Queue pane", QueuePane.BINDINGS),
            "f3": ("Search box", SearchInput.BINDINGS),
        }
        app_lines = {b.tooltip or b.description for b in TadApp.BINDINGS if b.description}
        for key, (title, bindings) in expected.items():
            await pilot.press("escape", key)
            if key == "f3":  # "?" is text in the search box: the palette opens the same help
                assert isinstance(app.focused, SearchInput)
                await pilot.press("ctrl+p")
                await _run_from_palette(app, pilot, "every key", help_starts="Every key of the app")
                await until(lambda: isinstance(app.screen, HelpScreen), pilot.pause, timeout=3)
            else:
                await pilot.press("question_mark")
            assert isinstance(app.screen, HelpScreen), key
            shown = _descriptions(app.screen.sections)
            usable = {b.tooltip or b.description for b in bindings if not _track_only(b)}
            assert usable <= shown[title], title
            if key == "f1":  # on the list of groups: the keys for an open group's tracks are not listed
                assert not {b.tooltip or b.description for b in bindings if _track_only(b)} & shown[title]
            assert app_lines <= shown["Everywhere"]
            assert list(shown)[-1] == "Everywhere"
            # One style: sentence case, Textual's own "Focus Next" and "Scroll Left" included.
            every = set().union(*shown.values())
            assert "Focus next" in every and ("Scroll left" in every or key == "f3")
            title_case = [d for d in every if len(d.split()) > 1 and all(w[:1].isupper() for w in d.split())]
            assert not title_case
            keys_text = " ".join(line.keys for _, lines in app.screen.sections for line in lines)
            for app_key in ("f1", "f2", "f3", "f4", "^q", "?", "^t"):
                assert app_key in keys_text.lower(), app_key
            await pilot.press("escape")
            assert not isinstance(app.screen, HelpScreen)


def _track_only(binding: Binding) -> bool:
    return binding in GroupsPane.BINDINGS and binding.action.partition("(")[0] in GroupsPane.TRACK_ACTIONS


async def _palette_names(app: TadApp, pilot) -> list[str]:
    await pilot.press("ctrl+p")
    palette = app.screen
    assert isinstance(palette, CommandPalette)
    commands = palette.query_one(CommandList)
    await until(lambda: commands.option_count >= 13, pilot.pause, timeout=5)
    await pilot.pause(0.3)
    return [str(option.hit.text) for option in commands.options]  # type: ignore[attr-defined]


async def _run_from_palette(app: TadApp, pilot, query: str, help_starts: str | None = None) -> None:
    """In the open palette: type ``query`` (set at once; typing is Textual's business), wait until the
    top hit is the command named ``query`` (or whose help starts with ``help_starts``), press Enter."""
    commands = app.screen.query_one(CommandList)
    app.screen.query_one(CommandInput).value = query

    def top_hit_is_it() -> bool:
        if not commands.option_count:
            return False
        hit = commands.get_option_at_index(0).hit  # type: ignore[attr-defined]
        return str(hit.help).startswith(help_starts) if help_starts else str(hit.text) == query

    await until(top_hit_is_it, pilot.pause, timeout=5)
    await pilot.press("enter")


async def test_palette_offers_every_app_action_and_runs_them(held: tuple[Engine, Gate]) -> None:
    engine, _ = held
    ids = await queue_group(engine, CLASSICAL, limit=3)
    app = quick(make_app(engine))
    async with app.run_test(size=(100, 30)) as pilot:
        groups = app.query_one(GroupsPane)
        await until(lambda: len(groups._groups.rows) == DEMO_GROUPS, pilot.pause)
        names = await _palette_names(app, pilot)
        for name in (
            "Groups", "Queue", "Search", "Performance", "Scan group", "Refresh groups", "Pause all downloads",
            "Resume all downloads", "Set download limit", "Keys", "Theme", "Quit", "Log out",
        ):
            assert name in names, name
        for name in ("Keys", "Theme", "Quit"):  # the app's own, not Textual's beside them
            assert names.count(name) == 1, names
        await _run_from_palette(app, pilot, "Pause all downloads")
        await until(lambda: app.query_one(TabbedContent).active == "queue", pilot.pause)
        await settle(app, pilot)
        assert await QueueEntry.filter(state=QueueState.PAUSED).count() == len(ids)
        queue = app.query_one(QueuePane)
        assert {line.entry.state for line in queue.table.rows} == {"paused"}
        await pilot.press("f1")
        groups._groups.go_to(title_index(groups, "tad_demo_mixes"))
        await pilot.press("ctrl+p")
        await _run_from_palette(app, pilot, "Scan group")
        await until(lambda: "TAD Demo · DJ Mixes:" in str(app.query_one("#groups-status", Label).content), pilot.pause)
        assert await AudioFile.filter(group__username="tad_demo_mixes").count() > 0


# ---- themes -----------------------------------------------------------------------------------


async def test_ctrl_t_picks_a_theme_that_is_saved_and_used_at_the_next_start(held: tuple[Engine, Gate]) -> None:
    engine, _ = held
    config = engine.settings.config_file
    config.write_text("# my settings\n[downloads]\nmax_concurrent = 2\n")
    app = quick(make_app(engine))
    async with app.run_test(size=(80, 24)) as pilot:
        assert app.theme == "textual-dark"
        await pilot.press("ctrl+t")
        await pilot.pause()
        assert isinstance(app.screen, CommandPalette)
        await pilot.press(*"tad-paper")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await until(lambda: app.theme == "tad-paper", pilot.pause, timeout=5)
        await until(lambda: "tad-paper" in config.read_text(), pilot.pause, timeout=5)
    assert "# my settings" in config.read_text()
    settings = load_settings(config, env={})
    assert settings.ui.theme == "tad-paper" and settings.downloads.max_concurrent == 2
    engine.settings = replace(engine.settings, ui=settings.ui)
    again = quick(make_app(engine))
    async with again.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert again.theme == "tad-paper"
        assert not any(n.title == "Theme skipped" for n in again._notifications)


async def test_themes_in_the_user_theme_folder_are_read_and_a_missing_chosen_theme_is_reported(
    held: tuple[Engine, Gate], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine, _ = held
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    folder = user_themes_dir()
    if tmp_path not in folder.parents:
        pytest.skip(f"this platform's config folder ignores XDG_CONFIG_HOME: {folder}")
    folder.mkdir(parents=True)
    (folder / "mine.toml").write_text('name = "my-own"\nprimary = "#336699"\ndark = true\n')
    engine.settings = replace(engine.settings, ui=replace(engine.settings.ui, theme="gone-theme"))
    app = quick(TadApp(engine, clock=lambda: datetime.now(UTC)))  # default folders: shipped and the user's
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert {"my-own", "tad-nocturne", "tad-paper", "tad-amber"} <= set(app.available_themes)
        assert app.theme == "textual-dark"
        assert any("gone-theme" in n.message and n.title == "Theme skipped" for n in app._notifications)
        app.theme = "my-own"
        await pilot.pause()
    assert 'theme = "my-own"' in engine.settings.config_file.read_text()


# ---- notifications ----------------------------------------------------------------------------


async def test_each_notifying_event_is_a_toast_and_a_bell_without_a_desktop(held: tuple[Engine, Gate]) -> None:
    engine, _ = held
    app = quick(make_app(engine))
    async with app.run_test(size=(80, 24)) as pilot:
        app._notifier.desktop = False
        bells: list[None] = []
        app.bell = lambda: bells.append(None)  # type: ignore[method-assign]
        engine.events.publish(EntryFinished(1, "f_1", "failed", error_message="disk full: no space left"))
        engine.events.publish(EntryFinished(2, "f_2", "downloaded"))  # no notice for a success
        engine.events.publish(BatchProgress(1, "Classical", 3, 5, 0))  # nor for a batch under way
        engine.events.publish(BatchProgress(1, "Classical", 5, 5, 1))
        engine.events.publish(QueueIdle(4, 1))
        await pilot.pause()
        toasts = [(n.title, n.message) for n in app._notifications]
        assert toasts == [
            ("Download failed", "f_1: disk full: no space left"),
            ("Batch complete", "Classical: 5 files, 1 failed"),
            ("Queue empty", "4 downloaded, 1 failed"),
        ]
        assert len(bells) == 3


def _fake_notify_send(folder: Path, *, fails: bool) -> Path:
    """A notify-send that records its arguments and, like one without a notification daemon, complains."""
    folder.mkdir()
    record = folder / "args.txt"
    script = folder / "notify-send"
    complaint = "echo 'GDBus.Error: org.freedesktop.Notifications was not provided' >&2; exit 1" if fails else "exit 0"
    script.write_text(f'#!/bin/sh\necho "$@" > "{record}"\necho stray-stdout\n{complaint}\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return record


@pytest.mark.parametrize("fails", [False, True], ids=["shown", "no-daemon"])
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="notify-send is the Linux desktop path")
async def test_desktop_notification_never_writes_into_the_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str], fails: bool
) -> None:
    record = _fake_notify_send(tmp_path / "bin", fails=fails)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.setitem(sys.modules, "dbus", None)  # no python-dbus: plyer would fall back to notify-send
    fallback: list[tuple[str, str]] = []
    bus = EventBus()
    notifier = Notifier(default_settings().notifications, bus, lambda title, message: fallback.append((title, message)))
    notifier.desktop = True
    bus.publish(QueueIdle(3, 0))
    await until(lambda: record.exists() and (fallback or not fails), lambda: asyncio.sleep(0.02), timeout=10)
    await asyncio.sleep(0.1)
    out, err = capfd.readouterr()
    assert "stray-stdout" not in out and "GDBus" not in err  # a TUI would show these over its panes
    assert "Queue empty" in record.read_text()
    assert fallback == ([("Queue empty", "3 downloaded, 0 failed")] if fails else [])
    assert notifier.desktop is not fails  # after a failure, the terminal is used from then on
