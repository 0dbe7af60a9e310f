"""The engine's queue order applied in memory to several marked rows at once.

Each function returns the rows in the order the engine will hold once the same change is written;
moves also return the scheduler calls, in order, that produce it. Rows that do not take part (other
priorities, finished entries) keep their places, so only the rows that moved need repainting.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Protocol, TypeVar

from tad_tui.api import Priority, PriorityChange


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


def after_priority_change(rows: Sequence[Line], changes: Sequence[PriorityChange]) -> list[Line]:
    """The rows once ``changes`` (rows already holding their new priority) were made, in order.

    Each is what ``scheduler.set_priority`` returned: the entry goes right after the row it names,
    or first among the rows of its new priority and of its kind (unfinished or finished), which is
    where the engine's rank put it. Nothing else moves.
    """
    order = list(rows)
    ids = [row.id for row in order]  # list.index on ints: a marked change in 10,000 rows stays quick
    pending = {change.entry_id for change in changes}  # at their old places, holding their new priority
    for change in changes:
        pending.discard(change.entry_id)
        if change.entry_id not in ids:
            continue
        row = order.pop(ids.index(change.entry_id))
        ids.remove(change.entry_id)
        if change.after is not None and change.after in ids:
            at = ids.index(change.after) + 1
        else:
            kind = [i for i, other in enumerate(order) if other.active is row.active and other.id not in pending]
            at = next((i for i in kind if order[i].level <= row.level), kind[-1] + 1 if kind else _section(order, row))
        order.insert(at, row)
        ids.insert(at, row.id)
    return order


def _section(rows: Sequence[Line], row: Line) -> int:
    """Where the row's kind begins when no other row is of it: unfinished rows come first."""
    return 0 if row.active else len(rows)
