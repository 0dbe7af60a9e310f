"""The limits every running download shares: total bandwidth and the Telegram request rate.

``LearnedPace`` paces each kind of request at the rate Telegram's flood waits have shown it takes.

Both are token buckets woken by one loop timer, so a cancelled waiter never stalls the rest and no
background task runs. Hand-written rather than aiolimiter, which refuses amounts above its capacity,
cannot change its rate under queued waiters and serves by arrival.

Requests wait in FIFO order, but bytes are shared by weighted fair queuing: each download is a
*flow* with a weight (its priority's, see ``PRIORITY_WEIGHTS``), and a waiting part is served in
the order of its virtual finish time (self-clocked fair queuing: the flow's previous finish or the
system's virtual time, whichever is later, plus the part's bytes over the flow's weight). So equal
downloads get equal shares whatever the order their parts arrive in, a high-priority download twice
a normal one's, a small file's single part goes out next instead of behind a big file's queued
parts, and a share nobody uses goes to the others (a flow with nothing waiting takes nothing).

Bandwidth uses a debt model: a request is granted once the bucket covers it or is full, so a chunk
bigger than the bucket (1 MiB at 256 KiB/s) leaves the balance negative for the next caller to pay.
A transfer therefore asks in pieces no bigger than about a second of its share (``share``).

Not thread-safe: call everything from the event loop's thread.
"""

from __future__ import annotations

import asyncio
import collections
import heapq
import itertools
import math
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass

# A waiter this close to covered is granted now rather than re-armed for a sub-microsecond timer.
_SLACK_SECONDS = 1e-6

# A download's weight in the shared bandwidth, by priority (LOW, NORMAL, HIGH, CRITICAL).
PRIORITY_WEIGHTS: dict[int, float] = {0: 1.0, 1: 2.0, 2: 4.0, 3: 8.0}
DEFAULT_WEIGHT = PRIORITY_WEIGHTS[1]


def weight_of(priority: int) -> float:
    return PRIORITY_WEIGHTS.get(int(priority), DEFAULT_WEIGHT)


@dataclass(eq=False)
class Flow:
    """One download's claim on a fair limiter: its weight and the virtual finish of its last part."""

    weight: float
    finish: float = 0.0


# A waiting request: (virtual finish, arrival, future, amount, flow); the heap serves the smallest.
_Waiter = tuple[float, int, "asyncio.Future[None]", int, Flow | None]


class _TokenBucket:
    """Token bucket of ``capacity`` filled at ``rate`` per second (0 = unlimited); waiters are
    served smallest tag first (FIFO when the tag is the arrival number)."""

    def __init__(self, rate: float, capacity: float, tokens: float, clock: Callable[[], float]) -> None:
        self._rate = rate
        self._capacity = capacity
        self._tokens = tokens  # negative while a big grant is being paid off
        self._clock = clock
        self._stamp = clock()
        self._granted = 0
        self._waiters: list[_Waiter] = []
        self._arrivals = itertools.count()
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

    def _grant(self, amount: int, tag: float) -> None:
        self._tokens -= amount
        self._granted += amount
        self._served(tag)

    def _served(self, tag: float) -> None:
        """A request with this tag was granted (the fair limiter's virtual time follows it)."""

    def _tag(self, amount: int, flow: Flow | None, arrival: int) -> float:
        return float(arrival)

    def _untag(self, amount: int, flow: Flow | None, tag: float) -> None:
        """A waiter left before its grant: its flow does not pay for bytes it never got."""

    async def _take(self, amount: int, flow: Flow | None = None) -> None:
        arrival = next(self._arrivals)
        tag = self._tag(amount, flow, arrival)
        if self._rate == 0:
            self._grant(amount, tag)
            return
        self._refill()
        if not self._waiters and self._short(amount) <= self._rate * _SLACK_SECONDS:
            self._grant(amount, tag)
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        head = self._waiters[0] if self._waiters else None
        heapq.heappush(self._waiters, (tag, arrival, waiter, amount, flow))
        if self._waiters[0] is not head:  # a new head needs the timer; behind others it just waits its turn
            self._pump()
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self._give(amount)  # granted just as it was cancelled: the bytes were never used
            else:
                self._drop(waiter)
                self._untag(amount, flow, tag)
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
        self._waiters = [entry for entry in self._waiters if entry[2] is not waiter]
        heapq.heapify(self._waiters)
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
            tag, _, waiter, amount, _ = self._waiters[0]
            if not waiter.done():  # a cancelled waiter is skipped; its task cleans up after itself
                short = self._short(amount)
                if self._rate and short > self._rate * _SLACK_SECONDS:
                    self._timer = waiter.get_loop().call_later(short / self._rate, self._on_timer)
                    return
                self._grant(amount, tag)
                waiter.set_result(None)
            heapq.heappop(self._waiters)

    def _on_timer(self) -> None:
        self._timer = None
        self._pump()


