"""Checking each fetched part against the hashes Telegram holds for the file (upload.getFileHashes).

Telegram answers ``upload.getFileHashes(location, offset)`` with the SHA-256 of consecutive ranges of
the file (128 KiB each, eight to an answer, the last range of a file shorter), starting with the
range that holds ``offset``. A transfer asks for the hashes of a part's bytes over the connection
that fetches the part, at the same time, and checks the part before a byte of it is written; a part
that does not match is fetched again. Parts smaller than a range (``chunk_size`` under 128 KiB) are
fetched and checked together with the rest of their range. The hashes are kept for the whole
download of the file, so no range is asked for twice.

Where Telegram gives no hashes for a file (it refuses the request, or answers none), that is said
once in the log and the file is downloaded with the CRC checks alone: missing hashes never fail a
file. Flood waits, FILE_MIGRATE, expired file references, server errors and lost connections are
raised to the transfer, which handles them as it handles getFile's.
"""

from __future__ import annotations

import asyncio
import bisect
import hashlib
import logging
import re
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from telethon import errors
from telethon.tl import functions

from tad_tui.download.parts import PartMap

log = logging.getLogger(__name__)

RANGE_SIZE = 128 * 1024  # Telegram's hash range; what small parts are grouped by until an answer says otherwise
RANGES_PER_ANSWER = 8
_SHA256_SIZE = 32
# Raised to the transfer, which treats them as it treats getFile's; any other refusal: no hashes.
_HANDLED_AS_FOR_GETFILE = (
    errors.FloodError,  # FLOOD_WAIT_X (and FLOOD_PREMIUM_WAIT_X)
    errors.InvalidDCError,  # FILE_MIGRATE_X
    errors.FileReferenceExpiredError,
    errors.FileReferenceInvalidError,
    errors.ServerError,  # -500, RPC_CALL_FAIL: retried, not taken as "no hashes for this file"
    errors.TimedOutError,
    errors.UnauthorizedError,
)
T = TypeVar("T")


@dataclass(frozen=True)
class RangeHash:
    offset: int
    end: int  # exclusive, never past the end of the file
    sha256: bytes


class RangeHashes:
    """Telegram's SHA-256 hashes of one file's ranges, as far as they have been asked for."""

    def __init__(self, size: int, label: str = "") -> None:
        self.size = size
        self.label = label  # names the file in the log
        self.unavailable: str | None = None  # why Telegram gives no hashes for this file
        self.calls = 0  # getFileHashes requests sent
        self.range_size = RANGE_SIZE  # learned from the first answer
        self._starts: list[int] = []
        self._ranges: dict[int, RangeHash] = {}
        self._asking: list[tuple[int, int, asyncio.Event]] = []  # (from, expected end, answered)

    # ---- what is known ----------------------------------------------------------------------------

    def range_at(self, offset: int) -> RangeHash | None:
        at = bisect.bisect_right(self._starts, offset) - 1
        if at < 0:
            return None
        found = self._ranges[self._starts[at]]
        return found if offset < found.end else None

    def first_unknown(self, offset: int, end: int) -> int | None:
        """The first byte of ``[offset, end)`` no known range covers (None: all covered)."""
        position = offset
        while position < min(end, self.size):
            found = self.range_at(position)
            if found is None:
                return position
            position = found.end
        return None

    def wanted(self, offset: int, end: int) -> bool:
        """Whether asking Telegram for hashes of these bytes could still tell something new."""
        return self.unavailable is None and self.first_unknown(offset, end) is not None

    def block(self, offset: int) -> tuple[int, int]:
        """The range holding ``offset``: the known one, else where Telegram's would be."""
        found = self.range_at(offset)
        if found is not None:
            return found.offset, found.end
        start = offset - offset % self.range_size
        return start, min(self.size, start + self.range_size)

    def add(self, answer: Iterable[Any]) -> int:
        """Keep the well-formed ``FileHash`` objects of an answer; returns how many were new."""
        added = 0
        for item in answer:
            offset, limit, digest = getattr(item, "offset", -1), getattr(item, "limit", 0), getattr(item, "hash", b"")
            if not isinstance(offset, int) or not isinstance(limit, int) or offset < 0 or limit <= 0:
                continue
            if not isinstance(digest, bytes) or len(digest) != _SHA256_SIZE or offset >= self.size:
                continue
            if offset in self._ranges:
                continue
            if not self._starts and offset + limit < self.size:
                self.range_size = limit
            self._ranges[offset] = RangeHash(offset, min(self.size, offset + limit), digest)
            bisect.insort(self._starts, offset)
            added += 1
        return added

    def mismatch(self, offset: int, data: bytes) -> RangeHash | None:
        """The first known range lying wholly inside ``data`` (the file's bytes from ``offset``) whose
        SHA-256 is not Telegram's; None when all such ranges match. Ranges only partly inside are
        not judged here. Hashing a big part takes a while: run it in a thread."""
        end = offset + len(data)
        view = memoryview(data)
        at = max(0, bisect.bisect_right(self._starts, offset) - 1)
        for start in self._starts[at:]:
            if start >= end:
                break
            found = self._ranges[start]
            if start >= offset and found.end <= end:
                if hashlib.sha256(view[start - offset : found.end - offset]).digest() != found.sha256:
                    return found
        return None

    # ---- asking Telegram ---------------------------------------------------------------------------

    async def ensure(self, client: Any, sender: Any, location: Any, offset: int, end: int) -> None:
        """Know the hashes of ``[offset, end)``: ask over ``sender`` for those neither known nor
        already asked for by another part. Errors to handle as getFile's are raised."""
        while self.unavailable is None:
            start = self.first_unknown(offset, end)
            if start is None:
                return
            pending = next((event for low, high, event in self._asking if low <= start < high), None)
            if pending is not None:  # another part's request will answer it: wait for that one
                await pending.wait()
                continue
            # From the start of the range holding it (a part resumed mid-range may begin inside one).
            await self._ask(client, sender, location, start - start % self.range_size)
            if self.unavailable is None and self.first_unknown(start, start + 1) is not None:
                self.give_up(f"Telegram's hashes do not cover byte {start}")

    async def _ask(self, client: Any, sender: Any, location: Any, start: int) -> None:
        asking = (start, start + RANGES_PER_ANSWER * self.range_size, asyncio.Event())
        self._asking.append(asking)
        self.calls += 1
        try:
            request = functions.upload.GetFileHashesRequest(location=location, offset=start)
            answer = await client._call(sender, request, flood_sleep_threshold=0)
        except _HANDLED_AS_FOR_GETFILE:
            raise
        except errors.RPCError as error:
            self.give_up(f"Telegram gives no hashes for it ({error_name(error)})")
            return
        finally:
            self._asking.remove(asking)
            asking[2].set()
        if not isinstance(answer, list) or not answer:
            self.give_up("Telegram answered no hashes for it")
            return
        self.add(answer)  # may hold nothing new: a request from a lower offset may have answered first

    def give_up(self, reason: str) -> None:
        """No (more) hashes for this file: said once; its parts are then checked by CRC alone."""
        if self.unavailable is None:
            self.unavailable = reason
            log.warning("%s: %s; its parts are checked by their CRC only", self.label or "a file", reason)


