"""What real Telegram holds an account to, beyond one connection's link: the simulation's hostility.

Each limit is off by default (a test turns on what it exercises) and switchable in ``[demo]``:

- a non-Premium account's download allowance: getFile answers share ``download_limit`` bytes a
  second across all of the account's connections on all DCs; a request the allowance cannot cover
  is refused with ``FLOOD_PREMIUM_WAIT_X`` (Telethon's ``FloodPremiumWaitError``), and so is every
  getFile until the X seconds have passed;
- request volume: more than ``requests_per_second`` requests of one kind in a second earn
  ``FLOOD_WAIT_X`` for that kind, account-wide;
- bursts of server errors (``-500 INTERNAL``, ``RPC_CALL_FAIL``, ``-503 Timeout``): a request starts
  one with probability ``server_error_rate``, and the next 1 to ``server_error_burst`` requests fail;
- dropped connections: a getFile loses its connection with probability ``drop_rate``.

Random choices come from a generator seeded with ``seed``, so a run can be repeated.
"""

from __future__ import annotations

import math
import random
from collections import deque
from dataclasses import dataclass, field

from tad_tui.telegram.sim.errors import DropConnection, RpcErrorReply

PREMIUM_BURST_SECONDS = 1.0  # what an idle non-Premium account may fetch at once
PREMIUM_PENALTY_SECONDS = 1  # added to the deficit: a refusal costs more than pacing would have
_SERVER_ERRORS = ((500, "INTERNAL"), (500, "RPC_CALL_FAIL"), (-503, "Timeout"))


@dataclass(frozen=True)
class AccountLimits:
    premium: bool = True
    download_limit: float = 0.0  # bytes a second for a non-Premium account; 0 = none
    requests_per_second: int = 0  # of one kind, account-wide; 0 = no limit
    flood_wait_seconds: int = 2  # what exceeding it costs
    server_error_rate: float = 0.0
    server_error_burst: int = 8
    drop_rate: float = 0.0
    seed: int = 0

    @property
    def throttled(self) -> bool:
        return not self.premium and self.download_limit > 0


@dataclass
class AccountPolicy:
    """The limits of one simulated account, applied to each request as it arrives (``now`` in seconds)."""

    limits: AccountLimits = field(default_factory=AccountLimits)
    premium_waits: int = 0  # FLOOD_PREMIUM_WAITs answered so far
    volume_waits: int = 0  # FLOOD_WAITs for request volume answered so far
    volume_floods: dict[str, int] = field(default_factory=dict)  # by request name: floods started (not their tails)
    server_errors: int = 0
    drops: int = 0
    _allowance: float = 0.0
    _stamp: float | None = None
    _premium_until: float = 0.0
    _recent: dict[str, deque[float]] = field(default_factory=dict)
    _flooded_until: dict[str, float] = field(default_factory=dict)
    _burst_left: int = 0
    _random: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self._random = random.Random(self.limits.seed)

    def check(self, name: str, now: float) -> None:
        """Any request as it arrives: a flood wait in force, too many of its kind, a server error."""
        limits = self.limits
        until = self._flooded_until.get(name, 0.0)
        if now < until:
            self.volume_waits += 1
            raise RpcErrorReply(420, f"FLOOD_WAIT_{max(1, math.ceil(until - now))}")
        if limits.requests_per_second > 0:
            recent = self._recent.setdefault(name, deque())
            recent.append(now)
            while recent and recent[0] <= now - 1.0:
                recent.popleft()
            if len(recent) > limits.requests_per_second:
                recent.clear()
                self._flooded_until[name] = now + limits.flood_wait_seconds
                self.volume_waits += 1
                self.volume_floods[name] = self.volume_floods.get(name, 0) + 1
                raise RpcErrorReply(420, f"FLOOD_WAIT_{limits.flood_wait_seconds}")
        if self._burst_left > 0 or (limits.server_error_rate and self._random.random() < limits.server_error_rate):
            if self._burst_left == 0:
                self._burst_left = self._random.randint(1, max(1, limits.server_error_burst))
            self._burst_left -= 1
            self.server_errors += 1
            raise RpcErrorReply(*self._random.choice(_SERVER_ERRORS))

    def download(self, nbytes: int, now: float) -> None:
        """A getFile answer of ``nbytes``: within the account's allowance, or refused or dropped."""
        limits = self.limits
        if limits.drop_rate and self._random.random() < limits.drop_rate:
            self.drops += 1
            raise DropConnection("GetFileRequest")
        if not limits.throttled:
            return
        if now < self._premium_until:
            self.premium_waits += 1
            raise RpcErrorReply(420, f"FLOOD_PREMIUM_WAIT_{max(1, math.ceil(self._premium_until - now))}")
        rate = limits.download_limit
        capacity = rate * PREMIUM_BURST_SECONDS
        if self._stamp is None:
            self._allowance = capacity  # an idle account starts with its burst
        else:
            self._allowance = min(capacity, self._allowance + (now - self._stamp) * rate)
        self._stamp = now
        if nbytes <= self._allowance or (self._allowance >= capacity and nbytes > capacity):
            self._allowance -= nbytes  # a part bigger than the burst passes on a full allowance, in debt
            return
        wait = math.ceil((nbytes - self._allowance) / rate) + PREMIUM_PENALTY_SECONDS
        self._premium_until = now + wait
        self.premium_waits += 1
        raise RpcErrorReply(420, f"FLOOD_PREMIUM_WAIT_{wait}")
