"""Queue order within a priority: sparse integer ranks, so a move rewrites only the moved entry."""

from __future__ import annotations

from typing import Final

from tad_tui.store.transactions import transaction

from tad_tui.store.models import Priority, QueueEntry

# New entries are this far apart: 32 halvings fit between two of them before a renumber is needed.
RANK_GAP: Final = 2**32


def rank_between(above: int | None, below: int | None) -> int | None:
    """A rank strictly between two neighbours (None: that end of the list); None if none fits."""
    if above is None:
        return RANK_GAP if below is None else below - RANK_GAP
    if below is None:
        return above + RANK_GAP
    return (above + below) // 2 if below - above >= 2 else None


async def next_rank() -> int:
    """The rank that puts a new entry last, within its priority and in the order across priorities."""
    last = await QueueEntry.all().order_by("-rank").first()
    return RANK_GAP if last is None else last.rank + RANK_GAP


async def move_entry(
    entry: QueueEntry,
    priority: Priority,
    above: QueueEntry | None,
    below: QueueEntry | None,
) -> None:
    """Put ``entry`` in ``priority`` between two neighbours (None or another priority's: an end).

    Writes the entry's row only, unless the gap between the neighbours is used up: then the queue
    is renumbered first (rare: after about 32 moves into the same spot).
    """
    above = _in_list(above, priority, entry)
    below = _in_list(below, priority, entry)
    if above is not None and below is not None and above.rank >= below.rank:
        raise ValueError(f"queue entry {above.pk} does not come before {below.pk}")
    rank = rank_between(_rank(above), _rank(below))
    async with transaction():
        if rank is None:
            await renumber()
            for neighbour in (above, below):
                if neighbour is not None:
                    await neighbour.refresh_from_db(fields=["rank"])
            rank = rank_between(_rank(above), _rank(below))
            if rank is None:  # cannot happen: renumbered neighbours are RANK_GAP apart
                raise RuntimeError("queue ranks left no gap after renumbering")
        entry.priority = priority
        entry.rank = rank
        await entry.save(update_fields=["priority", "rank", "updated_at"])


async def renumber() -> None:
    """Spread the ranks RANK_GAP apart again, keeping their order.

    All priorities at once: ranks are one order across priorities too, which a change of
    priority keeps (an entry keeps its rank and so its place among the new priority's entries).
    """
    entries = await QueueEntry.all().order_by("rank", "id")
    for position, queued in enumerate(entries, start=1):
        queued.rank = position * RANK_GAP
    if entries:
        await QueueEntry.bulk_update(entries, fields=["rank"])


def _in_list(
    neighbour: QueueEntry | None, priority: Priority, entry: QueueEntry
) -> QueueEntry | None:
    """The neighbour if it bounds the new spot; one of another priority (or the entry) does not."""
    if neighbour is None or neighbour.pk == entry.pk or neighbour.priority != priority:
        return None
    return neighbour


def _rank(neighbour: QueueEntry | None) -> int | None:
    return None if neighbour is None else neighbour.rank
