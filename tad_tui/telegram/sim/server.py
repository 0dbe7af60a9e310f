"""The simulated Telegram server: answers the TL requests tad-tui sends with real Telethon objects.

It serves a :class:`~tad_tui.telegram.sim.catalogue.Catalogue` and enforces what the real servers
enforce for what we use: upload.getFile's offset/limit rules, upload.getFileHashes (SHA-256 of
each 128 KiB range of a file), file references that expire, flood waits that forbid a request type
until they pass, login with a code and an SRP (2FA) password, and data centres: a document lives on
one DC (getFile elsewhere: FILE_MIGRATE_X), and a DC other than the home one accepts only auth keys
that imported an authorization exported for it (anything else: AUTH_KEY_UNREGISTERED). Faults are
injected with :class:`FaultRule`.

Updates: a connection on the home DC whose requests are not wrapped in invokeWithoutUpdates (a
client with ``receive_updates=True``) is subscribed, as Telegram subscribes a session that asks for
updates, until it breaks or closes (after a reconnection, its next such request subscribes it
again). With a :class:`LiveChannel` the server posts its tracks as they fall due and pushes each as
``updates`` with one ``updateNewChannelMessage`` (channel pts = message id); updates.getState,
getDifference and getChannelDifference (Empty, the missed messages, or TooLong past ``limit``) let
Telethon's update loop catch up. Transport (latency and per-connection
bandwidth) is modelled by the connection objects in ``sim/client.py``, not here.
"""

from __future__ import annotations

import asyncio
import bisect
import hashlib
import hmac
import json
import logging
import math
import os
import secrets
import struct
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from telethon import password as srp
from telethon import utils
from telethon.tl import functions, types
from telethon.tl.tlobject import TLRequest

from tad_tui.telegram.sim.catalogue import GENERAL_TOPIC, Catalogue, DemoFile, DemoGroup, DemoMessage, DemoTopic
from tad_tui.telegram.sim.cover import THUMB_TYPE, cover_for
from tad_tui.telegram.sim.errors import DropConnection, RpcErrorReply
from tad_tui.telegram.sim.limits import AccountLimits, AccountPolicy
from tad_tui.telegram.sim.live import LIVE_GROUP_ID, LiveChannel, Schedule
from tad_tui.telegram.sim.tl import make

log = logging.getLogger(__name__)
MIB = 1024 * 1024
SELF_USER_ID = 7_770_001
DEMO_PHONE = "+15550100000"
DEMO_LOGIN_CODE = "12345"
_EPOCH = datetime(2024, 1, 1, tzinfo=UTC)
FLOOD_GRACE = 0.05  # seconds after a FLOOD_WAIT reaches the client before a new request is its fault
OTHER_DCS = (1, 4, 5)  # where files not on the home DC live (DC 3 is left empty, as it mostly is)
ALL_DCS = frozenset(range(1, 6))
HASH_RANGE = 128 * 1024  # upload.getFileHashes: Telegram hashes a file in ranges of this size
HASHES_PER_ANSWER = 8  # consecutive ranges per answer (1 MiB)
# What a server that does not offer upload.getFileHashes answers it (SimulatedTelegram(file_hashes=False)):
# Telegram's error for a method it does not accept, 400 METHOD_INVALID (Telethon's MethodInvalidError).
NO_FILE_HASHES = "METHOD_INVALID"


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


@dataclass(frozen=True)
class Push:
    """One update the server pushed (or, ``dropped``, meant to push) to a subscribed connection."""

    at: float
    connection: int
    channel_id: int
    pts: int
    message_id: int
    dropped: bool = False


@dataclass(frozen=True)
class LoggedRequest:
    at: float
    connection: int
    name: str
    detail: str = ""
    dc: int = 0  # the DC of the connection it arrived on


@dataclass
class _Password:
    """SRP state for a 2FA password, as the server keeps it (the verifier, never the password)."""

    algo: types.PasswordKdfAlgoSHA256SHA256PBKDF2HMACSHA512iter100000SHA256ModPow
    verifier: int
    srp_id: int = 0
    secret_b: int = 0
    public_b: bytes = b""


@dataclass
class _LoginAttempt:
    phone: str
    code_hash: str
    issued_at: float


def _flood_error_seconds(message: str) -> int | None:
    if message.startswith("FLOOD_WAIT_"):
        return int(message.rsplit("_", 1)[1])
    return None


