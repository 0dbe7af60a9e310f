"""What Telegram lets this account download, learned from its FLOOD_PREMIUM_WAITs.

An account without Premium is held to a download rate Telegram does not announce: asking for more
earns ``FLOOD_PREMIUM_WAIT_X`` and no file part at all for X seconds. So every transfer of the
account draws from one :class:`AccountPace`: unpaced until the first such wait, then a byte rate
that probes for the limit (see the class), stepped down once per wait however many requests that
wait refused. The pace also tells a transfer how many parts are worth keeping in flight: about a
second of it, so a throttled file holds few connections.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from tad_tui.download.limits import ByteRateLimiter

STEP_DOWN = 0.8  # a wait: the pace falls to this share of the refused one…
STEP_DOWN_SOON = 0.5  # …or this, when the last wait was only moments ago (far above the limit)
SOON_SECONDS = 5.0
FIRST_STEP = 0.25  # of what the downloads asked for, unpaced: that was far above the limit
STEP_UP = 1.05  # each second without a wait while downloads want more than the pace…
STEP_UP_NEAR = 1.01  # …or this, for a while after a wait (the limit is near)
NEAR_SECONDS = 30.0
SAME_WAIT_SLACK = 1.0  # seconds: Telegram rounds its waits up to whole seconds
MIN_PACE = 16 * 1024


class AccountPace:
    """The account's learned download rate; 0 (unpaced) until Telegram first throttles it.

    Telegram does not say what it allows, and an allowance with a burst hides a pace somewhat
    above it for a while, so the pace probes: it grows by a few per cent a second while downloads
    want more and nothing is refused, and one wait (however many requests it refused) cuts it to a
    share of the refused pace. It settles in a slow cycle just around the limit, a wait every
    twenty seconds or so, instead of a wait every few requests.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.limiter = ByteRateLimiter(0, clock=clock)
        self.waits = 0  # premium waits that stepped the pace down
        self._clock = clock
        self._first_ask: float | None = None
        self._wait_until = 0.0
        self._last_step = 0.0

    @property
    def rate(self) -> int:
        return self.limiter.rate

    def asked(self) -> None:
        """A part was asked for (its bytes granted by the pace's limiter)."""
        if self._first_ask is None:
            self._first_ask = self._clock()

    def received(self, nbytes: int) -> None:
        """A part arrived: once a second, ask for a little more if the downloads want it."""
        now = self._clock()
        rate = self.limiter.rate
        if rate and now >= self._wait_until and now - self._last_step >= 1.0 and self.limiter.waiting:
            step = STEP_UP_NEAR if now - self._wait_until < NEAR_SECONDS else STEP_UP
            self._set(max(rate * step, rate + 1), now)

    def premium_wait(self, seconds: float) -> bool:
        """Telegram refused a part for ``seconds``; True if this wait stepped the pace down.

        Requests in flight when the account hit its limit are all refused: they are one wait, and
        one step down, not one each.
        """
        now = self._clock()
        until = now + max(0.0, seconds)
        if until <= self._wait_until + SAME_WAIT_SLACK:
            return False  # refused within the wait in force: asked before it was known, the same wait
        soon = self.waits > 0 and now - self._wait_until < SOON_SECONDS
        self._wait_until = until
        self.waits += 1
        refused = self.limiter.rate or self._demand(now)
        step = FIRST_STEP if not self.limiter.rate else STEP_DOWN_SOON if soon else STEP_DOWN
        self._set(refused * step, until)
        return True

    def waiting(self) -> float:
        """Seconds until the premium wait in force has passed (0 when none)."""
        return max(0.0, self._wait_until - self._clock())

    def in_flight(self, part_size: int, most: int) -> int:
        """Parts worth keeping in flight: all of ``most`` unpaced, else about a second of the pace."""
        rate = self.limiter.rate
        if rate == 0:
            return most
        return max(1, min(most, math.ceil(rate / part_size) + 1))

    def _demand(self, now: float) -> float:
        """What the downloads asked for before any pacing: more than the account is allowed.

        Counted as asked, not as received: Telegram refuses parts long before the answers to the
        ones it accepted have arrived.
        """
        since = self._first_ask if self._first_ask is not None else now
        return max(self.limiter.granted_total / max(now - since, 1.0), float(MIN_PACE))

    def _set(self, rate: float, since: float) -> None:
        self.limiter.set_rate(max(MIN_PACE, int(rate)))
        self._last_step = since
