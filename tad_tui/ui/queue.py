"""The Queue pane: every entry in order, live progress, and the keys that reorder and control it.

Rows are loaded once (engine.queue_rows) and then kept in step in place: each action goes through
the engine and the same change is applied to the one row it touched, mirroring the engine's
ordering rule (priority first, then position; only unfinished entries move).

With rows marked (m, ctrl+a), the same keys act on every marked entry instead, one engine call
each; the marks stay until cleared (M, Escape), so actions can follow one another on them. Such a
loop passes ``audit=False`` to each call and writes one audit line for the whole action.

The state filter (f) shows the rows of one state only; every key then acts on the rows shown, and
a mark never outlives its row being hidden (the filter unmarks it, with a toast), so nothing out of
sight is acted on. Moves and priority changes under a filter read the rows again after the engine
writes: the neighbours they are placed by may be hidden.

The pane is built in parts: queue_lines.py (a row: its states and cells, no Textual), queue_view.py
(the list and the lines around it, kept in step with the engine's events; the runner of the keys'
operations), queue_moves.py (moves and priorities) and queue_control.py (pause, resume, cancel,
retry); this module binds the keys and holds the rest of them (marks, filter, limit, clearing).
"""

from __future__ import annotations

from collections import Counter
from typing import ClassVar

from textual import work
from textual.binding import Binding, BindingType

from tad_tui.config import ConfigError
from tad_tui.ui import figures
from tad_tui.ui.dialogs import BandwidthChoice, BandwidthDialog, ConfirmDialog
from tad_tui.ui.preview import show_path
from tad_tui.ui.queue_control import QueueControl
from tad_tui.ui.queue_lines import FILTERS, QueueLine, entries
from tad_tui.ui.queue_moves import QueueMoves

__all__ = ["QueueLine", "QueuePane", "entries"]

CONFIRM_CLEAR_AT = 10  # clearing this many finished entries or more asks first

# Footer groups: one label for a pair of keys, so the footer fits 80 columns.
MOVE = Binding.Group("Move")
PRIORITY = Binding.Group("Priority")


