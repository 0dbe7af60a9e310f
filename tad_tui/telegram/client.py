"""The Telethon client tad-tui talks to Telegram with: the real one, or the simulation's subclass."""

from __future__ import annotations

import asyncio
import inspect
import logging
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any

from telethon import TelegramClient, errors, functions, utils
from telethon.crypto import AuthKey
from telethon.tl.tlobject import TLRequest

from tad_tui.download.limits import LearnedPace, RequestRateLimiter, method_name

# Requests that are part of a file transfer: bandwidth_limit paces them, not the request-rate limiter.
FILE_TRANSFER_REQUESTS = frozenset({functions.upload.GetFileRequest, functions.upload.GetFileHashesRequest})


log = logging.getLogger(__name__)

_RAISES_LAST_CALL_ERROR = "raise_last_call_error" in inspect.signature(TelegramClient.__init__).parameters


class ServerTrouble(ConnectionError):
    """Telegram's servers failed a request more times than Telethon retries it (-500, RPC_CALL_FAIL,
    timeouts): Telethon's bare ``ValueError('Request was unsuccessful N time(s)')``, named."""


class TadClient(TelegramClient):
    """Telethon's client, with a flood-wait gate that actually holds back the request type.

    Telethon keys its own flood-wait memory by the request it was handed, which with
    ``receive_updates=False`` is the ``invokeWithoutUpdates`` wrapper, so it never matches again. Here
    a FLOOD_WAIT_X on one request type holds every later request of that type until X seconds have
    passed: waits up to ``tad_flood_sleep`` seconds are slept, longer ones raise ``FloodWaitError``
    at once without sending anything.
    """

    # Said on the sign-in screen: how to sign in to this Telegram (the demo's simulated account).
    login_hint: str | None = None

    def __init__(self, *args: Any, flood_sleep_threshold: int = 60, **kwargs: Any) -> None:
        if _RAISES_LAST_CALL_ERROR:  # after its retries, the server's own error, not a bare ValueError
            kwargs.setdefault("raise_last_call_error", True)
        super().__init__(*args, flood_sleep_threshold=0, **kwargs)
        self.tad_flood_sleep = flood_sleep_threshold
        self.flood_until: dict[type, float] = {}
        self._tad_exported_keys: dict[int, AuthKey] = {}  # DC -> the key imported there
        self._tad_export_locks: dict[int, asyncio.Lock] = {}
        # API requests other than file parts (performance.rate_limit_*); file parts obey bandwidth_limit.
        self.request_limiter: RequestRateLimiter | None = None
        # File parts and their hashes at the rate Telegram's flood waits showed it takes.
        self.pace = LearnedPace()
        # Called after each automatic reconnection (``TelethonSource.watch_reconnects``).
        self.reconnect_handlers: list[Callable[[], Awaitable[None]]] = []

    async def _on_login(self, user: Any) -> Any:
        """Telethon's hook after ``connect`` (or a sign-in) finds the account signed in.

        Telethon then asks updates.getState and updates.getDifference to start following updates:
        two round trips on every start. tad-tui never reads updates (``receive_updates=False``), so it
        keeps only what the rest of Telethon uses: who the account is.
        """
        if not self._no_updates:
            return await super()._on_login(user)
        self._mb_entity_cache.set_self_user(user.id, user.bot, user.access_hash)
        self._authorized = True
        return user

    async def _handle_auto_reconnect(self) -> None:
        """Telethon's hook after its sender reconnected by itself: updates Telegram sent while the
        link was down are lost, so whoever follows chats is told to look for what it missed."""
        await super()._handle_auto_reconnect()
        for handler in list(self.reconnect_handlers):
            try:
                await handler()
            except Exception:  # one failing handler must not keep the others from running
                log.exception("a reconnection handler failed")

    def flood_wait_remaining(self) -> float:
        """Seconds until the longest flood wait in force has passed (0 when none)."""
        now = time.time()
        return max((due - now for due in self.flood_until.values()), default=0.0) if self.flood_until else 0.0

    async def _call(self, sender: Any, request: Any, ordered: bool = False, flood_sleep_threshold: Any = None) -> Any:
        kinds = [type(r) for r in (request if utils.is_list_like(request) else [request])]
        if self.request_limiter is not None and FILE_TRANSFER_REQUESTS.isdisjoint(kinds):
            await self.request_limiter.acquire()
        # An explicit threshold wins: file transfers pass 0 and wait themselves, telling the user.
        threshold = self.tad_flood_sleep if flood_sleep_threshold is None else flood_sleep_threshold
        paced = [kind for kind in kinds if kind in FILE_TRANSFER_REQUESTS]
        while True:
            await self._wait_for_gate(kinds, request, threshold)
            for kind in paced:
                await self.pace.turn(kind)
            if paced and self._gate_closed(kinds):
                continue  # a flood wait began while this request waited its turn
            sent_at = max((self.pace.sent(kind) for kind in paced), default=0.0)
            try:
                return await super()._call(sender, request, ordered=ordered, flood_sleep_threshold=0)
            except ValueError as error:
                if not str(error).startswith("Request was unsuccessful"):
                    raise
                raise ServerTrouble(str(error)) from None
            except errors.FloodWaitError as error:
                due = time.time() + max(error.seconds, 1)
                for kind in kinds:
                    self.flood_until[kind] = max(self.flood_until.get(kind, 0.0), due)
                for kind in paced:
                    if self.pace.flooded(kind, error.seconds, sent_at):
                        rate = self.pace.pace(kind)
                        log.info("flood wait on %s: sent at most %.1f a second from now on", method_name(kind), rate)
                if error.seconds > threshold:
                    raise

    def _gate_closed(self, kinds: list[type]) -> bool:
        now = time.time()
        return any(self.flood_until.get(kind, 0.0) > now for kind in kinds)

    async def _wait_for_gate(self, kinds: list[type], request: TLRequest, threshold: float) -> None:
        now = time.time()
        due = max((self.flood_until.get(kind, 0.0) for kind in kinds), default=0.0)
        if due <= now:
            for kind in kinds:
                self.flood_until.pop(kind, None)
            return
        remaining = due - now
        if remaining > threshold:
            raise errors.FloodWaitError(request=request, capture=math.ceil(remaining))
        await asyncio.sleep(remaining)

    async def open_extra_sender(self, dc_id: int) -> Any:
        """A new connection to ``dc_id`` for parallel file parts.

        On the session's own DC it reuses the session's authorization key (a fresh key would get
        AUTH_KEY_UNREGISTERED); on another DC the first connection imports an exported
        authorization and later ones reuse that connection's key, so it is exported once per DC.
        """
        if dc_id == self.session.dc_id:
            return await self._tad_sender_with_key(dc_id, self.session.auth_key)
        lock = self._tad_export_locks.setdefault(dc_id, asyncio.Lock())
        async with lock:  # concurrent first connections to a DC would each export and import
            known = self._tad_exported_keys.get(dc_id)
            if known is None:
                sender = await self._tad_connect_sender(dc_id, None)
                await self._tad_import_authorization(sender, dc_id)
                self._tad_exported_keys[dc_id] = sender.auth_key
                return sender
        return await self._tad_sender_with_key(dc_id, known)

    async def _tad_sender_with_key(self, dc_id: int, key: AuthKey) -> Any:
        """A connection with a key the DC already knows, introduced with initConnection."""
        from telethon.tl.alltlobjects import LAYER

        sender = await self._tad_connect_sender(dc_id, AuthKey(key.key))
        try:
            self._init_request.query = functions.help.GetConfigRequest()
            await sender.send(functions.InvokeWithLayerRequest(LAYER, self._init_request))
        except BaseException:
            await sender.disconnect()
            raise
        return sender

    async def _tad_import_authorization(self, sender: Any, dc_id: int) -> None:
        """Telethon's own steps: export on the home DC, import on ``sender`` (the other DC)."""
        from telethon.tl.alltlobjects import LAYER

        try:
            auth = await self(functions.auth.ExportAuthorizationRequest(dc_id))
            self._init_request.query = functions.auth.ImportAuthorizationRequest(id=auth.id, bytes=auth.bytes)
            await sender.send(functions.InvokeWithLayerRequest(LAYER, self._init_request))
        except BaseException:
            await sender.disconnect()
            raise

    async def _tad_connect_sender(self, dc_id: int, auth_key: AuthKey | None) -> Any:
        """A connected transport-level sender to ``dc_id`` (None: a fresh key by the DH handshake).

        The one step the simulation replaces: everything above it runs in every test.
        """
        from telethon.network import MTProtoSender

        dc = await self._get_dc(dc_id)
        sender = MTProtoSender(auth_key, loggers=self._log)
        await sender.connect(
            self._connection(
                dc.ip_address, dc.port, dc.id, loggers=self._log, proxy=self._proxy, local_addr=self._local_addr
            )
        )
        return sender
