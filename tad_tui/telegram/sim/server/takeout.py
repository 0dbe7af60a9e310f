"""Takeout (data export) sessions on the simulated Telegram: account.initTakeoutSession, requests
wrapped in invokeWithTakeout, and account.finishTakeoutSession (valid only wrapped)."""

from __future__ import annotations

import os
from typing import Any

from telethon.tl import functions, types

from tad_tui.telegram.sim.errors import RpcErrorReply


class TakeoutMethods:
    """SimulatedTelegram's takeout requests (mixed into it; the state they use is set up there)."""

    def _on_InitTakeoutSessionRequest(self, request: Any, **_: Any) -> Any:
        takeout_id = int.from_bytes(os.urandom(7), "big")
        self._takeouts.add(takeout_id)
        return types.account.Takeout(id=takeout_id)

    def _on_InvokeWithTakeoutRequest(
        self, request: Any, *, connection: int, dc_id: int, auth_key: bytes, **_: Any
    ) -> Any:
        if request.takeout_id not in self._takeouts:
            raise RpcErrorReply(400, "TAKEOUT_INVALID")
        inner = request.query
        if isinstance(inner, functions.account.FinishTakeoutSessionRequest):
            self.handle(inner, connection=connection, dc_id=dc_id, auth_key=auth_key, takeout_id=request.takeout_id)
            self._takeouts.discard(request.takeout_id)
            self.finished_takeouts.append((request.takeout_id, bool(inner.success)))
            return True
        return self.handle(inner, connection=connection, dc_id=dc_id, auth_key=auth_key, takeout_id=request.takeout_id)

    def _on_FinishTakeoutSessionRequest(self, request: Any, *, takeout_id: int | None = None, **_: Any) -> bool:
        if takeout_id is None:  # only valid wrapped in invokeWithTakeout
            raise RpcErrorReply(403, "TAKEOUT_REQUIRED")
        return True
