"""The shared bandwidth and request-rate limiters: fairness by weight (FIFO within one download), accuracy, live changes, cancellation.

Most tests run on a virtual-time event loop: sleeping advances its clock instantly, so simulated
seconds cost nothing and grant times are exact. Nothing here asserts wall-clock speed.
"""

from __future__ import annotations

import asyncio
import selectors
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tad_tui.download import limits
from tad_tui.download.limits import ByteRateLimiter, LearnedPace, RequestRateLimiter, method_name

T = TypeVar("T")
MiB = 1 << 20
KiB = 1 << 10


class _VirtualSelector:
    """Wraps the loop's selector: waiting for ``timeout`` advances virtual time instead of blocking."""

    def __init__(self, real: selectors.BaseSelector, loop: VirtualTimeLoop) -> None:
        self._real = real
        self._loop = loop

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        events = self._real.select(0)
        if not events:
            if timeout is None:
                raise RuntimeError("deadlock: nothing scheduled and nothing to wait for")
            self._loop.now += timeout
        return events

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    def __init__(self) -> None:
        super().__init__()
        self.now = 0.0
        self._selector = _VirtualSelector(self._selector, self)  # type: ignore[has-type,assignment]

    def time(self) -> float:
        return self.now


def run(main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    with asyncio.Runner(loop_factory=VirtualTimeLoop) as runner:
        return runner.run(main())


def now() -> float:
    return asyncio.get_running_loop().time()


def byte_limiter(rate: int, **kwargs: Any) -> ByteRateLimiter:
    return ByteRateLimiter(rate, clock=asyncio.get_running_loop().time, **kwargs)


def request_limiter(rate: float, burst: int) -> RequestRateLimiter:
    return RequestRateLimiter(rate, burst, clock=asyncio.get_running_loop().time)


async def settle() -> None:
    """Let every ready callback and task run without advancing time."""
    for _ in range(10):
        await asyncio.sleep(0)


async def grant_times(acquire: Callable[[], Awaitable[None]], count: int) -> list[float]:
    times = []
    for _ in range(count):
        await acquire()
        times.append(now())
    return times


# ---- ByteRateLimiter ----------------------------------------------------------------------------


def test_unlimited_never_waits() -> None:
    async def main() -> None:
        limiter = byte_limiter(0)
        for _ in range(1000):
            await limiter.acquire(MiB)
        assert now() == 0.0
        assert limiter.rate == 0 and limiter.granted_total == 1000 * MiB

    run(main)


def test_starts_empty_and_grants_at_the_rate() -> None:
    async def main() -> None:
        limiter = byte_limiter(1000)  # bucket of 250 bytes, starting empty
        times = await grant_times(lambda: limiter.acquire(100), 10)
        assert times == pytest.approx([0.1 * i for i in range(1, 11)], abs=1e-5)

    run(main)


def test_chunk_bigger_than_the_bucket_goes_into_debt() -> None:
    async def main() -> None:
        limiter = byte_limiter(256 * KiB)  # 1 MiB is four seconds' worth; the bucket holds 64 KiB
        times = await grant_times(lambda: limiter.acquire(MiB), 3)
        # Granted once the bucket is full, then each later one waits out the previous one's debt.
        assert times == pytest.approx([0.25, 4.25, 8.25], abs=1e-5)

    run(main)


def test_idle_bucket_allows_a_small_burst_only() -> None:
    async def main() -> None:
        limiter = byte_limiter(1000)
        await asyncio.sleep(60)  # a long idle spell fills the bucket to 0.25 s worth, no more
        start = now()
        await limiter.acquire(250)
        assert now() == start
        await limiter.acquire(100)
        assert now() == pytest.approx(start + 0.1, abs=1e-5)

    run(main)


def test_waiters_are_served_in_fifo_order() -> None:
    async def main() -> None:
        limiter = byte_limiter(1000)
        order: list[int] = []

        async def download(index: int, size: int) -> None:
            await limiter.acquire(size)
            order.append(index)

        sizes = [200, 10, 10, 500, 10, 10]  # small requests must not overtake the big one ahead of them
        tasks = []
        for index, size in enumerate(sizes):
            tasks.append(asyncio.create_task(download(index, size)))
            await asyncio.sleep(0)  # fixes the order of the acquire calls
        await asyncio.gather(*tasks)
        assert order == list(range(len(sizes)))

    run(main)


def test_three_downloads_share_the_rate_accurately_and_fairly() -> None:
    rate = 8_000_000

    async def main() -> tuple[list[tuple[float, int]], list[int]]:
        limiter = byte_limiter(rate)
        grants: list[tuple[float, int]] = []
        shares = [0, 0, 0]

        async def download(index: int) -> None:
            while True:
                await limiter.acquire(MiB)
                grants.append((now(), index))
                shares[index] += MiB

        tasks = [asyncio.create_task(download(i)) for i in range(3)]
        await asyncio.sleep(10)
        first = list(shares)
        await asyncio.sleep(20)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        return grants, first

    grants, shares = run(main)
    assert sum(shares) == pytest.approx(10 * rate, rel=0.02)
    for share in shares:
        assert share == pytest.approx(sum(shares) / 3, rel=0.10)
    for start in [i * 0.5 for i in range(41)]:  # every 10 s window of the 30 s run, the first included
        granted = sum(MiB for at, _ in grants if start <= at < start + 10)
        assert granted == pytest.approx(10 * rate, rel=0.02), start


@settings(max_examples=60, deadline=None)
@given(
    rate=st.integers(16 * KiB, 64 * MiB),
    chunks=st.lists(st.integers(64 * KiB, 4 * MiB), min_size=1, max_size=8),  # at most ~20k grants
    seconds=st.floats(0.5, 20),
)
def test_granted_bytes_track_the_rate(rate: int, chunks: list[int], seconds: float) -> None:
    async def main() -> int:
        limiter = byte_limiter(rate)

        async def download() -> None:
            index = 0
            while True:
                await limiter.acquire(chunks[index % len(chunks)])
                index += 1

        task = asyncio.create_task(download())
        await asyncio.sleep(seconds)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return limiter.granted_total

    granted = run(main)
    biggest = max(chunks)
    over = max(0.0, biggest - rate * 0.25)  # only a chunk bigger than the bucket is granted ahead of payment
    slack = rate * 1e-6 + 1  # a waiter within 1 us of covered is granted rather than re-timed
    assert rate * seconds - biggest - slack <= granted <= rate * seconds + over + slack


def test_set_rate_applies_to_queued_waiters() -> None:
    async def main() -> None:
        limiter = byte_limiter(100)
        waiter = asyncio.create_task(limiter.acquire(10))  # due at 0.1 s at the old rate
        await asyncio.sleep(0.05)  # 5 bytes saved so far
        limiter.set_rate(1000)
        await waiter
        assert now() == pytest.approx(0.055, abs=1e-5)
        assert limiter.rate == 1000

        slower = asyncio.create_task(limiter.acquire(10))
        await settle()
        limiter.set_rate(100)  # lowered while queued: the waiter now needs 0.1 s, not 0.01 s
        await slower
        assert now() == pytest.approx(0.155, abs=1e-5)

    run(main)


def test_set_rate_zero_releases_everyone() -> None:
    async def main() -> None:
        limiter = byte_limiter(100)
        waiters = [asyncio.create_task(limiter.acquire(MiB)) for _ in range(5)]
        await asyncio.sleep(0.01)
        assert limiter.waiting == 5
        limiter.set_rate(0)
        await asyncio.gather(*waiters)
        assert now() == pytest.approx(0.01)
        assert limiter.waiting == 0

    run(main)


def test_leaving_unlimited_starts_empty() -> None:
    async def main() -> None:
        limiter = byte_limiter(0)
        await limiter.acquire(10 * MiB)
        await asyncio.sleep(5)
        limiter.set_rate(1000)
        start = now()
        await limiter.acquire(100)
        assert now() == pytest.approx(start + 0.1, abs=1e-5)

    run(main)


def test_refund_gives_the_bytes_back() -> None:
    async def main() -> None:
        limiter = byte_limiter(1000)
        await limiter.acquire(1000)  # granted at 0.25 s once the bucket is full, leaving 750 of debt
        assert now() == pytest.approx(0.25, abs=1e-5)
        limiter.refund(700)  # only 300 arrived
        assert limiter.granted_total == 300
        start = now()
        await limiter.acquire(100)  # the 50 bytes of debt left, then 100 more: 0.15 s
        assert now() == pytest.approx(start + 0.15, abs=1e-5)

    run(main)


def test_refund_wakes_a_queued_waiter() -> None:
    async def main() -> None:
        limiter = byte_limiter(1000)
        await limiter.acquire(200)
        start = now()
        waiter = asyncio.create_task(limiter.acquire(100))  # due 0.1 s later
        await asyncio.sleep(0.01)
        limiter.refund(200)
        await waiter
        assert now() == pytest.approx(start + 0.01)

    run(main)


def test_cancelled_waiter_consumes_nothing_and_stalls_nobody() -> None:
    async def main() -> None:
        limiter = byte_limiter(1000)
        first = asyncio.create_task(limiter.acquire(100))
        await settle()
        second = asyncio.create_task(limiter.acquire(100))
        await asyncio.sleep(0.05)
        first.cancel()
        await asyncio.gather(first, return_exceptions=True)
        await second
        assert first.cancelled()
        assert now() == pytest.approx(0.1, abs=1e-5)  # as if the cancelled waiter had never asked
        assert limiter.granted_total == 100 and limiter.waiting == 0

    run(main)


def test_waiter_cancelled_just_after_its_grant_returns_the_bytes() -> None:
    async def main() -> None:
        limiter = byte_limiter(1000)
        waiter = asyncio.create_task(limiter.acquire(100))
        await settle()
        limiter.refund(100)  # covers the waiter: it is granted at once, but has not resumed yet
        waiter.cancel()
        await asyncio.gather(waiter, return_exceptions=True)
        assert waiter.cancelled()
        start = now()
        await limiter.acquire(100)  # the cancelled grant's bytes are still in the bucket
        assert now() == start

    run(main)


def test_cancelling_many_waiters_leaks_no_tokens() -> None:
    async def main() -> None:
        limiter = byte_limiter(1000)
        order: list[int] = []

        async def download(index: int) -> None:
            await limiter.acquire(100)
            order.append(index)

        tasks = []
        for index in range(20):
            tasks.append(asyncio.create_task(download(index)))
            await asyncio.sleep(0)
        await asyncio.sleep(0.05)
        for index in range(0, 20, 3):
            tasks[index].cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        kept = [i for i in range(20) if i % 3]
        assert order == kept
        assert now() == pytest.approx(0.1 * len(kept), abs=1e-5)
        assert limiter.granted_total == 100 * len(kept)

    run(main)


# ---- fair sharing between downloads (flows) -----------------------------------------------------


async def _backlogged(limiter: ByteRateLimiter, key: str, piece: int, depth: int, got: dict[str, int]) -> None:
    """A download keeping ``depth`` requests of ``piece`` bytes waiting at all times."""

    async def worker() -> None:
        while True:
            await limiter.acquire(piece, key)
            got[key] = got.get(key, 0) + piece

    workers = [asyncio.create_task(worker()) for _ in range(depth)]
    try:
        await asyncio.Event().wait()
    finally:
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)


