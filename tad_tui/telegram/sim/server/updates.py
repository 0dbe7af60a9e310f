"""Updates from the simulated Telegram.

A connection on the home DC whose requests are not wrapped in invokeWithoutUpdates (a client with
``receive_updates=True``) is subscribed, as Telegram subscribes a session that asks for updates,
until it breaks or closes (after a reconnection, its next such request subscribes it again). With a
:class:`LiveChannel` the server posts its tracks as they fall due and pushes each as ``updates`` with
one ``updateNewChannelMessage`` (channel pts = message id); updates.getState, getDifference and
getChannelDifference (Empty, the missed messages, or TooLong past ``limit``) let Telethon's update
loop catch up.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from telethon.tl import types

from tad_tui.telegram.sim.catalogue import DemoGroup, DemoMessage
from tad_tui.telegram.sim.errors import RpcErrorReply
from tad_tui.telegram.sim.live import LiveChannel
from tad_tui.telegram.sim.tl import make

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Push:
    """One update the server pushed (or, ``dropped``, meant to push) to a subscribed connection."""

    at: float
    connection: int
    channel_id: int
    pts: int
    message_id: int
    dropped: bool = False


class UpdateMethods:
    """SimulatedTelegram's updates (mixed into it; the state they use is set up there)."""

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


def _render_tracks(live: LiveChannel, ks: list[int]) -> None:
    for k in ks:
        live.render(k)
