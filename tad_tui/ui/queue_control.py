"""The Queue pane's keys that pause, resume, cancel and retry: the entry under the cursor, the
marked entries, every entry, or the batch of the entry under the cursor."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import partial

from tad_tui.api import QueueError
from tad_tui.audit import recorded
from tad_tui.ui import figures
from tad_tui.ui.dialogs import BatchDialog
from tad_tui.ui.queue_lines import ACTIVE, entries
from tad_tui.ui.queue_view import QueueView


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


class QueueControl(QueueView):
    """Pausing, resuming, cancelling and retrying entries (bound in QueuePane)."""

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
