"""Faults the simulated Telegram injects: :class:`FaultRule` (errors, dropped connections, damaged
getFile answers, dropped update pushes) and what a firing rule makes of a request or an answer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from telethon.tl import types


@dataclass
class FaultRule:
    """Fail matching requests: after ``skip`` matches pass, every ``every``-th of the next fails,
    ``times`` of them in all (-1: no end).

    ``drop``: the rule is for update pushes (see the field). ``damage="too_long"`` on
    GetChannelDifferenceRequest: the answer is channelDifferenceTooLong whatever the gap.

    A failure is an RPC error, a dropped connection, or (``damage``, getFile only) an answer whose
    file bytes are wrong: "truncate" (half of them), "empty" (none, as if past the end of the file),
    "pad" (4 KiB more than asked) or "flip" (as many bytes as asked, some of them changed). Real
    servers send short parts only at the end of a file; a client that trusted a short part mid-file
    would write a hole as good data. A flipped part has the right length: only a hash tells.
    """

    request: str  # TL request class name ("GetFileRequest"), or "*" for any
    error: str | None = None  # an RPC error message such as "FLOOD_WAIT_5"; None with disconnect/damage
    code: int = 400
    disconnect: bool = False
    skip: int = 0
    times: int = 1
    every: int = 1
    damage: str | None = None
    outage: float = 0.0  # with disconnect: Telegram stays unreachable this many seconds
    # An update push, not a request: ``request`` names the update ("UpdateNewChannelMessage" or "*")
    # and a firing rule drops that push, as a lost packet would.
    drop: bool = False
    # getFile only: True = thumbnail (cover) requests only, False = file parts only, None = both.
    thumb: bool | None = None
    _matched: int = field(default=0, repr=False)

    def fires(self, name: str, *, thumb: bool = False) -> bool:
        if self.times == 0 or self.request not in ("*", name):
            return False
        if self.thumb is not None and self.thumb != thumb:
            return False
        if self.skip > 0:
            self.skip -= 1
            return False
        self._matched += 1
        if self._matched % max(1, self.every):
            return False
        if self.times > 0:
            self.times -= 1
        return True


def flood_error_seconds(message: str) -> int | None:
    if message.startswith("FLOOD_WAIT_"):
        return int(message.rsplit("_", 1)[1])
    return None


def damaged(result: Any, damage: str) -> Any:
    """A getFile answer with the wrong bytes (see :class:`FaultRule`); other answers pass unchanged."""
    data = getattr(result, "bytes", None)
    if not isinstance(result, types.upload.File) or not isinstance(data, bytes):
        return result
    if damage == "truncate":
        data = data[: len(data) // 2]
    elif damage == "empty":
        data = b""
    elif damage == "pad":
        data = data + bytes(4096)
    elif damage == "flip":
        flipped = bytearray(data)
        for position in {len(data) // 3, 2 * len(data) // 3} if data else ():
            flipped[position] ^= 0x5A
        data = bytes(flipped)
    else:
        raise ValueError(f"unknown damage {damage!r}: use truncate, empty, pad or flip")
    return types.upload.File(type=result.type, mtime=result.mtime, bytes=data)
