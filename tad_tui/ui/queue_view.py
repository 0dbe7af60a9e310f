"""What the Queue pane shows: its list, the summary above it and the detail line below, read from
the engine once and then kept in step in place with its events; and the runner that the keys'
queue operations go through, one at a time."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from pathlib import Path

from textual import work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Label

from tad_tui.api import (
    BatchProgress,
    EntryFinished,
    EntryResumed,
    EntryStarted,
    EntryWaiting,
    NewAudio,
    QueueError,
    QueueRow,
    status_word,
    wait_words,
)
from tad_tui.engine import Engine
from tad_tui.ui import figures
from tad_tui.ui.messages import EngineEvent, ProgressTick
from tad_tui.ui.queue_lines import (
    ACTIVE,
    BAR_WIDTH,
    FILTERS,
    FINISHED_STATE,
    QueueLine,
    batch_ids,
    batches_from,
    entries,
    line_cells,
    reason,
)
from tad_tui.ui.table import Column, RowTable

COLUMNS = (
    Column("State", 10),  # "downloaded"
    Column("File", 0),
    Column("Progress", BAR_WIDTH + 5),
    Column("Speed", 11, "right"),
    Column("ETA", 7, "right"),
    Column("Priority", 8),
)


class QueueView(Vertical):
    """The Queue pane without its keys (tad_tui/ui/queue.py, queue_moves.py, queue_control.py)."""

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
        self._batches = batches_from(rows) | {k: v for k, v in self._batches.items() if k in batch_ids(rows)}
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

    # ---- operations ---------------------------------------------------------------------------

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

    def _set_state(self, entry_id: int, state: str, **changes: object) -> None:
        line = self._line(entry_id)
        if line is not None and line.entry.state != state:
            self._misplaced |= not line.active and state in ACTIVE
            changes = {"note": None} | changes  # the engine clears it on any change of state
            self._put(QueueLine(replace(line.entry, state=state, **changes)))  # type: ignore[arg-type]
