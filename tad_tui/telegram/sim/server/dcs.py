"""The simulated Telegram's data centres: which DC each document lives on, and which auth keys a DC
other than the home one accepts (those that imported an authorization exported for it)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from telethon.tl import types

from tad_tui.telegram.sim.catalogue import DemoGroup
from tad_tui.telegram.sim.errors import RpcErrorReply
from tad_tui.telegram.sim.server.account import SELF_USER_ID, key_digest
from tad_tui.telegram.sim.tl import make

OTHER_DCS = (1, 4, 5)  # where files not on the home DC live (DC 3 is left empty, as it mostly is)
ALL_DCS = frozenset(range(1, 6))


class DcMethods:
    """SimulatedTelegram's data centres (mixed into it; the state they use is set up there)."""

    def move_file(self, document_id: int, dc_id: int) -> None:
        """The document now lives on ``dc_id``: messages say so, a stale location gets FILE_MIGRATE."""
        self._dc_of[document_id] = dc_id

    def dc_of(self, document_id: int) -> int:
        return self._dc_of[document_id]

    def key_accepted(self, auth_key: bytes, dc_id: int) -> bool:
        """The home DC knows the signed-in keys; another DC only the keys imported there."""
        if dc_id == self.this_dc:
            return self.is_authorized(auth_key)
        return key_digest(auth_key) in self._dc_keys.get(dc_id, set())

    def _on_ExportAuthorizationRequest(self, request: Any, **_: Any) -> Any:
        if request.dc_id == self.this_dc or request.dc_id not in ALL_DCS:
            raise RpcErrorReply(400, "DC_ID_INVALID")
        token = os.urandom(128)
        self._exported[token] = request.dc_id  # single use, valid only on that DC
        return types.auth.ExportedAuthorization(id=SELF_USER_ID, bytes=token)

    def _on_ImportAuthorizationRequest(self, request: Any, *, dc_id: int, auth_key: bytes, **_: Any) -> Any:
        if request.id != SELF_USER_ID or self._exported.get(request.bytes) != dc_id:
            raise RpcErrorReply(400, "AUTH_BYTES_INVALID")
        del self._exported[request.bytes]
        self._dc_keys.setdefault(dc_id, set()).add(key_digest(auth_key))
        return make(types.auth.Authorization, user=self.self_user())


def place_on_other_dcs(groups: Iterable[DemoGroup], this_dc: int) -> dict[int, int]:
    """About one file in four on DC 1, 4 or 5, and every group of four or more files on all three.

    Per group, in order of document id (a file posted twice is placed by its first group), the chosen
    files are spread evenly and take the other DCs in turn. Deterministic: the same ids, the same DCs.
    """
    others = tuple(dc for dc in OTHER_DCS if dc != this_dc)
    seen: set[int] = set()
    placed: dict[int, int] = {}
    for group in groups:
        ids = sorted({m.file.document_id for m in group.messages if m.file is not None} - seen)
        seen.update(ids)
        count = max(len(others), round(len(ids) / 4)) if len(ids) >= 4 else 0
        for rank, document_id in enumerate(ids):
            chosen, before = (rank + 1) * count // len(ids), rank * count // len(ids)
            if chosen != before:
                placed[document_id] = others[before % len(others)]
    return placed