def _shares(rate: int, downloads: list[tuple[str, float, int, int]], seconds: float) -> dict[str, int]:
    """Bytes each of ``downloads`` (key, weight, piece, depth) got in ``seconds`` of a shared limit."""

    async def main() -> dict[str, int]:
        limiter = byte_limiter(rate)
        got: dict[str, int] = {}
        tasks = []
        for key, weight, piece, depth in downloads:
            limiter.open_flow(key, weight)
            tasks.append(asyncio.create_task(_backlogged(limiter, key, piece, depth, got)))
            await asyncio.sleep(0)
        await asyncio.sleep(seconds)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        return got

    return run(main)


def test_equal_downloads_get_equal_shares_whatever_their_requests() -> None:
    """One download asks 1 MiB at a time with 16 waiting, the other 64 KiB with 2: FIFO gave the
    first sixteen times the second's bytes; by weight they are equal."""
    got = _shares(4 * MiB, [("big", 2, MiB, 16), ("small", 2, 64 * KiB, 2)], 20)
    assert got["big"] == pytest.approx(got["small"], rel=0.1)
    assert sum(got.values()) == pytest.approx(20 * 4 * MiB, rel=0.05)


@pytest.mark.parametrize(("high", "normal", "ratio"), [(4, 2, 2.0), (8, 1, 8.0), (2, 1, 2.0)])
def test_shares_follow_the_weights(high: float, normal: float, ratio: float) -> None:
    got = _shares(2 * MiB, [("a", normal, 128 * KiB, 4), ("b", high, 128 * KiB, 4)], 30)
    assert got["b"] / got["a"] == pytest.approx(ratio, rel=0.1)


