"""A Queue pane row as shown (QueueLine), the states rows are in, the cells a row reads as, and
each batch's progress as the rows tell it. No Textual here: the pane is tad_tui/ui/queue.py."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.text import Text

from tad_tui.api import YIELDED, BatchProgress, Priority, QueueRow
from tad_tui.ui import figures
from tad_tui.words import counted

if TYPE_CHECKING:
    from tad_tui.ui.table import Cell  # the table is a widget: only its cell type is wanted here

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
BAR_WIDTH = 10


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


def batch_ids(rows: Sequence[QueueRow]) -> set[int]:
    return {row.batch_id for row in rows if row.batch_id is not None}


def batches_from(rows: Sequence[QueueRow]) -> dict[int, BatchProgress]:
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
