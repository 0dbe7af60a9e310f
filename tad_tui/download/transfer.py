"""One file's transfer: several getFile parts in flight over several connections, resumable.

Each part is checked against Telegram's hashes of its bytes before it is written (integrity.py).
Parts are written at their offsets into ``<final name>.part``; which parts are complete (with the
CRC-32 of their bytes) is persisted through ``save_state`` at most once a second and once more when
the transfer stops for any reason, so a killed download loses at most a second of work.
Its connections come from the pool every transfer shares (connections.py); how many parts it keeps
in flight follows Telegram's push-back (health.py), the account's pace and the bandwidth limit.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import math
import os
import random
import re
import time
import zlib
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from telethon import errors
from telethon.tl import functions

from tad_tui import failpoints
from tad_tui.download.connections import ConnectionPool
from tad_tui.download.events import wait_words
from tad_tui.download.health import Health
from tad_tui.download.integrity import PartChecks, RangeHashes
from tad_tui.download.limits import DEFAULT_WEIGHT, ByteRateLimiter
from tad_tui.download.pace import AccountPace
from tad_tui.download.parts import InOrderDigest, PartMap, connections_for
from tad_tui.telegram.client import ServerTrouble, TadClient
from tad_tui.telegram.source import FileLocation, SourceError
from tad_tui.words import counted

log = logging.getLogger(__name__)

IN_FLIGHT_PER_CONNECTION = 2  # hides the round trip: one answer streams while the next is asked
SAVE_INTERVAL = 1.0
MAX_BACKOFF = 60.0
MAX_REFERENCE_REFRESHES = 5
ADMISSION_CHECK = 0.25  # seconds between looks of a parked worker at whether it may run again
MAX_MIGRATIONS = 3  # FILE_MIGRATE answers followed per transfer; more is a server bouncing the file
SMALLEST_PIECE = 4096  # upload.getFile's smallest limit; pieces are powers of two that divide 1 MiB
SHARE_SECONDS = 1.0  # a request asks for at most about this long of the download's share


class TransferFailed(Exception):
    """The file cannot be fetched now; the message says why in words."""


@dataclass
class TransferSettings:
    part_size: int
    parts_per_file: int
    retry_attempts: int
    retry_delay: float


@dataclass
class Transfer:
    """Fetch the missing parts of one file into ``part_path``."""

    client: TadClient
    pool: ConnectionPool
    bandwidth: ByteRateLimiter
    health: Health
    pace: AccountPace
    settings: TransferSettings
    location: FileLocation
    part_path: Path
    parts: PartMap
    refresh_location: Callable[[], Awaitable[FileLocation]]
    save_state: Callable[[PartMap], Awaitable[None]]
    save_dc: Callable[[int], Awaitable[None]]  # FILE_MIGRATE moved the file: remember its DC for next time
    on_progress: Callable[[int], None] = lambda done: None
    on_wait: Callable[[str | None, float | None, str | None], None] = lambda text, until, kind: None
    hashes: RangeHashes | None = None  # Telegram's hashes of the file's ranges; None: not checked
    digest: InOrderDigest | None = None  # the MD5 of the bytes as they arrived, for a transfer from byte 0
    flow: object = None  # this download's key in the shared limiters (its queue entry), None: anonymous
    weight: float = DEFAULT_WEIGHT  # its share by priority (limits.weight_of)
    _fd: int = -1
    _checks: PartChecks = field(init=False, repr=False)  # set by run()
    _dirty: bool = False
    _queue: deque[int] = field(default_factory=deque)
    _refreshes: int = 0
    _migrations: list[int] = field(default_factory=list)  # the DCs FILE_MIGRATE sent this transfer to
    _waiting: int = 0  # workers in a flood wait now
    _wait_until: float = 0.0  # when the wait told to the user ends
    _done_bytes: int = 0
    _in_hand: int = 0  # bytes of parts being fetched piece by piece, not written yet (for progress)
    _refresh_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _on_fd: set[asyncio.Future[Any]] = field(default_factory=set)  # thread calls using the file now

    async def run(self) -> None:
        self._queue = deque(self.parts.missing())
        if not self._queue:
            return
        self._checks = PartChecks(self.hashes, self.client, self.parts, self._queue, self._read_part)
        self._done_bytes = self.parts.done_bytes()
        # A transfer from the first byte hashes the file as it arrives (resumed ones: from disk, later).
        self.digest = InOrderDigest(self.location.size) if not self.parts.crc32 else None
        try:
            self._fd = os.open(self.part_path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as error:
            raise TransferFailed(disk_error_words(error, self.part_path)) from None
        workers = min(len(self._queue), self._most_in_flight())
        limiters = self._limiters()
        if self.flow is not None:
            for limiter in limiters:
                limiter.open_flow(self.flow, self.weight)
        saver = asyncio.create_task(self._save_every_second())
        try:
            async with asyncio.TaskGroup() as group:
                for slot in range(workers):
                    group.create_task(self._worker(slot))
        except* TransferFailed as failures:
            raise failures.exceptions[0] from None
        finally:
            if self.flow is not None:
                for limiter in limiters:
                    limiter.close_flow(self.flow)
            saver.cancel()
            await asyncio.gather(saver, return_exceptions=True)
            # A stopped task's thread may still be writing: the descriptor closes after it, or its
            # number, reused by the next file opened, would get this file's bytes.
            await asyncio.gather(*self._on_fd, return_exceptions=True)
            os.close(self._fd)
            await asyncio.shield(self.save_state(self.parts))

    def _limiters(self) -> tuple[ByteRateLimiter, ...]:
        """The user's bandwidth limit, then the account's learned pace: both shared by weight."""
        return (self.bandwidth, self.pace.limiter)

    def share(self) -> float:
        """Bytes per second this download may count on now (``math.inf``: nothing limits it)."""
        return min(limiter.share(self.flow) for limiter in self._limiters())

    def piece_size(self) -> int:
        """How much one request asks for: a part, or (when the download's share is small) a power
        of two of it worth about a second of the share, so no download's request holds the shared
        limit for long while the others wait (a 1 MiB request under a 200 KiB/s limit did)."""
        piece, budget = self.settings.part_size, self.share() * SHARE_SECONDS
        while piece > budget and piece // 2 >= SMALLEST_PIECE and (piece // 2) % SMALLEST_PIECE == 0:
            piece //= 2
        return piece

    async def _save_every_second(self) -> None:
        while True:
            await asyncio.sleep(SAVE_INTERVAL)
            if self._dirty:
                self._dirty = False
                # The parts the saved map calls done are on disk, and the final fsync has little left.
                await self._fd_call(getattr(os, "fdatasync", os.fsync), self._fd)
                await self.save_state(self.parts)
                failpoints.hit("transfer.saved")

    def _most_in_flight(self) -> int:
        return connections_for(self.location.size, self.settings.parts_per_file) * IN_FLIGHT_PER_CONNECTION

    def _admitted(self) -> int:
        """Workers that may fetch now: fewer while Telegram pushes back or throttles the account,
        more again as it calms down (looked at per part, so a long file follows it)."""
        most = self._most_in_flight()
        admitted = min(self.health.scale(most), self.pace.in_flight(self.settings.part_size, most))
        share = self.share()
        if math.isfinite(share):  # about a second of the share in flight, and one more to hide the round trip
            admitted = min(admitted, max(1, math.ceil(share * SHARE_SECONDS / self.piece_size()) + 1))
        return admitted

    async def _worker(self, slot: int) -> None:
        """Fetch parts; worker ``slot`` shares connection ``slot // IN_FLIGHT_PER_CONNECTION``."""
        while self._queue:
            if slot >= self._admitted():
                await asyncio.sleep(ADMISSION_CHECK)  # parked: holds no part and no request
                continue
            index = self._queue.popleft()
            for part, data in await self._fetch_checked(index, slot // IN_FLIGHT_PER_CONNECTION):
                await self._write(part, data)

    async def _write(self, index: int, data: bytes) -> None:
        offset, _ = self.parts.span(index)
        try:
            await self._fd_call(os.pwrite, self._fd, data, offset)
        except OSError as error:
            raise TransferFailed(disk_error_words(error, self.part_path)) from None
        self.pace.received(len(data))
        if index not in self.parts.crc32:  # not a part on disk fetched again after a hash mismatch
            self._done_bytes += len(data)  # a running total: summing the part map per part is quadratic
        self.parts.crc32[index] = zlib.crc32(data)  # recorded before any other await: a stop keeps it
        self._dirty = True
        self.health.calm()
        self.on_progress(self._done_bytes + self._in_hand)
        if self.digest is not None:  # stopped while hashing, the digest stays short and says None
            await self.digest.add(offset, data)

    async def _read_part(self, index: int) -> bytes:
        offset, length = self.parts.span(index)
        return await self._fd_call(os.pread, self._fd, length, offset)

    async def _fd_call(self, call: Callable[..., Any], *args: Any) -> Any:
        """``call(*args)`` on the part file's descriptor in a thread, which ``run`` waits for before it
        closes the descriptor (a cancelled ``to_thread`` stops waiting, not the thread)."""
        future = asyncio.ensure_future(asyncio.to_thread(call, *args))
        self._on_fd.add(future)
        future.add_done_callback(self._on_fd.discard)
        return await asyncio.shield(future)

    async def _fetch_checked(self, index: int, slot: int) -> list[tuple[int, bytes]]:
        """Part ``index`` (with the rest of its hash range when parts are smaller than one), checked
        against Telegram's hashes; a mismatch is never written, it is fetched again as an attempt."""
        group, attempt = self._checks.take(index), 0
        while True:
            fetched = {part: await self._fetch(part, slot) for part in group}
            mismatch = await self._checks.mismatch(fetched)
            if mismatch is None:
                return list(fetched.items())
            attempt = await self._backoff(attempt, mismatch)
            group = self._checks.again(index, group)

    async def _fetch(self, index: int, slot: int) -> bytes:
        """Part ``index``, in one request or (when the download's share is small) in pieces."""
        offset, length = self.parts.span(index)
        pieces: list[bytes] = []
        got = shown = 0
        try:
            while got < length:
                piece = self.piece_size()
                while got % piece:  # the share grew: stay aligned, so no request crosses a MiB boundary
                    piece //= 2
                data = await self._fetch_piece(index, offset + got, min(piece, length - got), piece, slot)
                pieces.append(data)
                got += len(data)
                if got < length:  # progress within a part fetched in pieces
                    self._in_hand += len(data)
                    shown += len(data)
                    self.on_progress(self._done_bytes + self._in_hand)
        finally:
            self._in_hand -= shown  # written next (and counted as done), or lost with the task
        return pieces[0] if len(pieces) == 1 else b"".join(pieces)

    async def _fetch_piece(self, index: int, offset: int, length: int, limit: int, slot: int) -> bytes:
        """``length`` bytes at ``offset`` (part ``index``), asked for as ``limit`` (Telegram's rules:
        a power of two dividing 1 MiB, the offset a multiple of it)."""
        attempt = 0
        while True:
            location = self.location
            try:
                sender = await self._sender(location.dc_id, slot)
            except (errors.ServerError, errors.TimedOutError, ConnectionError, OSError) as error:
                self.health.trouble(0.75)
                why = server_words(error) if isinstance(error, errors.RPCError) else (str(error) or type(error).__name__)
                attempt = await self._backoff(attempt, f"cannot connect to Telegram's DC {location.dc_id} ({why})")
                continue
            await self._acquire(length)  # after the connection: bytes are not held while one opens
            request = functions.upload.GetFileRequest(location=location.input_location(), offset=offset, limit=limit)
            self.pool.requests_in_flight += 1
            try:
                # Every flood wait comes back here (threshold 0): waited below, counted down on screen.
                # Telegram's hashes of these bytes are asked for alongside, over the same connection.
                result = await self._checks.alongside(
                    self.client._call(sender, request, flood_sleep_threshold=0),
                    sender, request.location, offset, offset + length,
                )
            except errors.FloodWaitError as error:
                self._refund(length)
                await self._flood_wait(error.seconds)
                continue
            except errors.FloodError as error:
                self._refund(length)
                if not is_premium_wait(error):
                    attempt = await self._backoff(attempt, f"Telegram refused part {index} ({error.message})")
                    continue
                await self._premium_wait(premium_wait_seconds(error))
                continue
            except (errors.FileReferenceExpiredError, errors.FileReferenceInvalidError):
                self._refund(length)
                await self._refresh(location)
                continue
            except errors.FileMigrateError as error:
                self._refund(length)
                await self._migrate(location, error.new_dc)
                continue
            except (errors.ServerError, errors.TimedOutError, ServerTrouble) as error:
                # Telethon retried it already: Telegram's servers are in trouble, back off for longer.
                self._refund(length)
                self.health.trouble(0.75)
                attempt = await self._backoff(attempt, f"Telegram's servers failed part {index} ({server_words(error)})")
                continue
            except (ConnectionError, OSError, asyncio.TimeoutError) as error:
                self._refund(length)
                self.health.trouble(0.75)
                await self.pool.discard(location.dc_id, slot, sender)
                attempt = await self._backoff(attempt, f"connection lost ({error or type(error).__name__})")
                continue
            except errors.RPCError as error:
                self._refund(length)
                attempt = await self._backoff(attempt, f"Telegram refused part {index} ({error.message})")
                continue
            finally:
                self.pool.requests_in_flight -= 1
            data = bytes(result.bytes)
            if len(data) != length:  # a short or oversized answer is never written as good data
                self._refund(max(0, length - len(data)))
                attempt = await self._backoff(attempt, f"part {index} came back with {len(data)} of {length} bytes")
                continue
            return data

    async def _acquire(self, length: int) -> None:
        """The user's bandwidth limit first, then the account's learned pace."""
        await self.bandwidth.acquire(length, self.flow)
        try:
            await self.pace.limiter.acquire(length, self.flow)
        except BaseException:
            self.bandwidth.refund(length)
            raise
        self.pace.asked()

    def _refund(self, length: int) -> None:
        self.bandwidth.refund(length)
        self.pace.limiter.refund(length)

    async def _sender(self, dc_id: int, slot: int) -> Any:
        while True:
            try:
                return await self.pool.get(dc_id, slot)
            except errors.FloodWaitError as error:  # exporting the authorization to a DC is rate-limited too
                await self._flood_wait(error.seconds)
            except (errors.ServerError, errors.TimedOutError):
                raise  # the caller backs off and tries again, as for a connection that cannot be opened
            except errors.RPCError as error:  # exporting or importing the authorization for that DC
                raise TransferFailed(f"Telegram's DC {dc_id} refused this session ({error.message})") from None

    async def _migrate(self, stale: FileLocation, dc_id: int) -> None:
        """FILE_MIGRATE: go where the file lives now, a bounded number of times, and remember it."""
        if self.location.dc_id != stale.dc_id:
            return  # another worker already followed the file from where this part was asked
        self._migrations.append(dc_id)
        if len(self._migrations) > MAX_MIGRATIONS:
            where = ", ".join(f"DC {dc}" for dc in self._migrations)
            raise TransferFailed(f"Telegram keeps moving the file between data centres ({where})")
        self.location = _on_dc(self.location, dc_id)
        await self.save_dc(dc_id)

    async def _flood_wait(self, seconds: int) -> None:
        """Wait out a flood wait: one step down in concurrency, however many workers meet it."""
        self.health.trouble(lasting=seconds)
        await self._wait("flood", seconds)

    async def _premium_wait(self, seconds: int) -> None:
        """Telegram throttles the account: wait it out, then go on at the pace it now allows."""
        if self.pace.premium_wait(seconds):
            log.info("Telegram limits this account's download speed: pacing at %d B/s", self.pace.rate)
        await self._wait("premium", seconds)

    async def _wait(self, kind: str, seconds: float) -> None:
        """Sleep through a wait; told once per stretch of waiting, however many workers wait."""
        until = time.time() + seconds
        self._waiting += 1
        if until > self._wait_until + 0.5:  # the first wait, or one that ends later than told
            self._wait_until = until
            self.on_wait(wait_words(kind, seconds), until, kind)
        try:
            await asyncio.sleep(seconds)
        finally:
            self._waiting -= 1
            if self._waiting == 0:
                self._wait_until = 0.0
                self.on_wait(None, None, None)

    async def _refresh(self, stale: FileLocation) -> None:
        """Refetch the message for a new file reference, once for all workers that saw it expire."""
        async with self._refresh_lock:
            if self.location.file_reference != stale.file_reference:
                return  # another worker already refreshed it
            self._refreshes += 1
            if self._refreshes > MAX_REFERENCE_REFRESHES:
                raise TransferFailed("Telegram keeps refusing the file reference: the message may have been deleted")
            while True:
                try:
                    self.location = await self.refresh_location()
                    return
                except errors.FloodWaitError as error:  # longer than flood_sleep_threshold: wait here too
                    await self._flood_wait(error.seconds)
                except SourceError as error:
                    raise TransferFailed(str(error)) from None
                except errors.RPCError as error:
                    raise TransferFailed(f"Telegram refused a new file reference ({error.message})") from None
                except (ConnectionError, OSError) as error:
                    raise TransferFailed(f"connection lost while refreshing the file reference ({error})") from None

    async def _backoff(self, attempt: int, reason: str) -> int:
        attempt += 1
        if attempt > self.settings.retry_attempts:
            raise TransferFailed(f"{reason}; gave up after {counted(attempt, 'attempt')}")
        delay = min(MAX_BACKOFF, self.settings.retry_delay * 2 ** (attempt - 1)) * random.uniform(0.5, 1.5)
        log.info("%s; retrying in %.1f s", reason, delay)
        await asyncio.sleep(delay)
        return attempt


def is_premium_wait(error: errors.FloodError) -> bool:
    """FLOOD_PREMIUM_WAIT_X (Telethon's FloodPremiumWaitError, a sibling of FloodWaitError)."""
    return "PREMIUM" in type(error).__name__.upper() or str(getattr(error, "message", "")).startswith(
        "FLOOD_PREMIUM_WAIT"
    )


def premium_wait_seconds(error: errors.FloodError) -> int:
    seconds = getattr(error, "seconds", None)
    if isinstance(seconds, int):
        return max(1, seconds)
    tail = str(getattr(error, "message", "")).rsplit("_", 1)[-1]
    return max(1, int(tail)) if tail.isdigit() else 1


def server_words(error: BaseException) -> str:
    """Telegram's name for a server error: RPC_CALL_FAIL, INTERNAL, TIMEOUT…"""
    if isinstance(error, ServerTrouble):
        return str(error)
    if type(error) in (errors.ServerError, errors.TimedOutError, errors.RPCError):
        return str(getattr(error, "message", "") or type(error).__name__)
    return re.sub(r"(?<!^)(?=[A-Z])", "_", type(error).__name__.removesuffix("Error")).upper()


def _on_dc(location: FileLocation, dc_id: int) -> FileLocation:
    return replace(location, dc_id=dc_id)


def disk_error_words(error: OSError, path: Path) -> str:
    """A file-system error as a sentence naming the place."""
    if error.errno == errno.ENOSPC:
        return f"disk full: no space left to write {path}"
    if error.errno == errno.EDQUOT:
        return f"disk quota exceeded writing {path}"
    if error.errno in (errno.EACCES, errno.EPERM):
        return f"permission denied: cannot write to {path.parent}"
    if error.errno == errno.EROFS:
        return f"read-only file system: cannot write to {path.parent}"
    return f"cannot write {path}: {error.strerror or error}"
