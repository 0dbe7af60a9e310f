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
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Label

from tad_tui.api import (
    YIELDED,
    BatchProgress,
    EntryFinished,
    EntryResumed,
    EntryStarted,
    EntryWaiting,
    NewAudio,
    Priority,
    PriorityChange,
    QueueError,
    QueueRow,
    status_word,
    wait_words,
)
from tad_tui.audit import recorded
from tad_tui.config import ConfigError
from tad_tui.engine import Engine
from tad_tui.ui import figures
from tad_tui.ui.dialogs import BandwidthChoice, BandwidthDialog, BatchDialog, ConfirmDialog
from tad_tui.ui.messages import EngineEvent, ProgressTick
from tad_tui.ui.preview import show_path
from tad_tui.ui.queue_order import after_priority_change, move_marked
from tad_tui.ui.table import Cell, Column, RowTable
from tad_tui.words import counted

ACTIVE = ("queued", "waiting", "running", "paused")
FINISHED_STATE = {
    "downloaded": "completed",
    "skipped": "completed",
    "failed": "failed",
    "cancelled": "cancelled",
    "paused": "paused",
    "preempted": "queued",  # it gave its slot to a more urgent entry; its note says so
}
# The state filter (f), in the order it cycles; each shows the rows in these states.
FILTERS: dict[str | None, tuple[str, ...]] = {
    None: (),
    "running": ("running",),
    "queued": ("queued", "waiting"),
    "paused": ("paused",),
    "failed": ("failed",),
    "finished": ("completed", "cancelled"),
}
CONFIRM_CLEAR_AT = 10  # clearing this many finished entries or more asks first
MOVE_WORDS = {"up": "up", "down": "down", "top": "to the top", "bottom": "to the bottom"}
BAR_WIDTH = 10
COLUMNS = (
    Column("State", 10),  # "downloaded"
    Column("File", 0),
    Column("Progress", BAR_WIDTH + 5),
    Column("Speed", 11, "right"),
    Column("ETA", 7, "right"),
    Column("Priority", 8),
)


@dataclass(frozen=True)
class QueueLine:
    """A queue row as shown: the engine's row plus what only events tell (wait reason, speed)."""

    entry: QueueRow
    waiting: str | None = None
    bps: float = 0.0
    wait_until: float | None = None  # a timed wait (flood or premium wait) counts down once a second
    wait_kind: str | None = None
    wait_note: str | None = None  # the wait in a few words, for the row (``waiting`` is the sentence)

    @property
    def id(self) -> int:
        return self.entry.id

    @property
    def active(self) -> bool:
        return self.entry.state in ACTIVE

    @property
    def level(self) -> Priority:
        return Priority[self.entry.priority.upper()]


@dataclass(frozen=True)
class MarkedAction:
    """What a key does to the marked entries: the engine call, to which states, the row after."""

    done: str  # "Paused", for the toast
    states: tuple[str, ...]
    state: str
    nothing: str  # the warning when no marked entry is in one of ``states``
    changes: dict[str, object] = field(default_factory=dict)


MARKED_ACTIONS = {
    "pause": MarkedAction("Paused", ("queued", "waiting", "running"), "paused", "is queued or running: nothing to pause"),
    "resume": MarkedAction("Resumed", ("paused",), "queued", "is paused: nothing to resume"),
    "cancel": MarkedAction("Cancelled", ACTIVE, "cancelled", "is unfinished: nothing to cancel", {"downloaded_bytes": 0}),
    "retry": MarkedAction(
        "Retried", ("failed", "cancelled"), "queued", "failed or was cancelled: nothing to retry", {"error_message": None}
    ),
}
BATCH_DONE = {"pause": "Paused", "resume": "Resumed", "cancel": "Cancelled", "retry": "Retried"}


def entries(count: int) -> str:
    return counted(count, "entry")


def reason(entry: QueueRow) -> str | None:
    """Why the entry is as it is, beside its name: the error, or why a queued entry that had started
    waits again ("paused for a critical download")."""
    return entry.error_message or (entry.note if entry.state == "queued" else None)


