"""The TUI driven by keys through Textual's Pilot, over the simulated Telegram."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console
from textual.widgets import Label, TabbedContent

from tad_tui.download.events import EntryProgress, EntryStarted, EntryWaiting, Notice
from tad_tui.engine import Engine
from tad_tui.store import opened_store
from tad_tui.store.models import AudioFile, Priority, QueueEntry, QueueState
from tad_tui.telegram.sim.client import SimulatedClient
from tad_tui.telegram.sim.server import SimulatedTelegram
from tad_tui.telegram.source import TelethonSource
from tad_tui.ui.app import TadApp
from tad_tui.ui.dialogs import BandwidthDialog, PriorityDialog
from tad_tui.ui.groups import GroupsPane
from tad_tui.ui.help import HelpScreen, render_sections
from tad_tui.ui.queue import QueuePane
from tad_tui.ui.themes import shipped_themes_dir
from test_ui_support import DEMO_GROUPS, FROZEN_NOW, Gate, held_engine, queue_group, shown_words, until

CLASSICAL = "@tad_demo_classical"


@pytest.fixture
async def held(tmp_path: Path, source: TelethonSource):
    engine, gate = held_engine(tmp_path, source)
    async with opened_store(engine.paths.db):
        yield engine, gate
        await engine.stop_downloads()


def make_app(engine: Engine, theme_dirs: list[Path] | None = None) -> TadApp:
    return TadApp(engine, clock=lambda: FROZEN_NOW, theme_dirs=theme_dirs or [shipped_themes_dir()])


async def settle(app: TadApp, pilot) -> None:
    """Wait for the UI's own background work (not the download loop, which runs until quit)."""
    await until(
        lambda: not any(w.group not in ("downloads", "following") and not w.is_finished for w in app.workers), pilot.pause
    )
    await pilot.pause()


def queue_ids(app: TadApp) -> list[int]:
    return [line.id for line in app.query_one(QueuePane).table.rows]


async def test_groups_scan_open_select_and_enqueue_with_priority(held: tuple[Engine, Gate]) -> None:
    engine, _ = held
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        groups = app.query_one(GroupsPane)
        await until(lambda: len(groups._groups.rows) == DEMO_GROUPS, pilot.pause)
        groups._groups.go_to(next(i for i, g in enumerate(groups._groups.rows) if g.username == CLASSICAL[1:]))
        await pilot.press("s")
        await until(lambda: "new, " in str(app.query_one("#groups-status", Label).content), pilot.pause)
        stored = await AudioFile.filter(group__username="tad_demo_classical").count()
        assert stored > 0
        await pilot.press("enter")
        await until(lambda: len(groups._tracks.rows) == stored, pilot.pause)
        assert groups._tracks.has_focus
        await pilot.press("space", "space", "E")
        assert isinstance(app.screen, PriorityDialog)
        await pilot.press("up", "enter")  # from "normal" up to "high"
        await until(lambda: groups._tracks.rows[0].status == "queued", pilot.pause)
        entries = await QueueEntry.all().prefetch_related("audio")
        assert sorted(e.audio.pk for e in entries) == sorted(t.id for t in groups._tracks.rows[:2])
        assert {e.priority for e in entries} == {Priority.HIGH}
        assert [t.status for t in groups._tracks.rows[:3]] == ["queued", "queued", "new"]
        await until(lambda: len(queue_ids(app)) == 2, pilot.pause)  # the queue pane heard of it
        await pilot.press("escape")
        assert groups._groups.has_focus and groups.group is None


async def test_already_downloaded_tracks_are_marked_and_not_queued_again(held: tuple[Engine, Gate]) -> None:
    engine, gate = held
    ids = await queue_group(engine, CLASSICAL)
    gate.open()
    await engine.scheduler.run(until_idle=True)
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        groups = app.query_one(GroupsPane)
        await until(lambda: len(groups._groups.rows) == DEMO_GROUPS, pilot.pause)
        groups.open_group(next(g for g in groups._groups.rows if g.username == CLASSICAL[1:]))
        await until(lambda: len(groups._tracks.rows) == len(ids), pilot.pause)
        assert all(t.status == "downloaded" for t in groups._tracks.rows)
        await pilot.press("a", "e")
        await pilot.pause()
        assert await QueueEntry.all().count() == len(ids)


