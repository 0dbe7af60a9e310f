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
from test_ui_support import Gate, queue_group, until

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
        await until(lambda: len(groups._groups.rows) == 4, pilot.pause)
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
