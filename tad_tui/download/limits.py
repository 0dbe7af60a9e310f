"""The limits every running download shares: total bandwidth and the Telegram request rate.

Both are token buckets whose waiters queue strictly FIFO and are woken by one loop timer, so
equal downloads get equal shares, a cancelled waiter never stalls the rest, and no background
task runs. Hand-written rather than aiolimiter, which refuses amounts above its capacity and
cannot change its rate under queued waiters.

Bandwidth uses a debt model: a request is granted once the bucket covers it or is full, so a chunk
bigger than the bucket (1 MiB at 256 KiB/s) leaves the balance negative for the next caller to pay.

Not thread-safe: call everything from the event loop's thread.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Callable

# A waiter this close to covered is granted now rather than re-armed for a sub-microsecond timer.
_SLACK_SECONDS = 1e-6


class _TokenBucket:
    """FIFO token bucket of ``capacity`` filled at ``rate`` per second (0 = unlimited)."""

    def __init__(self, rate: float, capacity: float, tokens: float, clock: Callable[[], float]) -> None:
        self._rate = rate
        self._capacity = capacity
        self._tokens = tokens  # negative while a big grant is being paid off
        self._clock = clock
        self._stamp = clock()
        self._granted = 0
        self._waiters: deque[tuple[asyncio.Future[None], int]] = deque()
        self._timer: asyncio.TimerHandle | None = None

    def _refill(self) -> None:
        now = self._clock()
        self._tokens += (now - self._stamp) * self._rate
        self._stamp = now
        if not self._waiters:  # waiters are granted the moment they are covered: only idle time overfills
            self._tokens = min(self._tokens, self._capacity)

    def _short(self, amount: int) -> float:
        """Tokens still missing before ``amount`` may be granted (covered, or the bucket full)."""
        return min(amount, self._capacity) - self._tokens

    def _grant(self, amount: int) -> None:
        self._tokens -= amount
        self._granted += amount

    async def _take(self, amount: int) -> None:
        if self._rate == 0:
            self._grant(amount)
            return
        self._refill()
        if not self._waiters and self._short(amount) <= self._rate * _SLACK_SECONDS:
            self._grant(amount)
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((waiter, amount))
        if len(self._waiters) == 1:  # a new head needs the timer; behind others it just waits its turn
            self._pump()
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self._give(amount)  # granted just as it was cancelled: the bytes were never used
            else:
                self._drop(waiter)
            raise

    def _give(self, amount: int) -> None:
        self._refill()
        self._tokens += amount
        self._granted -= amount
        if self._waiters:
            self._pump()
        else:
            self._tokens = min(self._tokens, self._capacity)

    def _drop(self, waiter: asyncio.Future[None]) -> None:
        self._refill()
        for entry in self._waiters:
            if entry[0] is waiter:
                self._waiters.remove(entry)
                break
        self._pump()  # the head may have changed, and the timer was armed for it

    def _reconfigure(self, rate: float, capacity: float) -> None:
        self._refill()  # settle the balance at the old rate before the new one applies
        self._rate = rate
        self._capacity = capacity
        self._tokens = min(self._tokens, capacity)
        if self._waiters:
            self._pump()

    def _pump(self) -> None:
        """Grant waiters from the head while they are covered, then arm one timer for the next."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._refill()
        while self._waiters:
            waiter, amount = self._waiters[0]
            if not waiter.done():  # a cancelled waiter is skipped; its task cleans up after itself
                short = self._short(amount)
                if self._rate and short > self._rate * _SLACK_SECONDS:
                    self._timer = waiter.get_loop().call_later(short / self._rate, self._on_timer)
                    return
                self._grant(amount)
                waiter.set_result(None)
            self._waiters.popleft()

    def _on_timer(self) -> None:
        self._timer = None
        self._pump()


class ByteRateLimiter(_TokenBucket):
    """Total download bandwidth in bytes per second, shared FIFO by every download; 0 = unlimited.

    The bucket holds ``burst_seconds`` of the rate and starts empty, so no bytes are granted for
    free at start and the first seconds are as accurate as the rest.
    """

    def __init__(self, rate: int = 0, *, burst_seconds: float = 0.25, clock: Callable[[], float] = time.monotonic) -> None:
        _check_byte_rate(rate)
        if not burst_seconds > 0 or not math.isfinite(burst_seconds):
            raise ValueError(f"burst_seconds must be a positive number, not {burst_seconds!r}")
        self._burst_seconds = burst_seconds
        super().__init__(rate, rate * burst_seconds, 0.0, clock)

    @property
    def rate(self) -> int:
        return int(self._rate)

    @property
    def granted_total(self) -> int:
        """Bytes granted so far, less those refunded."""
        return self._granted

    @property
    def waiting(self) -> int:
        return sum(1 for waiter, _ in self._waiters if not waiter.done())

    def set_rate(self, rate: int) -> None:
        """Change the limit now, for waiters already queued too; 0 releases everyone."""
        _check_byte_rate(rate)
        if rate == self._rate:
            return
        if self._rate == 0:
            self._refill()
            self._tokens = 0.0  # leaving unlimited starts empty, like a new limiter: no free burst
        self._reconfigure(rate, rate * self._burst_seconds)

    async def acquire(self, nbytes: int) -> None:
        """Wait until ``nbytes`` may be downloaded, behind every earlier caller."""
        if nbytes < 0:
            raise ValueError(f"cannot acquire a negative number of bytes ({nbytes})")
        await self._take(nbytes)

    def refund(self, nbytes: int) -> None:
        """Give back bytes that were acquired but not received (a short read at the end of a file)."""
        if nbytes < 0:
            raise ValueError(f"cannot refund a negative number of bytes ({nbytes})")
        if nbytes:
            self._give(nbytes)


class RequestRateLimiter(_TokenBucket):
    """Telegram requests per second: a bucket of ``burst`` tokens that starts full, served FIFO."""

    def __init__(self, rate: float, burst: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        _check_request_rate(rate, burst)
        super().__init__(rate, burst, float(burst), clock)

    @property
    def rate(self) -> float:
        return self._rate

    @property
    def burst(self) -> int:
        return int(self._capacity)

    def set_rate(self, rate: float, burst: int | None = None) -> None:
        """Change the rate (and burst) now, for waiters already queued too."""
        burst = self.burst if burst is None else burst
        _check_request_rate(rate, burst)
        self._reconfigure(rate, burst)

    async def acquire(self) -> None:
        """Wait for one request token, behind every earlier caller."""
        await self._take(1)


def _check_byte_rate(rate: int) -> None:
    if rate < 0:
        raise ValueError(f"bandwidth limit must be 0 (unlimited) or positive, not {rate}")


def _check_request_rate(rate: float, burst: int) -> None:
    if not rate > 0 or not math.isfinite(rate):
        raise ValueError(f"request rate must be a positive number, not {rate!r}")
    if burst < 1:
        raise ValueError(f"request burst must be at least 1, not {burst}")
