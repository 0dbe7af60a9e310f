"""The Queue pane's keys that reorder: an entry (or every marked one) up, down, to the top or the
bottom of its priority, and its priority raised or lowered. The rows move at once, by the
engine's own rule (tad_tui/ui/queue_order.py for marked rows); the engine writes the change after."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from functools import partial

from tad_tui.api import Priority, PriorityChange, QueueError
from tad_tui.audit import recorded
from tad_tui.ui.queue_lines import QueueLine, entries
from tad_tui.ui.queue_order import after_priority_change, move_marked
from tad_tui.ui.queue_view import QueueView

MOVE_WORDS = {"up": "up", "down": "down", "top": "to the top", "bottom": "to the bottom"}


class QueueMoves(QueueView):
    """Moves and priority changes (bound in QueuePane)."""

    async def _then_reload(self, operation: Callable[[], Awaitable[object]]) -> None:
        try:
            await operation()
        finally:
            self.reload()

    def action_move(self, where: str) -> None:
        """The row moves at once (the same rule as the engine's); the engine writes it after."""
        if self.table.marked:
            self._move_marked(where)
            return
        line = self.table.current
        if line is None:
            return
        if not line.active:
            self.notify(f"Entry {line.id} is {line.entry.state}: only unfinished entries move", severity="warning")
            return
        if self._filter:  # its neighbours may be hidden: the engine moves it, then the rows are read again
            self._apply(partial(self._then_reload, partial(self.engine.move, line.id, where)))
            return
        target = self._move_target(line, where)
        if target is None:
            return
        self.table.move_row(line.id, target)

        async def move() -> None:
            try:
                await self.engine.move(line.id, where)
            except QueueError:
                self.reload()  # the engine said no: show what it holds
                raise

        self._apply(move)

    def _move_marked(self, where: str) -> None:
        """The marked rows move at once, as a block per priority; the engine writes them one by one after."""
        rows, calls = move_marked(self.table.rows, self.table.marked, where)
        if not calls:
            if not any(line.active for line in self.table.marked_rows()):
                self.notify("No marked entry is unfinished: only unfinished entries move", severity="warning")
            return
        self.table.reorder(rows)

        async def move() -> None:
            try:
                with recorded("move", refused=(QueueError,), scope="marked", where=where, count=len(calls)):
                    for entry_id in calls:
                        await self.engine.move(entry_id, where, audit=False)
            except QueueError:
                self.reload()
                raise
            if self._filter:  # hidden rows between the shown ones move too: show the engine's order
                self.reload()
            self.notify(f"Moved {entries(len(calls))} {MOVE_WORDS[where]}")

        self._apply(move)

    def _move_target(self, line: QueueLine, where: str) -> int | None:
        """Where the engine's move puts the row, as an index into the list without it.

        Walks outwards from the row and stops at the first peer (unfinished, same priority), so a
        move in a 10,000-entry queue looks at a handful of rows.
        """
        rows = self.table.rows
        here = self.table.index_of(line.id)
        if here is None:
            return None

        def peer(i: int) -> bool:
            other = rows[i]
            return other.active and other.entry.priority == line.entry.priority

        if where == "top":
            order = range(0, here)
        elif where == "bottom":
            order = range(len(rows) - 1, here, -1)
        else:
            order = range(here - 1, -1, -1) if where == "up" else range(here + 1, len(rows))
        # Above the row an index stays put when the row is taken out; below it, it shifts up by one,
        # so the peer's own index is the place right after it. Either way: the peer's index.
        return next((i for i in order if peer(i)), None)

    def action_priority(self, step: int) -> None:
        if self.table.marked:
            self._priority_marked(step)
            return
        line = self.table.current
        if line is None:
            return
        current = Priority[line.entry.priority.upper()]
        if not Priority.LOW <= current + step <= Priority.CRITICAL:
            return
        wanted = Priority(current + step)

        async def change() -> None:
            placed = await self.engine.set_priority(line.id, wanted)
            self._show_priorities([placed] if placed else [])

        self._apply(change)

    def _priority_marked(self, step: int) -> None:
        ids = [line.id for line in self.table.marked_rows()]

        async def change() -> None:
            changed: list[PriorityChange] = []
            try:
                with recorded("set_priority", refused=(QueueError,), scope="marked", step=step, count=0) as audited:
                    for entry_id in ids:
                        line = self._line(entry_id)
                        if line is None or not Priority.LOW <= line.level + step <= Priority.CRITICAL:
                            continue
                        wanted = Priority(line.level + step)
                        placed = await self.engine.set_priority(entry_id, wanted, audit=False)
                        changed += [placed] if placed else []
                        audited["count"] = len(changed)
            except QueueError:
                self.reload()
                raise
            finally:
                if len(changed) > 1:
                    # Each change is placed relative to entries that may themselves change later in
                    # the loop; the engine's order read back is the one the queue runs in (found by
                    # tests/test_ui_queue_model.py: lowering every marked entry showed another order).
                    self.show_rows(await self.engine.queue_rows())
                else:
                    self._show_priorities(changed)
            if changed:
                self.notify(f"{'Raised' if step > 0 else 'Lowered'} the priority of {entries(len(changed))}")
            else:
                self.notify(f"The marked entries are all at {'critical' if step > 0 else 'low'} priority already")

        self._apply(change)

    def _show_priorities(self, changed: Sequence[PriorityChange]) -> None:
        if not changed:
            return
        if self._filter:  # the neighbour it went after may be hidden: show the engine's order
            self.reload()
            return
        levels = {change.entry_id: change.priority.name.lower() for change in changed}
        rows = [
            replace(line, entry=replace(line.entry, priority=levels[line.id])) if line.id in levels else line
            for line in self.table.rows
        ]
        self.table.reorder(after_priority_change(rows, changed))
