"""The simulated Telegram's chats: the groups as channels, dialogs, usernames and full channels."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from telethon.tl import types

from tad_tui.telegram.sim.catalogue import DemoGroup
from tad_tui.telegram.sim.errors import RpcErrorReply
from tad_tui.telegram.sim.tl import make

EPOCH = datetime(2024, 1, 1, tzinfo=UTC)  # the date of every channel and document


class ChatMethods:
    """SimulatedTelegram's chat requests (mixed into it; the state they use is set up there)."""

    def _all_groups(self) -> tuple[DemoGroup, ...]:
        groups = self.catalogue.groups
        return groups + (self.live.group,) if self.live is not None else groups

    def _pts(self, group: DemoGroup) -> int:
        """A channel's pts: every message is one event, so it is the number of messages posted."""
        return len(self._ordered[group.id])

    def channel(self, group: DemoGroup) -> types.Channel:
        return make(
            types.Channel,
            id=group.id,
            title=group.title,
            photo=types.ChatPhotoEmpty(),
            date=EPOCH,
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
