"""Priorities that act (preemption): an urgent entry does not wait for a slot to free by itself.

A critical entry may take the slot of any less urgent running entry, a high one the slot of a low
one (``may_take``). The entry that gives its slot stops as at a shutdown (its transfer saves which
parts are on disk) and is queued again first of its priority, with a note saying why.
"""

from __future__ import annotations

import heapq
import logging
from typing import TYPE_CHECKING

from tad_tui.download.concurrency import is_single_part
from tad_tui.download.events import EntryFinished
from tad_tui.download.scheduler.entries import ACTIVE, RUNNABLE
from tad_tui.download.scheduler.order import MULTI, SINGLE
from tad_tui.store.models import AudioFile, FileStatus, Priority, QueueEntry, QueueState
from tad_tui.store.ranks import move_entry
from tad_tui.store.transactions import transaction

if TYPE_CHECKING:
    import asyncio
    from collections.abc import Callable

    from tad_tui.download.job import JobContext

log = logging.getLogger(__name__)

# Why an entry that had started is queued again, by the priority of the entry that took its slot.
YIELDED_NOTES = {
    Priority.CRITICAL: "paused for a critical download",
    Priority.HIGH: "paused for a high-priority download",
}
YIELDED = frozenset(YIELDED_NOTES.values())


def may_take(taker: Priority, holder: Priority) -> bool:
    """Whether a waiting ``taker`` entry may take a running ``holder`` entry's slot: critical from
    any less urgent entry, high from low only."""
    return taker == Priority.CRITICAL and holder < taker or taker == Priority.HIGH and holder == Priority.LOW


class Preemption:
    """The Scheduler's preemption (runner.py holds the state; order.py finds the waiting entries)."""

    context: JobContext
    adaptive: bool
    admission: Callable[[], str | None]
    _keys: dict[int, tuple[int, int]]
    _kind: dict[int, str]
    _running: dict[int, asyncio.Task[None]]
    _stopping: set[int]
    _yielded_to: dict[int, Priority]  # running entry -> the priority it gives its slot to

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
