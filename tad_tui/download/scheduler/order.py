"""The queue's order in memory: which entry comes next, without scanning the queue.

The store is the truth (the queue survives restarts, in order); in memory a heap keyed by
(priority, rank) picks the next entry. A changed entry is pushed again with its new key and stale
heap items are skipped when popped.

With ``adaptive``, single-part and multi-part files have slots of their own (concurrency.py): an
entry whose kind has no free slot is set aside, in order, in a heap of its kind, so the entries of
the other kind behind it can start.
"""

from __future__ import annotations

import heapq
from typing import TYPE_CHECKING

from tad_tui.download.concurrency import is_single_part
from tad_tui.store.models import QueueEntry

if TYPE_CHECKING:
    import asyncio

    from tad_tui.download.job import JobContext

SINGLE, MULTI, ANY = "single-part", "multi-part", "any"  # kinds of slot
KIND_LOOKAHEAD = 400  # queued entries whose sizes are looked up at once (under SQLite's variable limit)


class QueueOrder:
    """The Scheduler's order of entries (runner.py holds the state, and its ``_startable`` reads a
    popped entry afresh from the store)."""

    context: JobContext
    adaptive: bool
    _heap: list[tuple[int, int, int]]  # (-priority, rank, entry id): the queue
    _keys: dict[int, tuple[int, int]]  # entry id -> its live heap key
    _kind: dict[int, str]  # entry id -> SINGLE or MULTI, once its size was looked at
    _set_aside: dict[str, list[tuple[int, int, int]]]  # heaps by kind
    _changed: asyncio.Event

    def _offer(self, entry_id: int, priority: int, rank: int) -> None:
        key = (-priority, rank)
        self._keys[entry_id] = key
        kind = self._kind.get(entry_id) if self.adaptive else None
        heapq.heappush(self._heap if kind is None else self._set_aside[kind], (*key, entry_id))
        self._changed.set()

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

    def _requeue(self, entry: QueueEntry) -> None:
        if entry.pk in self._keys:
            self._offer(entry.pk, int(entry.priority), entry.rank)
