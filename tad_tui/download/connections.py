"""The extra connections to Telegram's data centres that transfers fetch parts over."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any

from tad_tui.telegram.client import TadClient

log = logging.getLogger(__name__)


class ConnectionPool:
    """Extra connections per DC, shared by every transfer; index ``i`` always maps to one slot."""

    def __init__(self, client: TadClient, size: int) -> None:
        self.client = client
        self.size = max(1, size)
        self._senders: dict[tuple[int, int], Any] = {}
        # One lock per slot: slots open in parallel (one lock for all cost a round trip per slot).
        self._locks: dict[tuple[int, int], asyncio.Lock] = {}
        # A connection opened ahead of need per DC (warm): the first slot that needs one takes it.
        self._warming: dict[int, asyncio.Task[Any]] = {}
        self.requests_in_flight = 0

    def in_use(self) -> int:
        return sum(1 for sender in self._senders.values() if sender.is_connected())

    def warm(self, dc_id: int) -> None:
        """Start opening a connection to ``dc_id`` now, for the first slot that will need one.

        A command that scans before it downloads opens its download connection during the scan
        (a connect and an initConnection: two round trips less before the first byte). Failing
        here costs nothing: the slot then opens its own connection, and reports what goes wrong.
        """
        if dc_id not in self._warming and not any(key[0] == dc_id for key in self._senders):
            self._warming[dc_id] = asyncio.create_task(self.client.open_extra_sender(dc_id))

    async def get(self, dc_id: int, index: int) -> Any:
        key = (dc_id, index % self.size)
        async with self._locks.setdefault(key, asyncio.Lock()):
            sender = self._senders.get(key)
            if sender is None or not sender.is_connected():
                sender = await self._warm_one(dc_id) or await self.client.open_extra_sender(dc_id)
                self._senders[key] = sender
            return sender

    async def _warm_one(self, dc_id: int) -> Any:
        task = self._warming.pop(dc_id, None)
        if task is None:
            return None
        try:
            sender = await task
        except Exception:  # opened again by the caller, which reports a real failure
            log.debug("the connection opened ahead to DC %s failed", dc_id, exc_info=True)
            return None
        return sender if sender.is_connected() else None

    async def discard(self, dc_id: int, index: int, sender: Any) -> None:
        """Drop a broken connection; the next ``get`` opens a fresh one."""
        key = (dc_id, index % self.size)
        async with self._locks.setdefault(key, asyncio.Lock()):
            if self._senders.get(key) is sender:
                del self._senders[key]
        await _quietly(sender.disconnect())

    async def close(self) -> None:
        warming, self._warming = list(self._warming.values()), {}
        for task in warming:
            task.cancel()
        for outcome in await asyncio.gather(*warming, return_exceptions=True):
            if not isinstance(outcome, BaseException):
                await _quietly(outcome.disconnect())
        senders, self._senders = list(self._senders.values()), {}
        for sender in senders:
            await _quietly(sender.disconnect())


async def _quietly(awaitable: Awaitable[Any]) -> None:
    try:
        await awaitable
    except Exception:  # a connection that is already gone has nothing left to close
        log.debug("closing a connection failed", exc_info=True)

