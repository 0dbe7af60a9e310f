"""The Telethon client tad-tui talks to Telegram with: the real one, or the simulation's subclass."""

from __future__ import annotations

import asyncio
import math
import time
from typing import Any

from telethon import TelegramClient, errors, utils
from telethon.tl.tlobject import TLRequest


class TadClient(TelegramClient):
    """Telethon's client, with a flood-wait gate that actually holds back the request type.

    Telethon keys its own flood-wait memory by the request it was handed, which with
    ``receive_updates=False`` is the ``invokeWithoutUpdates`` wrapper, so it never matches again. Here
    a FLOOD_WAIT_X on one request type holds every later request of that type until X seconds have
    passed: waits up to ``tad_flood_sleep`` seconds are slept, longer ones raise ``FloodWaitError``
    at once without sending anything.
    """

    def __init__(self, *args: Any, flood_sleep_threshold: int = 60, **kwargs: Any) -> None:
        super().__init__(*args, flood_sleep_threshold=0, **kwargs)
        self.tad_flood_sleep = flood_sleep_threshold
        self.flood_until: dict[type, float] = {}

    def flood_wait_remaining(self) -> float:
        """Seconds until the longest flood wait in force has passed (0 when none)."""
        now = time.time()
        return max((due - now for due in self.flood_until.values()), default=0.0) if self.flood_until else 0.0

    async def _call(self, sender: Any, request: Any, ordered: bool = False, flood_sleep_threshold: Any = None) -> Any:
        kinds = [type(r) for r in (request if utils.is_list_like(request) else [request])]
        while True:
            await self._wait_for_gate(kinds, request)
            try:
                return await super()._call(sender, request, ordered=ordered, flood_sleep_threshold=0)
            except errors.FloodWaitError as error:
                due = time.time() + max(error.seconds, 1)
                for kind in kinds:
                    self.flood_until[kind] = max(self.flood_until.get(kind, 0.0), due)
                if error.seconds > self.tad_flood_sleep:
                    raise

    async def _wait_for_gate(self, kinds: list[type], request: TLRequest) -> None:
        now = time.time()
        due = max((self.flood_until.get(kind, 0.0) for kind in kinds), default=0.0)
        if due <= now:
            for kind in kinds:
                self.flood_until.pop(kind, None)
            return
        remaining = due - now
        if remaining > self.tad_flood_sleep:
            raise errors.FloodWaitError(request=request, capture=math.ceil(remaining))
        await asyncio.sleep(remaining)
