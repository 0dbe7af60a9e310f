"""Plain-terminal output for the headless commands: tables that fit the width, one live status line."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Collection, Sequence


def print_table(headers: Sequence[str], rows: Sequence[Sequence[str]], *, numeric: Collection[int] = ()) -> None:
    """Columns sized to their content; the widest ones shrink (with …) until the table fits."""
    width = shutil.get_terminal_size((100, 24)).columns
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]
    gap = 2
    while sum(widths) + gap * (len(widths) - 1) > width and max(widths) > 8:
        widths[widths.index(max(widths))] -= 1

    def line(cells: Sequence[str]) -> str:
        parts = []
        for i, cell in enumerate(cells):
            text = cell if len(cell) <= widths[i] else cell[: widths[i] - 1] + "…"
            parts.append(text.rjust(widths[i]) if i in numeric else text.ljust(widths[i]))
        return (" " * gap).join(parts).rstrip()

    print(line(headers))
    print(line(["─" * w for w in widths]))
    for row in rows:
        print(line(row))
    if not rows:
        print("(none)")


class StatusLine:
    """A progress line redrawn in place on a terminal; silent when output is piped or JSON."""

    def __init__(self, *, enabled: bool = True) -> None:
        self.enabled = enabled and sys.stderr.isatty()
        self._shown = False

    def show(self, text: str) -> None:
        if self.enabled:
            width = shutil.get_terminal_size((100, 24)).columns - 1
            sys.stderr.write("\r\x1b[K" + text[:width])
            sys.stderr.flush()
            self._shown = True

    def clear(self) -> None:
        if self._shown:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()
            self._shown = False
