"""How one file is cut into getFile parts, and which parts are already safely on disk.

A part is ``part_size`` bytes at ``index * part_size`` (the last one shorter); ``part_size`` divides
1 MiB and is a multiple of 4 KiB, so every request obeys upload.getFile's rules and never crosses a
1 MiB boundary. Each finished part keeps the CRC-32 of the bytes received: on resume the ``.part``
file is read back and any part whose bytes no longer match is fetched again.
"""

from __future__ import annotations

import json
import os
import zlib
from dataclasses import dataclass, field

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
