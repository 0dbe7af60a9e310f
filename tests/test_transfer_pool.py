"""The download connections' pool: a connection opened ahead of need (``warm``) is the one the
first slot takes; a warm-up that fails or is not needed costs nothing and leaves nothing open.

``tad-tui download`` warms the home DC while it scans, so the first byte does not wait for a
connect and an initConnection after the scan (bench/start_cost.py measures the gain)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tad_tui.download.transfer import ConnectionPool
from tad_tui.telegram.source import TelethonSource

HOME = 2


class CountedOpens:
    """``open_extra_sender`` of a client, counted, and made to fail on demand."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.real = client.open_extra_sender
        self.opened: list[Any] = []
        self.fail_next = False
        client.open_extra_sender = self

    async def __call__(self, dc_id: int) -> Any:
        if self.fail_next:
            self.fail_next = False
            await asyncio.sleep(0)
            raise ConnectionError("refused")
        sender = await self.real(dc_id)
        self.opened.append(sender)
        return sender


async def _opened(opens: CountedOpens, count: int) -> None:
    async with asyncio.timeout(10):
        while len(opens.opened) < count:
            await asyncio.sleep(0.005)


async def test_the_first_slot_takes_the_warmed_connection(source: TelethonSource) -> None:
    opens = CountedOpens(source.client)
    pool = ConnectionPool(source.client, 4)
    assert source.client.session.dc_id == HOME
    pool.warm(HOME)
    pool.warm(HOME)  # already warming: nothing more is opened
    await _opened(opens, 1)  # before any slot asked
    first = await pool.get(HOME, 3)
    assert opens.opened == [first] and first.is_connected()
    second = await pool.get(HOME, 1)  # another slot: a connection of its own
    assert second is not first and len(opens.opened) == 2
    assert await pool.get(HOME, 3) is first
    pool.warm(HOME)  # the DC has connections already: no spare is opened
    await asyncio.sleep(0.05)
    assert len(opens.opened) == 2
    await pool.close()
    assert not first.is_connected() and not second.is_connected()


async def test_a_failed_warm_up_leaves_the_slot_to_open_its_own(source: TelethonSource) -> None:
    opens = CountedOpens(source.client)
    pool = ConnectionPool(source.client, 2)
    opens.fail_next = True
    pool.warm(HOME)
    sender = await pool.get(HOME, 0)
    assert sender.is_connected() and opens.opened == [sender]
    await pool.close()


async def test_closing_while_warming_leaves_no_connection_open(source: TelethonSource) -> None:
    opens = CountedOpens(source.client)
    pool = ConnectionPool(source.client, 2)
    pool.warm(HOME)
    await asyncio.sleep(0)  # the connection is on its way
    await pool.close()
    assert all(not sender.is_connected() for sender in opens.opened)
    assert pool.in_use() == 0


@pytest.mark.parametrize("wait", [False, True])
async def test_a_warmed_connection_not_used_is_closed_with_the_pool(source: TelethonSource, wait: bool) -> None:
    opens = CountedOpens(source.client)
    pool = ConnectionPool(source.client, 2)
    pool.warm(HOME)
    if wait:  # opened before the close
        await _opened(opens, 1)
    await pool.close()
    assert all(not sender.is_connected() for sender in opens.opened)
