"""The simulated Telegram server: answers the TL requests tad-tui sends with real Telethon objects.

It serves a :class:`~tad_tui.telegram.sim.catalogue.Catalogue` and enforces what the real servers
enforce for what we use: upload.getFile's offset/limit rules, upload.getFileHashes (SHA-256 of
each 128 KiB range of a file), file references that expire, flood waits that forbid a request type
until they pass, login with a code and an SRP (2FA) password, and data centres: a document lives on
one DC (getFile elsewhere: FILE_MIGRATE_X), and a DC other than the home one accepts only auth keys
that imported an authorization exported for it (anything else: AUTH_KEY_UNREGISTERED). Faults are
injected with :class:`FaultRule`.

This module holds the server's state and its dispatch (``handle``); the requests are answered by
the mixins beside it (files, dcs, account, chats, history, updates, takeout). Transport (latency
and per-connection bandwidth) is modelled by the connection objects in ``sim/client.py``, not here.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from telethon.tl import functions, types
from telethon.tl.tlobject import TLRequest

from tad_tui.telegram.sim.catalogue import Catalogue, DemoFile, DemoGroup, DemoMessage
from tad_tui.telegram.sim.errors import DropConnection, RpcErrorReply
from tad_tui.telegram.sim.limits import AccountLimits, AccountPolicy
from tad_tui.telegram.sim.live import LIVE_GROUP_ID, LiveChannel, Schedule
from tad_tui.telegram.sim.server.account import DEMO_LOGIN_CODE, AccountMethods, LoginAttempt
from tad_tui.telegram.sim.server.chats import ChatMethods
from tad_tui.telegram.sim.server.dcs import DcMethods, place_on_other_dcs
from tad_tui.telegram.sim.server.faults import FaultRule, damaged, flood_error_seconds
from tad_tui.telegram.sim.server.files import FileMethods
from tad_tui.telegram.sim.server.history import HistoryMethods
from tad_tui.telegram.sim.server.takeout import TakeoutMethods
from tad_tui.telegram.sim.server.updates import Push, UpdateMethods
from tad_tui.telegram.sim.tl import make

FLOOD_GRACE = 0.05  # seconds after a FLOOD_WAIT reaches the client before a new request is its fault


@dataclass(frozen=True)
class LoggedRequest:
    at: float
    connection: int
    name: str
    detail: str = ""
    dc: int = 0  # the DC of the connection it arrived on


class SimulatedTelegram(
    FileMethods, DcMethods, AccountMethods, ChatMethods, HistoryMethods, UpdateMethods, TakeoutMethods
):
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
        self._login: LoginAttempt | None = None
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

    def requests(self, name: str) -> list[LoggedRequest]:
        return [entry for entry in self.log if entry.name == name]

    def _save_state(self) -> None:
        if self.state_file is None:
            return
        data: dict[str, Any] = {"signed_in_keys": sorted(self._authorized_keys)}
        if self.live is not None:
            self._live_seen = max(self._live_seen, self._live_posted)
            data["live"] = {"schedule": self.live.schedule.to_json(), "seen": self._live_seen}
        _write_state(self.state_file, data)

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
                seconds = flood_error_seconds(rule.error)
                raise RpcErrorReply(420 if seconds is not None else rule.code, rule.error)
        handler = getattr(self, "_on_" + name, None)
        if damage == "too_long" and name == "GetChannelDifferenceRequest":
            handler, damage = self._too_long_difference, None
        if handler is None:
            raise RpcErrorReply(400, "METHOD_NOT_SUPPORTED_BY_SIMULATION")
        if name not in _WITHOUT_AUTH and not self.key_accepted(auth_key, dc_id):
            raise RpcErrorReply(401, "AUTH_KEY_UNREGISTERED")
        result = handler(request, connection=connection, dc_id=dc_id, auth_key=auth_key, takeout_id=takeout_id)
        return damaged(result, damage) if damage is not None else result

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