class SimulatedTelegram:
    """One simulated Telegram deployment shared by every connection of a simulated client.

    ``other_dcs``: about one file in four lives on DC 1, 4 or 5 (see :func:`place_on_other_dcs`);
    off, every file is where the catalogue says (the home DC).
    """

    def __init__(
        self,
        catalogue: Catalogue,
        *,
        authorized: bool = True,
        password: str | None = None,
        login_code: str = DEMO_LOGIN_CODE,
        code_ttl: float = 300.0,
        this_dc: int = 2,
        state_file: Path | None = None,
        limits: AccountLimits | None = None,
        other_dcs: bool = True,
        file_hashes: bool = True,
        live: LiveChannel | None = None,
    ) -> None:
        self.catalogue = catalogue
        self.policy = AccountPolicy(limits or AccountLimits())
        self._down_until = 0.0  # an outage: no connection can be made or kept until then
        # False: upload.getFileHashes is refused with NO_FILE_HASHES, as by a server without it.
        self.file_hashes = file_hashes
        self._range_hashes: dict[int, dict[int, bytes]] = {}  # document id -> range index -> SHA-256
        self.this_dc = this_dc
        self.login_code = login_code
        self.code_ttl = code_ttl
        self.faults: list[FaultRule] = []
        self.log: list[LoggedRequest] = []
        # request name -> time before which the client, once told, must not send it again
        self.flood_until: dict[str, float] = {}
        self.flood_from: dict[str, float] = {}
        self.flood_violations: list[LoggedRequest] = []
        # SHA-256 digests of the authorization keys signed in; with ``state_file`` they outlive the
        # process, as a real server remembers a session between a client's runs (the demo needs it).
        self._authorized_keys: set[str] = set()
        self.state_file = state_file
        stored: dict[str, Any] = {}
        if state_file is not None:
            stored = _read_state(state_file)
            self._authorized_keys = {str(digest) for digest in stored.get("signed_in_keys", [])}
        self._authorize_all = authorized
        self._takeouts: set[int] = set()
        self.finished_takeouts: list[tuple[int, bool]] = []  # (takeout id, success) as the client ended them
        self._password = self._make_password(password) if password else None
        self._login: _LoginAttempt | None = None
        self._reference_generation: dict[int, int] = {}
        self._messages: dict[int, dict[int, DemoMessage]] = {
            group.id: {message.id: message for message in group.messages} for group in catalogue.groups
        }
        self._groups: dict[int, DemoGroup] = {group.id: group for group in catalogue.groups}
        self._ordered: dict[int, list[DemoMessage]] = {
            group.id: sorted(group.messages, key=lambda m: m.id, reverse=True) for group in catalogue.groups
        }
        self._search_cache: dict[tuple[Any, ...], list[DemoMessage]] = {}
        self._files: dict[int, DemoFile] = {}
        for group in catalogue.groups:
            for message in group.messages:
                if message.file is not None:
                    self._files[message.file.document_id] = message.file
        # Where each document lives now: the server decides (the manifest's dc_id is the home DC).
        self._dc_of: dict[int, int] = {d: f.dc_id for d, f in self._files.items()}
        if other_dcs:
            self._dc_of.update(place_on_other_dcs(catalogue.groups, this_dc))
        self._dc_keys: dict[int, set[str]] = {}  # DC -> digests of the auth keys imported there
        self._exported: dict[bytes, int] = {}  # unused exported authorization bytes -> the DC they are for
        # Updates: the connections subscribed, what was pushed, and the live channel's posts so far.
        # id(connection) -> (the connection, with .push(updates); since when, by the live clock)
        self._subscribers: dict[int, tuple[Any, float]] = {}
        self.pushes: list[Push] = []
        self.live = live
        self._live_posted = 0  # posts materialized: the live channel's pts
        self._live_seen = 0  # the most posts any run of this state file has made
        self._live_timer: asyncio.Task[None] | None = None
        self._live_rendering: asyncio.Future[None] | None = None
        if live is not None:
            group = live.group
            self._groups[group.id] = group
            self._messages[group.id] = {}
            self._ordered[group.id] = []
            saved = stored.get("live") if isinstance(stored.get("live"), dict) else None
            if saved is not None:
                try:
                    schedule, seen = Schedule.from_json(saved["schedule"]), int(saved.get("seen", 0))
                except (KeyError, TypeError, ValueError):
                    saved = None
                else:
                    interval = live.schedule.segments[-1].interval
                    live.schedule = schedule.resume(live.clock(), interval, seen)
                    self._live_seen = seen
            if state_file is not None:
                self._save_state()  # the channel's history now outlives this run

    # ---- fault injection and inspection -------------------------------------------------------

    def inject(self, rule: FaultRule) -> FaultRule:
        self.faults.append(rule)
        return rule

    def expire_file_reference(self, document_id: int) -> None:
        """Every file reference handed out so far for this document stops working."""
        self._reference_generation[document_id] = self._reference_generation.get(document_id, 0) + 1

    def flood_wait_delivered(self, name: str, seconds: int) -> None:
        """The client now knows: a ``name`` request arriving before the wait ends is a violation.

        The window opens after a grace (requests already on their way when the error arrived are
        not the client's fault) and closes when the wait has passed.
        """
        now = time.time()
        self.flood_from[name] = now + FLOOD_GRACE
        self.flood_until[name] = max(self.flood_until.get(name, 0.0), now + seconds)

    def outage(self, seconds: float) -> None:
        """Telegram cannot be reached for ``seconds``: connections break and new ones fail."""
        self._down_until = time.time() + seconds

    def reachable(self) -> bool:
        return time.time() >= self._down_until

    def move_file(self, document_id: int, dc_id: int) -> None:
        """The document now lives on ``dc_id``: messages say so, a stale location gets FILE_MIGRATE."""
        self._dc_of[document_id] = dc_id

    def dc_of(self, document_id: int) -> int:
        return self._dc_of[document_id]

    def requests(self, name: str) -> list[LoggedRequest]:
        return [entry for entry in self.log if entry.name == name]

    def is_authorized(self, auth_key: bytes) -> bool:
        return self._authorize_all or _key_digest(auth_key) in self._authorized_keys

    def key_accepted(self, auth_key: bytes, dc_id: int) -> bool:
        """The home DC knows the signed-in keys; another DC only the keys imported there."""
        if dc_id == self.this_dc:
            return self.is_authorized(auth_key)
        return _key_digest(auth_key) in self._dc_keys.get(dc_id, set())

    def authorize_key(self, auth_key: bytes) -> None:
        """Sign in the session with this key without a login (a demo that starts signed in)."""
        self._authorized_keys.add(_key_digest(auth_key))
        self._save_state()

    def _save_state(self) -> None:
        if self.state_file is None:
            return
        data: dict[str, Any] = {"signed_in_keys": sorted(self._authorized_keys)}
        if self.live is not None:
            self._live_seen = max(self._live_seen, self._live_posted)
            data["live"] = {"schedule": self.live.schedule.to_json(), "seen": self._live_seen}
        _write_state(self.state_file, data)

    def file(self, document_id: int) -> DemoFile:
        """The file a document id names, from the catalogue or a live post (its ``md5``, ``path``, …)."""
        return self.catalogue.current(self._files[document_id])

    def _all_groups(self) -> tuple[DemoGroup, ...]:
        groups = self.catalogue.groups
        return groups + (self.live.group,) if self.live is not None else groups

    def _pts(self, group: DemoGroup) -> int:
        """A channel's pts: every message is one event, so it is the number of messages posted."""
        return len(self._ordered[group.id])

    # ---- updates --------------------------------------------------------------------------------

    def subscribe(self, connection: Any) -> None:
        """``connection`` (with ``push(updates)``) receives updates from now on; the live channel's
        timer runs while anyone does."""
        if id(connection) in self._subscribers:
            return
        since = self.live.clock() if self.live is not None else time.time()
        self._subscribers[id(connection)] = (connection, since)
        if self.live is not None and self._live_timer is None:
            self._live_timer = asyncio.get_running_loop().create_task(self._run_live_timer())

    def unsubscribe(self, connection: Any) -> None:
        self._subscribers.pop(id(connection), None)
        if not self._subscribers and self._live_timer is not None:
            self._live_timer.cancel()
            self._live_timer = None

    def subscribed(self) -> int:
        return len(self._subscribers)

    async def _run_live_timer(self) -> None:
        """Post each track when it falls due (rendered off the loop first) and push it."""
        live = self.live
        assert live is not None
        while True:
            wait = live.time_of(self._live_posted) - live.clock()
            if wait > 0:
                await asyncio.sleep(min(wait, 5.0) + 0.001)  # a clock that jumps is caught up within 5 s
                continue
            try:
                await self.post_due()
            except Exception as error:  # noqa: BLE001 - a track that cannot be rendered: try again later
                log.warning("the live channel could not post: %s", error)
                await asyncio.sleep(live.schedule.segments[-1].interval)

    async def post_due(self) -> int:
        """Render and post every live track due by the channel's clock, pushing each to the
        subscribers; returns the channel's pts. (Tests with their own clock call it after moving it.)"""
        if self.live is None:
            return 0
        waiting = self._live_render_wait()
        if waiting is not None:
            await asyncio.shield(waiting)
        self._sync_live()
        return self._live_posted

    def _live_render_wait(self) -> asyncio.Future[None] | None:
        """A future for the render of the live tracks due and not yet rendered, or None."""
        live = self.live
        if live is None:
            return None
        missing = [k for k in range(self._live_posted, live.count()) if live.rendered(k) is None]
        if not missing:
            return None
        if self._live_rendering is None or self._live_rendering.done():
            loop = asyncio.get_running_loop()
            self._live_rendering = loop.run_in_executor(None, _render_tracks, live, missing)
        return self._live_rendering

    def _sync_live(self) -> None:
        """Post the live tracks that are due and rendered, in order, and push them."""
        live = self.live
        if live is None:
            return
        due = live.count()
        posted: list[DemoMessage] = []
        while self._live_posted < due and live.rendered(self._live_posted) is not None:
            message = live.message(self._live_posted)
            group_id = live.group.id
            self._messages[group_id][message.id] = message
            self._ordered[group_id].insert(0, message)
            assert message.file is not None
            self._files[message.file.document_id] = message.file
            self._dc_of[message.file.document_id] = self.this_dc
            self._live_posted += 1
            posted.append(message)
        if posted:
            if self._live_posted > self._live_seen:
                self._save_state()
            for message in posted:
                self._push_post(live.group, message)

    def _push_post(self, group: DemoGroup, message: DemoMessage) -> None:
        now = time.time()
        updates = types.Updates(
            updates=[types.UpdateNewChannelMessage(self._message(group, message), pts=message.id, pts_count=1)],
            users=[self.self_user()],
            chats=[self.channel(group)],
            date=datetime.fromtimestamp(int(now), UTC),
            seq=0,
        )
        name = "UpdateNewChannelMessage"
        posted_at = self.live.time_of(message.id - 1) if self.live is not None else now
        for connection, since in list(self._subscribers.values()):
            if posted_at < since:
                continue  # posted before it subscribed (its render finished later): getDifference's
            dropped = any(rule.drop and rule.fires(name) for rule in self.faults)
            self.pushes.append(Push(now, connection.id, group.id, message.id, message.id, dropped))
            if not dropped:
                connection.push(updates)

    # ---- dispatch -----------------------------------------------------------------------------

    def pending(self, request: TLRequest) -> asyncio.Future[None] | None:
        """While the catalogue renders: a future to await before ``request`` can be answered (its
        files are rendered first), or None when it can be answered now."""
        if self.live is not None and self._shows_live(request):
            waiting = self._live_render_wait()
            if waiting is not None:
                return waiting
        rendering = self.catalogue.rendering
        if rendering is None or rendering.finished:
            return None
        needed = self._files_needed(request)
        if not needed or rendering.ready(needed):
            return None
        return rendering.wait_for(needed)

    def _shows_live(self, request: Any) -> bool:
        """Whether an answer to ``request`` may carry the live channel's newest posts."""
        while type(request).__name__ == "InvokeWithTakeoutRequest":
            request = request.query
        name = type(request).__name__
        if name == "GetDialogsRequest":
            return True
        peer = getattr(request, "channel", None) or getattr(request, "peer", None)
        return getattr(peer, "channel_id", None) == LIVE_GROUP_ID

    def _files_needed(self, request: Any) -> list[int]:
        """The documents an answer to ``request`` carries: a group's for a page of its messages
        (their sizes), one file's for its bytes or hashes."""
        while type(request).__name__ == "InvokeWithTakeoutRequest":
            request = request.query
        name = type(request).__name__
        location = getattr(request, "location", None)
        if name == "GetDialogsRequest":  # each group's newest message comes along
            tops = (self._ordered[group.id][0].file for group in self.catalogue.groups if self._ordered[group.id])
            return [file.document_id for file in tops if file is not None]
        if name in {"GetFileRequest", "GetFileHashesRequest"}:
            return [location.id] if isinstance(location, types.InputDocumentFileLocation) else []
        peer = {"GetHistoryRequest": "peer", "SearchRequest": "peer", "GetMessagesRequest": "channel",
                "GetRepliesRequest": "peer", "GetForumTopicsRequest": "peer"}.get(name)
        if name == "GetForumTopicsRequest" and hasattr(request, "channel"):  # the older layers' form
            peer = "channel"
        if peer is None or not hasattr(request, peer):
            return []
        try:
            group = self._group_for(getattr(request, peer))
        except RpcErrorReply:
            return []  # answered with the error, needing no file
        return [m.file.document_id for m in group.messages if m.file is not None]  # () for the live channel

    def handle(
        self, request: TLRequest, *, connection: int, dc_id: int, auth_key: bytes, takeout_id: int | None = None
    ) -> Any:
        """Answer one (unwrapped) request or raise :class:`RpcErrorReply` / :class:`DropConnection`.

        ``takeout_id``: the request came wrapped in invokeWithTakeout with that (valid) id.
        """
        name = type(request).__name__
        now = time.time()
        entry = LoggedRequest(now, connection, name, _detail(request), dc_id)
        self.log.append(entry)
        if not self.reachable():
            raise DropConnection(name)
        if self.flood_from.get(name, now) < now < self.flood_until.get(name, 0.0):
            self.flood_violations.append(entry)  # told to wait, asked anyway: refused again, as Telegram does
            raise RpcErrorReply(420, f"FLOOD_WAIT_{max(1, math.ceil(self.flood_until[name] - now))}")
        if name != "PingRequest":
            self.policy.check(name, now)
        self._sync_live()
        damage = None
        thumb = bool(getattr(getattr(request, "location", None), "thumb_size", ""))
        for rule in self.faults:
            if not rule.drop and rule.fires(name, thumb=thumb):
                if rule.damage is not None:
                    damage = rule.damage
                    break
                if rule.disconnect:
                    if rule.outage:
                        self.outage(rule.outage)
                    raise DropConnection(name)
                assert rule.error is not None
                seconds = _flood_error_seconds(rule.error)
                raise RpcErrorReply(420 if seconds is not None else rule.code, rule.error)
        handler = getattr(self, "_on_" + name, None)
        if damage == "too_long" and name == "GetChannelDifferenceRequest":
            handler, damage = self._too_long_difference, None
        if handler is None:
            raise RpcErrorReply(400, "METHOD_NOT_SUPPORTED_BY_SIMULATION")
        if name not in _WITHOUT_AUTH and not self.key_accepted(auth_key, dc_id):
            raise RpcErrorReply(401, "AUTH_KEY_UNREGISTERED")
        result = handler(request, connection=connection, dc_id=dc_id, auth_key=auth_key, takeout_id=takeout_id)
        return _damaged(result, damage) if damage is not None else result

    # ---- connection set-up ----------------------------------------------------------------------

    def config(self) -> types.Config:
        now = datetime.now(UTC)
        # Addresses on loopback, port 1: nothing ever dials them, and if it did it would go nowhere.
        options = [make(types.DcOption, id=dc, ip_address="127.0.0.1", port=1) for dc in range(1, 6)]
        return make(
            types.Config,
            date=now,
            expires=datetime.fromtimestamp(now.timestamp() + 3600, UTC),
            this_dc=self.this_dc,
            dc_options=options,
            dc_txt_domain_name="sim.invalid",
            chat_size_max=200,
            megagroup_size_max=200_000,
            forwarded_count_max=100,
            online_update_period_ms=120_000,
            offline_blur_timeout_ms=5000,
            offline_idle_timeout_ms=30_000,
            online_cloud_timeout_ms=300_000,
            notify_cloud_delay_ms=30_000,
            notify_default_delay_ms=1500,
            push_chat_period_ms=60_000,
            push_chat_limit=2,
            edit_time_limit=172_800,
            revoke_time_limit=172_800,
            revoke_pm_time_limit=172_800,
            rating_e_decay=2_419_200,
            stickers_recent_limit=200,
            channels_read_media_period=604_800,
            call_receive_timeout_ms=20_000,
            call_ring_timeout_ms=90_000,
            call_connect_timeout_ms=30_000,
            call_packet_timeout_ms=10_000,
            me_url_prefix="https://t.me/",
            caption_length_max=1024,
            message_length_max=4096,
            webfile_dc_id=4,
        )

    def _on_GetConfigRequest(self, request: Any, **_: Any) -> types.Config:
        return self.config()

    def _on_PingRequest(self, request: Any, **_: Any) -> types.Pong:
        return types.Pong(msg_id=0, ping_id=request.ping_id)

    def _on_GetStateRequest(self, request: Any, **_: Any) -> types.updates.State:
        # The account's common pts never moves: the simulated account has no private chats or
        # small groups; everything new happens in channels, with their own pts.
        return make(types.updates.State, pts=1, qts=0, date=datetime.now(UTC), seq=1, unread_count=0)

    def _on_GetDifferenceRequest(self, request: Any, **_: Any) -> types.updates.DifferenceEmpty:
        return types.updates.DifferenceEmpty(date=datetime.now(UTC), seq=1)

    def _on_GetChannelDifferenceRequest(self, request: Any, **_: Any) -> Any:
        """What happened in a channel since ``pts``, as Telegram answers it: nothing (Empty), the new
        messages (every message is one pts), or, when more than ``limit`` events were missed,
        TooLong with the channel's dialog (its current pts) and its latest messages."""
        group = self._group_for(request.channel)
        current = self._pts(group)
        if request.pts <= 0:
            raise RpcErrorReply(400, "PERSISTENT_TIMESTAMP_EMPTY")
        missed = current - request.pts
        if missed <= 0:  # nothing new (a pts from the future is answered with the real one)
            return make(types.updates.ChannelDifferenceEmpty, final=True, pts=current)
        if missed > max(1, request.limit):
            return self._too_long_difference(request)
        new = [m for m in reversed(self._ordered[group.id][:missed])]  # oldest first
        return make(
            types.updates.ChannelDifference,
            final=True,
            pts=current,
            new_messages=[self._message(group, m) for m in new],
            other_updates=[],
            chats=[self.channel(group)],
            users=[self.self_user()],
        )

    def _too_long_difference(self, request: Any, **_: Any) -> Any:
        group = self._group_for(request.channel)
        latest = self._ordered[group.id][: min(max(1, request.limit), 100)]
        top = latest[0].id if latest else 0
        dialog = make(
            types.Dialog,
            peer=types.PeerChannel(group.id),
            top_message=top,
            read_inbox_max_id=top,
            read_outbox_max_id=top,
            unread_count=0,
            notify_settings=types.PeerNotifySettings(),
            pts=self._pts(group),
        )
        return make(
            types.updates.ChannelDifferenceTooLong,
            final=True,
            dialog=dialog,
            messages=[self._message(group, m) for m in latest],
            chats=[self.channel(group)],
            users=[self.self_user()],
        )

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
        self._dc_keys.setdefault(dc_id, set()).add(_key_digest(auth_key))
        return make(types.auth.Authorization, user=self.self_user())

    # ---- users and login ------------------------------------------------------------------------

    def self_user(self) -> types.User:
        return make(
            types.User,
            id=SELF_USER_ID,
            is_self=True,
            access_hash=0x5EED_0001,
            first_name="Demo",
            last_name="Listener",
            username="tad_demo_user",
            phone=DEMO_PHONE.lstrip("+"),
        )

    def _on_GetUsersRequest(self, request: Any, **_: Any) -> list[types.User]:
        return [self.self_user() for user in request.id if isinstance(user, types.InputUserSelf)]

    def _on_SendCodeRequest(self, request: Any, **_: Any) -> Any:
        digits = request.phone_number.lstrip("+")
        if not digits.isdigit() or len(digits) < 7:
            raise RpcErrorReply(400, "PHONE_NUMBER_INVALID")
        self._login = _LoginAttempt(request.phone_number, secrets.token_hex(8), time.time())
        return make(
            types.auth.SentCode,
            type=types.auth.SentCodeTypeApp(length=len(self.login_code)),
            phone_code_hash=self._login.code_hash,
        )

    def _on_SignInRequest(self, request: Any, *, auth_key: bytes, **_: Any) -> Any:
        login = self._login
        if login is None or request.phone_code_hash != login.code_hash:
            raise RpcErrorReply(400, "PHONE_CODE_HASH_EMPTY")
        if time.time() - login.issued_at > self.code_ttl:
            raise RpcErrorReply(400, "PHONE_CODE_EXPIRED")
        if not request.phone_code:
            raise RpcErrorReply(400, "PHONE_CODE_EMPTY")
        if request.phone_code != self.login_code:
            raise RpcErrorReply(400, "PHONE_CODE_INVALID")
        if self._password is not None:
            raise RpcErrorReply(401, "SESSION_PASSWORD_NEEDED")
        return self._authorize(auth_key)

    def _authorize(self, auth_key: bytes) -> Any:
        self.authorize_key(auth_key)
        self._login = None
        return make(types.auth.Authorization, user=self.self_user())

    def _on_LogOutRequest(self, request: Any, *, auth_key: bytes, **_: Any) -> Any:
        self._authorized_keys.discard(_key_digest(auth_key))
        self._authorize_all = False
        self._dc_keys.clear()  # the keys imported on other DCs belonged to the same authorization
        self._exported.clear()
        self._save_state()
        return make(types.auth.LoggedOut)

    # ---- takeout (data export) sessions ---------------------------------------------------------

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

    @staticmethod
    def _make_password(password: str) -> _Password:
        prime = srp_prime()
        algo = types.PasswordKdfAlgoSHA256SHA256PBKDF2HMACSHA512iter100000SHA256ModPow(
            salt1=os.urandom(32), salt2=os.urandom(32), g=3, p=prime
        )
        x = int.from_bytes(srp.compute_hash(algo, password), "big")
        return _Password(algo=algo, verifier=pow(algo.g, x, int.from_bytes(prime, "big")))

    def _on_GetPasswordRequest(self, request: Any, **_: Any) -> Any:
        state = self._password
        if state is None:
            return make(
                types.account.Password,
                new_algo=types.PasswordKdfAlgoUnknown(),
                new_secure_algo=types.SecurePasswordKdfAlgoUnknown(),
                secure_random=os.urandom(32),
                has_password=False,
            )
        p = int.from_bytes(state.algo.p, "big")
        k = int.from_bytes(srp.sha256(state.algo.p, srp.big_num_for_hash(state.algo.g)), "big")
        state.secret_b = int.from_bytes(os.urandom(256), "big")
        state.public_b = srp.big_num_for_hash((k * state.verifier + pow(state.algo.g, state.secret_b, p)) % p)
        state.srp_id = int.from_bytes(os.urandom(7), "big")
        return make(
            types.account.Password,
            new_algo=state.algo,
            new_secure_algo=types.SecurePasswordKdfAlgoUnknown(),
            secure_random=os.urandom(32),
            has_password=True,
            current_algo=state.algo,
            srp_B=state.public_b,
            srp_id=state.srp_id,
            hint="the demo hint",
        )

    def _on_CheckPasswordRequest(self, request: Any, *, auth_key: bytes, **_: Any) -> Any:
        state = self._password
        check = request.password
        if state is None or not isinstance(check, types.InputCheckPasswordSRP):
            raise RpcErrorReply(400, "PASSWORD_HASH_INVALID")
        if check.srp_id != state.srp_id:
            raise RpcErrorReply(400, "SRP_ID_INVALID")
        if not hmac.compare_digest(check.M1, self._expected_m1(state, check.A)):
            raise RpcErrorReply(400, "PASSWORD_HASH_INVALID")
        return self._authorize(auth_key)

    @staticmethod
    def _expected_m1(state: _Password, a_bytes: bytes) -> bytes:
        algo = state.algo
        p = int.from_bytes(algo.p, "big")
        a_value = int.from_bytes(a_bytes, "big")
        u = int.from_bytes(srp.sha256(a_bytes, state.public_b), "big")
        shared = pow(a_value * pow(state.verifier, u, p) % p, state.secret_b, p)
        key = srp.sha256(srp.big_num_for_hash(shared))
        p_hash = srp.sha256(srp.num_bytes_for_hash(algo.p))
        g_hash = srp.sha256(srp.big_num_for_hash(algo.g))
        return srp.sha256(
            srp.xor(p_hash, g_hash),
            srp.sha256(algo.salt1),
            srp.sha256(algo.salt2),
            a_bytes,
            state.public_b,
            key,
        )

    # ---- chats ----------------------------------------------------------------------------------

    def channel(self, group: DemoGroup) -> types.Channel:
        return make(
            types.Channel,
            id=group.id,
            title=group.title,
            photo=types.ChatPhotoEmpty(),
            date=_EPOCH,
            broadcast=not group.megagroup,
            megagroup=group.megagroup,
            access_hash=group.access_hash,
            username=group.username or None,  # a private channel has none
            participants_count=1000 + len(group.messages),
            forum=group.forum,
        )

    def _group_for(self, peer: Any) -> DemoGroup:
        channel_id = getattr(peer, "channel_id", None)
        group = self._groups.get(channel_id) if channel_id is not None else None
        if group is None:
            raise RpcErrorReply(400, "CHANNEL_INVALID")
        if peer.access_hash != group.access_hash:
            raise RpcErrorReply(400, "CHANNEL_INVALID")
        return group

    def _on_GetDialogsRequest(self, request: Any, **_: Any) -> Any:
        groups = [group for group in self._all_groups() if self._ordered[group.id]]
        dialogs, messages = [], []
        for group in groups:
            top = self._ordered[group.id][0]
            dialogs.append(
                make(
                    types.Dialog,
                    peer=types.PeerChannel(group.id),
                    top_message=top.id,
                    read_inbox_max_id=top.id,
                    read_outbox_max_id=top.id,
                    notify_settings=types.PeerNotifySettings(),
                    pts=self._pts(group),
                )
            )
            messages.append(self._message(group, top))
        chats = [self.channel(group) for group in groups]
        return types.messages.Dialogs(dialogs=dialogs, messages=messages, chats=chats, users=[self.self_user()])

    def _on_ResolveUsernameRequest(self, request: Any, **_: Any) -> Any:
        wanted = request.username.casefold()
        if self.live is not None and wanted == self.live.group.username:
            group = self.live.group
        else:
            try:
                group = self.catalogue.group(request.username)
            except KeyError:
                raise RpcErrorReply(400, "USERNAME_NOT_OCCUPIED") from None
        return types.contacts.ResolvedPeer(peer=types.PeerChannel(group.id), chats=[self.channel(group)], users=[])

    def _on_GetChannelsRequest(self, request: Any, **_: Any) -> Any:
        return types.messages.Chats(chats=[self.channel(self._group_for(peer)) for peer in request.id])

    def _on_GetFullChannelRequest(self, request: Any, **_: Any) -> Any:
        group = self._group_for(request.channel)
        full = make(
            types.ChannelFull,
            id=group.id,
            about=group.about,
            read_inbox_max_id=0,
            read_outbox_max_id=0,
            unread_count=0,
            chat_photo=types.PhotoEmpty(id=0),
            notify_settings=types.PeerNotifySettings(),
            bot_info=[],
            pts=self._pts(group),
            participants_count=1000 + len(group.messages),
        )
        return types.messages.ChatFull(full_chat=full, chats=[self.channel(group)], users=[])

    # ---- messages -------------------------------------------------------------------------------

    def file_reference(self, document_id: int) -> bytes:
        generation = self._reference_generation.get(document_id, 0)
        return b"\x02" + struct.pack("<qI", document_id, generation) + hashlib.sha256(
            struct.pack("<qI", document_id, generation)
        ).digest()[:8]

    def document(self, file: DemoFile) -> types.Document:
        file = self.catalogue.current(file)
        attributes: list[Any] = []
        if file.has_audio_attribute:
            attributes.append(
                make(
                    types.DocumentAttributeAudio,
                    duration=file.duration,
                    title=file.title,
                    performer=file.performer,
                )
            )
        if file.file_name is not None:
            attributes.append(types.DocumentAttributeFilename(file_name=file.file_name))
        return make(
            types.Document,
            id=file.document_id,
            access_hash=file.access_hash,
            file_reference=self.file_reference(file.document_id),
            date=_EPOCH,
            mime_type=file.mime_type,
            size=file.size,
            dc_id=self._dc_of[file.document_id],
            attributes=attributes,
            thumbs=_thumbs(file),
        )

    def _message(self, group: DemoGroup, message: DemoMessage) -> Any:
        sender = None if not group.megagroup else types.PeerUser(SELF_USER_ID)
        if message.created_topic is not None:  # the service message that opened a forum topic
            action = make(types.MessageActionTopicCreate, title=message.created_topic,
                          icon_color=_topic_of(group, message.id).icon_color)
            return make(types.MessageService, id=message.id, peer_id=types.PeerChannel(group.id),
                        date=message.date, action=action, from_id=sender)
        media = None
        if message.file is not None:
            media = make(types.MessageMediaDocument, document=self.document(message.file))
        return make(
            types.Message,
            id=message.id,
            peer_id=types.PeerChannel(group.id),
            date=message.date,
            message=message.text,
            post=not group.megagroup,
            from_id=sender,
            media=media,
            reply_to=_reply_header(message),
        )

    def _channel_messages(self, group: DemoGroup, messages: Iterable[Any], count: int) -> Any:
        return make(
            types.messages.ChannelMessages,
            pts=self._pts(group),
            count=count,
            messages=list(messages),
            topics=[],
            chats=[self.channel(group)],
            users=[self.self_user()],
        )

    def _on_SearchRequest(self, request: Any, **_: Any) -> Any:
        group = self._group_for(request.peer)
        ordered = self._ordered[group.id]
        # The filtered list is kept between pages (a big scan asks ~1,000 of them); the catalogue
        # does not change under a running search, and a changed list has another length or identity.
        # min_date / max_date (Unix times; 0: none) as the API documents them: messages sent after
        # min_date and before max_date, both excluded. Telethon sends None for 0 and reads a date back.
        after, before = _unix_time(request.min_date), _unix_time(request.max_date)
        # top_msg_id (newer layers): only that thread's messages, in a forum a topic's.
        thread = getattr(request, "top_msg_id", None) or 0
        key = (group.id, type(request.filter), request.q, after, before, thread, id(ordered), len(ordered))
        if thread:
            ordered = self._thread(group, thread)
        matching = self._search_cache.get(key)
        if matching is None:
            matching = [
                m for m in ordered
                if _matches(request.filter, request.q, m)
                and (not after or m.date.timestamp() > after) and (not before or m.date.timestamp() < before)
            ]
            self._search_cache = {key: matching}
        return self._page(group, matching, request)

    def _thread(self, group: DemoGroup, top_id: int) -> list[DemoMessage]:
        """A thread's messages, newest first: in a forum, a topic's (its creation message included,
        General's are those without a topic header); elsewhere the replies to ``top_id``."""
        if group.forum:
            if not any(topic.id == top_id for topic in group.topics):
                raise RpcErrorReply(400, "TOPIC_ID_INVALID")
            return [m for m in self._ordered[group.id] if _thread_of(m) == top_id]
        if top_id not in self._messages[group.id]:
            raise RpcErrorReply(400, "MSG_ID_INVALID")
        return [m for m in self._ordered[group.id] if m.reply_to == top_id]

    def _on_GetRepliesRequest(self, request: Any, **_: Any) -> Any:
        """messages.getReplies: a thread's messages (a forum topic's by its id), paged as getHistory
        pages (offset_id, add_offset, limit, min_id, max_id)."""
        group = self._group_for(request.peer)
        return self._page(group, self._thread(group, request.msg_id), request)

    def _on_GetForumTopicsRequest(self, request: Any, **_: Any) -> Any:
        """A forum's topics, the most recently active first, paged by the last one's top message
        (offset_date, offset_id, offset_topic) and ``limit``; ``q`` finds titles. Older layers send it
        as channels.getForumTopics (``channel``), newer as messages.getForumTopics (``peer``)."""
        group = self._group_for(getattr(request, "channel", None) or getattr(request, "peer", None))
        if not group.forum:
            raise RpcErrorReply(400, "CHANNEL_FORUM_MISSING")
        tops = {topic.id: self._thread(group, topic.id) for topic in group.topics}
        topics = sorted((t for t in group.topics if tops[t.id]), key=lambda t: -tops[t.id][0].id)
        if request.q:
            topics = [t for t in topics if request.q.casefold() in t.title.casefold()]
        count = len(topics)
        if request.offset_id or request.offset_topic:
            topics = [t for t in topics if (tops[t.id][0].id, t.id) < (request.offset_id or 2**31, request.offset_topic or 2**31)]
        page = topics[: min(max(request.limit, 0), 100)]
        return make(
            types.messages.ForumTopics,
            count=count,
            topics=[self._forum_topic(group, topic, tops[topic.id]) for topic in page],
            messages=[self._message(group, tops[topic.id][0]) for topic in page],
            chats=[self.channel(group)],
            users=[self.self_user()],
            pts=self._pts(group),
        )

    def _forum_topic(self, group: DemoGroup, topic: DemoTopic, newest_first: list[DemoMessage]) -> Any:
        top = newest_first[0].id
        return make(
            types.ForumTopic,
            id=topic.id,
            date=newest_first[-1].date,
            peer=types.PeerChannel(group.id),
            title=topic.title,
            icon_color=topic.icon_color,
            top_message=top,
            read_inbox_max_id=top,
            read_outbox_max_id=top,
            unread_count=0,
            unread_mentions_count=0,
            unread_reactions_count=0,
            from_id=types.PeerUser(SELF_USER_ID),
            notify_settings=types.PeerNotifySettings(),
            pinned=topic.id == GENERAL_TOPIC,
        )

    def _on_GetHistoryRequest(self, request: Any, **_: Any) -> Any:
        group = self._group_for(request.peer)
        return self._page(group, self._ordered[group.id], request)

    def _page(self, group: DemoGroup, newest_first: list[DemoMessage], request: Any) -> Any:
        """One page of messages as messages.search / getHistory cut it (offset_id, add_offset, limit)."""
        matching = newest_first
        if request.min_id:
            matching = [m for m in matching if m.id > request.min_id]
        if request.max_id:
            matching = [m for m in matching if m.id < request.max_id]
        start = 0
        if request.offset_id:  # newest first: the first message older than offset_id, by bisection
            start = bisect.bisect_left(_Descending(matching), -request.offset_id + 1)
        # A negative add_offset pages towards newer messages; a window reaching past the newest is cut.
        start = start + request.add_offset
        end = start + min(max(request.limit, 0), 100)
        page = matching[max(0, start) : max(0, end)]
        return self._channel_messages(group, (self._message(group, m) for m in page), len(matching))

    def _on_GetMessagesRequest(self, request: Any, **_: Any) -> Any:
        group = self._group_for(request.channel)
        found = []
        for wanted in request.id:
            message_id = getattr(wanted, "id", None)
            message = self._messages[group.id].get(message_id) if message_id is not None else None
            # A deleted (or never posted) message: messageEmpty, as Telegram answers (Telethon's
            # patched MessageEmpty takes Message's constructor, hence make()).
            found.append(self._message(group, message) if message else make(types.MessageEmpty, id=message_id or 0))
        return self._channel_messages(group, found, len(found))

    # ---- files ----------------------------------------------------------------------------------

    def _located_file(self, location: Any, dc_id: int) -> DemoFile:
        """The document an InputFileLocation names, checked as Telegram checks it for getFile and
        getFileHashes: LOCATION_INVALID, FILE_MIGRATE_X (it lives on another DC), FILE_REFERENCE_EXPIRED."""
        if not isinstance(location, types.InputDocumentFileLocation):
            raise RpcErrorReply(400, "LOCATION_INVALID")
        file = self._files.get(location.id)
        if file is not None:
            file = self.catalogue.current(file)
        if file is None or file.access_hash != location.access_hash:
            raise RpcErrorReply(400, "LOCATION_INVALID")
        if self._dc_of[file.document_id] != dc_id:
            raise RpcErrorReply(303, f"FILE_MIGRATE_{self._dc_of[file.document_id]}")
        if location.file_reference != self.file_reference(file.document_id):
            raise RpcErrorReply(400, "FILE_REFERENCE_EXPIRED")
        return file

    def _on_GetFileRequest(self, request: Any, *, dc_id: int, **_: Any) -> Any:
        file = self._located_file(request.location, dc_id)
        check_getfile_window(request.offset, request.limit, precise=bool(request.precise))
        thumb = request.location.thumb_size
        if thumb:  # a thumbnail: the "m" PhotoSize the document lists, within the same limits
            if thumb != THUMB_TYPE or file.cover is None:
                raise RpcErrorReply(400, "LOCATION_INVALID")
            data = cover_for(file.cover).jpeg
            self.policy.download(max(0, min(request.limit, len(data) - request.offset)), time.time())
            return types.upload.File(type=types.storage.FileJpeg(), mtime=0,
                                     bytes=data[request.offset:request.offset + request.limit])
        self.policy.download(max(0, min(request.limit, file.size - request.offset)), time.time())
        data = b""
        if request.offset < file.size:
            with open(file.path, "rb") as handle:
                data = os.pread(handle.fileno(), request.limit, request.offset)
        return types.upload.File(type=_storage_type(file.mime_type), mtime=0, bytes=data)

    def _on_GetFileHashesRequest(self, request: Any, *, dc_id: int, **_: Any) -> list[types.FileHash]:
        """SHA-256 of HASHES_PER_ANSWER consecutive ranges from the one holding ``offset`` (the last
        range of a file is shorter; past the end there are none)."""
        if not self.file_hashes:
            raise RpcErrorReply(400, NO_FILE_HASHES)
        file = self._located_file(request.location, dc_id)
        if request.offset < 0:
            raise RpcErrorReply(400, "OFFSET_INVALID")
        if request.offset >= file.size:
            return []
        first = request.offset // HASH_RANGE
        last = min(first + HASHES_PER_ANSWER, -(-file.size // HASH_RANGE))
        return [
            types.FileHash(
                offset=index * HASH_RANGE,
                limit=min(HASH_RANGE, file.size - index * HASH_RANGE),
                hash=self._range_hash(file, index),
            )
            for index in range(first, last)
        ]

    def _range_hash(self, file: DemoFile, index: int) -> bytes:
        """One range's SHA-256, hashed from the catalogue file the first time it is asked for."""
        known = self._range_hashes.setdefault(file.document_id, {})
        digest = known.get(index)
        if digest is None:
            with open(file.path, "rb") as handle:
                digest = known[index] = hashlib.sha256(
                    os.pread(handle.fileno(), HASH_RANGE, index * HASH_RANGE)
                ).digest()
        return digest


_WITHOUT_AUTH = frozenset(
    {
        "GetConfigRequest",
        "PingRequest",
        "SendCodeRequest",
        "SignInRequest",
        "GetPasswordRequest",
        "CheckPasswordRequest",
        "ImportAuthorizationRequest",
    }
)


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


def _key_digest(auth_key: bytes) -> str:
    return hashlib.sha256(auth_key).hexdigest()


def _read_state(file: Path) -> dict[str, Any]:
    """What a previous run saved (the signed-in key digests, the live channel's schedule); a missing
    or damaged file means nothing."""
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or not isinstance(data.get("signed_in_keys", []), list):
        return {}
    return data


def _write_state(file: Path, data: dict[str, Any]) -> None:
    """Written whole and renamed into place, private (0600) like the session files it vouches for."""
    temporary = file.with_name(file.name + ".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(data, handle)
    os.replace(temporary, file)


def _render_tracks(live: LiveChannel, ks: list[int]) -> None:
    for k in ks:
        live.render(k)


def _damaged(result: Any, damage: str) -> Any:
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


def check_getfile_window(offset: int, limit: int, *, precise: bool) -> None:
    """upload.getFile's rules, as Telegram enforces them (https://core.telegram.org/api/files, and the
    README's "Development"): offset and limit multiples of 4 KiB (1 KiB with ``precise``), limit at most
    1 MiB and dividing it unless precise, and no request crossing a 1 MiB boundary."""
    if limit <= 0 or limit > MIB:
        raise RpcErrorReply(400, "LIMIT_INVALID")
    if offset < 0:
        raise RpcErrorReply(400, "OFFSET_INVALID")
    if precise:
        if offset % 1024 or limit % 1024:
            raise RpcErrorReply(400, "OFFSET_INVALID" if offset % 1024 else "LIMIT_INVALID")
    else:
        if offset % 4096:
            raise RpcErrorReply(400, "OFFSET_INVALID")
        if limit % 4096 or MIB % limit:
            raise RpcErrorReply(400, "LIMIT_INVALID")
    if offset // MIB != (offset + limit - 1) // MIB:
        raise RpcErrorReply(400, "LIMIT_INVALID")


def _thumbs(file: DemoFile) -> list[Any] | None:
    """A document's thumbnails as Telegram lists them: the stripped "i" inline, then the "m" JPEG
    (fetched with getFile, thumb_size "m"); None for a file without a cover."""
    if file.cover is None:
        return None
    cover = cover_for(file.cover)
    return [
        types.PhotoStrippedSize(type="i", bytes=cover.stripped),
        types.PhotoSize(type=THUMB_TYPE, w=cover.side, h=cover.side, size=len(cover.jpeg)),
    ]


def _storage_type(mime_type: str) -> Any:
    if mime_type == "audio/mpeg":
        return types.storage.FileMp3()
    return types.storage.FilePartial()


class _Descending:
    """A newest-first message list seen as ascending negated ids, for bisect."""

    def __init__(self, messages: list[DemoMessage]) -> None:
        self._messages = messages

    def __len__(self) -> int:
        return len(self._messages)

    def __getitem__(self, index: int) -> int:
        return -self._messages[index].id


def _thread_of(message: DemoMessage) -> int:
    """The forum topic a message is in: a creation message opens its own."""
    return message.id if message.created_topic is not None else message.topic


def _topic_of(group: DemoGroup, topic_id: int) -> DemoTopic:
    return next(topic for topic in group.topics if topic.id == topic_id)


def _reply_header(message: DemoMessage) -> Any:
    """The reply header Telegram puts on a message: in a forum topic other than General, every
    message has one (forum_topic, to the topic; a reply inside it names the replied message and
    the topic as its top); in General only a reply has one, as outside forums."""
    in_topic = message.topic > GENERAL_TOPIC
    if not in_topic:
        return types.MessageReplyHeader(reply_to_msg_id=message.reply_to) if message.reply_to else None
    if message.reply_to and message.reply_to != message.topic:
        return types.MessageReplyHeader(forum_topic=True, reply_to_msg_id=message.reply_to, reply_to_top_id=message.topic)
    return types.MessageReplyHeader(forum_topic=True, reply_to_msg_id=message.topic)


def _unix_time(value: Any) -> int:
    """A request's date field as Unix time (0: not given)."""
    if isinstance(value, datetime):
        return max(0, int(value.timestamp()))
    return max(0, int(value or 0))


def _matches(filter_: Any, query: str, message: DemoMessage) -> bool:
    file = message.file
    if isinstance(filter_, types.InputMessagesFilterMusic):
        if file is None or not file.has_audio_attribute:
            return False
    elif isinstance(filter_, types.InputMessagesFilterDocument):
        if file is None or file.has_audio_attribute:
            return False
    elif not isinstance(filter_, types.InputMessagesFilterEmpty):
        return False
    if query:
        haystack = " ".join(
            part or "" for part in (message.text, file and file.title, file and file.performer, file and file.file_name)
        )
        return query.casefold() in haystack.casefold()
    return True


def _detail(request: Any) -> str:
    if isinstance(request, functions.upload.GetFileRequest):
        thumb = getattr(request.location, "thumb_size", "")
        return f"id={getattr(request.location, 'id', '?')} offset={request.offset} limit={request.limit}" + (
            f" thumb={thumb}" if thumb else "")
    if isinstance(request, functions.auth.ExportAuthorizationRequest):
        return f"dc_id={request.dc_id}"
    if isinstance(request, functions.upload.GetFileHashesRequest):
        return f"id={getattr(request.location, 'id', '?')} offset={request.offset}"
    if isinstance(request, functions.messages.SearchRequest):
        return f"offset_id={request.offset_id} add_offset={request.add_offset} limit={request.limit}"
    return ""


def srp_prime() -> bytes:
    """Telegram's 2048-bit SRP prime (the one Telethon trusts without re-checking primality)."""
    return bytes.fromhex(
        "C71CAEB9C6B1C9048E6C522F70F13F73980D40238E3E21C14934D037563D930F"
        "48198A0AA7C14058229493D22530F4DBFA336F6E0AC925139543AED44CCE7C37"
        "20FD51F69458705AC68CD4FE6B6B13ABDC9746512969328454F18FAF8C595F64"
        "2477FE96BB2A941D5BCD1D4AC8CC49880708FA9B378E3C4F3A9060BEE67CF9A4"
        "A4A695811051907E162753B56B0F6B410DBA74D8A84B2A14B3144E0EF1284754"
        "FD17ED950D5965B4B9DD46582DB1178D169C6BC465B0D6FF9CA3928FEF5B9AE4"
        "E418FC15E83EBEA0F87FA9FF5EED70050DED2849F47BF959D956850CE929851F"
        "0D8115F635B105EE2E4E15D04B2454BF6F4FADF034B10403119CD8E3B92FCC5B"
    )


def peer_id(group: DemoGroup) -> int:
    return utils.get_peer_id(types.PeerChannel(group.id))
