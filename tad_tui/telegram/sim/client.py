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
from collections.abc import Awaitable, Callable
from typing import Any

from telethon.crypto import AuthKey
from telethon import errors
from telethon.errors import rpc_message_to_error
from telethon.extensions import BinaryReader
from telethon.helpers import retry_range
from telethon.sessions import MemorySession
from telethon.tl import functions, types
from telethon.tl.tlobject import TLObject, TLRequest

from tad_tui.telegram.client import TadClient
from tad_tui.telegram.sim.server import DEMO_LOGIN_CODE, DEMO_PHONE, DropConnection, RpcErrorReply, SimulatedTelegram
from tad_tui.telegram.sim.tl import read_back, serialize, unwrap

SIM_API_ID = 1
SIM_API_HASH = "00000000000000000000000000000000"
_connection_ids = itertools.count(1)


class SimulatedConnection:
    """What Telethon uses of an ``MTProtoSender``, over a modelled link to the simulated server.

    It recovers from a broken link as ``MTProtoSender`` does: requests sent and not yet answered
    stay pending, the link is reopened in the background (``retries`` attempts, ``delay`` seconds
    apart) and they are sent again; only when every attempt fails do they fail with
    ``ConnectionError`` and the sender counts as disconnected.

    With ``updates_queue`` (the client's main sender, as ``MTProtoSender`` gets it) it receives
    updates: the server subscribes it once it sends a request not wrapped in invokeWithoutUpdates
    on the home DC, and each update arrives in the queue after the link's one-way latency. A broken
    link loses the subscription (and the updates pushed meanwhile); after reconnecting it calls
    ``auto_reconnect_callback`` as ``MTProtoSender`` does, whose request subscribes it again.
    """

    def __init__(
        self,
        server: SimulatedTelegram,
        *,
        dc_id: int,
        auth_key: AuthKey,
        latency: float,
        bandwidth: float,
        retries: int = 5,
        delay: float = 1.0,
        auto_reconnect: bool = True,
        updates_queue: asyncio.Queue[Any] | None = None,
        auto_reconnect_callback: Callable[[], Awaitable[Any]] | None = None,
    ) -> None:
        self.id = next(_connection_ids)
        self.updates_queue = updates_queue
        self.auto_reconnect_callback = auto_reconnect_callback
        self.server = server
        self.dc_id = dc_id
        self.auth_key = auth_key
        self.latency = latency
        self.bandwidth = bandwidth
        self.retries = retries
        self.delay = delay
        self.auto_reconnect = auto_reconnect
        self.reconnects = 0
        self._user_connected = False  # between connect() and disconnect() or a failed reconnection
        self._link_up = False  # the modelled TCP connection is open
        self._epoch = 0  # bumped when the link breaks: answers still travelling on the old one are lost
        self._disconnected: asyncio.Future[None] | None = None
        self._link_free_at = 0.0
        self._pending: dict[asyncio.Future[Any], TLRequest] = {}
        self._reconnecting: asyncio.Task[None] | None = None

    # ---- the MTProtoSender surface Telethon relies on -------------------------------------------

    async def connect(self, connection: Any = None) -> bool:
        if self._user_connected:
            return False
        self.dc_id = getattr(connection, "_dc_id", None) or self.dc_id
        if not await self._open_link(retry_range(self.retries)):
            raise ConnectionError(f"Connection to Telegram failed {self.retries} time(s)")
        self._user_connected = True
        self._disconnected = asyncio.get_running_loop().create_future()
        return True

    def is_connected(self) -> bool:
        return self._user_connected

    def _transport_connected(self) -> bool:
        return self._link_up and self._reconnecting is None

    async def disconnect(self) -> None:
        if self._reconnecting is not None:
            self._reconnecting.cancel()
        self._fail(ConnectionError("the connection was closed"), close=True)

    @property
    def disconnected(self) -> asyncio.Future[None]:
        if self._disconnected is None:
            self._disconnected = asyncio.get_running_loop().create_future()
            self._disconnected.set_result(None)
        return asyncio.shield(self._disconnected)

    def _keepalive_ping(self, rnd_id: int) -> None:
        """Pings need no answer here: the link never idles out."""

    def send(self, request: Any, ordered: bool = False) -> Any:
        if not self._user_connected:
            raise ConnectionError("Cannot send requests while disconnected")
        if isinstance(request, list):
            return [self._send_one(item) for item in request]
        return self._send_one(request)

    # ---- the link model ---------------------------------------------------------------------------

    async def _open_link(self, attempts: Any) -> bool:
        """Open the link, trying as ``MTProtoSender`` does; False when Telegram stays unreachable."""
        for _ in attempts:
            await asyncio.sleep(self.latency)  # the TCP and MTProto handshake cost one round trip
            if self.server.reachable():
                self._link_up = True
                return True
            await asyncio.sleep(self.delay)
        return False

    def _send_one(self, request: TLRequest) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[future] = request
        if self._link_up:  # else it waits for the reconnection, as in MTProtoSender's send queue
            self._transmit(future, request)
        return future

    def push(self, updates: TLObject) -> None:
        """The server sends an update: it reaches the client's queue after half a round trip, as
        bytes read back (nothing shared with the server), unless the link breaks on the way."""
        if self.updates_queue is None or not self._link_up:
            return
        data = bytes(updates)
        asyncio.get_running_loop().call_later(self.latency / 2, self._deliver_update, data, self._epoch)

    def _deliver_update(self, data: bytes, epoch: int) -> None:
        if epoch != self._epoch or self.updates_queue is None:
            return
        with BinaryReader(data) as reader:
            self.updates_queue.put_nowait(reader.tgread_object())

    def _transmit(self, future: asyncio.Future[Any], request: TLRequest) -> None:
        loop = asyncio.get_running_loop()
        inner = unwrap(request)
        if self.updates_queue is not None and self.dc_id == self.server.this_dc and not _without_updates(request):
            self.server.subscribe(self)
        waiting = self.server.pending(inner)
        if waiting is not None:  # the demo catalogue is still rendering a file the answer needs
            loop.create_task(self._transmit_when_rendered(waiting, future, request))
            return
        size = 64  # an answer's framing, so small answers also take link time
        outcome: Any
        try:
            result = self.server.handle(inner, connection=self.id, dc_id=self.dc_id, auth_key=self.auth_key.key)
            data = serialize(result)  # once: its size takes the link's time, the client reads it back
            file_bytes = getattr(result, "bytes", None)
            size += len(file_bytes) if isinstance(file_bytes, bytes) else len(data)
            outcome = read_back(request, data)
        except RpcErrorReply as reply:
            outcome = rpc_message_to_error(types.RpcError(reply.code, reply.message), inner)
        except DropConnection:
            loop.call_later(self.latency / 2, self._break, self._epoch)
            return
        now = loop.time()
        start = max(now + self.latency / 2, self._link_free_at)
        done = start + (size / self.bandwidth if self.bandwidth else 0.0)
        self._link_free_at = done
        loop.call_at(done + self.latency / 2, self._deliver, future, outcome, self._epoch)

    async def _transmit_when_rendered(
        self, waiting: asyncio.Future[None], future: asyncio.Future[Any], request: TLRequest
    ) -> None:
        try:
            await waiting
        except Exception as error:  # noqa: BLE001 - the render failed: the request fails with it
            self._pending.pop(future, None)
            if not future.done():
                future.set_exception(ConnectionError(f"the demo catalogue could not be rendered: {error}"))
            return
        if not future.done() and self._link_up and future in self._pending:
            self._transmit(future, request)

    def _deliver(self, future: asyncio.Future[Any], outcome: Any, epoch: int) -> None:
        if epoch != self._epoch:
            return  # the link broke on the way: the request is still pending and will be sent again
        self._pending.pop(future, None)
        if future.done():
            return
        if isinstance(outcome, BaseException):
            if isinstance(outcome, errors.FloodWaitError):
                self.server.flood_wait_delivered(type(outcome.request).__name__, outcome.seconds)
            future.set_exception(outcome)
        else:
            future.set_result(outcome)

    def _break(self, epoch: int) -> None:
        """The link goes down: answers on their way are lost; reconnect in the background."""
        if epoch != self._epoch or not self._link_up:
            return
        self.server.unsubscribe(self)
        self._link_up = False
        self._epoch += 1
        self._link_free_at = 0.0
        if self._user_connected and self._reconnecting is None:
            self._reconnecting = asyncio.get_running_loop().create_task(self._reconnect())

    async def _reconnect(self) -> None:
        try:
            attempts = retry_range(self.retries if self.auto_reconnect else 0, force_retry=False)
            if not await self._open_link(attempts):
                self._fail(ConnectionError(f"Automatic reconnection failed {self.retries} time(s)"))
                return
            self.id = next(_connection_ids)  # a new TCP connection
            self.reconnects += 1
            if self.auto_reconnect_callback is not None:
                asyncio.get_running_loop().create_task(self.auto_reconnect_callback())
            for future, request in list(self._pending.items()):
                if future.done():
                    del self._pending[future]
                else:
                    self._transmit(future, request)
        finally:
            self._reconnecting = None

    def _fail(self, error: BaseException, *, close: bool = False) -> None:
        """Give up: everything pending fails, and the sender is disconnected."""
        self.server.unsubscribe(self)
        self._user_connected = False
        self._link_up = False
        self._epoch += 1
        self._link_free_at = 0.0
        pending, self._pending = self._pending, {}
        for future in pending:
            if not future.done():
                future.set_exception(error)
                future.exception()  # retrieved here: a caller that gave up must not make asyncio log it
        if self._disconnected is not None and not self._disconnected.done():
            if close:
                self._disconnected.set_result(None)
            else:
                self._disconnected.set_exception(error)
                self._disconnected.exception()  # retrieved here so asyncio does not log it


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
        receive_updates: bool = False,
        **telethon_options: Any,
    ) -> None:
        # Telethon's own defaults (request and connection retries, retry delay), as the real client
        # runs with, unless a test asks for others.
        super().__init__(
            session if session is not None else MemorySession(),
            SIM_API_ID,
            SIM_API_HASH,
            receive_updates=receive_updates,
            flood_sleep_threshold=flood_sleep_threshold,
            **telethon_options,
        )
        self.server = server
        self.latency = latency
        self.bandwidth_per_connection = bandwidth_per_connection
        key = self.session.auth_key
        if key is None:
            # As a real first connection creates the key, and the session file keeps it for next time.
            key = self.session.auth_key = AuthKey(os.urandom(256))
        # The main sender retries as the client was told to, delivers updates and reports its
        # reconnections as TelegramClient's MTProtoSender does; extra ones keep MTProtoSender's defaults.
        self._sender = self._new_connection(
            self.session.dc_id or server.this_dc,
            key,
            retries=self._connection_retries,
            delay=self._retry_delay,
            auto_reconnect=self._auto_reconnect,
            updates_queue=self._updates_queue,
            auto_reconnect_callback=self._handle_auto_reconnect,
        )

    def catalogue_progress(self) -> Any:
        """How far the demo catalogue's render is (a ``Progress``), or None when it is complete."""
        rendering = self.server.catalogue.rendering
        if rendering is None:
            return None
        return rendering.progress()

    def leave_catalogue(self) -> None:
        """The command was interrupted: the demo catalogue's render stops with it (see
        ``CatalogueRender.abandon``); the next run finishes it."""
        rendering = self.server.catalogue.rendering
        if rendering is not None and not rendering.finished:
            rendering.abandon()

    def _new_connection(self, dc_id: int, auth_key: AuthKey, **options: Any) -> SimulatedConnection:
        return SimulatedConnection(
            self.server,
            dc_id=dc_id,
            auth_key=auth_key,
            latency=self.latency,
            bandwidth=self.bandwidth_per_connection,
            **options,
        )

    async def _tad_connect_sender(self, dc_id: int, auth_key: AuthKey | None) -> SimulatedConnection:
        # No key: a fresh one, as the DH handshake of a new connection would make.
        connection = self._new_connection(dc_id, auth_key if auth_key is not None else AuthKey(os.urandom(256)))
        await connection.connect()
        return connection

    async def _create_exported_sender(self, dc_id: int) -> SimulatedConnection:
        """What Telethon's download code borrows for another DC, made in Telethon's steps: a fresh
        key, the authorization exported on the home DC and imported over the new connection."""
        connection = await self._tad_connect_sender(dc_id, None)
        await self._tad_import_authorization(connection, dc_id)
        return connection


def _without_updates(request: Any) -> bool:
    """Whether ``request`` is wrapped (at any depth) in invokeWithoutUpdates."""
    while isinstance(request, TLObject):
        if isinstance(request, functions.InvokeWithoutUpdatesRequest):
            return True
        request = getattr(request, "query", None)
    return False
