"""What Telegram lets this account download, learned from its FLOOD_PREMIUM_WAITs.

An account without Premium is held to a download rate Telegram does not announce: asking for more
earns ``FLOOD_PREMIUM_WAIT_X`` and no file part at all for X seconds. So every transfer of the
account draws from one :class:`AccountPace`: unpaced until the first such wait, then a byte rate
just under what the account was seen to get (the goodput over the last seconds, the wait included),
probed upwards while downloads want more and nothing is refused, and stepped down by one notch per
wait however many requests that wait refused. The pace also tells a transfer how many parts are
worth keeping in flight: about a second of it, so a throttled file holds few connections.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable

from tad_tui.download.limits import ByteRateLimiter

WINDOW_SECONDS = 10.0  # of received bytes the goodput is measured over
STEP_DOWN = (0.8, 0.9)  # a wait sets the pace between these fractions of the old one, by the goodput
PROBE_EVERY = 1.0  # seconds without a wait, downloads waiting on the pace, before a step up
PROBE_STEP = 1.2
CEILING_MARGIN = 0.95  # probing stops a little under the pace that was last refused
CEILING_RISE_AFTER = 30.0  # seconds at the ceiling without a wait: Telegram may allow more now
MIN_PACE = 16 * 1024


class AccountPace:
    """The account's learned download rate; 0 until Telegram first throttles it."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.limiter = ByteRateLimiter(0, clock=clock)
        self.waits = 0  # premium waits that stepped the pace down
        self._clock = clock
        self._received: deque[tuple[float, int]] = deque()
        self._first_byte: float | None = None
        self._wait_until = 0.0
        self._last_step = 0.0
        self._ceiling = 0.0

    @property
    def rate(self) -> int:
        return self.limiter.rate

    def received(self, nbytes: int) -> None:
        """A part arrived: count it, and ask for more if the pace has held for a while."""
        now = self._clock()
        if self._first_byte is None:
            self._first_byte = now
        self._received.append((now, nbytes))
        while self._received[0][0] < now - WINDOW_SECONDS:
            self._received.popleft()
        self._probe(now)

    def premium_wait(self, seconds: float) -> bool:
        """Telegram refused a part for ``seconds``; True if this wait stepped the pace down.

        Requests in flight when the account hit its limit are all refused: they are one wait, and
        one step down, not one each.
        """
        now = self._clock()
        until = now + max(0.0, seconds)
        if now < self._wait_until:
            self._wait_until = max(self._wait_until, until)
            return False
        self._wait_until = until
        self.waits += 1
        goodput = self._goodput(now, seconds)
        rate = self.limiter.rate
        if rate == 0:
            self._ceiling = self._demand(now)
            new = goodput
        else:
            self._ceiling = rate
            low, high = STEP_DOWN
            new = min(max(goodput, rate * low), rate * high)
        self.limiter.set_rate(max(MIN_PACE, int(new)))
        self._last_step = until
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

    def _goodput(self, now: float, wait: float) -> float:
        """Bytes a second the account got lately, counting the wait just imposed."""
        served = sum(nbytes for _, nbytes in self._received)
        since = self._first_byte if self._first_byte is not None else now
        span = min(WINDOW_SECONDS, now - since) + max(wait, 0.0)
        return served / span if span > 0 else 0.0

    def _demand(self, now: float) -> float:
        """What the downloads took before any pacing: an upper bound of the account's limit."""
        served = sum(nbytes for _, nbytes in self._received)
        since = self._first_byte if self._first_byte is not None else now
        return served / max(now - since, 1e-3)

    def _probe(self, now: float) -> None:
        rate = self.limiter.rate
        if rate == 0 or now < self._wait_until or now - self._last_step < PROBE_EVERY:
            return
        if not self.limiter.waiting:
            return  # the downloads do not want more than the pace: nothing to learn
        if self._ceiling and rate >= self._ceiling * CEILING_MARGIN:
            if now - self._last_step < CEILING_RISE_AFTER:
                return
            self._ceiling *= PROBE_STEP
        limit = self._ceiling * CEILING_MARGIN if self._ceiling else math.inf
        self.limiter.set_rate(int(max(rate + 1, min(rate * PROBE_STEP, limit))))
        self._last_step = now
