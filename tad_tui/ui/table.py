"""A table that draws only the rows on screen, so 10,000 queue entries open as fast as ten.

Textual's DataTable stores and measures every row (7.5 s for 100k rows); this one
keeps a plain list of immutable rows and renders a line when the compositor asks for it. Updating
one row replaces one list item and repaints one line.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import ClassVar, Generic, Literal, TypeVar

from rich.console import COLOR_SYSTEMS
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from tad_tui.ui.contrast import readable

Row = TypeVar("Row", bound=Hashable)
Cell = str | Text


@dataclass(frozen=True)
class Column:
    title: str
    width: int  # cells; 0 shares whatever the fixed columns leave
    align: Literal["left", "right"] = "left"


class RowTable(ScrollView, Generic[Row], can_focus=True):
    """Rows of one type with a cursor and optional marks; ``cells`` turns a row into its cells."""

    HELP_TITLE = "Lists"

    DEFAULT_CSS = """
    RowTable {
        overflow-x: hidden;
        background: $surface;
        & > .row-table--header { text-style: bold; background: $panel; color: $foreground; }
        & > .row-table--cursor { background: $block-cursor-blurred-background; }
        &:focus > .row-table--cursor {
            background: $block-cursor-background; color: $block-cursor-foreground; text-style: bold;
        }
        & > .row-table--marked { color: $accent; text-style: bold; }
        & > .row-table--empty { color: $text-muted; }
    }
    """
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "row-table--header",
        "row-table--cursor",
        "row-table--marked",
        "row-table--empty",
    }
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "move_cursor(-1)", "Up", show=False, id="table.up"),
        Binding("down", "move_cursor(1)", "Down", show=False, id="table.down"),
        Binding("pageup", "page(-1)", "Page up", show=False, id="table.page_up"),
        Binding("pagedown", "page(1)", "Page down", show=False, id="table.page_down"),
        Binding("home", "jump(0)", "First row", show=False, id="table.first"),
        Binding("end", "jump(-1)", "Last row", show=False, id="table.last"),
        Binding("enter", "choose", "Open", show=False, id="table.choose"),
    ]

    class Highlighted(Message):
        """The cursor moved to another row (``row`` is None when the table is empty)."""

        def __init__(self, table: RowTable[Row], row: Row | None) -> None:
            super().__init__()
            self.table = table
            self.row = row

        @property
        def control(self) -> RowTable[Row]:
            return self.table

    class Chosen(Message):
        """Enter (or a double click) on a row."""

        def __init__(self, table: RowTable[Row], row: Row) -> None:
            super().__init__()
            self.table = table
            self.row = row

        @property
        def control(self) -> RowTable[Row]:
            return self.table

    def __init__(
        self,
        columns: Sequence[Column],
        cells: Callable[[Row], Sequence[Cell]],
        key: Callable[[Row], Hashable],
        *,
        empty_text: str = "",
        markable: bool = False,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        # A marked row shows a bullet in a column of its own, readable without colour too; its header
        # is the bullet, so a ✓ column beside it (downloaded) is not read as the selection.
        self.markable = markable
        self.columns = ([Column("●", 1)] if markable else []) + list(columns)
        self._cells = cells
        self._key = key
        self.empty_text = empty_text
        self._rows: list[Row] = []
        self._index: dict[Hashable, int] = {}
        self.marked: set[Hashable] = set()
        self.cursor = 0
        self._lines: LRUCache[tuple[object, ...], Strip] = LRUCache(1024)

    # ---- data ---------------------------------------------------------------------------------

    @property
    def rows(self) -> Sequence[Row]:
        return self._rows

    @property
    def current(self) -> Row | None:
        return self._rows[self.cursor] if 0 <= self.cursor < len(self._rows) else None

    def index_of(self, key: Hashable) -> int | None:
        return self._index.get(key)

    def set_rows(self, rows: Iterable[Row], *, keep_cursor: bool = True) -> None:
        """Replace every row; the cursor stays on the same row (by key) if it is still there."""
        previous = self.current
        self._rows = list(rows)
        self._reindex(0)
        self.marked &= set(self._index)
        target = self._index.get(self._key(previous)) if keep_cursor and previous is not None else None
        self.cursor = min(target if target is not None else self.cursor, max(len(self._rows) - 1, 0))
        self.virtual_size = Size(0, len(self._rows) + 1)
        self._lines.clear()
        self.refresh()
        self._scroll_to_cursor()  # a key acts on the cursor's row: it is always on screen
        self._cursor_moved()

    def update_row(self, row: Row) -> None:
        """Replace the row with the same key in place and repaint its line only."""
        index = self._index.get(self._key(row))
        if index is None:
            return
        self._rows[index] = row
        self._refresh_index(index)

    def move_row(self, key: Hashable, position: int) -> None:
        """Move a row to ``position`` (an index in the list without it); the cursor follows it."""
        start = self._index.get(key)
        if start is None:
            return
        follow = start == self.cursor
        row = self._rows.pop(start)
        position = max(0, min(position, len(self._rows)))
        self._rows.insert(position, row)
        self._reindex(min(start, position), max(start, position) + 1)
        if follow:
            self.cursor = position
            self._scroll_to_cursor()
        self.refresh()

    def reorder(self, rows: Iterable[Row]) -> None:
        """The same rows in a new order: the cursor and the marks stay on their rows, kept in view."""
        self.set_rows(rows)

    def toggle_mark(self) -> None:
        row = self.current
        if row is None:
            return
        self.marked.symmetric_difference_update({self._key(row)})
        self._refresh_index(self.cursor)

    def marked_rows(self) -> list[Row]:
        return [row for row in self._rows if self._key(row) in self.marked]

    def _reindex(self, start: int, stop: int | None = None) -> None:
        if start == 0 and stop is None:
            self._index = {self._key(row): i for i, row in enumerate(self._rows)}
            return
        for i in range(start, len(self._rows) if stop is None else stop):
            self._index[self._key(self._rows[i])] = i

    # ---- cursor -------------------------------------------------------------------------------

    @property
    def _page(self) -> int:
        return max(self.scrollable_content_region.height - 1, 1)

    def action_move_cursor(self, step: int) -> None:
        self.go_to(self.cursor + step)

    def action_page(self, direction: int) -> None:
        self.go_to(self.cursor + direction * self._page)

    def action_jump(self, where: int) -> None:
        self.go_to(len(self._rows) - 1 if where < 0 else where)

    def action_choose(self) -> None:
        row = self.current
        if row is not None:
            self.post_message(self.Chosen(self, row))

    def go_to(self, index: int) -> None:
        if not self._rows:
            return
        index = max(0, min(index, len(self._rows) - 1))
        if index == self.cursor:
            return
        old, self.cursor = self.cursor, index
        self._refresh_index(old)
        self._refresh_index(index)
        self._scroll_to_cursor()
        self._cursor_moved()

    def go_to_key(self, key: Hashable) -> None:
        index = self._index.get(key)
        if index is not None:
            self.go_to(index)

    def _scroll_to_cursor(self) -> None:
        top = int(self.scroll_y)
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False, immediate=True)
        elif self.cursor >= top + self._page:
            self.scroll_to(y=self.cursor - self._page + 1, animate=False, immediate=True)

    def _cursor_moved(self) -> None:
        self.post_message(self.Highlighted(self, self.current))

    def on_click(self, event: events.Click) -> None:
        index = int(self.scroll_y) + event.y - 1
        if event.y >= 1 and 0 <= index < len(self._rows):
            self.go_to(index)
            if event.chain == 2:
                self.action_choose()

    # ---- drawing ------------------------------------------------------------------------------

    def _refresh_index(self, index: int) -> None:
        if not self.size.height:
            # Hidden (another pane is shown): nothing to place the line on, so every line it last
            # painted is stale now; without this, the pane shows the old row when it comes back.
            self.refresh()
            return
        line = index - int(self.scroll_y) + 1
        if 1 <= line < self.size.height:
            # A screen line: ScrollView.refresh_line takes a content line and subtracts the scroll
            # offset again, so a scrolled list repainted the wrong line (or none) on every key.
            self.refresh(Region(0, line, self.size.width, 1))

    def on_focus(self) -> None:
        self._refresh_index(self.cursor)

    def on_blur(self) -> None:
        self._refresh_index(self.cursor)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._lines.clear()  # a new theme: every cached line has old colours

    def widths(self, total: int) -> list[int]:
        """Column widths for ``total`` cells: fixed ones as given, the rest shared by flexible ones."""
        gaps = len(self.columns) - 1
        fixed = sum(column.width for column in self.columns)
        flexible = [i for i, column in enumerate(self.columns) if column.width == 0]
        spare = max(total - fixed - gaps, len(flexible) * 4)
        widths = [column.width for column in self.columns]
        for n, i in enumerate(flexible):
            widths[i] = spare // len(flexible) + (1 if n < spare % len(flexible) else 0)
        return widths

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        base = self.rich_style
        if y == 0:
            header = self.get_component_rich_style("row-table--header")
            titles = [Text(column.title) for column in self.columns]
            return self._strip(("header", width, header), titles, base + header, width)
        index = int(self.scroll_y) + y - 1
        if not self._rows and y == 1 and self.empty_text:
            empty = self.get_component_rich_style("row-table--empty")
            return Strip([Segment(f" {self.empty_text}", base + empty)]).adjust_cell_length(width, base)
        if not 0 <= index < len(self._rows):
            return Strip.blank(width, base)
        row = self._rows[index]
        style = base
        marked = self._key(row) in self.marked
        if marked:
            style += self.get_component_rich_style("row-table--marked")
        cursor = index == self.cursor
        if cursor:
            style += self.get_component_rich_style("row-table--cursor")
        cells = self._cells(row)
        if self.markable:
            cells = ["●" if marked else "", *cells]
        return self._strip((row, width, marked, cursor, self.has_focus), cells, style, width, cursor=cursor)

    def _strip(
        self, cache_key: tuple[object, ...], cells: Sequence[Cell], style: Style, width: int, *, cursor: bool = False
    ) -> Strip:
        cached = self._lines.get(cache_key)
        if cached is not None:
            return cached
        line = Text(no_wrap=True, overflow="ellipsis")
        for n, (column, cell_width, cell) in enumerate(zip(self.columns, self.widths(width), cells)):
            text = cell.copy() if isinstance(cell, Text) else Text(cell)
            text.truncate(cell_width, overflow="ellipsis", pad=False)
            gap = " " * (cell_width - text.cell_len)
            if column.align == "right":
                line.append(gap)
                line.append_text(text)
            else:
                line.append_text(text)
                line.append(gap)
            if n < len(self.columns) - 1:
                line.append(" ")
        segments = list(Segment.apply_style(line.render(self.app.console), style))
        shown = self.app.console.color_system  # what the terminal shows: Rich downgrades to it
        if cursor and shown in ("standard", "windows"):
            segments = readable(segments, COLOR_SYSTEMS[shown])  # the cursor's colours may meet in 16 colours
        strip = Strip(segments).adjust_cell_length(width, style)
        self._lines[cache_key] = strip
        return strip