async def test_queue_keys_go_through_the_scheduler_and_the_rows_follow_in_place(held: tuple[Engine, Gate]) -> None:
    engine, _ = held
    await queue_group(engine, CLASSICAL)
    app = make_app(engine)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("f2")
        queue = app.query_one(QueuePane)
        await until(lambda: len(queue.table.rows) > 5, pilot.pause)
        assert queue.table.has_focus
        rows_before = list(queue.table.rows)

        async def same_order_as_engine() -> None:
            await settle(app, pilot)
            await pilot.pause()
            assert queue_ids(app) == [row.id for row in await engine.queue_rows()]

        third = queue_ids(app)[2]
        queue.table.go_to(2)
        await pilot.press("K")
        await same_order_as_engine()
        assert queue_ids(app)[1] == third and queue.table.current.id == third
        await pilot.press("shift+down", "J")
        await same_order_as_engine()
        assert queue_ids(app)[3] == third
        await pilot.press("t")
        await same_order_as_engine()
        assert queue_ids(app)[0] == third
        await pilot.press("b")
        await same_order_as_engine()
        assert queue_ids(app)[-1] == third
        queue.table.go_to(4)
        raised = queue_ids(app)[4]
        await pilot.press("plus")
        await same_order_as_engine()
        assert queue_ids(app)[0] == raised and queue.table.rows[0].entry.priority == "high"
        await pilot.press("minus")
        await same_order_as_engine()
        assert queue.table.current.entry.priority == "normal"

        queue.table.go_to_key(raised)
        await pilot.press("space")
        await settle(app, pilot)
        assert (await QueueEntry.get(id=raised)).state == QueueState.PAUSED
        assert queue.table.current.entry.state == "paused"
        await pilot.press("space")
        await settle(app, pilot)
        assert (await QueueEntry.get(id=raised)).state == QueueState.QUEUED
        await pilot.press("x")
        await settle(app, pilot)
        assert (await QueueEntry.get(id=raised)).state == QueueState.CANCELLED
        assert queue.table.current.entry.state == "cancelled"
        await pilot.press("r")
        await settle(app, pilot)
        assert (await QueueEntry.get(id=raised)).state == QueueState.QUEUED
        await pilot.press("p")
        await settle(app, pilot)
        assert await QueueEntry.filter(state=QueueState.PAUSED).count() == len(rows_before)
        assert {line.entry.state for line in queue.table.rows} == {"paused"}
        await pilot.press("P")
        await settle(app, pilot)
        assert await QueueEntry.filter(state=QueueState.QUEUED).count() == len(rows_before)
        # Every row object is the one loaded (updated by replace), never a re-read of the queue.
        assert sorted(queue_ids(app)) == sorted(line.id for line in rows_before)


