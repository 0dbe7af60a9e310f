"""What users do to the queue: enqueue, move, set a priority, pause, cancel, resume, retry.

Each writes one audit line. A caller that loops over many entries passes ``audit=False`` and
records the whole action once (as ``on_batch`` does), so pausing 10,000 entries is one line.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tad_tui import failpoints
from tad_tui.audit import enabled as audit_enabled
from tad_tui.audit import id_list, recorded
from tad_tui.download.limits import weight_of
from tad_tui.download.scheduler.entries import ACTIVE, PAUSABLE, RUNNABLE, QueueError, chunks, discard_partial
from tad_tui.store.models import AudioFile, DownloadBatch, FileStatus, Priority, QueueEntry, QueueState
from tad_tui.store.ranks import RANK_GAP, move_entry, next_rank
from tad_tui.store.transactions import transaction
from tad_tui.words import counted

if TYPE_CHECKING:
    from tad_tui.download.job import JobContext
    from tad_tui.download.scheduler.batches import BatchCounts

log = logging.getLogger(__name__)

MOVES = ("up", "down", "top", "bottom")
MAX_GROUPS_NAMED = 10  # an enqueue's audit line names at most this many groups


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


class QueueActions:
    """The Scheduler's commands (runner.py holds the state and stops running entries)."""

    context: JobContext
    batches: BatchCounts
    _keys: dict[int, tuple[int, int]]
    _running: dict[int, asyncio.Task[None]]
    _changed: asyncio.Event

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
            for chunk in chunks(audio_ids):
                await AudioFile.filter(id__in=chunk, status=FileStatus.FAILED).update(
                    status=FileStatus.PENDING, error_message=None
                )
            retried = await self._requeue_many(entry_ids, QueueState.FAILED)
        await self.batches.publish_for(entry_ids)
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
                    await self.batches.publish(entry.batch_id)  # open again: completing again is news again

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
            for chunk in chunks(list(entry_ids)):
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
            for chunk in chunks(list(entry_ids)):
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
            await discard_partial(entry.audio)
            await self._release_dependents(entry.pk)  # they fail now, saying why, not wait for ever
        self._changed.set()

    async def _requeue_as_new(self, entry: QueueEntry) -> None:
        entry.state = QueueState.QUEUED
        entry.error_message = None
        entry.note = None
        await entry.save(update_fields=["state", "error_message", "note", "updated_at"])
        self._offer(entry.pk, int(entry.priority), entry.rank)
        self._tell({entry.audio_id: QueueState.QUEUED})

    async def _entry(self, entry_id: int) -> QueueEntry:
        entry = await QueueEntry.get_or_none(id=entry_id)
        if entry is None:
            raise QueueError(f"there is no queue entry {entry_id}")
        return entry


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
