"""The simulated Telegram's message history: messages as Telegram renders them, pages of history,
search, threads and forum topics."""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from telethon.tl import types

from tad_tui.telegram.sim.catalogue import GENERAL_TOPIC, DemoGroup, DemoMessage, DemoTopic
from tad_tui.telegram.sim.errors import RpcErrorReply
from tad_tui.telegram.sim.server.account import SELF_USER_ID
from tad_tui.telegram.sim.tl import make


class HistoryMethods:
    """SimulatedTelegram's message requests (mixed into it; the state they use is set up there)."""

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