def line_cells(line: QueueLine) -> Sequence[Cell]:
    entry = line.entry
    name = Text(figures.clean(entry.file))
    note = line.wait_note or line.waiting or reason(entry)
    # An entry that gave its slot to a more urgent one says so in its state, which leaves the
    # narrow name column at 80 columns to the name; the detail line below says it in full.
    yielded = note in YIELDED
    if yielded:
        note = None
    if note:  # first: the reason matters more than the end of a long name
        name = Text.assemble((figures.clean(note), "red" if entry.state == "failed" else "yellow"), " · ", name)
    done, size = entry.downloaded_bytes, entry.file_size
    progress = f"{figures.bar(done, size, BAR_WIDTH)} {figures.percent(done, size):>4}"
    running = entry.state == "running"
    return (
        figures.state("yielded" if yielded else entry.state),
        name,
        progress,
        figures.speed(line.bps) if running else "",
        figures.eta(size - done, line.bps) if running else "",
        entry.priority,
    )


# Footer groups: one label for a pair of keys, so the footer fits 80 columns.
MOVE = Binding.Group("Move")
PRIORITY = Binding.Group("Priority")


class QueuePane(Vertical):
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

    def __init__(self, engine: Engine, *, config_file: Path | None = None, id: str | None = None) -> None:
        super().__init__(id=id)
        self.engine = engine
        self.config_file = config_file  # where "save the limit" writes
        self.table = RowTable[QueueLine](
            COLUMNS, line_cells, lambda line: line.id, empty_text="Loading the queue…", markable=True, id="queue-list"
        )
        self._batches: dict[int, BatchProgress] = {}
        self._running_ids: set[int] = set()
        self._lock = asyncio.Lock()  # one queue operation at a time: each reads what the last wrote
        self._misplaced = False  # a finished row was queued again: only the engine knows its place
        self._filter: str | None = None
        self._hidden: Counter[str] = Counter()  # states of the rows the filter hides, as last read
        self._counts = ""  # the summary's first line, kept for repaints as the cursor moves
        self._reload_pending = False

    def compose(self) -> ComposeResult:
        yield Label("", id="queue-summary")
        yield self.table
        yield Label("", id="queue-detail")

    def on_mount(self) -> None:
        self.reload()
        self.set_interval(1.0, self.refresh_speeds)

    def focus_list(self) -> None:
        self.screen.set_focus(self.table)  # at once: a key typed right after F2 must land here

    # ---- loading ------------------------------------------------------------------------------

    @work(group="queue-load", exclusive=True, exit_on_error=False)
    async def reload(self) -> None:
        self.show_rows(await self.engine.queue_rows())

    def show_rows(self, rows: Sequence[QueueRow]) -> None:
        """Show the rows the filter lets through; marks on rows it hides are dropped (and said so)."""
        old = {line.id: line for line in self.table.rows}
        shown_states = FILTERS[self._filter]
        lines = []
        self._hidden = Counter()
        hidden_ids = set()
        for row in rows:
            if shown_states and row.state not in shown_states:
                self._hidden[row.state] += 1
                hidden_ids.add(row.id)
                continue
            before = old.get(row.id)
            keep = before is not None and row.state == before.entry.state
            lines.append(replace(before, entry=row) if keep and before else QueueLine(row))
        self._running_ids = {line.id for line in lines if line.entry.state == "running"}
        self._batches = _batches_from(rows) | {k: v for k, v in self._batches.items() if k in _batch_ids(rows)}
        self.table.empty_text = (
            f"No {self._filter} entry: f shows the others"
            if self._filter
            else "The queue is empty: open a group (F1), select tracks and press e"
        )
        marked, current = set(self.table.marked), self.table.current
        self.table.set_rows(lines)
        if current is not None and self.table.index_of(current.id) is None:
            self.table.go_to(0)  # its row is hidden: start from the top, not from a random row
        hidden_marks = len((marked - self.table.marked) & hidden_ids)
        if self._filter and hidden_marks:
            self.notify(f"Unmarked {entries(hidden_marks)} the filter hides: keys act only on rows you see")
        self._show_summary()

    def _show_summary(self) -> None:
        """The counts (over the whole queue, filtered or not), the filter and the highlighted batch."""
        states = Counter(line.entry.state for line in self.table.rows) + self._hidden
        order = ("running", "queued", "waiting", "paused", "completed", "failed", "cancelled")
        counts = ", ".join(f"{states[s]} {status_word(s)}" for s in order if states[s])
        limit = self.engine.bandwidth_limit
        text = entries(states.total()) + (f": {counts}" if counts else "")
        text += f" · limit {figures.format_size(limit)}/s" if limit else " · no limit"
        if self._filter:
            hidden = self._hidden.total()
            text += f"\nShowing {self._filter} only: {len(self.table.rows)} shown, {hidden} hidden (f: next filter)"
        self._counts = text
        self._show_header()

    def _show_header(self) -> None:
        """The summary with the batch of the entry under the cursor (the counts are kept from before)."""
        text = self._counts
        line = self.table.current
        batch = self._batches.get(line.entry.batch_id) if line is not None and line.entry.batch_id is not None else None
        if batch is not None:
            failed = f", {batch.failed} failed" if batch.failed else ""
            text += f"\nBatch {figures.clean(batch.name)}: {batch.done}/{batch.total} done{failed}"
        self.query_one("#queue-summary", Label).update(Content(text))  # names are not markup

    def on_row_table_highlighted(self, event: RowTable.Highlighted) -> None:
        self._show_detail(event.row)
        self._show_header()

    def _show_detail(self, line: QueueLine | None) -> None:
        marked = len(self.table.marked)
        text = f"{marked} marked · " if marked else ""
        if line is not None:
            e = line.entry
            size = f"{figures.format_size(e.downloaded_bytes)} of {figures.format_size(e.file_size)}"
            note = line.waiting or reason(e)
            # The reason first: at 80 columns the end of the line is cut.
            text += f"#{e.id} {figures.clean(note)} · " if note else f"#{e.id} "
            text += f"{figures.clean(e.file)} · {figures.clean(e.group)} · {size}"
        self.query_one("#queue-detail", Label).update(Content(text))  # "[FLAC] x" is a name, not markup

    # ---- live updates -------------------------------------------------------------------------

    def _line(self, entry_id: int) -> QueueLine | None:
        index = self.table.index_of(entry_id)
        return self.table.rows[index] if index is not None else None

    def _put(self, line: QueueLine) -> None:
        self.table.update_row(line)
        if self.table.current is not None and self.table.current.id == line.id:
            self._show_detail(line)

    def on_engine_event(self, message: EngineEvent) -> None:
        event = message.event
        if isinstance(event, BatchProgress):
            self._batches[event.batch_id] = event
            self._show_summary()
            return
        if isinstance(event, NewAudio):
            self._reload_soon()  # a followed group's new file was queued: read it in (once for a burst)
            return
        line = self._line(getattr(event, "entry_id", -1))
        if line is None:
            if self._filter and isinstance(event, (EntryStarted, EntryFinished)):
                self._reload_soon()  # a hidden entry changed state: the counts (maybe the rows) too
            elif isinstance(event, EntryStarted):
                self.reload()  # queued elsewhere (another pane, a previous session): read it in
            return
        entry = line.entry
        if isinstance(event, EntryStarted):
            self._running_ids.add(entry.id)
            self._put(replace(line, entry=replace(entry, state="running", error_message=None, note=None)))
        elif isinstance(event, EntryResumed):
            self._put(replace(line, entry=replace(entry, downloaded_bytes=event.downloaded_bytes)))
        elif isinstance(event, EntryWaiting):
            note = wait_words(event.kind, event.until - time.time(), short=True) if event.kind and event.until else None
            self._put(replace(line, waiting=event.reason, wait_until=event.until, wait_kind=event.kind, wait_note=note))
        elif isinstance(event, EntryFinished):
            self._running_ids.discard(entry.id)
            state = FINISHED_STATE.get(event.outcome, entry.state)
            done = entry.file_size if state == "completed" else entry.downloaded_bytes
            done = 0 if state == "cancelled" else done
            updated = replace(entry, state=state, downloaded_bytes=done, error_message=event.error_message, note=event.note)
            self._put(QueueLine(updated))
        self._show_summary()

    def on_progress_tick(self, message: ProgressTick) -> None:
        speeds = self._speeds()
        for entry_id, progress in message.latest.items():
            line = self._line(entry_id)
            if line is not None:
                entry = replace(line.entry, downloaded_bytes=progress.downloaded_bytes, file_size=progress.file_size)
                self._put(replace(line, entry=entry, bps=speeds.get(entry_id, line.bps)))

    def _reload_soon(self) -> None:
        """Read the queue again in a second: at most once a second however many entries change."""
        if not self._reload_pending:
            self._reload_pending = True

            def reload() -> None:
                self._reload_pending = False
                self.reload()

            self.set_timer(1.0, reload)

    def _speeds(self) -> dict[int, float]:
        monitor = self.engine.monitor
        if monitor is None or not monitor.samples:
            return {}
        limit = self.engine.bandwidth_limit  # as it is now: it may have changed since
        speeds = {int(k): v for k, v in monitor.samples[-1].per_download_bps.items()}
        return {k: min(v, limit) for k, v in speeds.items()} if limit else speeds

    def refresh_speeds(self) -> None:
        """Called once a second: speeds come from the monitor's latest sample; waits count down."""
        now = time.time()
        speeds = self._speeds()
        # Every entry the monitor measures, too: one that started while the rows were being read
        # in is shown running but was never added to _running_ids.
        for entry_id in self._running_ids | speeds.keys():
            line = self._line(entry_id)
            if line is None:
                continue
            updated = replace(line, bps=speeds.get(entry_id, 0.0))
            if line.wait_until is not None and line.waiting and line.wait_kind:
                left = line.wait_until - now
                updated = replace(
                    updated,
                    waiting=wait_words(line.wait_kind, left),
                    wait_note=wait_words(line.wait_kind, left, short=True),
                )
            if updated != line:
                self._put(updated)

    # ---- actions ------------------------------------------------------------------------------

    @work(group="queue-action", exit_on_error=False)
    async def _apply(self, operation: Callable[[], Awaitable[None]]) -> None:
        async with self._lock:
            try:
                await operation()
            except QueueError as error:
                self.notify(str(error), severity="error")
            if self._misplaced:
                # A retried entry sat among the finished ones; it runs at its old place in its
                # priority, so that is where the list shows it (the cursor stays on its row).
                self._misplaced = False
                self.show_rows(await self.engine.queue_rows())
            self._show_summary()

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

    def _set_state(self, entry_id: int, state: str, **changes: object) -> None:
        line = self._line(entry_id)
        if line is not None and line.entry.state != state:
            self._misplaced |= not line.active and state in ACTIVE
            changes = {"note": None} | changes  # the engine clears it on any change of state
            self._put(QueueLine(replace(line.entry, state=state, **changes)))  # type: ignore[arg-type]

    def action_toggle_pause(self) -> None:
        if self.table.marked:
            self._act_on_marked("toggle")
            return
        line = self.table.current
        if line is None:
            return

        async def toggle() -> None:
            if line.entry.state == "paused":
                await self.engine.resume(line.id)
                self._set_state(line.id, "queued")
            elif line.active:
                await self.engine.pause(line.id)
                self._set_state(line.id, "paused")
            else:
                self.notify(f"Entry {line.id} is {line.entry.state}: nothing to pause", severity="warning")

        self._apply(toggle)

    def action_cancel(self) -> None:
        if self.table.marked:
            self._act_on_marked("cancel")
            return
        line = self.table.current
        if line is None or not line.active:
            return

        async def cancel() -> None:
            await self.engine.cancel(line.id)
            self._set_state(line.id, "cancelled", downloaded_bytes=0)

        self._apply(cancel)

    def action_retry(self) -> None:
        if self.table.marked:
            self._act_on_marked("retry")
            return
        line = self.table.current
        if line is None:
            return
        if line.entry.state not in ("failed", "cancelled"):
            self.notify(f"Entry {line.id} is {line.entry.state}: only failed or cancelled entries retry")
            return

        async def retry() -> None:
            await self.engine.retry(line.id)
            self._set_state(line.id, "queued", error_message=None)

        self._apply(retry)

    def _act_on_marked(self, action: str) -> None:
        """Pause, resume ("toggle": pause if any can be, else resume), cancel or retry the marked entries."""
        ids = [line.id for line in self.table.marked_rows()]

        async def act() -> None:
            lines = [line for line in map(self._line, ids) if line is not None]  # as they are now
            name = action
            if action == "toggle":
                pausable = any(line.entry.state in MARKED_ACTIONS["pause"].states for line in lines)
                name = "pause" if pausable else "resume"
            rule = MARKED_ACTIONS[name]
            chosen = [line.id for line in lines if line.entry.state in rule.states]
            if not chosen:
                nothing = "is unfinished: nothing to pause or resume" if action == "toggle" else rule.nothing
                self.notify(f"None of the {entries(len(lines))} marked {nothing}", severity="warning")
                return
            with recorded(name, refused=(QueueError,), scope="marked", count=len(chosen)):
                bulk = {"pause": self.engine.pause_many, "resume": self.engine.resume_many}.get(name)
                if bulk is not None:  # one write for all of them
                    await bulk(chosen)
                else:
                    for entry_id in chosen:
                        await getattr(self.engine, name)(entry_id, audit=False)
                for entry_id in chosen:
                    self._set_state(entry_id, rule.state, **rule.changes)
            self.notify(f"{rule.done} {entries(len(chosen))}")

        self._apply(act)

    def action_pause_all(self) -> None:
        ids = [line.id for line in self.table.rows if line.entry.state in ("queued", "waiting", "running")]

        async def pause_all() -> None:
            with recorded("pause", refused=(QueueError,), scope="all", count=len(ids)):
                await self.engine.pause_many(ids)
            for entry_id in ids:
                self._set_state(entry_id, "paused")
            self.notify(f"Paused {entries(len(ids))}")

        self._apply(pause_all)

    def action_resume_all(self) -> None:
        ids = [line.id for line in self.table.rows if line.entry.state == "paused"]

        async def resume_all() -> None:
            with recorded("resume", refused=(QueueError,), scope="all", count=len(ids)):
                await self.engine.resume_many(ids)
            for entry_id in ids:
                self._set_state(entry_id, "queued")
            self.notify(f"Resumed {entries(len(ids))}")

        self._apply(resume_all)

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

    def action_batch(self) -> None:
        """Ask what to do to the batch of the entry under the cursor, then do it to each of its entries."""
        line = self.table.current
        if line is None:
            return
        batch_id = line.entry.batch_id
        if batch_id is None:
            self.notify(f"Entry {line.id} was queued on its own: it is in no batch", severity="warning")
            return
        progress = self._batches.get(batch_id)
        name = figures.clean(progress.name if progress else line.entry.group)
        title = f"Batch {name}" + (f" · {entries(progress.total)}" if progress else "")

        def chosen(action: str | None) -> None:
            if action is not None:
                self._apply(partial(self._on_batch, batch_id, action))

        self.app.push_screen(BatchDialog(title), chosen)

    async def _on_batch(self, batch_id: int, action: str) -> None:
        before = {line.id: line.entry.state for line in self.table.rows if line.entry.batch_id == batch_id}
        total = await self.engine.on_batch(batch_id, action)
        # The engine's own rules decide which entries change: show what it wrote.
        states = await self.engine.batch_states(batch_id)
        changed = 0
        for entry_id, value in states:
            changed += before.get(entry_id, value) != value
            changes: dict[str, object] = {"error_message": None} if value == "queued" else {}
            if value == "cancelled":
                changes["downloaded_bytes"] = 0
            self._set_state(entry_id, value, **changes)
        known = self._batches.get(batch_id)  # its name as the engine told it
        if known is not None:  # counted from the store: with a filter, some of its rows are hidden
            values = [value for _, value in states]
            done = sum(value in ("completed", "failed", "cancelled") for value in values)
            self._batches[batch_id] = replace(known, done=done, total=len(values), failed=values.count("failed"))
        self.notify(f"{BATCH_DONE[action]} {changed} of the {entries(total)} of the batch")

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


def _batch_ids(rows: Sequence[QueueRow]) -> set[int]:
    return {row.batch_id for row in rows if row.batch_id is not None}


def _batches_from(rows: Sequence[QueueRow]) -> dict[int, BatchProgress]:
    """Each batch's progress as the loaded rows tell it (events refine it later)."""
    totals: Counter[int] = Counter()
    done: Counter[int] = Counter()
    failed: Counter[int] = Counter()
    names: dict[int, str] = {}
    for row in rows:
        if row.batch_id is None:
            continue
        totals[row.batch_id] += 1
        names.setdefault(row.batch_id, row.group)
        if row.state in ("completed", "failed", "cancelled"):
            done[row.batch_id] += 1
        if row.state == "failed":
            failed[row.batch_id] += 1
    return {b: BatchProgress(b, names[b], done[b], totals[b], failed[b]) for b in sorted(totals)}
