"""Snapshots of each pane and the help screen at 100×30 and 80×24, with real demo data.

``snap_compare`` runs the app in its own event loop, from sync tests only, so the store is opened,
the demo group scanned and queued inside ``run_async`` of the app itself: as the entry point does.
Times, speeds and machine figures are frozen so the pictures do not change between runs.
"""

from __future__ import annotations

import asyncio
import time

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from tortoise.expressions import F
from textual.pilot import Pilot

from tad_tui.download.events import BatchProgress, EntryProgress, EntryStarted, EntryWaiting, wait_words
from tad_tui.engine import Engine
from tad_tui.paths import Paths
from tad_tui.store import opened_store
from tad_tui.library.text import track_name
from tad_tui.store.models import AudioFile, FileStatus, Follow, QueueEntry, QueueState, TelegramGroup
from tad_tui.telegram.sim.catalogue import Catalogue
from tad_tui.telegram.sim.client import SimulatedClient
from tad_tui.telegram.sim.server import SimulatedTelegram
from tad_tui.telegram.source import TelethonSource
from tad_tui.ui.app import TadApp
from tad_tui.ui.groups import GroupsPane
from tad_tui.ui.queue import QueuePane
from tad_tui.ui.themes import shipped_themes_dir
from test_ui_support import DEMO_GROUPS, FROZEN_NOW, FrozenMonitor, Gate, frozen_samples, queue_group, ui_settings

SIZES = [(100, 30), (80, 24)]


class DemoApp(TadApp):
    """TadApp over a fresh library: classical scanned and queued in a mix of states."""

    def __init__(self, tmp_path: Path, catalogue: Catalogue) -> None:
        paths = Paths(tmp_path / "data", output_override=tmp_path / "out")
        paths.ensure()
        self._source = TelethonSource(SimulatedClient(SimulatedTelegram(catalogue)))
        engine = Engine(ui_settings(tmp_path / "config.toml"), paths, self._source)
        super().__init__(engine, clock=lambda: FROZEN_NOW, theme_dirs=[shipped_themes_dir()])
        self.entry_ids: list[int] = []

    async def run_async(self, **kwargs: Any) -> Any:  # type: ignore[override]
        async with opened_store(self.engine.paths.db):
            await self._source.start()
            try:
                await self._prepare()
                return await super().run_async(**kwargs)
            finally:
                await self.engine.close()
                await self._source.stop()

    async def _prepare(self) -> None:
        engine = self.engine
        engine.monitor = FrozenMonitor(frozen_samples(per_download={}))  # type: ignore[assignment]
        engine.scheduler.admission = Gate(engine)  # nothing starts: the states below stay put
        await engine.list_groups(refresh=True)
        self.entry_ids = await queue_group(engine, "@tad_demo_classical")
        await TelegramGroup.all().update(last_checked=FROZEN_NOW - timedelta(hours=3))
        first, second, third, fourth = (await QueueEntry.filter(id__in=self.entry_ids[:4]).order_by("id"))
        for entry in (first, second):  # downloaded earlier
            await AudioFile.filter(id=entry.audio_id).update(status=FileStatus.COMPLETED, downloaded_bytes=F("file_size"))
            await QueueEntry.filter(id=entry.pk).update(state=QueueState.COMPLETED)
        await QueueEntry.filter(id=third.pk).update(
            state=QueueState.FAILED, error_message="disk full: 0 B free in /music"
        )
        await QueueEntry.filter(id=fourth.pk).update(state=QueueState.PAUSED)


def live_events(app: DemoApp) -> None:
    """Two downloads under way as the engine would report them (one held by a flood wait)."""
    events = app.engine.events
    running = app.entry_ids[4:6]
    for n, entry_id in enumerate(running):
        events.publish(EntryStarted(entry_id, f"f{entry_id}", 1_000_000, "x"))
        events.publish(EntryProgress(entry_id, 420_000 + n * 300_000, 1_000_000))
    # A wait of 37.9 s shows as 38 s for the 0.9 s the snapshot may take: the screen stays the same.
    events.publish(EntryWaiting(running[1], wait_words("premium", 38), time.time() + 37.9, "premium"))
    events.publish(BatchProgress(1, "TAD Demo · Classical", 3, len(app.entry_ids), 1))
    app.engine.monitor.samples[-1].per_download_bps.update(  # type: ignore[union-attr]
        {str(running[0]): 1.5 * 2**20, str(running[1]): 0.0}
    )
    app.bridge.names.update({running[0]: "Symphony No. 9 in D minor", running[1]: "Cello Suite No. 1"})
    app.bridge.flush()


