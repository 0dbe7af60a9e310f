"""How many files run at once: ``max_concurrent`` multi-part files, and single-part files adaptively.

A file of one part (at most ``chunk_size``) costs a round trip and little bandwidth: three at a
time leave the link idle while each waits for its answer, so the archive's thousand tracks of a
few KB crawl. With ``[downloads] adaptive`` they get slots of their own, :class:`SinglePartSlots`,
sized by hill climbing on the single-part files finished per second: a step up is kept while it
raises that rate, undone when it does not; a step down is kept when the rate holds without the
files. Flood waits (or server errors), memory pressure and a busy CPU cut the slots at once.
Multi-part files keep ``max_concurrent``, scaled down by the same trouble (``Health``), as before.

Telegram's request rate bounds these slots through its flood waits: file parts are not paced by
``rate_limit_requests_per_second`` (that limiter leaves upload.getFile alone). A flood wait sets
or lowers the pace of its kind of request (``limits.LearnedPace``): from then on those requests wait
their turn in the client instead of meeting more flood waits, so it cuts nothing here; the window
that measures the slots restarts once it is over. Other trouble (server errors, a flood wait that
moved no pace) is met by fewer files: a step up that met it is undone;
met at a settled level it halves the slots. Either way they stay below that level for a while
(``TROUBLE_MEMORY_SECONDS``) instead of climbing straight back into it.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tad_tui.download.events import EntryFinished, Event
from tad_tui.words import counted

log = logging.getLogger(__name__)

MOST_SINGLE_PART = 64  # never more single-part files at once, however well more pay
WINDOW_SECONDS = 1.0  # a measurement lasts at least this long…
WINDOW_FILES = 8  # …and until this many files finished,
MAX_WINDOW_SECONDS = 10.0  # or this long at most (few files finish: judge on what there is)
GAIN = 0.10  # a step must change the files finished per second by this share to count
SLOW_START = 2.0  # at first each step up doubles the slots…
STEP_UP = 1.25  # …after the first step that did not pay, a quarter more at a time
STEP_DOWN = 0.8  # a step down to see whether fewer files do as well (never below the start)
HOLD_SECONDS = 10.0  # after a step (or a cut), before the next one is tried
USED_SHARE = 0.75  # slots count as used when on average this share of them held a file
TROUBLE_CUT = 0.5  # a flood wait or server errors: half the slots
PRESSURE_CUT = 0.5  # memory near max_memory_mb: half the slots, once per window while it lasts
CPU_CUT = 0.75  # CPU busy: a quarter fewer, once per window while it lasts
TROUBLE_GRACE_SECONDS = 1.0  # trouble starting this soon after the last one ended is its tail
TROUBLE_CEILING = 0.8  # after a flood wait at N files, at most this share of N…
TROUBLE_MEMORY_SECONDS = 120.0  # …for this long

ADAPTIVE_OFF = "adaptive off"


@dataclass(frozen=True)
class Concurrency:
    """Files allowed to run now, of each kind, and why (for ``performance`` and the pane)."""

    multi_part: int
    single_part: int
    reason: str
    adaptive: bool = True

    def to_json(self) -> dict[str, int]:
        if not self.adaptive:  # one pool of slots for files of any size
            return {"multi_part": self.multi_part, "single_part": self.single_part, "total": self.multi_part}
        return {"multi_part": self.multi_part, "single_part": self.single_part, "total": self.multi_part + self.single_part}


class ConnectionShare:
    """A single-part file's view of the shared connections: its part goes out on connection
    ``offset`` (modulo the pool's size) rather than always the first.

    A transfer asks for the connection of its worker's slot, and a file of one part has one worker,
    slot 0: every small file at once queued on each DC's first connection, whose bandwidth is its
    own (on the simulated link, 4 MB/s: 40 files of 100 KB a second, however many ran). Spread by
    entry, they use every connection the pool keeps, as a big file's parts do.
    """

    def __init__(self, pool: Any, offset: int) -> None:
        self._pool = pool
        self._offset = offset

    async def get(self, dc_id: int, index: int) -> Any:
        return await self._pool.get(dc_id, index + self._offset)

    async def discard(self, dc_id: int, index: int, sender: Any) -> None:
        await self._pool.discard(dc_id, index + self._offset, sender)

    @property
    def requests_in_flight(self) -> int:  # the pool's count, which the monitor shows
        return int(self._pool.requests_in_flight)

    @requests_in_flight.setter
    def requests_in_flight(self, count: int) -> None:
        self._pool.requests_in_flight = count


def concurrency_words(concurrency: dict[str, int], reason: str) -> str:
    """A sample's ``concurrency`` in words: "3 multi-part + 12 single-part files (growing: …)"."""
    multi, single = concurrency.get("multi_part", 0), concurrency.get("single_part", 0)
    if concurrency.get("total") == multi:  # adaptive off: one kind of slot for every file
        return f"{counted(multi, 'file')} of any size ({reason})"
    return f"{multi} multi-part + {counted(single, 'single-part file')} ({reason})"


def is_single_part(file_size: int, chunk_size: int) -> bool:
    """A file fetched in one getFile request (an empty or unknown size is one too)."""
    return file_size <= chunk_size


class SinglePartSlots:
    """The adaptive number of single-part files that may run at once.

    Measured in windows of at least WINDOW_SECONDS and WINDOW_FILES finished files. Settled at a
    level, a window whose slots were not all used (too few single-part files queued) says nothing
    about more files and changes nothing; otherwise its rate is the base, and once the hold after
    the last change has passed a step is tried (up, or down after an up that did not pay). The next
    window judges the step against the base, by the rate alone.

    ``running``, ``trouble``, ``pressure`` and ``cpu_busy`` are looked at on each ``update``:
    ``trouble`` returns a value that changes with each new push-back from Telegram (``Health``'s
    ``trouble_until``); 0 means none yet.
    """

    def __init__(
        self,
        start: int,
        *,
        chunk_size: int,
        most: int = MOST_SINGLE_PART,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.most = max(1, most)
        self.limit = max(1, min(start, self.most))
        self.floor = self.limit  # steps down stop here (cuts go lower): what adaptive off would run
        self._why = "starting: measuring the rate"
        self.chunk_size = chunk_size
        self.running: Callable[[], int] = lambda: 0
        self.trouble: Callable[[], float] = lambda: 0.0
        self.pressure: Callable[[], bool] = lambda: False
        self.cpu_busy: Callable[[], bool] = lambda: False
        self.paced_at: Callable[[], float | None] = lambda: None  # when the request pace last fell
        self.rate = 0.0  # files a second in the last window judged
        self._clock = clock
        self._trouble_seen = 0.0
        self._slow_start = True
        self._probing_from: tuple[int, float] | None = None  # (level, its rate) while a step is judged
        self._next_step_up = True
        self._hold_until = 0.0
        self._ceiling = self.most  # at most this many after a flood wait…
        self._ceiling_until = 0.0  # …until then
        self._next_cut = 0.0  # pressure and CPU cut once per window while they last
        self._wait_over = 0.0  # a flood wait the request pace answered ends then: measure after it
        self._told = (self.limit, self._why)  # what the log said last
        now = clock()
        self._idle_since: float | None = now  # no single-part file runs since then
        self._window_start = now
        self._files = 0
        self._used = 0.0  # integral of the slots held over the window (file-seconds)
        self._tick_at = now
        self._tick_running = 0

    # ---- what happened ------------------------------------------------------------------------

    def on_event(self, event: Event | Any) -> None:
        """An event of the bus: a single-part file downloaded counts towards the rate."""
        if isinstance(event, EntryFinished) and event.outcome == "downloaded":
            if is_single_part(event.file_size, self.chunk_size):
                self.finished()

    def finished(self) -> None:
        """A single-part file was downloaded."""
        self._tick(self._clock())
        self._files += 1

    # ---- deciding -----------------------------------------------------------------------------

    def update(self) -> int:
        """Look at the signals and, when a window is complete, judge it; returns the limit."""
        now = self._clock()
        self._tick(now)
        stamp, last = self.trouble(), self._trouble_seen
        if stamp and stamp != last and now <= last + TROUBLE_GRACE_SECONDS:
            self._trouble_seen = stamp  # requests that met the wait just as it ended: the same trouble
        elif stamp and stamp != last and self._paced(now):
            self._trouble_seen = stamp
            self._wait_over = stamp + WINDOW_SECONDS  # the wait, and the requests it held going out
            self._new_window(now)
            self._why = "flood wait: requests paced to Telegram's rate"
        elif stamp and stamp != last:
            self._trouble_seen = stamp
            self._on_trouble(now)
        elif self._wait_over:  # nothing finishes while every request waits: the window starts after it
            if now >= self._wait_over:
                self._wait_over = 0.0
            self._new_window(now)
        elif self.pressure():
            if now >= self._next_cut:
                self._cut(PRESSURE_CUT, "memory pressure: fewer files", now)
        elif self.cpu_busy():
            if now >= self._next_cut:
                self._cut(CPU_CUT, "CPU busy: fewer files", now)
        elif self._window_done(now):
            self._judge(now)
        if (self.limit, self.reason) != self._told:
            self._told = (self.limit, self.reason)
            log.debug("single-part files at once: %d (%s; %.1f files/s)", self.limit, self.reason, self.rate)
        return self.limit

    def _paced(self, now: float) -> bool:
        """The flood wait just met set or lowered the request pace (``LearnedPace``): requests no
        longer go out faster than Telegram takes them, however many files run, so it is not a
        reason for fewer files."""
        paced_at = self.paced_at()
        return paced_at is not None and now - paced_at <= TROUBLE_GRACE_SECONDS

    def _tick(self, now: float) -> None:
        """Count the slots held since the last look (a file past a cut limit counts as one slot)."""
        if self._tick_running == 0 and self._files == 0:
            self._window_start = now  # a window starts with its first file: idle time says nothing
        self._used += min(self._tick_running, self.limit) * max(0.0, now - self._tick_at)
        self._tick_at = now
        self._tick_running = self.running()
        if self._tick_running:
            self._idle_since = None
        elif self._idle_since is None:
            self._idle_since = now

    @property
    def reason(self) -> str:
        """Why the limit is what it is, in a few words."""
        if self._idle_since is not None and self._clock() - self._idle_since >= WINDOW_SECONDS:
            return "idle: no single-part files running"
        return self._why

    def _window_done(self, now: float) -> bool:
        elapsed = now - self._window_start
        return elapsed >= MAX_WINDOW_SECONDS or (elapsed >= WINDOW_SECONDS and self._files >= WINDOW_FILES)

    def _new_window(self, now: float) -> None:
        self._window_start = now
        self._files = 0
        self._used = 0.0

    def _on_trouble(self, now: float) -> None:
        """Telegram pushed back: a step up that met it is undone, and not tried again for a while;
        met at a settled level, the slots are halved and stay below that level for a while."""
        if self._probing_from is not None and self.limit > self._probing_from[0]:
            ceiling = level = self._probing_from[0]
        else:
            ceiling, level = math.floor(self.limit * TROUBLE_CEILING), math.floor(self.limit * TROUBLE_CUT)
        ceiling = max(1, ceiling)
        self._ceiling = min(ceiling, self._ceiling) if now < self._ceiling_until else ceiling
        self._ceiling_until = now + TROUBLE_MEMORY_SECONDS
        self._cut(level / self.limit, "flood waits or errors: fewer files", now)

    def _cut(self, share: float, reason: str, now: float) -> None:
        self.limit = max(1, math.floor(self.limit * share + 1e-9))
        self._why = reason
        self._slow_start = False
        self._probing_from = None
        self._next_step_up = True
        self._hold_until = now + HOLD_SECONDS
        self._next_cut = now + WINDOW_SECONDS
        self._new_window(now)

    def _judge(self, now: float) -> None:
        elapsed = now - self._window_start
        files = self._files
        rate = files / elapsed
        used = self._used / (elapsed * self.limit)
        self._new_window(now)
        if self._probing_from is not None:
            self.rate = rate
            self._judge_step(rate, now)  # by the rate alone: starting files fast enough is part of it
            return
        if used < USED_SHARE:
            # The slots were not all used (too few single-part files queued, or they could not be
            # started as fast as they finished): more of them would say nothing.
            busy = files or self.running()
            self._why = "holding: not every slot is used" if busy else "idle: no single-part files running"
            return
        self.rate = rate
        if now >= self._hold_until:
            self._try_step(rate, now)
            if self._probing_from is not None:
                self._why = "probing: trying more files" if self.limit > self._probing_from[0] else "probing: trying fewer files"

    def _judge_step(self, rate: float, now: float) -> None:
        assert self._probing_from is not None
        level, base = self._probing_from
        self._probing_from = None
        if self.limit > level:
            if rate >= base * (1 + GAIN):
                self._why = "growing: more files raised the rate"
                self._try_step(rate, now)  # and again, from here
                return
            self.limit, self._slow_start, self._next_step_up = level, False, False
            self._why = "holding: more files did not raise the rate"
        elif rate >= base * (1 - GAIN):
            self._next_step_up = True
            self._why = "shrinking: fewer files did as well"
        else:
            self.limit, self._next_step_up = level, True
            self._why = "holding: fewer files lowered the rate"
        self._hold_until = now + HOLD_SECONDS

    def _try_step(self, rate: float, now: float) -> None:
        """Settled at ``self.limit`` with ``rate``: try one step from here."""
        if self._next_step_up:
            ceiling = self.most if now >= self._ceiling_until else self._ceiling
            step = SLOW_START if self._slow_start else STEP_UP
            full = max(self.limit + 1, math.floor(self.limit * step))
            wanted = min(ceiling, full)
            if wanted <= self.limit or (wanted < full and wanted < self.limit * (1 + GAIN)):
                # No room for a step, or none big enough to show a gain: one file more proves nothing.
                self._next_step_up = self.limit == 1  # at the top: see next whether fewer do as well
                self._hold_until = now + HOLD_SECONDS
                self._why = "holding: at the most allowed" if ceiling == self.most else "holding: below a flood wait's level"
                return
        else:
            wanted = max(self.floor, min(self.limit - 1, math.floor(self.limit * STEP_DOWN)))
            if wanted >= self.limit:
                self._next_step_up = True
                return
        self._probing_from = (self.limit, rate)
        self.limit = wanted