def test_a_share_nobody_uses_goes_to_the_others() -> None:
    async def main() -> tuple[int, float]:
        limiter = byte_limiter(MiB)
        limiter.open_flow("idle", 8)  # open, but asks for nothing
        got: dict[str, int] = {}
        limiter.open_flow("busy", 1)
        task = asyncio.create_task(_backlogged(limiter, "busy", 64 * KiB, 2, got))
        await asyncio.sleep(10)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return got["busy"], limiter.share("busy")

    busy, share = run(main)
    assert busy == pytest.approx(10 * MiB, rel=0.05)
    assert share == pytest.approx(MiB / 9)  # what it may count on: one ninth, by weight


def test_a_small_files_part_goes_out_next_not_behind_a_big_files_queue() -> None:
    async def main() -> float:
        limiter = byte_limiter(200 * KiB)
        limiter.open_flow("mix", 2)
        got: dict[str, int] = {}
        big = asyncio.create_task(_backlogged(limiter, "mix", 128 * KiB, 16, got))
        await asyncio.sleep(5)
        limiter.open_flow("track", 4)
        asked = now()
        await limiter.acquire(5000, "track")
        waited = now() - asked
        big.cancel()
        await asyncio.gather(big, return_exceptions=True)
        return waited

    assert run(main) < 1.0  # at most one 128 KiB piece's debt ahead of it, not sixteen


