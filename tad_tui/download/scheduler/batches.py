"""Each batch's count (done, total, failed), published when it changes."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence

from tortoise.functions import Count

from tad_tui.download.events import BatchProgress, EventBus
from tad_tui.download.scheduler.entries import chunks
from tad_tui.store.models import DownloadBatch, QueueEntry, QueueState


class BatchCounts:
    def __init__(self, events: EventBus) -> None:
        self.events = events
        self._shown: dict[int, tuple[int, int, int]] = {}  # batch id -> (done, total, failed) last published
        self._names: dict[int, str] = {}
        self._lock = asyncio.Lock()  # one count at a time, so they are published in the order taken

    async def publish(self, batch_id: int) -> None:
        """Publish the batch's count if it changed since the last one published.

        Entries finishing together each count the batch after both were written: both counts say
        "44 of 44", and publishing both told "Batch complete" twice. Counts are taken one at a time
        (the lock keeps them in order) and a count equal to the last one published is not repeated.
        """
        async with self._lock:
            name = self._names.get(batch_id)
            if name is None:
                batch = await DownloadBatch.get_or_none(id=batch_id)
                if batch is None:
                    return
                name = self._names[batch_id] = batch.name  # a batch's name never changes
            counted_states = QueueEntry.filter(batch_id=batch_id).annotate(n=Count("id")).group_by("state")
            states = Counter(dict(await counted_states.values_list("state", "n")))  # counted by SQLite, not here
            if not states:
                return  # the batch left the queue
            finished = sum(states[s] for s in (QueueState.COMPLETED, QueueState.FAILED, QueueState.CANCELLED))
            count = (finished, sum(states.values()), states[QueueState.FAILED])
            if self._shown.get(batch_id) == count:
                return
            self._shown[batch_id] = count
            self.events.publish(BatchProgress(batch_id, name, *count))

    async def publish_for(self, entry_ids: Sequence[int]) -> None:
        """Publish the count of every batch these entries belong to (after a retry opened them again)."""
        batch_ids: set[int] = set()
        for chunk in chunks(list(entry_ids)):
            rows = QueueEntry.filter(id__in=chunk, batch_id__not_isnull=True)
            batch_ids.update(await rows.values_list("batch_id", flat=True))
        for batch_id in sorted(batch_ids):
            await self.publish(batch_id)

    def forget(self) -> None:
        """Entries left the queue (cleared): a batch's count may go down, and must still be told."""
        self._shown.clear()
