"""What the screen shows after a key equals what a full repaint shows: lists scrolled to their middle
and their end, as people use them (issue 12: rows stopped repainting once a list was scrolled).

``on_screen`` reads the lines a widget last painted (Textual keeps them per line until a refresh
marks them dirty); ``repainted`` forces every line to be painted again. A line that a key should
have refreshed but did not differs between the two.
"""

from __future__ import annotations

from textual.widget import Widget

from tad_tui.engine import Engine
from tad_tui.store import QueueEntry
from tad_tui.ui.groups import GroupsPane
from tad_tui.ui.queue import QueuePane
from test_ui import held, make_app  # noqa: F401  (held: the fixture)
from test_ui_panes import quick, scanned, title_index
from test_ui_support import DEMO_GROUPS, Gate, queue_group, until

ARCHIVE = "@tad_demo_archive"


def on_screen(widget: Widget) -> list[str]:
    """The widget's lines as last painted (Textual's per-line cache, which the screen shows)."""
    cache = widget._styles_cache._cache  # the pinned Textual's own record of the painted lines
    return [cache[y].text if y in cache else "" for y in range(widget.size.height)]


async def repainted(widget: Widget, pilot) -> list[str]:
    widget._styles_cache.clear()
    widget.refresh()
    await pilot.pause()
    return on_screen(widget)


async def assert_screen_is_true(widget: Widget, pilot) -> None:
    await pilot.pause()
    shown = on_screen(widget)
    assert shown == await repainted(widget, pilot)


async def test_a_scrolled_track_list_repaints_the_rows_each_key_changes(held: tuple[Engine, Gate]) -> None:
    engine, _ = held
    await scanned(engine, ARCHIVE)
    app = quick(make_app(engine))
    async with app.run_test(size=(80, 24)) as pilot:
        groups = app.query_one(GroupsPane)
        await until(lambda: len(groups._groups.rows) == DEMO_GROUPS, pilot.pause)
        groups._groups.go_to(title_index(groups, "tad_demo_archive"))
        await pilot.press("enter")
        tracks = groups._tracks
        await until(lambda: len(tracks.rows) > 1000, pilot.pause)
        await assert_screen_is_true(tracks, pilot)
        for keys in (("pagedown",) * 3, ("up", "up"), ("space",), ("down",), ("space",), ("pagedown",) * 40):
            await pilot.press(*keys)
            await assert_screen_is_true(tracks, pilot)
        await pilot.press("end", "up")
        selected = tracks.cursor
        await pilot.press("space")  # selects the row and moves down, as in a file manager
        await assert_screen_is_true(tracks, pilot)
        assert on_screen(tracks)[selected - int(tracks.scroll_y) + 1].startswith("●")  # on the row it was on


async def test_a_scrolled_queue_repaints_marks_moves_and_priorities(held: tuple[Engine, Gate]) -> None:
    engine, _ = held
    ids = await queue_group(engine, ARCHIVE)
    app = quick(make_app(engine))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f2")
        queue = app.query_one(QueuePane)
        await until(lambda: len(queue.table.rows) == len(ids), pilot.pause)
        table = queue.table
        for keys in (("pagedown",) * 30, ("m",), ("up", "m"), ("K",), ("J", "J"), ("escape",)):
            await pilot.press(*keys)
            await assert_screen_is_true(table, pilot)
        assert 300 < table.cursor < len(ids) - 300  # all of it in the middle of the list
        for keys in (("plus",), ("minus",), ("home",), ("end",)):
            await pilot.press(*keys)
            await assert_screen_is_true(table, pilot)
        await pilot.press("end", "m")
        await assert_screen_is_true(table, pilot)
        assert (await QueueEntry.filter(id__in=list(table.marked)).count()) == len(table.marked) == 1


async def test_scrolled_search_results_repaint_what_keys_and_downloads_change(held: tuple[Engine, Gate]) -> None:
    from tad_tui.ui.search import LIMIT, SearchPane

    engine, gate = held
    await scanned(engine, ARCHIVE)
    app = quick(make_app(engine))
    async with app.run_test(size=(80, 24)) as pilot:
        search = app.query_one(SearchPane)
        await pilot.press("f3", *"status:new")  # no words: the newest tracks, as many as are shown
        await until(lambda: len(search.table.rows) == LIMIT, pilot.pause)
        await pilot.press("down")  # from the box to the results
        table = search.table
        for keys in (("pagedown",) * 6, ("up", "up"), ("enter",), ("down",), ("enter",), ("end",), ("up", "enter")):
            await pilot.press(*keys)
            await until(lambda: not any(w.group == "search-enqueue" and not w.is_finished for w in app.workers), pilot.pause)
            await assert_screen_is_true(table, pilot)
        queued = [hit.id for hit in table.rows if hit.status == "queued"]
        assert len(queued) == 3 and 60 < table.index_of(queued[0]) < 140  # in the middle, and at the end
        gate.open()  # the downloads change rows that are scrolled out of sight and on screen
        await until(lambda: all(table.rows[table.index_of(i)].status == "downloaded" for i in queued), pilot.pause)
        await assert_screen_is_true(table, pilot)
        await pilot.press("home")
        await assert_screen_is_true(table, pilot)


async def test_the_help_screen_scrolls_to_its_end_and_back(held: tuple[Engine, Gate]) -> None:
    engine, _ = held
    app = quick(make_app(engine))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f2", "question_mark")
        await pilot.pause()
        body = app.screen.query_one("#help-body")

        def shown() -> str:
            return "\n".join(strip.text for strip in app.screen._compositor.render_strips())

        assert body.max_scroll_y > 10 and "Escape closes" not in shown()  # longer than the screen
        await pilot.press("pagedown")
        await pilot.pause()
        assert 0 < body.scroll_y < body.max_scroll_y
        await pilot.press("end")
        await pilot.pause()
        assert body.scroll_y == body.max_scroll_y and "Escape closes" in shown()  # its last line
        await pilot.press("home")
        await pilot.pause()
        assert body.scroll_y == 0 and "Queue pane" in shown()