def test_a_new_weight_applies_to_the_next_parts() -> None:
    async def main() -> dict[str, int]:
        limiter = byte_limiter(MiB)
        got: dict[str, int] = {}
        tasks = []
        for key in ("a", "b"):
            limiter.open_flow(key, 2)
            tasks.append(asyncio.create_task(_backlogged(limiter, key, 64 * KiB, 2, got)))
        await asyncio.sleep(5)
        limiter.set_weight("b", 8)
        got.clear()
        await asyncio.sleep(20)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        return got

    got = run(main)
    assert got["b"] / got["a"] == pytest.approx(4, rel=0.1)


def test_flow_weights_and_shares_are_checked() -> None:
    async def main() -> None:
        limiter = byte_limiter(0)
        assert limiter.share("anyone") == float("inf")
        with pytest.raises(ValueError):
            limiter.open_flow("x", 0)
        with pytest.raises(ValueError):
            limiter.set_weight("x", float("nan"))
        limiter.set_rate(3 * MiB)
        limiter.open_flow("x", 1)
        limiter.open_flow("y", 2)
        assert limiter.share("y") == pytest.approx(2 * MiB)
        limiter.close_flow("y")
        assert limiter.share("x") == pytest.approx(3 * MiB)

    run(main)


def test_byte_limiter_rejects_bad_values() -> None:
    with pytest.raises(ValueError):
        ByteRateLimiter(-1)
    with pytest.raises(ValueError):
        ByteRateLimiter(1000, burst_seconds=0)
    limiter = ByteRateLimiter(1000)
    with pytest.raises(ValueError):
        limiter.set_rate(-5)
    with pytest.raises(ValueError):
        limiter.refund(-1)


# ---- RequestRateLimiter -------------------------------------------------------------------------


def test_requests_start_with_a_full_burst_then_follow_the_rate() -> None:
    async def main() -> None:
        limiter = request_limiter(10, 5)
        times = await grant_times(limiter.acquire, 8)
        assert times[:5] == [0.0] * 5
        assert times[5:] == pytest.approx([0.1, 0.2, 0.3], abs=1e-5)

    run(main)


