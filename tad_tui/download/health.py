"""How hard Telegram pushes back now, as a share of the slots to use (adaptive concurrency).

Shared by every transfer (its workers in flight) and the scheduler (multi-part files at once):
flood waits and errors shrink the share, calm grows it back.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

TROUBLE_SPELL = 1.0  # seconds in which further trouble counts as the same one
# …and seconds after a wait's end: requests sent just as a flood wait ends are refused by Telethon's
# gate and the server too; that tail is the same trouble, not a second step down.
TROUBLE_TAIL = 1.0
CALM_STEP_SECONDS = 5.0  # of calm before concurrency grows back a step


@dataclass
class Health:
    """Adaptive concurrency: flood waits and errors shrink the share of slots used, calm grows it.

    One trouble is one step down: the workers and files that meet the same flood wait (or the
    same broken connection) while it lasts do not step down again.
    """

    factor: float = 1.0
    last_trouble: float = 0.0
    trouble_until: float = 0.0
    squeeze: Callable[[], bool] = lambda: False  # memory pressure: halve what is kept in flight

    def trouble(self, weight: float = 0.5, *, lasting: float = TROUBLE_SPELL) -> None:
        now = time.monotonic()
        if now < self.trouble_until + TROUBLE_TAIL:
            return
        self.factor = max(0.25, self.factor * weight)
        self.last_trouble = now
        self.trouble_until = now + max(lasting, TROUBLE_SPELL)

    def calm(self) -> None:
        if self.factor < 1.0 and time.monotonic() - self.last_trouble > CALM_STEP_SECONDS:
            self.factor = min(1.0, self.factor * 1.25)
            self.last_trouble = time.monotonic()

    def scale(self, wanted: int) -> int:
        return max(1, round(wanted * self.factor * (0.5 if self.squeeze() else 1.0)))

