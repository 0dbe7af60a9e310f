"""The scheduler's run loop: start entries as slots free up, run them, and tell how each ended.

How many files run at once is concurrency.py's: ``max_concurrent`` multi-part files and, with
``adaptive``, an adaptive number of single-part ones. The Scheduler's other parts sit beside this
module: order.py (which entry comes next), preemption.py (urgent entries take slots), actions.py
(what users do to the queue) and batches.py (each batch's count).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable

from tad_tui import failpoints
from tad_tui.download.concurrency import ADAPTIVE_OFF, Concurrency, SinglePartSlots
from tad_tui.download.events import EntryFinished, Notice, QueueIdle, StatesChanged
from tad_tui.download.job import Job, JobContext
from tad_tui.download.scheduler.actions import QueueActions
from tad_tui.download.scheduler.batches import BatchCounts
from tad_tui.download.scheduler.entries import ACTIVE, RUNNABLE, discard_partial
from tad_tui.download.scheduler.order import ANY, MULTI, SINGLE, QueueOrder
from tad_tui.download.scheduler.preemption import Preemption
from tad_tui.store.db import DATABASE_BUSY, database_busy
from tad_tui.store.models import AudioFile, FileStatus, Priority, QueueEntry, QueueState

log = logging.getLogger(__name__)

DATABASE_RETRY_SECONDS = 1.0  # between tries while another program holds the database's write lock
OUTCOME_STATES = {
    "downloaded": QueueState.COMPLETED,
    "skipped": QueueState.COMPLETED,
    "failed": QueueState.FAILED,
    "cancelled": QueueState.CANCELLED,
    "paused": QueueState.PAUSED,
    "preempted": QueueState.QUEUED,  # gave its slot to a more urgent entry: queued again, first of its level
}


class Scheduler(QueueActions, Preemption, QueueOrder):
    def __init__(self, context: JobContext, max_concurrent: int) -> None:
        self.context = context
        self.max_concurrent = max_concurrent
        self.outcomes: Counter[str] = Counter()
        # The order (order.py): the queue's heap, and with ``adaptive`` the entries set aside by kind.
        self._heap: list[tuple[int, int, int]] = []
        self._keys: dict[int, tuple[int, int]] = {}  # entry id -> its live heap key
        self._kind: dict[int, str] = {}  # entry id -> SINGLE or MULTI, once its size was looked at
        self._set_aside: dict[str, list[tuple[int, int, int]]] = {SINGLE: [], MULTI: []}  # heaps by kind
        self._waiting_on: dict[int, set[int]] = {}  # dependency id -> dependents parked on it
        self._running: dict[int, asyncio.Task[None]] = {}
        self._stop_reason: dict[int, QueueState] = {}  # QUEUED: it gives its slot to a more urgent entry
        self._stopping: set[int] = set()  # running entries told to stop: their slots are about to free
        self._yielded_to: dict[int, Priority] = {}  # running entry -> the priority it gives its slot to
        self._changed = asyncio.Event()
        self.batches = BatchCounts(context.events)
        self._busy = False  # something ran since the queue was last empty
        self._spell: Counter[str] = Counter()  # outcomes since the queue was last empty (for QueueIdle)
        self._waiting_for_database = False
        # Why no new entry may start now (the memory limit), or None; see monitor.py.
        self.admission: Callable[[], str | None] = lambda: None
        downloads = context.settings.downloads
        self.adaptive = downloads.adaptive  # False: max_concurrent files of any size, one kind of slot
        self.single_part = SinglePartSlots(max_concurrent, chunk_size=downloads.chunk_size)
        self.single_part.running = lambda: self._running_of(SINGLE)
        self.single_part.trouble = lambda: context.health.trouble_until  # changed by each new trouble (calm leaves it)
        self.single_part.paced_at = lambda: context.client.pace.lowered_at
        context.events.subscribe(self.single_part.on_event)

    # ---- start-up -----------------------------------------------------------------------------

    async def load(self) -> None:
        """Put back what a crash or kill left running, then queue every runnable entry."""
        await QueueEntry.filter(state=QueueState.RUNNING).update(state=QueueState.QUEUED)
        await AudioFile.filter(status=FileStatus.DOWNLOADING).update(status=FileStatus.PENDING)
        rows = await QueueEntry.filter(state__in=RUNNABLE).values_list("id", "priority", "rank")
        for entry_id, priority, rank in rows:
            self._offer(entry_id, int(priority), rank)

    # ---- running ------------------------------------------------------------------------------

    @property
    def running(self) -> list[int]:
        return list(self._running)

    def limit(self) -> int:
        """Multi-part files at once (files of any size, with ``adaptive`` off)."""
        return self.context.health.scale(self.max_concurrent)

    def concurrency(self) -> Concurrency:
        """The files allowed to run now, of each kind, and why."""
        held = "memory limit: no new files start" if self.admission() is not None else None
        if not self.adaptive:
            return Concurrency(self.limit(), self.limit(), held or ADAPTIVE_OFF, adaptive=False)
        single = self.single_part.update()
        return Concurrency(self.limit(), single, held or self.single_part.reason)

    def _running_of(self, kind: str) -> int:
        return sum(1 for entry_id in self._running if self._kind.get(entry_id, MULTI) == kind)

    def _free_slots(self) -> set[str]:
        """The kinds of slot free now (ANY: adaptive off, one kind for all files)."""
        if not self.adaptive:
            self._unset_aside()
            return {ANY} if len(self._running) < self.limit() and self.admission() is None else set()
        if self.admission() is not None:
            return set()
        free = set()
        if self._running_of(MULTI) < self.limit():
            free.add(MULTI)
        if self._running_of(SINGLE) < self.single_part.update():
            free.add(SINGLE)
        return free

    def idle(self) -> bool:
        return not self._running and not self._keys

    def nudge(self) -> None:
        """Look again at what may start (after the memory limit lifts, say)."""
        self._changed.set()

    async def run(self, *, until_idle: bool) -> Counter[str]:
        """Start entries as slots free up; return when idle (``until_idle``) or when cancelled.

        Returns what this run did: counts of "downloaded", "skipped", "failed"…
        """
        self.outcomes = Counter()
        try:
            while True:
                self._changed.clear()
                while free := self._free_slots():
                    entry = await (self._next() if ANY in free else self._next_of(free))
                    if entry is None:
                        break
                    self._busy = True
                    self._tell({entry.audio_id: QueueState.RUNNING})
                    self._running[entry.pk] = asyncio.create_task(self._run_entry(entry))
                # Priorities that act: an urgent entry does not wait for a slot to free by itself.
                await self._make_room()
                if self._busy and self.idle() and await self._emptied():
                    self._busy = False
                    self.context.events.publish(QueueIdle(self._spell["downloaded"], self._spell["failed"]))
                    self._spell.clear()
                if until_idle and self.idle():
                    return self.outcomes
                await self._changed.wait()
        finally:
            await self.stop()

    async def _emptied(self) -> bool:
        """Nothing is left in the queue: no entry queued, waiting, running or paused.

        Idle is not empty: pausing everything (or a dependent parked on a paused entry) leaves work
        to do, so "Queue empty" waits until that work finishes, fails or is cancelled. ``_busy``
        stays set meanwhile, so the queue becoming empty later is still told, once.
        """
        return not await QueueEntry.filter(state__in=ACTIVE).exists()

    def _count(self, outcome: str) -> None:
        self.outcomes[outcome] += 1
        self._spell[outcome] += 1

    async def stop(self) -> None:
        """Stop every transfer; their state is saved and they resume on the next start."""
        failpoints.hit("scheduler.stopping")
        tasks = list(self._running.values())
        for entry_id, task in self._running.items():
            if entry_id not in self._stopping:  # those are saving how they stopped: let them finish
                task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _run_entry(self, entry: QueueEntry) -> None:
        try:
            busy = False
            while True:
                try:
                    if busy:
                        await asyncio.sleep(DATABASE_RETRY_SECONDS)
                        # What the database says, not what the failed try left in memory (a rolled
                        # back "completed", say): the job then checks the disk against it.
                        entry = await QueueEntry.get(id=entry.pk).prefetch_related("audio", "depends_on")
                    outcome = await Job(self.context, entry).run()
                except asyncio.CancelledError:
                    outcome = await self._stopped(entry)
                    if outcome == "shutdown":
                        raise
                except Exception as error:  # a bug must fail one entry, not the whole queue
                    if database_busy(error):
                        # Another program holds the library's write lock: it cannot even be told that
                        # the entry failed. Wait and start the entry again; its .part file is checked
                        # on resume, so nothing written so far is lost or trusted blindly.
                        busy = True
                        self._database_wait(True)
                        continue
                    log.exception("download of queue entry %s failed unexpectedly", entry.pk)
                    await self._fail_unstarted(entry, f"unexpected error: {error!r}")
                    return
                break
            self._database_wait(False)
            self._count(outcome)
            if outcome in OUTCOME_STATES:
                self._tell({entry.audio_id: OUTCOME_STATES[outcome]})
            await self._release_dependents(entry.pk)
            if entry.batch_id is not None:
                await self.batches.publish(entry.batch_id)
        finally:
            # Only now: the run loop may return as soon as nothing is running.
            self._running.pop(entry.pk, None)
            self._stopping.discard(entry.pk)
            self._changed.set()

    def _tell(self, states: dict[int, QueueState]) -> None:
        """Publish the entries' new states (by audio file id) for the panes that list files."""
        if states:
            self.context.events.publish(StatesChanged({audio: state.value for audio, state in states.items()}))

    def _database_wait(self, waiting: bool) -> None:
        """Say once when downloads start waiting for the locked database, and once when they go on."""
        if waiting != self._waiting_for_database:
            self._waiting_for_database = waiting
            done = "the library database is free again: downloads go on"
            self.context.events.publish(Notice(f"{DATABASE_BUSY}: downloads wait until it is free" if waiting else done))

    async def _stopped(self, entry: QueueEntry) -> str:
        """A running entry was cancelled: by pause/cancel (state given) or by shutdown (resumable)."""
        state = self._stop_reason.pop(entry.pk, None)
        taker = self._yielded_to.pop(entry.pk, None)
        if state is None:
            return "shutdown"
        if state == QueueState.QUEUED and taker is not None:
            return await self._yielded(entry, taker)
        entry.state = state
        await entry.save(update_fields=["state", "updated_at"])
        audio = entry.audio
        audio.status = FileStatus.PENDING
        await audio.save(update_fields=["status"])
        if state == QueueState.CANCELLED:
            await discard_partial(audio)
        outcome = "cancelled" if state == QueueState.CANCELLED else "paused"
        self.context.events.publish(EntryFinished(entry.pk, audio.file_id, outcome, file_size=audio.file_size))
        return outcome

    def _tell_to_stop(self, entry_id: int, state: QueueState) -> None:
        """Stop a running entry, to end in ``state``; once only (a second cancel would cut short
        the writes that record how it stopped: a later reason replaces the first, if still unread)."""
        self._stop_reason[entry_id] = state
        if entry_id not in self._stopping:
            self._stopping.add(entry_id)
            self._running[entry_id].cancel()

    async def _fail_unstarted(self, entry: QueueEntry, message: str) -> None:
        entry.state = QueueState.FAILED
        entry.error_message = message
        await entry.save(update_fields=["state", "error_message", "updated_at"])
        await AudioFile.filter(id=entry.audio_id).update(status=FileStatus.FAILED, error_message=message)
        self._count("failed")
        self._tell({entry.audio_id: QueueState.FAILED})
        self.context.events.publish(
            EntryFinished(entry.pk, entry.audio.file_id, "failed", error_message=message, file_size=entry.audio.file_size)
        )
        await self._release_dependents(entry.pk)
        if entry.batch_id is not None:
            await self.batches.publish(entry.batch_id)

    # ---- dependencies ---------------------------------------------------------------------------

    async def _startable(self, entry_id: int) -> QueueEntry | None:
        """The entry read afresh if it may start now (still queued, its dependency done), else None."""
        entry = await QueueEntry.get_or_none(id=entry_id).prefetch_related("audio", "depends_on")
        if entry is None or entry.state not in RUNNABLE:
            return None
        return entry if await self._ready(entry) else None

    async def _ready(self, entry: QueueEntry) -> bool:
        """True if the entry can start now; parks it or fails it because of its dependency."""
        dependency = entry.depends_on
        if dependency is None or dependency.state == QueueState.COMPLETED:
            return True
        if dependency.state in (QueueState.FAILED, QueueState.CANCELLED):
            await self._fail_unstarted(entry, f"depends on queue entry {dependency.pk}, which {dependency.state.value}")
            return False
        if entry.state != QueueState.WAITING:
            entry.state = QueueState.WAITING
            await entry.save(update_fields=["state", "updated_at"])
            self._tell({entry.audio_id: QueueState.WAITING})
        self._waiting_on.setdefault(dependency.pk, set()).add(entry.pk)
        return False

    async def _release_dependents(self, entry_id: int) -> None:
        for dependent in self._waiting_on.pop(entry_id, set()):
            row = await QueueEntry.get_or_none(id=dependent)
            if row is not None and row.state in RUNNABLE:
                self._offer(row.pk, int(row.priority), row.rank)

    def forget_batch_counts(self) -> None:
        """Entries left the queue (cleared): a batch's count may go down, and must still be told."""
        self.batches.forget()