def test_requests_over_ten_seconds_match_rate_plus_burst() -> None:
    async def main() -> int:
        limiter = request_limiter(20, 40)
        count = 0

        async def caller() -> None:
            nonlocal count
            while True:
                await limiter.acquire()
                count += 1

        tasks = [asyncio.create_task(caller()) for _ in range(4)]
        await asyncio.sleep(10)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        return count

    assert run(main) in range(40 + 200 - 1, 40 + 200 + 2)


def test_requests_are_served_in_fifo_order() -> None:
    async def main() -> None:
        limiter = request_limiter(10, 1)
        await limiter.acquire()
        order: list[int] = []

        async def caller(index: int) -> None:
            await limiter.acquire()
            order.append(index)

        tasks = []
        for index in range(6):
            tasks.append(asyncio.create_task(caller(index)))
            await asyncio.sleep(0)
        await asyncio.gather(*tasks)
        assert order == list(range(6))
        assert now() == pytest.approx(0.6, abs=1e-5)

    run(main)


def test_request_set_rate_applies_to_queued_waiters() -> None:
    async def main() -> None:
        limiter = request_limiter(1, 1)
        await limiter.acquire()
        waiter = asyncio.create_task(limiter.acquire())  # due at 1 s
        await asyncio.sleep(0.5)  # half a token saved
        limiter.set_rate(10)
        await waiter
        assert now() == pytest.approx(0.55, abs=1e-5)
        assert limiter.rate == 10 and limiter.burst == 1

        limiter.set_rate(10, burst=3)
        await asyncio.sleep(5)  # idle: the bigger bucket fills to 3 and no further
        start = now()
        for _ in range(3):
            await limiter.acquire()
        assert now() == start
        await limiter.acquire()
        assert now() == pytest.approx(start + 0.1, abs=1e-5)

        limiter.set_rate(100, burst=1)  # a smaller burst trims the saved tokens
        assert limiter.burst == 1

    run(main)


def test_cancelled_request_waiter_consumes_no_token() -> None:
    async def main() -> None:
        limiter = request_limiter(10, 1)
        await limiter.acquire()
        first = asyncio.create_task(limiter.acquire())
        await settle()
        second = asyncio.create_task(limiter.acquire())
        await asyncio.sleep(0.05)
        first.cancel()
        await asyncio.gather(first, return_exceptions=True)
        await second
        assert now() == pytest.approx(0.1, abs=1e-5)

    run(main)


# ---- the pace learned from flood waits ----------------------------------------------------------


class GetFileRequest:
    """Stands for Telethon's request class: only its type is used."""


class GetFileHashesRequest:
    pass


def learned_pace() -> LearnedPace:
    return LearnedPace(clock=asyncio.get_running_loop().time)


async def sends(pace: LearnedPace, kind: type, count: int) -> list[float]:
    """``count`` requests of ``kind`` from as many callers at once; when each went."""

    async def send() -> float:
        await pace.turn(kind)
        return pace.sent(kind)

    return sorted(await asyncio.gather(*(send() for _ in range(count))))


def test_a_kind_is_not_paced_before_telegram_says_so() -> None:
    async def main() -> None:
        pace = learned_pace()
        assert await sends(pace, GetFileRequest, 30) == [0.0] * 30
        assert pace.pace(GetFileRequest) is None and pace.paces() == {} and pace.lowered_at is None

    run(main)


def test_a_flood_wait_paces_its_kind_below_what_was_sent_in_the_second_before() -> None:
    async def main() -> None:
        pace = learned_pace()
        await sends(pace, GetFileRequest, 5)
        await asyncio.sleep(0.5)
        went = await sends(pace, GetFileRequest, 20)  # 25 in the second up to the refused one
        await asyncio.sleep(0.06)  # its answer comes back; what is sent meanwhile is not counted
        await sends(pace, GetFileRequest, 10)
        assert pace.flooded(GetFileRequest, 2, went[-1]) is True
        assert pace.pace(GetFileRequest) == pytest.approx(25 * limits.PACE_BACKOFF)
        assert pace.paces() == {"getFile": round(25 * limits.PACE_BACKOFF, 1)}
        assert pace.pace(GetFileHashesRequest) is None  # each kind on its own
        went = await sends(pace, GetFileRequest, 45)
        gaps = [b - a for a, b in zip(went, went[1:], strict=False)]
        assert gaps == pytest.approx([1 / (25 * limits.PACE_BACKOFF)] * 44)  # evenly, one at a time
        assert max(sum(1 for t in went if start <= t < start + 1) for start in went) <= 25 * limits.PACE_BACKOFF + 1

    run(main)


