"""How one file is cut into getFile parts, and which parts are already safely on disk.

A part is ``part_size`` bytes at ``index * part_size`` (the last one shorter); ``part_size`` divides
1 MiB and is a multiple of 4 KiB, so every request obeys upload.getFile's rules and never crosses a
1 MiB boundary. Each finished part keeps the CRC-32 of the bytes received: on resume the ``.part``
file is read back and any part whose bytes no longer match is fetched again.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import zlib
from dataclasses import dataclass, field
from typing import Any

MIB = 1024 * 1024


def connections_for(size: int, cap: int) -> int:
    """Connections worth opening for one file: more for bigger files, at most ``cap``."""
    if size <= 2 * MIB:
        wanted = 1
    elif size <= 8 * MIB:
        wanted = 2
    elif size <= 32 * MIB:
        wanted = 4
    else:
        wanted = 8
    return max(1, min(wanted, cap))


@dataclass
class PartMap:
    size: int
    part_size: int
    crc32: dict[int, int] = field(default_factory=dict)

    @property
    def count(self) -> int:
        return max(1, -(-self.size // self.part_size))

    def span(self, index: int) -> tuple[int, int]:
        """(offset, length) of a part."""
        offset = index * self.part_size
        return offset, max(0, min(self.part_size, self.size - offset))

    def missing(self) -> list[int]:
        return [index for index in range(self.count) if index not in self.crc32]

    def done_bytes(self) -> int:
        return sum(self.span(index)[1] for index in self.crc32)

    def contiguous_bytes(self) -> int:
        """Bytes from the start with no gap: where a one-connection download would resume."""
        index = 0
        while index in self.crc32:
            index += 1
        return min(self.size, index * self.part_size)

    def complete(self) -> bool:
        return len(self.crc32) >= self.count

    def to_json(self) -> str:
        return json.dumps({"part_size": self.part_size, "crc32": {str(k): v for k, v in sorted(self.crc32.items())}})

    def checksum(self) -> str:
        """A CRC-32 over the part map itself: the DB's record of what a resume may trust."""
        return f"{zlib.crc32(self.to_json().encode()):08x}"

    @classmethod
    def load(cls, text: str | None, *, size: int, part_size: int) -> PartMap:
        """The saved map if it matches this file and part size, else an empty one."""
        fresh = cls(size, part_size)
        if not text:
            return fresh
        try:
            data = json.loads(text)
            if data.get("part_size") != part_size:
                return fresh
            crcs = {int(k): int(v) for k, v in data.get("crc32", {}).items()}
        except (ValueError, TypeError, AttributeError):
            return fresh
        fresh.crc32 = {k: v for k, v in crcs.items() if 0 <= k < fresh.count}
        return fresh


def verify_on_disk(parts: PartMap, path: str) -> list[int]:
    """Drop the parts whose bytes in ``path`` no longer match their CRC; returns the dropped ones.

    Blocking (reads the file): run it in a thread.
    """
    dropped = []
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        dropped = sorted(parts.crc32)
        parts.crc32.clear()
        return dropped
    try:
        for index, crc in sorted(parts.crc32.items()):
            offset, length = parts.span(index)
            data = os.pread(fd, length, offset)
            if len(data) != length or zlib.crc32(data) != crc:
                dropped.append(index)
        for index in dropped:
            del parts.crc32[index]
    finally:
        os.close(fd)
    return dropped


class InOrderDigest:
    """The MD5 of a file computed while its parts arrive, so the finished file need not be read again.

    Parts come out of order: those ahead of the hashed prefix wait in memory (at most
    ``max_pending`` bytes; beyond that, or when a part comes twice, the digest gives up and the
    file is hashed from disk at the end). Updates run in a thread, one at a time and in order.
    """

    def __init__(self, size: int, *, max_pending: int = 32 * MIB) -> None:
        self.size = size
        self._md5: Any = hashlib.md5()
        self._next = 0  # first byte not hashed yet
        self._pending: dict[int, bytes] = {}
        self._pending_bytes = 0
        self._max_pending = max_pending
        self._lock = asyncio.Lock()
        self.abandoned = False

    async def add(self, offset: int, data: bytes) -> None:
        if self.abandoned:
            return
        if offset < self._next or offset in self._pending:
            self._abandon()  # the same bytes again (fetched anew): the prefix may no longer be them
            return
        self._pending[offset] = data
        self._pending_bytes += len(data)
        if self._pending_bytes > self._max_pending:
            self._abandon()
            return
        async with self._lock:
            while not self.abandoned and self._next in self._pending:
                chunk = self._pending.pop(self._next)
                self._pending_bytes -= len(chunk)
                await asyncio.to_thread(self._md5.update, chunk)
                self._next += len(chunk)

    def hexdigest(self) -> str | None:
        """The MD5 once every byte was hashed in order; None otherwise."""
        if self.abandoned or self._next != self.size:
            return None
        return self._md5.hexdigest()

    def _abandon(self) -> None:
        self.abandoned = True
        self._pending.clear()
        self._pending_bytes = 0
