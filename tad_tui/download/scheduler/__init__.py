"""The download queue: priorities, order, batches, dependencies, and how many files at once.

Modules, one concern each: ``runner`` (the Scheduler: the run loop, running entries, slots and
dependencies), ``order`` (which entry comes next), ``preemption`` (urgent entries take slots),
``actions`` (what users do to the queue), ``batches`` (each batch's count) and ``entries`` (what
they share: the states that count as active or runnable, ``QueueError``).
"""

from __future__ import annotations

from tad_tui.download.scheduler.actions import MOVES, Enqueued, PriorityChange
from tad_tui.download.scheduler.entries import ACTIVE, PAUSABLE, RUNNABLE, QueueError
from tad_tui.download.scheduler.preemption import YIELDED, YIELDED_NOTES, may_take
from tad_tui.download.scheduler.runner import OUTCOME_STATES, Scheduler

__all__ = [
    "ACTIVE",
    "MOVES",
    "OUTCOME_STATES",
    "PAUSABLE",
    "RUNNABLE",
    "YIELDED",
    "YIELDED_NOTES",
    "Enqueued",
    "PriorityChange",
    "QueueError",
    "Scheduler",
    "may_take",
]