class ByteRateLimiter(_TokenBucket):
    """Total download bandwidth in bytes per second, shared fairly by weight; 0 = unlimited.

    The bucket holds ``burst_seconds`` of the rate and starts empty, so no bytes are granted for
    free at start and the first seconds are as accurate as the rest. Callers without a flow share
    one (FIFO among themselves).
    """

    def __init__(self, rate: int = 0, *, burst_seconds: float = 0.25, clock: Callable[[], float] = time.monotonic) -> None:
        _check_byte_rate(rate)
        if not burst_seconds > 0 or not math.isfinite(burst_seconds):
            raise ValueError(f"burst_seconds must be a positive number, not {burst_seconds!r}")
        self._burst_seconds = burst_seconds
        self._flows: dict[Hashable, Flow] = {}
        self._anonymous = Flow(DEFAULT_WEIGHT)
        self._virtual = 0.0  # the tag of the last grant: where a flow that was idle starts again
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
        return sum(1 for entry in self._waiters if not entry[2].done())

    # ---- flows --------------------------------------------------------------------------------

    def open_flow(self, key: Hashable, weight: float = DEFAULT_WEIGHT) -> None:
        """A download starts drawing on the limit, with this weight (see ``weight_of``)."""
        _check_weight(weight)
        flow = self._flows.get(key)
        if flow is None:
            self._flows[key] = Flow(weight, finish=self._virtual)
        else:
            flow.weight = weight

    def close_flow(self, key: Hashable) -> None:
        self._flows.pop(key, None)

    def set_weight(self, key: Hashable, weight: float) -> None:
        """A running download's priority changed: its next parts are shared by the new weight."""
        _check_weight(weight)
        if (flow := self._flows.get(key)) is not None:
            flow.weight = weight

    def share(self, key: Hashable) -> float:
        """Bytes per second the flow may expect now: the rate split by weight among open flows
        (``math.inf`` when unlimited). A share is a floor: one unused goes to the others."""
        if self._rate == 0:
            return math.inf
        flow = self._flows.get(key)
        weight = flow.weight if flow is not None else DEFAULT_WEIGHT
        total = sum(f.weight for f in self._flows.values()) + (0 if flow is not None else weight)
        return self._rate * weight / total

    def _tag(self, amount: int, flow: Flow | None, arrival: int) -> float:
        flow = flow or self._anonymous
        flow.finish = max(self._virtual, flow.finish) + amount / flow.weight
        return flow.finish

    def _untag(self, amount: int, flow: Flow | None, tag: float) -> None:
        flow = flow or self._anonymous
        if flow.finish == tag:  # its last request: the flow's next one starts where this one did
            flow.finish -= amount / flow.weight

    def _served(self, tag: float) -> None:
        self._virtual = max(self._virtual, tag)

    # ---- the limit ----------------------------------------------------------------------------

    def set_rate(self, rate: int) -> None:
        """Change the limit now, for waiters already queued too; 0 releases everyone."""
        _check_byte_rate(rate)
        if rate == self._rate:
            return
        if self._rate == 0:
            self._refill()
            self._tokens = 0.0  # leaving unlimited starts empty, like a new limiter: no free burst
        self._reconfigure(rate, rate * self._burst_seconds)

    async def acquire(self, nbytes: int, flow: Hashable | None = None) -> None:
        """Wait until ``nbytes`` may be downloaded: its turn among the waiting parts of every flow."""
        if nbytes < 0:
            raise ValueError(f"cannot acquire a negative number of bytes ({nbytes})")
        await self._take(nbytes, self._flows.get(flow) if flow is not None else None)

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


def _check_weight(weight: float) -> None:
    if not weight > 0 or not math.isfinite(weight):
        raise ValueError(f"a flow's weight must be a positive number, not {weight!r}")


def _check_byte_rate(rate: int) -> None:
    if rate < 0:
        raise ValueError(f"bandwidth limit must be 0 (unlimited) or positive, not {rate}")


def _check_request_rate(rate: float, burst: int) -> None:
    if not rate > 0 or not math.isfinite(rate):
        raise ValueError(f"request rate must be a positive number, not {rate!r}")
    if burst < 1:
        raise ValueError(f"request burst must be at least 1, not {burst}")