async def test_bandwidth_dialog_sets_the_limit_and_explains_bad_input(held: tuple[Engine, Gate], tmp_path: Path) -> None:
    engine, _ = held
    config = tmp_path / "config.toml"
    config.write_text("# mine\n[performance]\nbandwidth_limit = \"2MB\"\n", encoding="utf-8")
    app = TadApp(engine, clock=lambda: FROZEN_NOW, theme_dirs=[shipped_themes_dir()], config_file=config)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f2", "l")
        assert isinstance(app.screen, BandwidthDialog)
        await pilot.press("4", "k", "enter")
        error = str(app.screen.query_one("#bandwidth-error", Label).content)
        assert "ambiguous" in error and isinstance(app.screen, BandwidthDialog)
        await pilot.press("backspace", "backspace", "1", "B", "enter")
        assert "too low" in str(app.screen.query_one("#bandwidth-error", Label).content)
        await pilot.press("backspace", "backspace", *"abc", "enter")
        await pilot.pause()
        error_label = app.screen.query_one("#bandwidth-error", Label)
        error = str(error_label.content)
        assert "write bytes (1048576) or a number and unit" in error  # longer than the dialog is wide
        assert shown_words(error_label) == error  # wrapped, every word on screen at 80×24
        await pilot.press(*["backspace"] * 3)
        await pilot.press("backspace", "backspace", "8", "M", "B", "enter")
        await pilot.pause()
        assert isinstance(app.screen, BandwidthDialog)  # then: how long
        await pilot.press("enter")  # the first choice: this session only
        await pilot.pause()
        assert not isinstance(app.screen, BandwidthDialog)
        assert engine.scheduler.context.bandwidth.rate == 8_000_000
        assert "limit 7.6 MiB/s" in str(app.query_one("#queue-summary", Label).content)
        await pilot.press("l", "0", "enter", "enter")
        await pilot.pause()
        assert engine.scheduler.context.bandwidth.rate == 0
        assert config.read_text(encoding="utf-8") == "# mine\n[performance]\nbandwidth_limit = \"2MB\"\n"
        await pilot.press("l", "escape")  # cancels: nothing changes
        await pilot.pause()
        assert engine.scheduler.context.bandwidth.rate == 0 and not isinstance(app.screen, BandwidthDialog)


async def test_progress_is_merged_and_painted_and_downloads_finish_live(held: tuple[Engine, Gate]) -> None:
    engine, gate = held
    ids = await queue_group(engine, CLASSICAL)
    app = make_app(engine)
    async with app.run_test(size=(100, 30)) as pilot:
        app._notifier.desktop = False  # as over SSH, whatever this machine has
        await pilot.press("f2")
        queue = app.query_one(QueuePane)
        await until(lambda: len(queue.table.rows) == len(ids), pilot.pause)
        first = ids[0]
        engine.events.publish(EntryStarted(first, "x", 1000, "x"))
        for done in (100, 200, 300):
            engine.events.publish(EntryProgress(first, done, 1000))
        engine.events.publish(EntryWaiting(first, "waiting 37 s: flood wait"))
        app.bridge.flush()
        await pilot.pause()
        line = queue.table.rows[queue.table.index_of(first)]
        assert line.entry.state == "running" and line.entry.downloaded_bytes == 300
        assert line.waiting == "waiting 37 s: flood wait"
        assert "flood wait" in str(app.query_one("#queue-detail", Label).content)
        gate.open()
        await until(lambda: all(line.entry.state == "completed" for line in queue.table.rows), pilot.pause, timeout=60)
        assert all(line.entry.downloaded_bytes == line.entry.file_size for line in queue.table.rows)
        assert f"{len(ids)}/{len(ids)} done" in str(app.query_one("#queue-summary", Label).content)
        # No desktop here: the finished batch and the empty queue are told as toasts.
        await until(lambda: len(app._notifier.sent) >= 2, pilot.pause)
        titles = {n.title for n in app._notifications}
        assert {"Batch complete", "Queue empty"} <= titles


async def test_a_notice_is_one_toast_though_every_pane_hears_it(held: tuple[Engine, Gate]) -> None:
    """Each pane gets the engine's events too: a Notice must not reach the app again through them
    (a service that failed is told once, not once per pane)."""
    engine, _ = held
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        engine.events.publish(Notice("notifications to json://127.0.0.1:9/x failed", title="Notifications", warning=True))
        for _ in range(3):
            await pilot.pause()
        assert [n.title for n in app._notifications].count("Notifications") == 1


