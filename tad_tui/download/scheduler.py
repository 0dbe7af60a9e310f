"""The download queue: priorities, order, batches, dependencies, and how many files at once.

The store is the truth (the queue survives restarts, in order); in memory a heap keyed by
(priority, rank) picks the next entry without scanning the queue. A changed entry is pushed again
with its new key and stale heap items are skipped when popped.

How many files run at once is concurrency.py's: ``max_concurrent`` multi-part files and, with
``adaptive``, an adaptive number of single-part ones. An entry whose kind has no free slot is set
aside, in order, in a heap of its kind, so the entries of the other kind behind it can start.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import os
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tortoise.functions import Count

from tad_tui.store.transactions import transaction

from tad_tui import failpoints
from tad_tui.audit import enabled as audit_enabled
from tad_tui.audit import id_list, record, recorded
from tad_tui.download.concurrency import ADAPTIVE_OFF, Concurrency, SinglePartSlots, is_single_part
from tad_tui.download.events import BatchProgress, EntryFinished, Notice, QueueIdle, StatesChanged
from tad_tui.download.job import PART_SUFFIX, Job, JobContext
from tad_tui.download.limits import weight_of
from tad_tui.store.db import DATABASE_BUSY, database_busy
from tad_tui.store.models import AudioFile, DownloadBatch, FileStatus, Priority, QueueEntry, QueueState
from tad_tui.store.ranks import RANK_GAP, move_entry, next_rank
from tad_tui.words import counted

log = logging.getLogger(__name__)

ACTIVE = (QueueState.QUEUED, QueueState.WAITING, QueueState.RUNNING, QueueState.PAUSED)
RUNNABLE = (QueueState.QUEUED, QueueState.WAITING)
PAUSABLE = (QueueState.QUEUED, QueueState.WAITING, QueueState.RUNNING)
MOVES = ("up", "down", "top", "bottom")
SINGLE, MULTI, ANY = "single-part", "multi-part", "any"  # kinds of slot
DATABASE_RETRY_SECONDS = 1.0  # between tries while another program holds the database's write lock
KIND_LOOKAHEAD = 400  # queued entries whose sizes are looked up at once (under SQLite's variable limit)
MAX_GROUPS_NAMED = 10  # an enqueue's audit line names at most this many groups
OUTCOME_STATES = {
    "downloaded": QueueState.COMPLETED,
    "skipped": QueueState.COMPLETED,
    "failed": QueueState.FAILED,
    "cancelled": QueueState.CANCELLED,
    "paused": QueueState.PAUSED,
    "preempted": QueueState.QUEUED,  # gave its slot to a more urgent entry: queued again, first of its level
}
# Why an entry that had started is queued again, by the priority of the entry that took its slot.
YIELDED_NOTES = {
    Priority.CRITICAL: "paused for a critical download",
    Priority.HIGH: "paused for a high-priority download",
}
YIELDED = frozenset(YIELDED_NOTES.values())


class QueueError(Exception):
    """A queue operation that cannot be done (unknown entry, bad move); the message says why."""


@dataclass(frozen=True)
class Enqueued:
    batch_id: int | None
    entry_ids: list[int]
    already_queued: int
    retried: int = 0  # of the already queued, those that had failed and are queued again


@dataclass(frozen=True)
class PriorityChange:
    """Where set_priority put an entry: right after ``after`` among the unfinished (or the finished)
    entries of its new priority, or first among them (None)."""

    entry_id: int
    priority: Priority
    after: int | None


class Scheduler:
    def __init__(self, context: JobContext, max_concurrent: int) -> None:
        self.context = context
        self.max_concurrent = max_concurrent
        self.outcomes: Counter[str] = Counter()
        self._heap: list[tuple[int, int, int]] = []
        self._keys: dict[int, tuple[int, int]] = {}  # entry id -> its live heap key
        self._waiting_on: dict[int, set[int]] = {}  # dependency id -> dependents parked on it
        self._running: dict[int, asyncio.Task[None]] = {}
        self._stop_reason: dict[int, QueueState] = {}  # QUEUED: it gives its slot to a more urgent entry
        self._stopping: set[int] = set()  # running entries told to stop: their slots are about to free
        self._yielded_to: dict[int, Priority] = {}  # running entry -> the priority it gives its slot to
        self._changed = asyncio.Event()
        self._batch_shown: dict[int, tuple[int, int, int]] = {}  # batch id -> (done, total, failed) last published
        self._batch_names: dict[int, str] = {}
        self._batch_lock = asyncio.Lock()  # one count at a time, so they are published in the order taken
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
        self._kind: dict[int, str] = {}  # entry id -> SINGLE or MULTI, once its size was looked at
        self._set_aside: dict[str, list[tuple[int, int, int]]] = {SINGLE: [], MULTI: []}  # heaps by kind

    # ---- start-up -----------------------------------------------------------------------------

    async def load(self) -> None:
        """Put back what a crash or kill left running, then queue every runnable entry."""
        await QueueEntry.filter(state=QueueState.RUNNING).update(state=QueueState.QUEUED)
        await AudioFile.filter(status=FileStatus.DOWNLOADING).update(status=FileStatus.PENDING)
        rows = await QueueEntry.filter(state__in=RUNNABLE).values_list("id", "priority", "rank")
        for entry_id, priority, rank in rows:
            self._offer(entry_id, int(priority), rank)

    def _offer(self, entry_id: int, priority: int, rank: int) -> None:
        key = (-priority, rank)
        self._keys[entry_id] = key
        kind = self._kind.get(entry_id) if self.adaptive else None
        heapq.heappush(self._heap if kind is None else self._set_aside[kind], (*key, entry_id))
        self._changed.set()

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

    async def _next(self) -> QueueEntry | None:
        while self._heap:
            priority, rank, entry_id = heapq.heappop(self._heap)
            if self._keys.get(entry_id) != (priority, rank):
                continue  # stale: the entry moved, changed priority or left the queue
            del self._keys[entry_id]
            if (entry := await self._startable(entry_id)) is not None:
                return entry
        return None

    async def _next_of(self, free: set[str]) -> QueueEntry | None:
        """The first entry, in queue order, of a kind with a free slot.

        An entry of a kind whose slots are all taken is set aside in its kind's heap, keeping its
        key and so its place: it starts before any later entry of its kind, and does not hold up
        the entries of the other kind behind it. Each entry's size is looked at once.
        """
        while (heap := self._first_heap(free)) is not None:
            priority, rank, entry_id = heapq.heappop(heap)
            if entry_id not in self._kind:
                await self._learn_kinds(entry_id)
                if self._keys.get(entry_id) != (priority, rank):
                    continue  # it moved meanwhile: its new key is in a heap
            kind = self._kind.get(entry_id)
            if kind is None:  # the entry is gone
                self._keys.pop(entry_id, None)
                continue
            if kind not in free:
                heapq.heappush(self._set_aside[kind], (priority, rank, entry_id))
                continue
            del self._keys[entry_id]
            if (entry := await self._startable(entry_id)) is not None:
                return entry
        return None

    async def _startable(self, entry_id: int) -> QueueEntry | None:
        """The entry read afresh if it may start now (still queued, its dependency done), else None."""
        entry = await QueueEntry.get_or_none(id=entry_id).prefetch_related("audio", "depends_on")
        if entry is None or entry.state not in RUNNABLE:
            return None
        return entry if await self._ready(entry) else None

    async def _learn_kinds(self, entry_id: int) -> None:
        """Look up the sizes of this entry and of the next ones queued, in one query.

        An entry set aside is read again when it starts: reading each one whole only for its size
        read a thousand small files twice.
        """
        unknown = [entry_id, *(e for _, _, e in self._heap[:KIND_LOOKAHEAD] if e not in self._kind and e != entry_id)]
        chunk_size = self.context.settings.downloads.chunk_size
        for found, size in await QueueEntry.filter(id__in=unknown).values_list("id", "audio__file_size"):
            self._kind[found] = SINGLE if is_single_part(size, chunk_size) else MULTI

    def _first_heap(self, free: set[str]) -> list[tuple[int, int, int]] | None:
        """Of the queue and the free kinds' set-aside heaps, the one whose first live entry comes first."""
        best: list[tuple[int, int, int]] | None = None
        for heap in (self._heap, *(self._set_aside[kind] for kind in free)):
            while heap and self._keys.get(heap[0][2]) != heap[0][:2]:
                heapq.heappop(heap)  # stale: the entry moved, changed priority or left the queue
            if heap and (best is None or heap[0] < best[0]):
                best = heap
        return best

    def _unset_aside(self) -> None:
        """Adaptive turned off: the entries set aside go back to the one queue."""
        for heap in self._set_aside.values():
            while heap:
                heapq.heappush(self._heap, heapq.heappop(heap))

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
                await self._publish_batch(entry.batch_id)
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
            await _discard_partial(audio)
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

    # ---- priorities that act (preemption) ---------------------------------------------------------

    async def _make_room(self) -> None:
        """Give a slot to each ready urgent entry that finds none free, taking it from the least
        urgent running entry it may take one from (``may_take``; of equals, the one started last).

        That entry stops as at a shutdown (its transfer saves which parts are on disk) and is queued
        again first of its priority, with a note saying why. Slots of entries already stopping count
        as free, so no more entries stop than the urgent ones need.
        """
        if not self._running or self._head_priority() < Priority.HIGH:
            return
        if self.admission() is not None:
            return  # while the memory limit holds, nothing new starts: stopping one would gain nothing
        # With adaptive on, single-part files have slots of their own and never wait long for one:
        # only multi-part slots (max_concurrent) are taken, from multi-part entries.
        stopping = sum(1 for entry_id in self._stopping & self._running.keys() if self._takes_a_slot(entry_id))
        spare = self.limit() - (sum(1 for entry_id in self._running if self._takes_a_slot(entry_id)) - stopping)
        holders = await self._slot_holders()
        urgent = await self._urgent(most=max(spare, 0) + len(holders))
        for priority in urgent:
            if spare > 0:
                spare -= 1
                continue
            takeable = [holder for holder in holders if may_take(priority, holder[1])]
            if len(takeable) < 1 - spare:
                return  # the less urgent ones after it could take even less
            for holder in takeable[: 1 - spare]:
                holders.remove(holder)
                self._yielded_to[holder[0]] = priority
                self._tell_to_stop(holder[0], QueueState.QUEUED)
                log.info("queue entry %s gives its slot to a %s entry", holder[0], priority.name.lower())
            spare = 0

    def _takes_a_slot(self, entry_id: int) -> bool:
        """Whether the entry holds (or needs) one of the ``max_concurrent`` slots preemption is about."""
        return not self.adaptive or self._kind.get(entry_id, MULTI) == MULTI

    def _waiting_heaps(self) -> list[list[tuple[int, int, int]]]:
        """Where entries that may need a slot wait: the queue, and (adaptive) the multi-part ones set aside."""
        return [self._heap, self._set_aside[MULTI]] if self.adaptive else [self._heap]

    def _best_waiting(self) -> list[tuple[int, int, int]] | None:
        """Of the waiting heaps, the one whose first live entry comes first (stale items dropped)."""
        best = None
        for heap in self._waiting_heaps():
            while heap and self._keys.get(heap[0][2]) != heap[0][:2]:
                heapq.heappop(heap)
            if heap and (best is None or heap[0] < best[0]):
                best = heap
        return best

    def _head_priority(self) -> int:
        """The priority of the first entry waiting for a slot; -1 if none."""
        heap = self._best_waiting()
        return -heap[0][0] if heap else -1

    async def _slot_holders(self) -> list[tuple[int, Priority]]:
        """Running entries not told to stop, least urgent first: lowest priority, then started last."""
        ids = [e for e in self._running if e not in self._stopping and self._takes_a_slot(e)]
        priorities = dict(await QueueEntry.filter(id__in=ids).values_list("id", "priority"))
        started = {entry_id: order for order, entry_id in enumerate(ids)}  # dicts keep insertion order
        holders = [(entry_id, Priority(priorities[entry_id])) for entry_id in ids if entry_id in priorities]
        return sorted(holders, key=lambda holder: (holder[1], -started[holder[0]]))

    async def _urgent(self, most: int) -> list[Priority]:
        """The priorities of up to ``most`` ready entries at the head of the queue that may take a
        running entry's slot (high or critical), best first. They stay in the queue; one whose
        dependency is not done is parked (or failed) as ``_next`` would."""
        found: list[Priority] = []
        looked: list[tuple[list[tuple[int, int, int]], tuple[int, int, int]]] = []
        try:
            while len(found) < most and (heap := self._best_waiting()) is not None:
                item = heap[0]
                key, entry_id = item[:2], item[2]
                if Priority(-key[0]) < Priority.HIGH:
                    break
                looked.append((heap, heapq.heappop(heap)))
                entry = await QueueEntry.get_or_none(id=entry_id).prefetch_related("audio", "depends_on")
                if self._keys.get(entry_id) != key:
                    continue  # moved or paused while it was read
                if entry is None or entry.state not in RUNNABLE or not await self._ready(entry):
                    self._keys.pop(entry_id, None)
                    continue
                if self.adaptive and entry_id not in self._kind:
                    chunk_size = self.context.settings.downloads.chunk_size
                    self._kind[entry_id] = SINGLE if is_single_part(entry.audio.file_size, chunk_size) else MULTI
                if not self._takes_a_slot(entry_id):
                    continue  # a single-part file: it has slots of its own
                found.append(Priority(-key[0]))
        finally:
            for heap, item in looked:
                heapq.heappush(heap, item)  # a stale one is skipped later as usual
        return found

    async def _yielded(self, entry: QueueEntry, taker: Priority) -> str:
        """A running entry stopped to give its slot to a ``taker`` entry: it is queued again (not
        paused), first of its priority, saying why. Its parts stay on disk and are not fetched again."""
        note = YIELDED_NOTES[taker]
        await entry.refresh_from_db(fields=["priority", "rank"])  # lowered while it ran, maybe
        first = await (
            QueueEntry.filter(priority=entry.priority, state__in=ACTIVE).exclude(id=entry.pk).order_by("rank").first()
        )
        async with transaction():
            entry.state = QueueState.QUEUED
            entry.note = note
            await entry.save(update_fields=["state", "note", "updated_at"])
            if first is not None and first.rank < entry.rank:
                await move_entry(entry, entry.priority, None, first)
            await AudioFile.filter(id=entry.audio_id).update(status=FileStatus.PENDING)
        self._offer(entry.pk, int(entry.priority), entry.rank)
        audio = entry.audio
        self.context.events.publish(EntryFinished(entry.pk, audio.file_id, "preempted", file_size=audio.file_size, note=note))
        return "preempted"

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
            await self._publish_batch(entry.batch_id)

    async def _release_dependents(self, entry_id: int) -> None:
        for dependent in self._waiting_on.pop(entry_id, set()):
            row = await QueueEntry.get_or_none(id=dependent)
            if row is not None and row.state in RUNNABLE:
                self._offer(row.pk, int(row.priority), row.rank)

    async def _publish_batch(self, batch_id: int) -> None:
        """Publish the batch's count if it changed since the last one published.

        Entries finishing together each count the batch after both were written: both counts say
        "44 of 44", and publishing both told "Batch complete" twice. Counts are taken one at a time
        (the lock keeps them in order) and a count equal to the last one published is not repeated.
        """
        async with self._batch_lock:
            name = self._batch_names.get(batch_id)
            if name is None:
                batch = await DownloadBatch.get_or_none(id=batch_id)
                if batch is None:
                    return
                name = self._batch_names[batch_id] = batch.name  # a batch's name never changes
            counted_states = QueueEntry.filter(batch_id=batch_id).annotate(n=Count("id")).group_by("state")
            states = Counter(dict(await counted_states.values_list("state", "n")))  # counted by SQLite, not here
            if not states:
                return  # the batch left the queue
            finished = sum(states[s] for s in (QueueState.COMPLETED, QueueState.FAILED, QueueState.CANCELLED))
            count = (finished, sum(states.values()), states[QueueState.FAILED])
            if self._batch_shown.get(batch_id) == count:
                return
            self._batch_shown[batch_id] = count
            self.context.events.publish(BatchProgress(batch_id, name, *count))

    async def _publish_batches(self, entry_ids: Sequence[int]) -> None:
        """Publish the count of every batch these entries belong to (after a retry opened them again)."""
        batch_ids: set[int] = set()
        for chunk in _chunks(list(entry_ids)):
            rows = QueueEntry.filter(id__in=chunk, batch_id__not_isnull=True)
            batch_ids.update(await rows.values_list("batch_id", flat=True))
        for batch_id in sorted(batch_ids):
            await self._publish_batch(batch_id)

    def forget_batch_counts(self) -> None:
        """Entries left the queue (cleared): a batch's count may go down, and must still be told."""
        self._batch_shown.clear()

    # ---- what users do to the queue ---------------------------------------------------------------
    # Each writes one audit line. A caller that loops over many entries passes ``audit=False`` and
    # records the whole action once (as on_batch does), so pausing 10,000 entries is one line.

    async def enqueue(
        self,
        audio_ids: Sequence[int],
        *,
        priority: Priority = Priority.NORMAL,
        batch_name: str | None = None,
        depends_on: int | None = None,
        output_dir: Path | None = None,
        filename_template: str | None = None,
    ) -> Enqueued:
        """Queue files (several at once form a batch); files already queued are left where they are,
        except those whose download failed: asked for again, they are tried again (as ``retry``)."""
        fields: dict[str, Any] = {"priority": priority.name.lower(), "batch_name": batch_name}
        fields |= {"depends_on": depends_on, "output_dir": str(output_dir) if output_dir else None}
        with recorded("enqueue", refused=(QueueError,), **fields) as line:
            queued = await self._enqueue(audio_ids, priority, batch_name, depends_on, output_dir, filename_template)
            line |= {"count": len(queued.entry_ids), "already_queued": queued.already_queued}
            if queued.retried:
                line["retried"] = queued.retried
            line |= {"batch_id": queued.batch_id, **id_list(queued.entry_ids)}
            line["groups"] = await _group_titles(audio_ids)
        return queued

    async def _enqueue(
        self,
        audio_ids: Sequence[int],
        priority: Priority,
        batch_name: str | None,
        depends_on: int | None,
        output_dir: Path | None,
        filename_template: str | None,
    ) -> Enqueued:
        rows = await QueueEntry.filter(audio_id__in=list(audio_ids)).values_list("audio_id", "id", "state")
        existing = {audio_id for audio_id, _, _ in rows}
        failed = {audio_id: entry_id for audio_id, entry_id, state in rows if QueueState(state) == QueueState.FAILED}
        fresh = [audio_id for audio_id in dict.fromkeys(audio_ids) if audio_id not in existing]
        if depends_on is not None and not await QueueEntry.exists(id=depends_on):
            raise QueueError(f"there is no queue entry {depends_on} to depend on")
        batch_id = None
        entries: list[QueueEntry] = []
        async with transaction():
            if len(fresh) > 1 or batch_name:
                batch = await DownloadBatch.create(name=(batch_name or counted(len(fresh), "file"))[:255])
                batch_id = batch.pk
            rank = await next_rank()
            for audio_id in fresh:
                entries.append(
                    await QueueEntry.create(
                        audio_id=audio_id,
                        priority=priority,
                        rank=rank,
                        batch_id=batch_id,
                        depends_on_id=depends_on,
                        output_dir=str(output_dir) if output_dir else None,
                        filename_template=filename_template,
                    )
                )
                failpoints.hit("queue.enqueue")
                rank += RANK_GAP
        for entry in entries:
            self._offer(entry.pk, int(priority), entry.rank)
        self._tell({entry.audio_id: QueueState.QUEUED for entry in entries})
        retried = await self._retry_failed(list(failed.values()), list(failed))
        return Enqueued(batch_id, [entry.pk for entry in entries], len(existing), retried)

    async def _retry_failed(self, entry_ids: list[int], audio_ids: list[int]) -> int:
        """Queue failed entries again in their places (a full disk, say, that has room again)."""
        if not entry_ids:
            return 0
        async with transaction():
            for chunk in _chunks(audio_ids):
                await AudioFile.filter(id__in=chunk, status=FileStatus.FAILED).update(
                    status=FileStatus.PENDING, error_message=None
                )
            retried = await self._requeue_many(entry_ids, QueueState.FAILED)
        await self._publish_batches(entry_ids)
        return retried

    async def move(self, entry_id: int, where: str, *, audit: bool = True) -> None:
        """Move an entry up, down, to the top or the bottom of its priority: one row written."""
        with recorded("move", enabled=audit, refused=(QueueError,), entry_id=entry_id, where=where):
            await self._move(entry_id, where)

    async def _move(self, entry_id: int, where: str) -> None:
        if where not in MOVES:
            raise QueueError(f"unknown move {where!r}: use one of {', '.join(MOVES)}")
        entry = await self._entry(entry_id)
        same = QueueEntry.filter(priority=entry.priority, state__in=ACTIVE).exclude(id=entry.pk)
        if where == "up":
            before = await same.filter(rank__lt=entry.rank).order_by("-rank").limit(2)
            if not before:
                return
            above, below = (before[1] if len(before) > 1 else None), before[0]
        elif where == "down":
            after = await same.filter(rank__gt=entry.rank).order_by("rank").limit(2)
            if not after:
                return
            above, below = after[0], (after[1] if len(after) > 1 else None)
        elif where == "top":
            above, below = None, await same.order_by("rank").first()
            if below is None or below.rank > entry.rank:
                return
        else:
            above, below = await same.order_by("-rank").first(), None
            if above is None or above.rank < entry.rank:
                return
        await move_entry(entry, entry.priority, above, below)
        self._requeue(entry)

    async def set_priority(self, entry_id: int, priority: Priority, *, audit: bool = True) -> PriorityChange | None:
        """Give the entry another priority, in the place its rank gives it there.

        Ranks are one order across priorities (new entries take the next rank of the whole queue),
        so the entry keeps its rank and lands among the new priority's entries where it stood
        relative to them: raised and lowered again, it is back between its old neighbours. Only
        when another entry holds the very same rank does it take a rank just after that one.
        Returns where it went (None: it had that priority already).
        """
        new = priority.name.lower()
        with recorded("set_priority", enabled=audit, refused=(QueueError,), entry_id=entry_id, new=new) as line:
            entry = await self._entry(entry_id)
            line["old"] = Priority(entry.priority).name.lower()
            if entry.priority == priority:
                return None
            level = QueueEntry.filter(priority=priority).exclude(id=entry.pk)
            same = await level.filter(rank=entry.rank).first()
            if same is None:
                entry.priority = priority
                await entry.save(update_fields=["priority", "updated_at"])
            else:
                await move_entry(entry, priority, same, await level.filter(rank__gt=entry.rank).order_by("rank").first())
            self._requeue(entry)
            self._reweigh(entry.pk, priority)
            if entry.pk in self._running:
                self._changed.set()  # lowered, it may now have to yield its slot (see _make_room)
            # The queue lists unfinished entries before finished ones: the neighbour among its kind.
            kind = ACTIVE if entry.state in ACTIVE else [s for s in QueueState if s not in ACTIVE]
            after = await level.filter(state__in=kind, rank__lt=entry.rank).order_by("-rank").first()
            return PriorityChange(entry.pk, priority, after.pk if after else None)

    def _reweigh(self, entry_id: int, priority: Priority) -> None:
        """A running entry's new priority applies to its share of the bandwidth at once."""
        if entry_id in self._running:
            for limiter in (self.context.bandwidth, self.context.pace.limiter):
                limiter.set_weight(entry_id, weight_of(priority))

    async def pause(self, entry_id: int, *, audit: bool = True) -> None:
        with recorded("pause", enabled=audit, refused=(QueueError,), entry_id=entry_id):
            await self._halt(await self._entry(entry_id), QueueState.PAUSED)

    async def cancel(self, entry_id: int, *, audit: bool = True) -> None:
        """Stop the entry for good; its partial file is deleted (a "file_deleted" audit line)."""
        with recorded("cancel", enabled=audit, refused=(QueueError,), entry_id=entry_id):
            await self._halt(await self._entry(entry_id), QueueState.CANCELLED)

    async def resume(self, entry_id: int, *, audit: bool = True) -> None:
        with recorded("resume", enabled=audit, refused=(QueueError,), entry_id=entry_id):
            entry = await self._entry(entry_id)
            if entry.state == QueueState.PAUSED:
                await self._requeue_as_new(entry)

    async def retry(self, entry_id: int, *, audit: bool = True) -> None:
        with recorded("retry", enabled=audit, refused=(QueueError,), entry_id=entry_id):
            entry = await self._entry(entry_id)
            if entry.state in (QueueState.FAILED, QueueState.CANCELLED):
                await AudioFile.filter(id=entry.audio_id).update(status=FileStatus.PENDING, error_message=None)
                await self._requeue_as_new(entry)
                if entry.batch_id is not None:
                    await self._publish_batch(entry.batch_id)  # open again: completing again is news again

    async def pause_many(self, entry_ids: Sequence[int]) -> int:
        """Pause many entries at once: running ones stop (saving their state), the others are
        written in one UPDATE per chunk, not one per entry. Returns how many were paused."""
        running = [i for i in entry_ids if i in self._running]
        for entry_id in running:
            self._tell_to_stop(entry_id, QueueState.PAUSED)
        await asyncio.gather(*(self._running[i] for i in running if i in self._running), return_exceptions=True)
        # The others, and a running one that was giving its slot away as it was paused (queued now).
        rows: list[tuple[int, int]] = []
        async with transaction():
            for chunk in _chunks(list(entry_ids)):
                found = QueueEntry.filter(id__in=chunk, state__in=PAUSABLE)
                rows += await found.values_list("id", "audio_id")
                await found.update(state=QueueState.PAUSED, note=None, updated_at=_now())
        for entry_id, _ in rows:
            self._keys.pop(entry_id, None)
        self._changed.set()
        self._tell({audio_id: QueueState.PAUSED for _, audio_id in rows})
        return len(set(running) | {entry_id for entry_id, _ in rows})

    async def resume_many(self, entry_ids: Sequence[int]) -> int:
        """Resume many paused entries at once (one UPDATE per chunk). Returns how many."""
        return await self._requeue_many(entry_ids, QueueState.PAUSED)

    async def _requeue_many(self, entry_ids: Sequence[int], state: QueueState) -> int:
        """Queue again, in their places, those of the entries that are in ``state``; returns how many."""
        rows: list[tuple[int, int, int, int]] = []
        async with transaction():
            for chunk in _chunks(list(entry_ids)):
                found = QueueEntry.filter(id__in=chunk, state=state)
                rows += await found.values_list("id", "priority", "rank", "audio_id")
                await found.update(state=QueueState.QUEUED, error_message=None, note=None, updated_at=_now())
        for entry_id, priority, rank, _ in rows:
            self._offer(entry_id, int(priority), rank)
        self._tell({audio_id: QueueState.QUEUED for *_, audio_id in rows})
        return len(rows)

    async def on_batch(self, batch_id: int, action: str) -> int:
        """Pause, resume, cancel or retry every entry of a batch; returns how many it holds."""
        operations = {"pause": self.pause, "resume": self.resume, "cancel": self.cancel, "retry": self.retry}
        with recorded(action, refused=(QueueError,), scope="batch", batch_id=batch_id) as line:
            if action not in operations:
                raise QueueError(f"unknown batch action {action!r}: use one of {', '.join(operations)}")
            ids = await QueueEntry.filter(batch_id=batch_id).order_by("-priority", "rank").values_list("id", flat=True)
            if not ids:
                raise QueueError(f"there is no batch {batch_id}")
            line["count"] = len(ids)
            if action == "pause":
                await self.pause_many(ids)
            elif action == "resume":
                await self.resume_many(ids)
            else:
                for entry_id in ids:
                    await operations[action](entry_id, audit=False)
        return len(ids)

    async def _halt(self, entry: QueueEntry, state: QueueState) -> None:
        task = self._running.get(entry.pk)
        if task is not None:
            self._tell_to_stop(entry.pk, state)
            await asyncio.gather(task, return_exceptions=True)
            entry = await self._entry(entry.pk)
            if entry.state not in RUNNABLE:
                return
            # It was already giving its slot to a more urgent entry, and is queued now: on as for one.
        if entry.state in (QueueState.COMPLETED,) or entry.state == state:
            return
        if state == QueueState.PAUSED and entry.state not in PAUSABLE:
            return  # a failed or cancelled entry stays so: pausing must not revive it on resume
        self._keys.pop(entry.pk, None)
        entry.state = state
        entry.note = None
        await entry.save(update_fields=["state", "note", "updated_at"])
        self._tell({entry.audio_id: state})
        if state == QueueState.CANCELLED:
            await entry.fetch_related("audio")
            await _discard_partial(entry.audio)
            await self._release_dependents(entry.pk)  # they fail now, saying why, not wait for ever
        self._changed.set()

    async def _requeue_as_new(self, entry: QueueEntry) -> None:
        entry.state = QueueState.QUEUED
        entry.error_message = None
        entry.note = None
        await entry.save(update_fields=["state", "error_message", "note", "updated_at"])
        self._offer(entry.pk, int(entry.priority), entry.rank)
        self._tell({entry.audio_id: QueueState.QUEUED})

    def _requeue(self, entry: QueueEntry) -> None:
        if entry.pk in self._keys:
            self._offer(entry.pk, int(entry.priority), entry.rank)

    async def _entry(self, entry_id: int) -> QueueEntry:
        entry = await QueueEntry.get_or_none(id=entry_id)
        if entry is None:
            raise QueueError(f"there is no queue entry {entry_id}")
        return entry


