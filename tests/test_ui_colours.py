"""The cursor row stays readable in a 16-colour terminal, in every theme the app offers.

The app runs with Textual's colour system set to "standard" (as TEXTUAL_COLOR_SYSTEM=standard or a
16-colour TERM does); each segment of the cursor row is downgraded as Rich does it on output and
its text and background compared on Rich's 16-colour palette (gruvbox fell to bright white on light
grey).
"""

from __future__ import annotations

import pytest
import textual.constants
from rich.color import ColorSystem

from tad_tui.engine import Engine
from tad_tui.store.models import QueueEntry, QueueState
from tad_tui.ui.contrast import MIN_CONTRAST, as_shown, contrast
from tad_tui.ui.queue import QueuePane
from tad_tui.ui.table import RowTable
from test_ui import CLASSICAL, held, make_app  # noqa: F401  (held: the fixture)
from test_ui_panes import quick
from test_ui_support import Gate, queue_group, until


def unreadable(table: RowTable) -> list[str]:
    """The cursor row's segments whose text and background are too close in 16 colours."""
    line = table.render_line(table.cursor - int(table.scroll_y) + 1)
    found = []
    for segment in line:
        style = segment.style
        if not segment.text.strip() or style is None or style.color is None or style.bgcolor is None:
            continue
        if style.color.is_default or style.bgcolor.is_default:
            continue  # the terminal's own pair
        fg, bg = as_shown(style.color, ColorSystem.STANDARD), as_shown(style.bgcolor, ColorSystem.STANDARD)
        if contrast(fg, bg) < MIN_CONTRAST:
            found.append(f"{segment.text.strip()!r} {tuple(fg)} on {tuple(bg)}")
    return found


async def test_the_cursor_row_is_readable_in_16_colours_in_every_theme(
    held: tuple[Engine, Gate], monkeypatch: pytest.MonkeyPatch
) -> None:
    engine, _ = held
    ids = await queue_group(engine, CLASSICAL, limit=3)
    await QueueEntry.filter(id=ids[0]).update(state=QueueState.PAUSED)  # a coloured state on the cursor row
    monkeypatch.setattr(textual.constants, "COLOR_SYSTEM", "standard")
    app = quick(make_app(engine))
    async with app.run_test(size=(80, 24)) as pilot:
        assert app.console.color_system == "standard"
        await pilot.press("f2")
        table = app.query_one(QueuePane).table
        await until(lambda: len(table.rows) == 3, pilot.pause)
        table.go_to_key(ids[0])
        problems = []
        assert len(app.available_themes) > 10 and {"gruvbox", "textual-dark", "tad-amber"} <= set(app.available_themes)
        for theme in sorted(app.available_themes):
            app.theme = theme
            for focused in (True, False):
                app.set_focus(table if focused else None)
                await pilot.pause()
                assert table.has_focus == focused
                problems += [f"{theme} {'focused' if focused else 'blurred'}: {p}" for p in unreadable(table)]
        assert not problems, "\n".join(problems)