def error_name(error: errors.RPCError) -> str:
    """Telegram's name for an error ("METHOD_INVALID"): Telethon keeps it only in the class name of
    the errors it knows (their ``message`` is the generic "BAD_REQUEST")."""
    if type(error).__module__.endswith("rpcbaseerrors"):
        return str(error.message)
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", type(error).__name__.removesuffix("Error")).upper()


class PartChecks:
    """A transfer's checks of the parts it fetches against Telegram's hashes (``hashes`` None: none).

    ``read_part`` reads a part already on disk, for a range whose other parts arrived earlier.
    """

    def __init__(
        self,
        hashes: RangeHashes | None,
        client: Any,
        parts: PartMap,
        queue: deque[int],
        read_part: Callable[[int], Awaitable[bytes]],
    ) -> None:
        self.hashes = hashes
        self.client = client
        self.parts = parts
        self.queue = queue
        self.read_part = read_part

    async def alongside(self, call: Awaitable[T], sender: Any, location: Any, offset: int, end: int) -> T:
        """Await ``call`` (a getFile of ``[offset, end)``) while asking over the same connection for
        the hashes of those bytes not known yet; an error of either is raised, getFile's first."""
        hashes = self.hashes
        if hashes is None or not hashes.wanted(offset, end):
            return await call
        outcomes = await asyncio.gather(
            call, hashes.ensure(self.client, sender, location, offset, end), return_exceptions=True
        )
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome
        return outcomes[0]

    def _range_parts(self, index: int) -> list[int]:
        """The parts of the hash range holding part ``index`` when the part is smaller than it."""
        assert self.hashes is not None
        offset, length = self.parts.span(index)
        start, end = self.hashes.block(offset)
        if start >= offset and end <= offset + length:
            return [index]
        size = self.parts.part_size
        return list(range(start // size, -(-end // size)))

    def take(self, index: int) -> list[int]:
        """The parts to fetch with ``index`` (which comes first): itself, or with parts smaller than
        a hash range the others of its range not on disk yet, taken off the queue."""
        if self.hashes is None or self.hashes.unavailable is not None:
            return [index]
        mates = [i for i in self._range_parts(index) if i != index and i not in self.parts.crc32]
        if any(i not in self.queue for i in mates):  # one is in another worker's hands: judge this one alone
            return [index]
        for i in mates:
            self.queue.remove(i)
        return [index, *mates]

    def again(self, index: int, group: list[int]) -> list[int]:
        """What to fetch after a mismatch: the group, and the parts of its range that were on disk
        (with parts smaller than a range, any of them may be the wrong one)."""
        if self.hashes is None:
            return group
        on_disk = [i for i in self._range_parts(index) if i not in group and i in self.parts.crc32]
        return [*group, *on_disk]

    async def mismatch(self, fetched: dict[int, bytes]) -> str | None:
        """None when the fetched parts match every hash they can be judged by; else what did not."""
        hashes = self.hashes
        if hashes is None or hashes.unavailable is not None:
            return None
        # With parts smaller than a range, the range's other parts are read back from disk.
        indices = sorted(set(fetched).union(*(self._range_parts(i) for i in fetched)))
        whole = indices == list(range(indices[0], indices[-1] + 1)) and all(
            i in fetched or i in self.parts.crc32 for i in indices
        )
        for run in [indices] if whole else [[i] for i in sorted(fetched)]:
            chunks = [fetched[i] if i in fetched else await self.read_part(i) for i in run]
            offset, _ = self.parts.span(run[0])
            data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
            bad = await asyncio.to_thread(hashes.mismatch, offset, data)
            if bad is not None:
                index = bad.offset // self.parts.part_size
                return f"part {index} does not match Telegram's hash of bytes {bad.offset}–{bad.end - 1}"
        return None