PACE_BACKOFF = 0.9  # after a flood wait, a kind goes out at this share of the rate that earned it
PACE_RAISE_SECONDS = 60.0  # a kind paced this long without a flood wait…
PACE_RAISE = 1.1  # …may go this much faster (Telegram's limits move)
LEAST_PACE = 1.0  # requests a second of a kind, at the slowest
PACE_WINDOW = 1.0  # Telegram counts the requests of a kind over about a second


class LearnedPace:
    """Requests of each kind a second that Telegram takes without FLOOD_WAIT, learned from its waits.

    Telegram answers requests of one kind sent too fast with FLOOD_WAIT_X, counting the account's
    requests, not a connection's, and how many it takes is not published. A kind is not paced
    until a first flood wait; the requests of that kind sent in the second before it are the rate
    that was too much, and from then on the kind goes out evenly at ``PACE_BACKOFF`` of it, one
    request at a time. So more files at once no longer earn more flood waits (they wait here a few
    milliseconds each instead of two seconds each there), and a flood wait's end no longer lets
    every waiting request go at once into the next one. Each ``PACE_RAISE_SECONDS`` without a flood
    wait the pace rises by ``PACE_RAISE``; the next flood wait lowers it again.

    The flood waits of requests already sent when the first came back (and of those sent as it
    ends) are the same flood: they lower nothing more.
    """

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._sent: dict[type, collections.deque[float]] = {}
        self._pace: dict[type, float] = {}
        self._next: dict[type, float] = {}  # when the next request of a paced kind may go
        self._changed: dict[type, float] = {}  # when a flood wait last set its pace
        self._quiet_until: dict[type, float] = {}  # floods before this are the tail of the last one
        self.lowered_at: float | None = None  # when a flood wait last set or lowered a pace (clock)

    def pace(self, kind: type) -> float | None:
        """Requests of ``kind`` a second now allowed; None when not paced. The pace set by the last
        flood wait, raised by ``PACE_RAISE`` for each whole ``PACE_RAISE_SECONDS`` since (reading it
        changes nothing)."""
        rate = self._pace.get(kind)
        if rate is None:
            return None
        return rate * PACE_RAISE ** int((self._clock() - self._changed[kind]) // PACE_RAISE_SECONDS)

    def paces(self) -> dict[str, float]:
        """Each paced kind by its method's name ("getFile") and its requests a second."""
        return {method_name(kind): round(rate, 1) for kind in list(self._pace) if (rate := self.pace(kind)) is not None}

    async def turn(self, kind: type) -> None:
        """Wait for the turn of a request of ``kind`` (at once if it is not paced)."""
        rate = self.pace(kind)
        if rate is None:
            return
        now = self._clock()
        turn = max(now, self._next.get(kind, now))
        self._next[kind] = turn + 1.0 / rate
        if turn > now:
            await asyncio.sleep(turn - now)

    def sent(self, kind: type) -> float:
        """A request of ``kind`` goes now: counted, and when returned (for ``flooded``)."""
        now = self._clock()
        sent = self._sent.setdefault(kind, collections.deque())
        sent.append(now)
        while sent and sent[0] <= now - 2 * PACE_WINDOW:  # kept a while: see flooded
            sent.popleft()
        return now

    def flooded(self, kind: type, seconds: float, sent_at: float) -> bool:
        """Telegram answered the request of ``kind`` sent at ``sent_at`` with FLOOD_WAIT_``seconds``;
        True if the pace fell.

        What Telegram counted is the requests sent in the second up to that one (those sent while
        its answer travelled back are not in its count): that rate is what was too much.
        """
        now = self._clock()
        if now < self._quiet_until.get(kind, 0.0):
            return False
        self._quiet_until[kind] = now + max(seconds, 1.0) + PACE_WINDOW
        sent = self._sent.get(kind, ())
        rate = sum(1 for at in sent if sent_at - PACE_WINDOW < at <= sent_at) * PACE_BACKOFF
        paced = self.pace(kind)
        if paced is not None:
            rate = min(rate, paced * PACE_BACKOFF)
        self._pace[kind] = max(LEAST_PACE, rate)
        self._changed[kind] = self.lowered_at = now
        return True


def method_name(kind: type) -> str:
    """A Telethon request class by its method's name: ``GetFileRequest`` → "getFile"."""
    name = kind.__name__.removesuffix("Request")
    return name[:1].lower() + name[1:]