async def test_tab_keys_help_and_command_palette(held: tuple[Engine, Gate]) -> None:
    engine, _ = held
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        tabs = app.query_one(TabbedContent)
        await pilot.press("f2")
        assert tabs.active == "queue"
        await pilot.press("alt+4")
        assert tabs.active == "performance"
        await pilot.press("alt+1")
        assert tabs.active == "groups"
        await pilot.press("f2", "question_mark")
        assert isinstance(app.screen, HelpScreen)
        help_lines = _help_text(app.screen.sections)
        for expected in (
            "Move the entry up within its priority",
            "Pause or resume the entry",
            "Quit; downloads resume next time",
            "Show the groups pane",
            "Set the total download limit",
            "Choose a colour theme",
            "Focus next",
        ):
            assert expected in help_lines
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"Performance")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot.pause()
        assert tabs.active == "performance"


def _help_text(sections) -> str:
    console = Console(width=100, record=True, file=io.StringIO())
    console.print(render_sections(sections))
    return console.export_text()


async def test_theme_choice_is_saved_keeping_comments_and_broken_themes_are_reported(
    held: tuple[Engine, Gate], tmp_path: Path
) -> None:
    engine, _ = held
    engine.settings.config_file.write_text('# mine\n[ui]\ntheme = "textual-dark"  # keep me\n')
    broken = tmp_path / "user-themes"
    broken.mkdir()
    (broken / "bad.toml").write_text('name = "bad"\nprimary = "not-a-colour"\n')
    (broken / "good.toml").write_text('name = "user-good"\nprimary = "#112233"\n')
    app = make_app(engine, theme_dirs=[shipped_themes_dir(), broken])
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        messages = [n.message for n in app._notifications]
        assert any("bad.toml" in m and "not a colour" in m for m in messages)
        assert {"tad-nocturne", "tad-paper", "tad-amber", "user-good"} <= set(app.available_themes)
        app.theme = "tad-nocturne"
        await pilot.pause()
        await pilot.pause()
    text = engine.settings.config_file.read_text()
    assert 'theme = "tad-nocturne"' in text and "# mine" in text and "# keep me" in text


async def test_ctrl_q_stops_downloads_resumably_and_exits(tmp_path: Path, server: SimulatedTelegram) -> None:
    # A slow link, so that downloads are still running when the user quits.
    source = TelethonSource(SimulatedClient(server, latency=0.02, bandwidth_per_connection=256 * 1024))
    await source.start()
    engine, gate = held_engine(tmp_path, source)
    try:
        async with opened_store(engine.paths.db):
            ids = await queue_group(engine, CLASSICAL, limit=6)
            app = make_app(engine)
            async with app.run_test(size=(80, 24)) as pilot:
                gate.open()
                await until(lambda: bool(engine.scheduler.running), pilot.pause)
                await pilot.press("ctrl+q")
                await pilot.pause()
            assert app._downloads is None and not engine.scheduler.running
            assert app.return_code == 0
            assert await QueueEntry.filter(state=QueueState.COMPLETED).count() < len(ids)
            await engine.start_downloads()  # the next session picks up where this one stopped
            outcomes = await engine.scheduler.run(until_idle=True)
            assert outcomes["failed"] == 0
            assert await QueueEntry.filter(state=QueueState.COMPLETED).count() == len(ids)
            await engine.stop_downloads()
    finally:
        await source.stop()


async def test_queue_rows_order_priority_position_and_finished_last(held: tuple[Engine, Gate]) -> None:
    engine, _ = held
    ids = await queue_group(engine, CLASSICAL)
    await engine.scheduler.set_priority(ids[5], Priority.CRITICAL)
    await engine.scheduler.pause(ids[1])
    await QueueEntry.filter(id=ids[2]).update(state=QueueState.FAILED, error_message="disk full")
    await engine.scheduler.move(ids[9], "top")
    order = [row.id for row in await engine.queue_rows()]
    assert order[:2] == [ids[5], ids[9]] and order[-1] == ids[2]
    assert order.index(ids[0]) < order.index(ids[1]) < order.index(ids[3])


# ---- search pane ------------------------------------------------------------------------------


async def _scanned(engine: Engine, username: str = CLASSICAL) -> None:
    from tad_tui.library.scan import scan_group

    await scan_group(engine.source, await engine.resolve_group(username))


