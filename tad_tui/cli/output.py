"""Plain-terminal output for the headless commands: tables that fit the width, one live status line."""

from __future__ import annotations

import shutil
import sys
import unicodedata
from collections.abc import Collection, Sequence

from tad_tui.api import printable


def print_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    numeric: Collection[int] = (),
    shrink_first: Collection[int] = (),
    empty: str = "(none)",
) -> None:
    """Columns sized to their content in terminal cells (CJK takes two); the widest shrink (with …),
    the ``shrink_first`` ones before any other, so the column that matters most stays readable.

    Every cell goes through ``printable``: a title holding a clear-screen escape or a bidi override
    cannot clear or reorder the user's terminal, whatever reached the library before it was sanitized.
    """
    headers = [printable(h) for h in headers]
    rows = [[printable(cell) for cell in row] for row in rows]
    width = shutil.get_terminal_size((100, 24)).columns
    widths = [max([cells(h)] + [cells(r[i]) for r in rows]) for i, h in enumerate(headers)]
    gap = 2
    for shrinking in (set(shrink_first), set(range(len(widths)))):
        while sum(widths) + gap * (len(widths) - 1) > width:
            widest = max(shrinking, key=lambda i: widths[i], default=None)
            if widest is None or widths[widest] <= 8:
                break
            widths[widest] -= 1

    def line(row: Sequence[str]) -> str:
        parts = []
        for i, cell in enumerate(row):
            text = cut(cell, widths[i])
            fill = " " * (widths[i] - cells(text))
            parts.append(fill + text if i in numeric else text + fill)
        return (" " * gap).join(parts).rstrip()

    print(line(headers))
    print(line(["─" * w for w in widths]))
    for row in rows:
        print(line(row))
    if not rows:
        print(empty)


def cells(text: str) -> int:
    """Terminal cells ``text`` takes: wide East Asian characters two, combining marks none."""
    return sum(_char_cells(ch) for ch in text)


def _char_cells(ch: str) -> int:
    if unicodedata.combining(ch):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in "WF" else 1


def cut(text: str, width: int) -> str:
    """``text`` in at most ``width`` cells, ending in … when cut."""
    if cells(text) <= width:
        return text
    kept, used = [], 0
    for ch in text:
        used += _char_cells(ch)
        if used > width - 1:
            break
        kept.append(ch)
    return "".join(kept) + "…"


class StatusLine:
    """A progress line redrawn in place on a terminal; silent when output is piped or JSON."""

    def __init__(self, *, enabled: bool = True) -> None:
        self.enabled = enabled and sys.stderr.isatty()
        self._shown = False

    def show(self, text: str) -> None:
        if self.enabled:
            width = shutil.get_terminal_size((100, 24)).columns - 1
            sys.stderr.write("\r\x1b[K" + printable(text)[:width])
            sys.stderr.flush()
            self._shown = True

    def clear(self) -> None:
        if self._shown:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()
            self._shown = False
