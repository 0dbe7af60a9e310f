"""The engine's queue order applied in memory to several marked rows at once.

Each function returns the rows in the order the engine will hold once the same change is written;
moves also return the scheduler calls, in order, that produce it. Rows that do not take part (other
priorities, finished entries) keep their places, so only the rows that moved need repainting.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Protocol, TypeVar

from tad_tui.store.models import Priority


class Placed(Protocol):
    @property
    def id(self) -> int: ...

    @property
    def active(self) -> bool: ...

    @property
    def level(self) -> Priority: ...


Line = TypeVar("Line", bound=Placed)


def move_marked(rows: Sequence[Line], marked: Collection[int], where: str) -> tuple[list[Line], list[int]]:
    """Move every marked unfinished row up, down, to the top or the bottom of its priority.

    Returns the new rows and the entry ids to pass, one by one, to ``scheduler.move(id, where)``.
    Marked rows keep their order among themselves: a block moves as a block, and a marked row
    never passes another marked one that could not move.
    """
    slots: dict[Priority, list[int]] = {}
    for i, row in enumerate(rows):
        if row.active:
            slots.setdefault(row.level, []).append(i)
    moved = list(rows)
    calls: list[int] = []
    for indices in slots.values():
        peers = [rows[i] for i in indices]
        order, peer_calls = _move_peers(peers, marked, where)
        if peer_calls:
            calls += peer_calls
            for i, row in zip(indices, order, strict=True):
                moved[i] = row
    return moved, calls


def _move_peers(peers: list[Line], marked: Collection[int], where: str) -> tuple[list[Line], list[int]]:
    """One priority's unfinished rows, in order, after the move."""
    chosen = [row for row in peers if row.id in marked]
    rest = [row for row in peers if row.id not in marked]
    if not chosen:
        return peers, []
    if where == "top":
        # Each marked one goes to the top, last first: they end up in their old order.
        return (peers, []) if peers[: len(chosen)] == chosen else (chosen + rest, [row.id for row in reversed(chosen)])
    if where == "bottom":
        return (peers, []) if peers[len(peers) - len(chosen) :] == chosen else (rest + chosen, [row.id for row in chosen])
    if where == "up":
        return _step(peers, marked)
    order, calls = _step(peers[::-1], marked)  # down is up seen from the bottom
    return order[::-1], calls


def _step(peers: list[Line], marked: Collection[int]) -> tuple[list[Line], list[int]]:
    """Each marked row, from the first, swaps with the unmarked row just before it (if any)."""
    order: list[Line] = []
    calls: list[int] = []
    for row in peers:
        if row.id in marked and order and order[-1].id not in marked:
            order.insert(len(order) - 1, row)
            calls.append(row.id)
        else:
            order.append(row)
    return order, calls


def after_priority_change(rows: Sequence[Line], changed: Collection[int]) -> list[Line]:
    """The rows once ``changed`` rows (already holding their new priority) went to its end.

    That is what ``scheduler.set_priority`` does, called for them in the order of the rows:
    unfinished rows stay among the unfinished ones and finished among the finished.
    """
    reordered = list(rows)
    for active in (True, False):
        indices = [i for i, row in enumerate(rows) if row.active is active]
        # Stable: the others keep their order, the changed ones follow them in theirs.
        ordered = sorted((rows[i] for i in indices), key=lambda row: (-row.level, row.id in changed))
        for i, row in zip(indices, ordered, strict=True):
            reordered[i] = row
    return reordered