class QueuePane(QueueMoves, QueueControl):
    HELP_TITLE = "Queue pane"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("shift+up,K", "move('up')", "Move up", key_display="⇧↑", group=MOVE, tooltip="Move the entry up within its priority", id="queue.move_up"),
        Binding("shift+down,J", "move('down')", "Move down", key_display="⇧↓", group=MOVE, tooltip="Move the entry down within its priority", id="queue.move_down"),
        Binding("t", "move('top')", "Top", show=False, tooltip="Move the entry to the top of its priority", id="queue.move_top"),
        Binding("b", "move('bottom')", "Bottom", show=False, tooltip="Move the entry to the bottom of its priority", id="queue.move_bottom"),
        Binding("plus,equals_sign", "priority(1)", "Priority +", group=PRIORITY, tooltip="Raise the entry's priority", id="queue.priority_up"),
        Binding("minus", "priority(-1)", "Priority -", group=PRIORITY, tooltip="Lower the entry's priority", id="queue.priority_down"),
        Binding("space", "toggle_pause", "Pause/resume", tooltip="Pause or resume the entry", id="queue.toggle_pause"),
        Binding("x", "cancel", "Cancel", tooltip="Cancel the entry (its partial file is removed)", id="queue.cancel"),
        Binding("r", "retry", "Retry", tooltip="Retry a failed or cancelled entry", id="queue.retry"),
        Binding("m", "toggle_mark", "Mark", tooltip="Mark or unmark: the keys above act on all marked", id="queue.mark"),
        Binding("ctrl+a,a", "mark_all", "Mark all", show=False, tooltip="Mark every unfinished entry (again: clear marks)", id="queue.mark_all"),
        Binding("M,escape", "clear_marks", "Clear marks", show=False, tooltip="Clear the marks", id="queue.clear_marks"),
        Binding("B", "batch", "Batch", show=False, tooltip="Pause, resume, cancel or retry the entry's batch", id="queue.batch"),
        Binding("p", "pause_all", "Pause all", show=False, tooltip="Pause every unfinished entry", id="queue.pause_all"),
        Binding("P", "resume_all", "Resume all", show=False, tooltip="Resume every paused entry", id="queue.resume_all"),
        Binding("n", "next_in_state('running')", "Next running", show=False, tooltip="Go to the next running entry (round the list)", id="queue.next_running"),
        Binding("e", "next_in_state('failed')", "Next failed", show=False, tooltip="Go to the next failed entry (round the list)", id="queue.next_failed"),
        Binding("u", "next_in_state('paused')", "Next paused", show=False, tooltip="Go to the next paused entry (round the list)", id="queue.next_paused"),
        Binding("f", "cycle_filter", "Filter", show=False, tooltip="Filter by state; again: the next state, then all", id="queue.filter"),
        Binding("C", "clear_finished", "Clear finished", show=False, tooltip="Clear completed and cancelled entries (files stay)", id="queue.clear_finished"),
        Binding("o", "show_file", "Show file", show=False, tooltip="Show where the file is; copy its path", id="queue.show_file"),
        Binding("l", "bandwidth", "Limit", show=False, tooltip="Set the total download limit (8MB, 512KiB, 0 = none)", id="queue.bandwidth"),
        Binding("ctrl+r", "reload", "Refresh", show=False, tooltip="Read the queue again", id="queue.refresh"),
    ]

    def action_toggle_mark(self) -> None:
        self.table.toggle_mark()
        self.table.action_move_cursor(1)
        self._show_detail(self.table.current)

    def action_mark_all(self) -> None:
        """Mark every unfinished entry (or clear the marks if they all are already)."""
        unfinished = {line.id for line in self.table.rows if line.active}
        self.table.marked = set() if unfinished <= self.table.marked else self.table.marked | unfinished
        self.table.refresh()
        self._show_detail(self.table.current)

    def action_clear_marks(self) -> None:
        if self.table.marked:
            self.table.marked = set()
            self.table.refresh()
            self._show_detail(self.table.current)

    def action_bandwidth(self) -> None:
        def chosen(choice: BandwidthChoice | None) -> None:
            if choice is None:
                return
            limit = choice.limit
            save_to = self.config_file if choice.save else None
            try:
                self.engine.set_bandwidth_limit(limit, save_to=save_to)
            except ConfigError as error:  # the file cannot be written: the limit stays as it was
                self.notify(str(error), severity="error", timeout=10)
                return
            words = f"{figures.format_size(limit)}/s" if limit else "none"
            kept = f", saved to {save_to}" if save_to else " for this session"
            self.notify(f"Download limit: {words}{kept}", markup=False)
            self._show_summary()

        self.app.push_screen(BandwidthDialog(self.engine.bandwidth_limit), chosen)

    def action_next_in_state(self, state: str) -> None:
        """The cursor goes to the next row in ``state`` after it, round the end of the list."""
        rows, start = self.table.rows, self.table.cursor
        for step in range(1, len(rows) + 1):
            index = (start + step) % len(rows)
            if rows[index].entry.state == state:
                self.table.go_to(index)
                return
        hidden = " (the filter hides some: f)" if self._hidden[state] else ""
        self.notify(f"No {state} entry is shown{hidden}" if hidden else f"No entry is {state}")

    def action_cycle_filter(self) -> None:
        """Show only running, queued, paused, failed or finished entries, then all again."""
        names = list(FILTERS)
        self._filter = names[(names.index(self._filter) + 1) % len(names)]
        self.reload()

    def action_clear_finished(self) -> None:
        """Take completed and cancelled entries off the queue (all of them, shown or hidden)."""
        states = Counter(line.entry.state for line in self.table.rows) + self._hidden
        count = states["completed"] + states["cancelled"]
        if not count:
            self.notify("No entry is completed or cancelled: nothing to clear (failed ones stay to be retried)")
            return
        if count < CONFIRM_CLEAR_AT:
            self._apply(self._clear_finished)
            return
        question = f"Clear {entries(count)} finished? (Files stay.)"  # one line: the dialog is 52 wide

        def chosen(yes: bool | None) -> None:
            if yes:
                self._apply(self._clear_finished)

        self.app.push_screen(ConfirmDialog(question, "Yes, clear them"), chosen)

    async def _clear_finished(self) -> None:
        cleared = await self.engine.clear_finished()
        self._batches = {}  # counted again from what is left: the cleared entries are no longer in them
        self.reload()
        self.notify(f"Cleared {entries(len(cleared))} from the queue; their files stay where they are")

    @work(group="queue-show-file", exit_on_error=False)
    async def action_show_file(self) -> None:
        """Where the entry's file is: shown, and copied to the clipboard (OSC 52: works over SSH)."""
        line = self.table.current
        if line is None:
            return
        where = await self.engine.entry_location(line.id)
        if where is None:
            self.notify(f"Entry {line.id} is no longer in the queue", severity="warning")
            return
        name = figures.clean(line.entry.file)
        if where.downloaded:
            gone = "" if where.on_disk else "\n(no file there any more: moved or deleted since)"
            show_path(self, where.path, title=f"Downloaded: {name}", note=gone)
            return
        state = line.entry.state
        when = "would be" if state in ("failed", "cancelled") else "will be"
        self.notify(
            f"Not downloaded ({state}): it {when} saved as\n{where.path}", title=name, timeout=10, markup=False
        )

    def action_reload(self) -> None:
        self.reload()