def may_take(taker: Priority, holder: Priority) -> bool:
    """Whether a waiting ``taker`` entry may take a running ``holder`` entry's slot: critical from
    any less urgent entry, high from low only."""
    return taker == Priority.CRITICAL and holder < taker or taker == Priority.HIGH and holder == Priority.LOW


def _chunks(ids: Sequence[int], size: int = 500) -> list[Sequence[int]]:
    """Slices that stay under SQLite's limit on bound variables."""
    return [ids[i : i + size] for i in range(0, len(ids), size)]


def _now() -> datetime:
    return datetime.now(UTC)


async def _group_titles(audio_ids: Sequence[int]) -> list[str]:
    """The groups the files come from, for the audit line (which must never fail the enqueue)."""
    if not audit_enabled():
        return []
    try:
        rows = await AudioFile.filter(id__in=list(audio_ids)).distinct().values_list("group__title", flat=True)
    except Exception:
        log.warning("could not name the groups of an enqueue for the audit log", exc_info=True)
        return []
    return sorted(str(title) for title in rows)[:MAX_GROUPS_NAMED]


async def _discard_partial(audio: AudioFile) -> None:
    """A cancelled download leaves nothing behind: its .part file and resume state go."""
    # Only ever a .part file: a finished download is never removed by a cancel.
    if audio.partial_file_path and audio.partial_file_path.endswith(PART_SUFFIX):
        try:
            os.unlink(audio.partial_file_path)
        except FileNotFoundError:
            pass
        except OSError as error:
            log.warning("could not remove %s", audio.partial_file_path, exc_info=True)
            record("file_deleted", "failed", error.strerror or str(error), path=audio.partial_file_path)
        else:
            record("file_deleted", path=audio.partial_file_path, file_id=audio.file_id, why="cancelled")
    audio.partial_file_path = None
    audio.resume_state = None
    audio.downloaded_bytes = 0
    audio.resume_offset = 0
    await audio.save(update_fields=["partial_file_path", "resume_state", "downloaded_bytes", "resume_offset"])
