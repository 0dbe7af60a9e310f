"""Every pane shows live state (issue 12): a download, a pause or a cancel changes the status of the
file's row in the group's track list, in the search results and in the queue, without the list being
read again, and each state has one word everywhere (tad_tui.library.status).
"""

from __future__ import annotations

from tad_tui.engine import Engine
from tad_tui.library import status
from tad_tui.ui.groups import GroupsPane
from tad_tui.ui.queue import QueuePane
from tad_tui.ui.search import SearchPane
from test_ui import CLASSICAL, held, make_app, settle  # noqa: F401  (held: the fixture)
from test_ui_panes import quick, scanned, title_index
from test_ui_repaint import assert_screen_is_true, on_screen
from test_ui_support import DEMO_GROUPS, Gate, until


def never_reloaded(pane: GroupsPane) -> list[object]:
    """Counts the track list's loads: live updates must not need one."""
    loads: list[object] = []
    real = pane.load_tracks
    pane.load_tracks = lambda group: (loads.append(group), real(group))[-1]  # type: ignore[method-assign]
    return loads


async def open_group(app, pilot, username: str) -> GroupsPane:
    groups = app.query_one(GroupsPane)
    await until(lambda: len(groups._groups.rows) == DEMO_GROUPS, pilot.pause)
    groups._groups.go_to(title_index(groups, username.lstrip("@")))
    await pilot.press("enter")
    await until(lambda: len(groups._tracks.rows) > 5, pilot.pause)
    return groups


async def test_the_track_list_and_its_header_follow_downloads_without_a_reload(held: tuple[Engine, Gate]) -> None:
    engine, gate = held
    await scanned(engine)
    app = quick(make_app(engine))
    async with app.run_test(size=(80, 24)) as pilot:
        groups = await open_group(app, pilot, CLASSICAL)
        tracks = groups._tracks
        loads = never_reloaded(groups)
        await pilot.press("end", "up", "space", "space")  # the last two, scrolled to the end
        chosen = [row.id for row in tracks.marked_rows()]
        assert len(chosen) == 2 and tracks.scroll_y > 0
        await pilot.press("e")
        await until(lambda: all(tracks.rows[tracks.index_of(i)].status == "queued" for i in chosen), pilot.pause)
        await assert_screen_is_true(tracks, pilot)
        gate.open()
        await until(lambda: all(tracks.rows[tracks.index_of(i)].status == "downloaded" for i in chosen), pilot.pause)
        await assert_screen_is_true(tracks, pilot)
        top = int(tracks.scroll_y)
        for audio_id in chosen:
            line = on_screen(tracks)[tracks.index_of(audio_id) - top + 1]
            assert "✓" in line and line.rstrip().endswith("downloaded"), line
        title = str(app.query_one("#tracks-title").render())
        assert f"{len(tracks.rows)} tracks, 2 downloaded" in title
        assert loads == []


async def test_pausing_in_the_queue_shows_in_the_group_and_in_the_search_results(held: tuple[Engine, Gate]) -> None:
    engine, _ = held
    await scanned(engine)
    app = quick(make_app(engine))
    async with app.run_test(size=(80, 24)) as pilot:
        groups = await open_group(app, pilot, CLASSICAL)
        loads = never_reloaded(groups)
        await pilot.press("a", "e")  # every new track, queued (the gate holds them: "queued")
        tracks = groups._tracks
        await until(lambda: {row.status for row in tracks.rows} == {"queued"}, pilot.pause)
        await pilot.press("f3", *"symphony")
        search = app.query_one(SearchPane)
        await settle(app, pilot)
        assert search.table.rows and {hit.status for hit in search.table.rows} == {"queued"}
        await pilot.press("f2")
        queue = app.query_one(QueuePane)
        await until(lambda: len(queue.table.rows) == len(tracks.rows), pilot.pause)
        await pilot.press("p")
        await until(lambda: {row.status for row in tracks.rows} == {"paused"}, pilot.pause)
        await until(lambda: {hit.status for hit in search.table.rows} == {"paused"}, pilot.pause)
        await pilot.press("f3")
        await assert_screen_is_true(search.table, pilot)
        assert "paused" in on_screen(search.table)[1]
        assert loads == []


async def test_a_search_result_turns_downloaded_and_enter_shows_where_it_is(held: tuple[Engine, Gate]) -> None:
    engine, gate = held
    await scanned(engine)
    app = quick(make_app(engine))
    async with app.run_test(size=(80, 24)) as pilot:
        search = app.query_one(SearchPane)
        await pilot.press("f3", *"bethov")
        await settle(app, pilot)
        assert search.table.rows[0].status == "new"
        await pilot.press("enter", "enter")  # to the results, then queue the first
        await until(lambda: search.table.rows[0].status == "queued", pilot.pause)
        gate.open()
        await until(lambda: search.table.rows[0].status == "downloaded", pilot.pause)
        hit = search.table.rows[0]
        assert hit.local_path and hit.local_path.startswith(str(engine.paths.downloads_dir))
        await assert_screen_is_true(search.table, pilot)
        await pilot.press("enter")
        await pilot.pause()
        assert any(hit.local_path in str(note.message) for note in app._notifications)


async def test_the_status_line_about_one_group_goes_when_another_is_opened(held: tuple[Engine, Gate]) -> None:
    engine, _ = held
    app = quick(make_app(engine))
    async with app.run_test(size=(80, 24)) as pilot:
        groups = app.query_one(GroupsPane)
        await until(lambda: len(groups._groups.rows) == DEMO_GROUPS, pilot.pause)
        groups._groups.go_to(title_index(groups, "tad_demo_mixes"))
        await pilot.press("s")
        status_line = app.query_one("#groups-status")
        await until(lambda: " new, " in str(status_line.render()), pilot.pause)
        await pilot.press("enter")  # the scanned group itself: its news stays
        await pilot.pause()
        assert status_line.display
        await pilot.press("escape")
        groups._groups.go_to(title_index(groups, CLASSICAL.lstrip("@")))
        await pilot.press("enter")
        await pilot.pause()
        assert not status_line.display


async def test_the_queue_calls_a_finished_entry_what_the_other_panes_call_it(held: tuple[Engine, Gate]) -> None:
    engine, gate = held
    await scanned(engine)
    app = quick(make_app(engine))
    async with app.run_test(size=(80, 24)) as pilot:
        groups = await open_group(app, pilot, CLASSICAL)
        await pilot.press("e")  # the first track
        gate.open()
        await until(lambda: groups._tracks.rows[0].status == "downloaded", pilot.pause)
        await pilot.press("f2")
        queue = app.query_one(QueuePane)
        await until(lambda: queue.table.rows and queue.table.rows[0].entry.state == "completed", pilot.pause)
        await assert_screen_is_true(queue.table, pilot)
        shown = on_screen(queue.table)[1]
        assert shown.split()[0] == "downloaded", shown  # (the mark column is blank)
        summary = str(app.query_one("#queue-summary").render())
        assert summary.startswith("1 entry: 1 downloaded") and "completed" not in summary


def test_every_state_word_is_in_the_readme() -> None:
    from pathlib import Path

    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    for word, meaning in status.STATES.items():
        assert f"| `{word}` | {meaning} |" in readme, word