async def settle(pilot: Pilot[Any]) -> None:
    app = pilot.app
    for _ in range(200):
        if not any(w.group not in ("downloads", "following") and not w.is_finished for w in app.workers):
            break
        await pilot.pause(0.02)
    await pilot.pause()


@pytest.fixture
def demo_app(tmp_path: Path, demo_catalogue: Catalogue) -> DemoApp:
    return DemoApp(tmp_path, demo_catalogue)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_groups_pane(snap_compare: Any, demo_app: DemoApp, size: tuple[int, int]) -> None:
    async def ready(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        assert len(pilot.app.query_one(GroupsPane)._groups.rows) == DEMO_GROUPS

    assert snap_compare(demo_app, terminal_size=size, run_before=ready)


class FollowedDemoApp(DemoApp):
    """DemoApp with two groups followed: Classical brought a file five minutes ago, DJ Mixes nothing yet."""

    async def _prepare(self) -> None:
        await super()._prepare()
        engine = self.engine
        await engine.follow("@tad_demo_classical", match="format:flac")
        await engine.follow("@tad_demo_mixes")
        newest = await AudioFile.filter(group__username="tad_demo_classical").order_by("-message_id").first()
        assert newest is not None
        await Follow.filter(group__username="tad_demo_classical").update(
            last_new_title=track_name(newest.title, newest.performer, newest.file_name, newest.file_id),
            last_new_at=FROZEN_NOW - timedelta(minutes=5),
        )
        await TelegramGroup.all().update(last_checked=FROZEN_NOW - timedelta(hours=3))
        engine.start_following = _idle_follower  # type: ignore[method-assign]


class _IdleFollower:
    """Its catch-up would scan the followed groups again (and stamp them "just now"): the picture is
    of the pane, so nothing runs."""

    errors: list[str] = []

    async def stay_connected(self) -> None:
        await asyncio.Event().wait()


async def _idle_follower() -> _IdleFollower:
    return _IdleFollower()


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_groups_pane_with_followed_groups(
    snap_compare: Any, tmp_path: Path, demo_catalogue: Catalogue, size: tuple[int, int]
) -> None:
    app = FollowedDemoApp(tmp_path, demo_catalogue)

    async def ready(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        groups = pilot.app.query_one(GroupsPane)
        assert [g.title for g in groups._groups.rows if g.followed] == ["TAD Demo · Classical", "TAD Demo · DJ Mixes"]

    assert snap_compare(app, terminal_size=size, run_before=ready)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_group_tracks(snap_compare: Any, demo_app: DemoApp, size: tuple[int, int]) -> None:
    async def open_classical(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        groups = pilot.app.query_one(GroupsPane)
        groups._groups.go_to(next(i for i, g in enumerate(groups._groups.rows) if g.username == "tad_demo_classical"))
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("down", "down", "down", "down", "space", "space", "up")
        assert len(groups._tracks.marked) == 2

    assert snap_compare(demo_app, terminal_size=size, run_before=open_classical)


def test_forum_topics(snap_compare: Any, demo_app: DemoApp) -> None:
    """A forum group opened on its topics, scanned, the cursor on one of them."""

    async def open_forum(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        await pilot.app.engine.scan("@tad_demo_forum")
        groups = pilot.app.query_one(GroupsPane)
        groups.load_groups(refresh=False)
        await settle(pilot)
        groups._groups.go_to(next(i for i, g in enumerate(groups._groups.rows) if g.username == "tad_demo_forum"))
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("down", "down")
        assert [t.tracks for t in groups._topics.rows] == [12, 0, 2, 3, 4, 3]

    assert snap_compare(demo_app, terminal_size=(80, 24), run_before=open_forum)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_queue_pane(snap_compare: Any, demo_app: DemoApp, size: tuple[int, int]) -> None:
    async def queue_with_live_entries(pilot: Pilot[Any]) -> None:
        await pilot.press("f2")
        await settle(pilot)
        live_events(demo_app)
        await pilot.pause()
        queue = pilot.app.query_one(QueuePane)
        queue.refresh_speeds()
        queue.table.go_to_key(demo_app.entry_ids[8])
        await pilot.press("m", "m")  # two marked rows: the bullet column and the count
        queue.table.go_to_key(demo_app.entry_ids[5])
        await pilot.pause()
        assert len(queue.table.rows) == len(demo_app.entry_ids) and len(queue.table.marked) == 2

    assert snap_compare(demo_app, terminal_size=size, run_before=queue_with_live_entries)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_performance_pane(snap_compare: Any, demo_app: DemoApp, size: tuple[int, int]) -> None:
    async def performance(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        live_events(demo_app)
        await pilot.press("f4")
        await pilot.pause()

    assert snap_compare(demo_app, terminal_size=size, run_before=performance)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_help_screen_on_the_queue(snap_compare: Any, demo_app: DemoApp, size: tuple[int, int]) -> None:
    async def help_on_queue(pilot: Pilot[Any]) -> None:
        await pilot.press("f2")
        await settle(pilot)
        await pilot.press("question_mark")
        await pilot.pause()

    assert snap_compare(demo_app, terminal_size=size, run_before=help_on_queue)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_search_pane(snap_compare: Any, demo_app: DemoApp, size: tuple[int, int]) -> None:
    from tad_tui.ui.search import SearchPane

    async def search_bethov(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        pane = pilot.app.query_one(SearchPane)
        pane.elapsed = lambda result: 2.0  # the machine's speed varies; the picture must not
        await pilot.press("slash", *"bethov")
        await settle(pilot)
        assert pane.shown_text == "bethov" and "Beethoven" in pane.table.rows[0].name
        await pilot.press("down", "down")
        await pilot.pause()

    assert snap_compare(demo_app, terminal_size=size, run_before=search_bethov)


# ---- scrolled: the middle and the end of long lists, where a repaint once went missing ---------


def test_archive_tracks_scrolled_with_a_selection(snap_compare: Any, demo_app: DemoApp) -> None:
    from tad_tui.library.scan import scan_group

    async def archive_scrolled(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        engine = demo_app.engine
        await scan_group(engine.source, await engine.resolve_group("@tad_demo_archive"))
        groups = pilot.app.query_one(GroupsPane)
        groups._groups.go_to(next(i for i, g in enumerate(groups._groups.rows) if g.username == "tad_demo_archive"))
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("pagedown", "pagedown", "pagedown", "up", "up", "space", "space", "up")
        await pilot.pause()
        assert len(groups._tracks.rows) > 1000 and groups._tracks.scroll_y > 0 and len(groups._tracks.marked) == 2

    assert snap_compare(demo_app, terminal_size=(80, 24), run_before=archive_scrolled)


def test_queue_scrolled_to_its_middle_with_marks_paused(snap_compare: Any, demo_app: DemoApp) -> None:
    async def queue_middle(pilot: Pilot[Any]) -> None:
        await pilot.press("f2")
        await settle(pilot)
        queue = pilot.app.query_one(QueuePane)
        await pilot.press("pagedown", "pagedown", "m", "m", "up", "space")  # both marked ones paused
        await settle(pilot)
        assert queue.table.scroll_y > 0 and len(queue.table.marked) == 2

    assert snap_compare(demo_app, terminal_size=(80, 24), run_before=queue_middle)


def test_search_results_scrolled_to_their_end(snap_compare: Any, demo_app: DemoApp) -> None:
    from tad_tui.ui.search import SearchPane

    async def results_end(pilot: Pilot[Any]) -> None:
        from tad_tui.library.scan import scan_group

        await settle(pilot)
        engine = demo_app.engine
        await scan_group(engine.source, await engine.resolve_group("@tad_demo_archive"))
        pane = pilot.app.query_one(SearchPane)
        pane.elapsed = lambda result: 2.0
        await pilot.press("slash", *"status:new")
        await settle(pilot)
        await pilot.press("down", "end", "pageup", "enter")  # queue the track a page above the last
        await settle(pilot)
        assert pane.table.scroll_y > 0 and pane.table.current.status == "queued"

    assert snap_compare(demo_app, terminal_size=(80, 24), run_before=results_end)