def test_the_flood_waits_of_requests_already_sent_lower_nothing_more() -> None:
    async def main() -> None:
        pace = learned_pace()
        went = await sends(pace, GetFileRequest, 40)
        assert pace.flooded(GetFileRequest, 2, went[-1])
        first, lowered = pace.pace(GetFileRequest), pace.lowered_at
        for _ in range(10):  # the others in flight, and those refused as the wait ends
            assert pace.flooded(GetFileRequest, 2, went[-1]) is False
        await asyncio.sleep(2.5)
        assert pace.flooded(GetFileRequest, 1, now()) is False
        assert pace.pace(GetFileRequest) == first and pace.lowered_at == lowered

    run(main)


def test_a_later_flood_wait_lowers_the_pace_and_calm_raises_it() -> None:
    async def main() -> None:
        pace = learned_pace()
        went = await sends(pace, GetFileRequest, 40)
        pace.flooded(GetFileRequest, 1, went[-1])
        first = pace.pace(GetFileRequest)
        assert first is not None
        await asyncio.sleep(10)
        went = await sends(pace, GetFileRequest, 40)
        assert pace.flooded(GetFileRequest, 1, went[-1])  # refused even at the pace: lower still
        second = pace.pace(GetFileRequest)
        assert second is not None and second == pytest.approx(first * limits.PACE_BACKOFF, rel=0.01)
        await asyncio.sleep(limits.PACE_RAISE_SECONDS + 1)
        assert pace.pace(GetFileRequest) == pytest.approx(second * limits.PACE_RAISE)
        assert pace.pace(GetFileRequest) == pytest.approx(second * limits.PACE_RAISE)  # once a minute
        await asyncio.sleep(2 * limits.PACE_RAISE_SECONDS)  # not read meanwhile: raised for each minute
        assert pace.pace(GetFileRequest) == pytest.approx(second * limits.PACE_RAISE**3)
        pace.flooded(GetFileHashesRequest, 1, now())  # nothing sent of it: the slowest pace there is
        assert pace.pace(GetFileHashesRequest) == limits.LEAST_PACE

    run(main)


def test_method_names_are_telegrams() -> None:
    assert method_name(GetFileRequest) == "getFile"
    assert method_name(GetFileHashesRequest) == "getFileHashes"


def test_request_limiter_rejects_bad_values() -> None:
    with pytest.raises(ValueError):
        RequestRateLimiter(0, 1)
    with pytest.raises(ValueError):
        RequestRateLimiter(1, 0)
    limiter = RequestRateLimiter(1, 1)
    with pytest.raises(ValueError):
        limiter.set_rate(-1)
    with pytest.raises(ValueError):
        limiter.set_rate(1, burst=0)


# ---- On the real event loop, with short durations (behaviour only, never speed) ----------------


async def test_real_loop_serves_every_download() -> None:
    limiter = ByteRateLimiter(2_000_000)
    order: list[int] = []

    async def download(index: int) -> None:
        for _ in range(5):
            await limiter.acquire(10_000)
            order.append(index)

    await asyncio.gather(*(download(i) for i in range(3)))
    # Exact interleaving depends on timer lateness (the virtual-time tests pin it down).
    assert sorted(order) == [0] * 5 + [1] * 5 + [2] * 5
    assert limiter.granted_total == 150_000 and limiter.waiting == 0


async def test_real_loop_requests_and_cancellation() -> None:
    limiter = RequestRateLimiter(500, 2)
    waiters = [asyncio.create_task(limiter.acquire()) for _ in range(6)]
    await asyncio.sleep(0)
    waiters[3].cancel()
    results = await asyncio.gather(*waiters, return_exceptions=True)
    assert [isinstance(r, asyncio.CancelledError) for r in results] == [False, False, False, True, False, False]