def _search_pane(app: TadApp):
    from tad_tui.ui.search import SearchPane

    return app.query_one(SearchPane)


async def test_search_updates_per_keystroke_beethoven_first(held: tuple[Engine, Gate]) -> None:
    engine, _ = held
    await _scanned(engine)
    app = make_app(engine)
    async with app.run_test(size=(100, 30)) as pilot:
        pane = _search_pane(app)
        await pilot.press("f3")
        assert app.query_one(TabbedContent).active == "search"
        assert pane.input.has_focus
        seen: list[tuple[str, ...]] = []
        typed = ""
        for key in "bethov":
            typed += key
            await pilot.press(key)
            await settle(app, pilot)
            assert pane.shown_text == typed  # the latest keystroke's results, not an earlier one's
            seen.append(tuple(hit.name for hit in pane.table.rows))
        assert seen[-1] and "Beethoven" in seen[-1][0]
        assert len(set(seen)) > 1  # the results changed as the word grew
        summary = str(app.query_one("#search-summary", Label).content)
        assert " ms" in summary and "match" in summary
        await pilot.press("escape")
        assert pane.table.has_focus
        await pilot.press("slash")
        assert pane.input.has_focus and pane.input.value == "bethov"  # "/" focuses, it is not typed
        await pilot.press("down")
        assert pane.table.has_focus


async def test_search_malformed_filter_shows_a_hint(held: tuple[Engine, Gate]) -> None:
    engine, _ = held
    await _scanned(engine)
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        pane = _search_pane(app)
        await pilot.press("f3", *"size>lots")
        await settle(app, pilot)
        hints = app.query_one("#search-hints", Label)
        assert hints.display and "size" in str(hints.content)
        await pilot.press(*" foo:bar")  # two hints, each longer than the 80 columns
        await settle(app, pilot)
        text = str(hints.content)
        assert "no filter called 'foo'" in text and "'lots' is not a size" in text
        assert shown_words(hints) == " ".join(text.split())  # wrapped, every word on screen at 80×24
        await pilot.press(*["backspace"] * 8)
        await pilot.press(*" format:flac")
        await settle(app, pilot)
        assert pane.table.rows and all(hit.format == "flac" for hit in pane.table.rows)


async def test_search_enter_queues_a_new_track(held: tuple[Engine, Gate]) -> None:
    engine, _ = held
    await _scanned(engine)
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        pane = _search_pane(app)
        await pilot.press("f3", *"bethov")
        await settle(app, pilot)
        first = pane.table.rows[0]
        assert first.status == "new"
        await pilot.press("enter")  # from the box: to the results
        assert pane.table.has_focus
        await pilot.press("enter")
        await settle(app, pilot)
        rows = await engine.queue_rows()
        assert [row.file for row in rows] and len(rows) == 1
        assert rows[0].priority == "normal"
        assert pane.table.rows[0].status == "queued"
        await until(lambda: len(queue_ids(app)) == 1, pilot.pause)  # the queue pane heard of it


async def test_slash_focuses_the_search_box_from_another_pane(held: tuple[Engine, Gate]) -> None:
    engine, _ = held
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f2")
        assert app.query_one(TabbedContent).active == "queue"
        await pilot.press("slash")
        assert app.query_one(TabbedContent).active == "search"
        assert _search_pane(app).input.has_focus
        await pilot.press("alt+2", "alt+3")
        assert app.query_one(TabbedContent).active == "search"
        await pilot.press("a", "slash", "c", "question_mark")
        assert _search_pane(app).input.value == "a/c?"  # in the box they are text, not keys
        assert not isinstance(app.screen, HelpScreen)


async def test_logout_from_the_palette_ends_the_session_and_quits(held: tuple[Engine, Gate]) -> None:
    engine, _ = held
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+p")
        await pilot.pause()
        for key in "log out":
            await pilot.press(key if key != " " else "space")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await until(lambda: not app.is_running, pilot.pause)
    assert not await engine.source.is_authorized()
