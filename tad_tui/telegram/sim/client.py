"""A real ``TelegramClient`` whose connections lead to :class:`SimulatedTelegram` instead of a socket.

Only the transport is replaced: every request still goes through Telethon's ``_call`` (entity
resolution, flood-wait bookkeeping, error classes), its iterators and its download code. Each
connection models a link of its own: round-trip latency, and a bandwidth cap shared by every
response in flight on it, so pipelining does not multiply it while more connections do.
"""

from __future__ import annotations

import asyncio
import itertools
import os
from typing import Any

from telethon.crypto import AuthKey
from telethon import errors
from telethon.errors import rpc_message_to_error
from telethon.sessions import MemorySession
from telethon.tl import types
from telethon.tl.tlobject import TLRequest

from tad_tui.telegram.client import TadClient
from tad_tui.telegram.sim.server import DEMO_LOGIN_CODE, DEMO_PHONE, DropConnection, RpcErrorReply, SimulatedTelegram
from tad_tui.telegram.sim.tl import round_trip, serialize, unwrap

SIM_API_ID = 1
SIM_API_HASH = "00000000000000000000000000000000"
_connection_ids = itertools.count(1)


class SimulatedConnection:
    """What Telethon uses of an ``MTProtoSender``, over a modelled link to the simulated server."""

    def __init__(
        self,
        server: SimulatedTelegram,
        *,
        dc_id: int,
        auth_key: AuthKey,
        latency: float,
        bandwidth: float,
    ) -> None:
        self.id = next(_connection_ids)
        self.server = server
        self.dc_id = dc_id
        self.auth_key = auth_key
        self.latency = latency
        self.bandwidth = bandwidth
        self._connected = False
        self._disconnected: asyncio.Future[None] | None = None
        self._link_free_at = 0.0
        self._in_flight: set[asyncio.Future[Any]] = set()

    # ---- the MTProtoSender surface Telethon relies on -------------------------------------------

    async def connect(self, connection: Any = None) -> bool:
        if self._connected:
            return False
        self.dc_id = getattr(connection, "_dc_id", None) or self.dc_id
        await asyncio.sleep(self.latency)  # the TCP and MTProto handshake cost one round trip
        self._connected = True
        self._disconnected = asyncio.get_running_loop().create_future()
        return True

    def is_connected(self) -> bool:
        return self._connected

    def _transport_connected(self) -> bool:
        return self._connected

    async def disconnect(self) -> None:
        self._drop(ConnectionError("the connection was closed"), close=True)

    @property
    def disconnected(self) -> asyncio.Future[None]:
        if self._disconnected is None:
            self._disconnected = asyncio.get_running_loop().create_future()
            self._disconnected.set_result(None)
        return asyncio.shield(self._disconnected)

    def _keepalive_ping(self, rnd_id: int) -> None:
        """Pings need no answer here: the link never idles out."""

    def send(self, request: Any, ordered: bool = False) -> Any:
        if not self._connected:
            raise ConnectionError("Cannot send requests while disconnected")
        if isinstance(request, list):
            return [self._send_one(item) for item in request]
        return self._send_one(request)

    # ---- the link model ---------------------------------------------------------------------------

    def _send_one(self, request: TLRequest) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        inner = unwrap(request)
        size = 64  # an answer's framing, so small answers also take link time
        outcome: Any
        try:
            result = self.server.handle(inner, connection=self.id, dc_id=self.dc_id, auth_key=self.auth_key.key)
            size += _payload_size(result)
            outcome = round_trip(request, result)
        except RpcErrorReply as reply:
            outcome = rpc_message_to_error(types.RpcError(reply.code, reply.message), inner)
        except DropConnection:
            loop.call_later(self.latency / 2, self._drop, ConnectionError("Connection reset by peer"))
            self._in_flight.add(future)
            return future
        now = loop.time()
        start = max(now + self.latency / 2, self._link_free_at)
        done = start + (size / self.bandwidth if self.bandwidth else 0.0)
        self._link_free_at = done
        self._in_flight.add(future)
        loop.call_at(done + self.latency / 2, self._deliver, future, outcome)
        return future

    def _deliver(self, future: asyncio.Future[Any], outcome: Any) -> None:
        self._in_flight.discard(future)
        if future.done():
            return
        if isinstance(outcome, BaseException):
            if isinstance(outcome, errors.FloodWaitError):
                self.server.flood_wait_delivered(type(outcome.request).__name__, outcome.seconds)
            future.set_exception(outcome)
        else:
            future.set_result(outcome)

    def _drop(self, error: BaseException, *, close: bool = False) -> None:
        """The link goes down: everything in flight fails, as with a real reset connection."""
        self._connected = False
        self._link_free_at = 0.0
        for future in self._in_flight:
            if not future.done():
                future.set_exception(error)
        self._in_flight.clear()
        if self._disconnected is not None and not self._disconnected.done():
            if close:
                self._disconnected.set_result(None)
            else:
                self._disconnected.set_exception(error)
                self._disconnected.exception()  # retrieved here so asyncio does not log it


def _payload_size(result: Any) -> int:
    file_bytes = getattr(result, "bytes", None)
    return len(file_bytes) if isinstance(file_bytes, bytes) else len(serialize(result))


class SimulatedClient(TadClient):
    """``TadClient`` connected to a :class:`SimulatedTelegram`; Telethon's own code does the rest."""

    login_hint = f"The simulated Telegram's account: phone {DEMO_PHONE}, code {DEMO_LOGIN_CODE}"

    def __init__(
        self,
        server: SimulatedTelegram,
        session: Any = None,
        *,
        latency: float = 0.0,
        bandwidth_per_connection: float = 0.0,
        flood_sleep_threshold: int = 0,
    ) -> None:
        super().__init__(
            session if session is not None else MemorySession(),
            SIM_API_ID,
            SIM_API_HASH,
            receive_updates=False,
            flood_sleep_threshold=flood_sleep_threshold,
            request_retries=1,
            connection_retries=0,
        )
        self.server = server
        self.latency = latency
        self.bandwidth_per_connection = bandwidth_per_connection
        key = self.session.auth_key
        if key is None:
            # As a real first connection creates the key, and the session file keeps it for next time.
            key = self.session.auth_key = AuthKey(os.urandom(256))
        self._sender = self._new_connection(self.session.dc_id or server.this_dc, key)

    def _new_connection(self, dc_id: int, auth_key: AuthKey) -> SimulatedConnection:
        return SimulatedConnection(
            self.server,
            dc_id=dc_id,
            auth_key=auth_key,
            latency=self.latency,
            bandwidth=self.bandwidth_per_connection,
        )

    async def _create_exported_sender(self, dc_id: int) -> SimulatedConnection:
        connection = self._new_connection(dc_id, self._sender.auth_key)
        await connection.connect()
        return connection

    async def open_extra_sender(self, dc_id: int) -> SimulatedConnection:
        return await self._create_exported_sender(dc_id)

