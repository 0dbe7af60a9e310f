"""The download queue as stored: its rows in order, counts and batches, where an entry's file goes,
and clearing what is finished. (Changing entries is the scheduler's: ``download/scheduler.py``.)"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from tortoise.functions import Count

from tad_tui.api import EntryLocation, QueueRow
from tad_tui.audit import id_list, recorded
from tad_tui.engine import results
from tad_tui.store.models import QueueEntry, QueueState
from tad_tui.store.transactions import transaction

if TYPE_CHECKING:
    from tad_tui.download.scheduler import Scheduler
    from tad_tui.engine.facade import Engine

# "Clear finished" takes these: done with for good. Failed entries stay, to be retried.
CLEARED_STATES = (QueueState.COMPLETED, QueueState.CANCELLED)
_ACTIVE = ("queued", "waiting", "running", "paused")


async def queue_rows() -> list[QueueRow]:
    """Read as plain values in one joined SELECT: building model objects and their relations took
    about 1 s for 10,000 entries, this a tenth of that."""
    values = await QueueEntry.all().order_by("-priority", "rank").values_list(*results.QUEUE_FIELDS)
    rows = [results.queue_row(*value) for value in values]
    return [r for r in rows if r.state in _ACTIVE] + [r for r in rows if r.state not in _ACTIVE]


async def queue_counts() -> dict[str, int]:
    rows = await QueueEntry.annotate(n=Count("id")).group_by("state").values_list("state", "n")
    return {str(getattr(state, "value", state)): n for state, n in rows}


async def queued_tracks(entry_ids: Sequence[int]) -> set[int]:
    return set(await QueueEntry.filter(id__in=list(entry_ids)).values_list("audio_id", flat=True))


async def batch_states(batch_id: int) -> list[tuple[int, str]]:
    states = await QueueEntry.filter(batch_id=batch_id).values_list("id", "state")
    return [(entry_id, QueueState(state).value) for entry_id, state in states]


async def entry_location(engine: Engine, entry_id: int) -> EntryLocation | None:
    from tad_tui.download.job import PART_SUFFIX, planned_target

    entry = await QueueEntry.get_or_none(id=entry_id).prefetch_related("audio__group")
    if entry is None:
        return None
    audio = entry.audio
    if entry.state == QueueState.COMPLETED and audio.local_path:
        path = Path(audio.local_path)
        return EntryLocation(path, True, path.is_file())
    if audio.partial_file_path:  # started: the name it downloads under (decided again from its tags at the end)
        path = Path(audio.partial_file_path.removesuffix(PART_SUFFIX))
    else:
        output, relative = planned_target(
            entry, audio, engine.paths.downloads_dir, engine.settings.downloads.filename_template,
            engine.settings.downloads.unknown,
        )
        path = output / relative
    return EntryLocation(path, False, path.is_file())


async def clear_finished(scheduler: Scheduler | None) -> list[int]:
    """``scheduler``: the engine's, if it built one (its batch counts are forgotten)."""
    with recorded("clear_finished") as line:
        needed = QueueEntry.filter(state__in=_ACTIVE, depends_on_id__not_isnull=True).values_list("depends_on_id", flat=True)
        kept = set(await needed)
        finished = await QueueEntry.filter(state__in=CLEARED_STATES).values_list("id", flat=True)
        ids = [i for i in finished if i not in kept]
        async with transaction():
            for start in range(0, len(ids), 500):  # under SQLite's limit on bound variables
                await QueueEntry.filter(id__in=ids[start : start + 500]).delete()
        line |= {"count": len(ids), "kept_as_dependency": len(finished) - len(ids), **id_list(ids)}
    if scheduler is not None:
        scheduler.forget_batch_counts()
    return ids
