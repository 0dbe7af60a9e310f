"""The one surface the rest of tad-tui sees of Telegram: groups, audio, ranged reads, login.

Implemented once, over Telethon. The demo and the tests hand the same code a simulated client
(``telegram/sim``), so paging, entity handling and error classes are Telethon's own.
"""

from __future__ import annotations

import asyncio
import logging
import mimetypes
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from telethon import errors, utils
from telethon.tl import functions, types

from tad_tui.library.ranges import ScanWindow
from tad_tui.library.text import (
    CAPTION_MAX,
    GROUP_TITLE_MAX,
    MIME_TYPE_MAX,
    TEXT_MAX,
    TOPIC_TITLE_MAX,
    USERNAME_MAX,
    clean_text,
)
from tad_tui.telegram.client import TadClient
from tad_tui.telegram.login import LoginFlow, account_name, forget_session, log_out
from tad_tui.words import counted

log = logging.getLogger(__name__)
SCAN_PAGE = 100
TOPICS_PAGE = 100  # Telegram's most topics per getForumTopics answer
GENERAL_TOPIC, GENERAL_TITLE = 1, "General"  # a forum's first topic, which no message created
READ_AHEAD_PAGES = 2  # document pages fetched while the music pages are stored
AUDIO_EXTENSIONS = frozenset({".mp3", ".m4a", ".flac", ".ogg", ".oga", ".opus", ".wav", ".aac", ".wma", ".aiff"})


@dataclass(frozen=True)
class GroupInfo:
    group_id: int  # Telethon's marked peer id (-100… for channels)
    title: str
    username: str | None
    kind: str  # "channel", "megagroup" or "chat"
    access_hash: int | None
    forum: bool = False  # a forum supergroup: its messages are sorted into topics

    def input_peer(self) -> Any:
        peer = utils.resolve_id(self.group_id)
        if peer[1] is types.PeerChannel:
            return types.InputPeerChannel(peer[0], self.access_hash or 0)
        return types.InputPeerChat(peer[0])


@dataclass(frozen=True)
class TopicInfo:
    """One topic of a forum group, as Telegram lists it."""

    id: int  # the id of the message that created it; 1 = General
    title: str
    last_message_id: int  # the topic's newest message
    last_posted_at: datetime | None  # when that was posted (None if Telegram did not send it)


@dataclass(frozen=True)
class FileLocation:
    document_id: int
    access_hash: int
    file_reference: bytes
    dc_id: int
    size: int
    thumb: str | None = None  # the type of the document's thumbnail (its cover) to fetch; None: it has none
    thumb_size: str = ""  # what this location reads: "" the file itself, else that thumbnail

    def input_location(self) -> types.InputDocumentFileLocation:
        return types.InputDocumentFileLocation(
            id=self.document_id, access_hash=self.access_hash, file_reference=self.file_reference,
            thumb_size=self.thumb_size,
        )

    def of_thumbnail(self) -> FileLocation | None:
        """Where the document's thumbnail is read (size unknown: 0), or None if it has none."""
        return None if self.thumb is None else replace(self, size=0, thumb_size=self.thumb)


@dataclass(frozen=True)
class AudioInfo:
    """One audio message, as parsed from Telegram (text already cleaned)."""

    group_id: int
    message_id: int
    posted_at: datetime
    location: FileLocation
    file_name: str | None
    mime_type: str | None
    duration: int | None
    title: str | None
    performer: str | None
    caption: str | None
    topic_id: int | None = None  # in a forum group: the topic it was posted in (1 = General)
    topic_title: str | None = None

    @property
    def file_id(self) -> str:
        return f"{self.group_id}_{self.message_id}"

    @property
    def file_unique_id(self) -> str:
        return str(self.location.document_id)


@dataclass(frozen=True)
class MessageUpdate:
    """A change Telegram pushed for one chat: a message posted or edited, or messages deleted."""

    kind: str  # "new", "edited" or "deleted"
    group_id: int  # Telethon's marked peer id
    message_ids: tuple[int, ...]
    audio: AudioInfo | None = None  # "new" and "edited": the message's audio, if it holds any


UpdateHandler = Callable[[MessageUpdate], Awaitable[None]]


class SourceError(Exception):
    """A Telegram failure, in words a person understands."""


class NotAForum(SourceError):
    """Topics were asked of a group that is not a forum (Telegram: CHANNEL_FORUM_MISSING)."""


class Source(Protocol):
    client: TadClient  # the downloader sends file parts over its extra connections

    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    async def is_authorized(self) -> bool: ...
    async def list_groups(self) -> list[GroupInfo]: ...
    async def resolve_group(self, key: str) -> GroupInfo: ...
    async def linked_messages(self, group: GroupInfo, first_id: int, last_id: int) -> dict[int, AudioInfo | None]: ...
    def scan_audio(
        self, group: GroupInfo, *, after_message_id: int = 0, window: ScanWindow | None = None, topic: int | None = None
    ) -> AsyncIterator[list[AudioInfo]]: ...
    async def list_topics(self, group: GroupInfo) -> list[TopicInfo]: ...
    async def read_range(self, location: FileLocation, offset: int, limit: int) -> bytes: ...
    async def refresh_location(self, group: GroupInfo, message_id: int) -> FileLocation: ...
    async def audio_messages(self, group: GroupInfo, message_ids: Sequence[int]) -> dict[int, AudioInfo | None]: ...
    def login_flow(self) -> LoginFlow: ...
    async def log_out(self) -> bool: ...
    async def account_name(self) -> str | None: ...
    async def forget_session(self) -> bool: ...
    def takeout(self) -> AbstractAsyncContextManager[None]: ...
    def watch_messages(self, handler: UpdateHandler) -> Callable[[], None]: ...
    def watch_reconnects(self, handler: Callable[[], Awaitable[None]]) -> Callable[[], None]: ...
    async def wait_disconnected(self) -> None: ...


class TelethonSource:
    """:class:`Source` over a Telethon client (real or simulated)."""

    def __init__(self, client: TadClient) -> None:
        self.client = client
        # What scan_audio asks for messages through: the client, or its takeout proxy inside takeout().
        self._reader: Any = client

    async def start(self) -> None:
        if self.client.is_connected():
            return
        try:
            await self.client.connect()
        except (OSError, ConnectionError) as error:
            raise SourceError(f"cannot reach Telegram: {error}") from None

    async def stop(self) -> None:
        await self.client.disconnect()

    async def is_authorized(self) -> bool:
        return bool(await self.client.is_user_authorized())

    def login_flow(self) -> LoginFlow:
        return LoginFlow(self.client)

    async def log_out(self) -> bool:
        return await log_out(self.client)

    async def account_name(self) -> str | None:
        return await account_name(self.client)

    async def forget_session(self) -> bool:
        """Delete the local session file (for a session Telegram no longer accepts)."""
        return await forget_session(self.client)

    def watch_messages(self, handler: UpdateHandler) -> Callable[[], None]:
        """Call ``handler`` for each message Telegram pushes (posted, edited, deleted) while the
        client receives updates (built with ``receive_updates=True``); returns how to stop."""
        from telethon import events

        client = self.client

        async def posted(event: Any) -> None:
            await _hand_over(handler, _message_update("new", event))

        async def edited(event: Any) -> None:
            await _hand_over(handler, _message_update("edited", event))

        async def deleted(event: Any) -> None:
            if event.chat_id is not None:  # a channel's: Telegram says which; others it does not
                await _hand_over(handler, MessageUpdate("deleted", event.chat_id, tuple(event.deleted_ids)))

        watched = [(posted, events.NewMessage()), (edited, events.MessageEdited()), (deleted, events.MessageDeleted())]
        for callback, event in watched:
            client.add_event_handler(callback, event)

        def stop() -> None:
            for callback, event in watched:
                client.remove_event_handler(callback, event)

        return stop

    def watch_reconnects(self, handler: Callable[[], Awaitable[None]]) -> Callable[[], None]:
        """Call ``handler`` after each automatic reconnection (updates sent meanwhile are lost)."""
        self.client.reconnect_handlers.append(handler)
        return lambda: self.client.reconnect_handlers.remove(handler)

    async def wait_disconnected(self) -> None:
        """Return when the connection is gone for good (Telethon's reconnection attempts failed) or
        was closed."""
        try:
            await self.client.disconnected
        except (OSError, ConnectionError) as error:
            log.info("the connection to Telegram is gone: %s", error)

    @asynccontextmanager
    async def takeout(self) -> AsyncIterator[None]:
        """Scan inside a Telegram takeout (data export) session: ``scan_audio`` goes through it.

        Telethon's ``client.takeout()`` sends account.initTakeoutSession, then wraps each request in
        invokeWithTakeout; Telegram applies lower flood limits to exports. The session is finished
        here (successfully or not) whatever happens; one left by a killed run is ended first.
        """
        client = self.client
        if client.session.takeout_id is not None:
            await self._end_takeout(success=False)  # left by a run that never finished it
        session = client.takeout(finalize=False, chats=True, megagroups=True, channels=True)
        try:
            await session.__aenter__()
        except errors.RPCError as error:
            raise SourceError(explain_takeout(error) or f"Telegram refused the data export: {error}") from None
        self._reader = session
        success = False
        try:
            yield
            success = True
        except errors.RPCError as error:
            words = explain_takeout(error)
            if words is None:
                raise
            raise SourceError(words) from None
        finally:
            self._reader = client
            await self._end_takeout(success=success)

    async def _end_takeout(self, *, success: bool) -> None:
        # Sent by hand: Telethon's end_takeout(success=False) sets ``success`` on the client, not on
        # its takeout proxy, and so always reports success.
        finish = functions.account.FinishTakeoutSessionRequest(success=success)
        try:
            await self.client(functions.InvokeWithTakeoutRequest(self.client.session.takeout_id, finish))
        except (errors.RPCError, ConnectionError, OSError) as error:
            # Nothing to act on: Telegram ends an abandoned export session by itself.
            log.warning("finishing the takeout session failed: %s", error)
        self.client.session.takeout_id = None

    async def list_groups(self) -> list[GroupInfo]:
        groups = []
        async for dialog in self.client.iter_dialogs(ignore_migrated=True):
            info = _group_info(dialog.entity)
            if info is not None:
                groups.append(info)
        return groups

    async def resolve_group(self, key: str) -> GroupInfo:
        """A group by ``@username``, ``username``, a t.me link, a numeric id (marked or bare), or its
        title in any case and accent form (a unique prefix is enough): see ``library.finding``."""
        from tad_tui.library import finding

        try:
            wanted = finding.read_key(key)
            if wanted.group_id is None and wanted.strict_username:  # @name: Telegram knows, no dialogs needed
                return await self._by_username(wanted.username or "")
            found = finding.find(
                await self.list_groups(), wanted,
                group_id=lambda g: g.group_id, title=lambda g: g.title, username=lambda g: g.username,
            )
            if found is not None:
                return found
            if wanted.username is not None:  # a bare word: perhaps a public group the account has not joined
                return await self._by_username(wanted.username)
            raise finding.not_found(wanted)
        except (finding.GroupNotFound, finding.AmbiguousGroup, finding.LinkError) as error:
            raise SourceError(str(error)) from None

    async def _by_username(self, username: str) -> GroupInfo:
        try:
            entity = await self.client.get_entity(username)
        except (ValueError, errors.UsernameInvalidError, errors.UsernameNotOccupiedError):
            raise SourceError(f"no group or channel is called @{username}") from None
        info = _group_info(entity)
        if info is None:
            raise SourceError(f"@{username} is a user, not a group or channel")
        return info

    async def linked_messages(self, group: GroupInfo, first_id: int, last_id: int) -> dict[int, AudioInfo | None]:
        """The messages ``first_id``..``last_id`` of a linked group and their audio.

        One message is asked by id (channels.getMessages; Telegram answers messageEmpty for a deleted
        one): ``{id: audio}``, ``{id: None}`` when it holds no audio, ``{}`` when it is gone. A range is
        searched for music and documents between the two ids, as a scan reads: its audio messages only.
        """
        peer = group.input_peer()
        topics = await self._topic_titles(group)
        if first_id == last_id:
            message = await self.client.get_messages(peer, ids=first_id)
            if message is None:  # messageEmpty: deleted, or not posted yet
                return {}
            return {first_id: parse_audio(group.group_id, message, topics)}
        found: dict[int, AudioInfo | None] = {}
        for message_filter in (types.InputMessagesFilterMusic(), types.InputMessagesFilterDocument()):
            async for message in self.client.iter_messages(
                peer, filter=message_filter, min_id=first_id - 1, max_id=last_id + 1, reverse=True, wait_time=0
            ):
                audio = parse_audio(group.group_id, message, topics)
                if audio is not None:
                    found[message.id] = audio
        return dict(sorted(found.items()))

    async def list_topics(self, group: GroupInfo) -> list[TopicInfo]:
        """A forum group's topics, the most recently active first (channels.getForumTopics, or
        messages.getForumTopics on newer layers, paged by the last topic's top message). SourceError
        for a group that is not a forum."""
        if group.kind != "megagroup":  # only supergroups can be forums: not asked, as Telegram would refuse
            raise NotAForum(f"{group.title} is not a forum group: it has no topics")
        request_type = getattr(functions.messages, "GetForumTopicsRequest", None)
        peer = group.input_peer()
        if request_type is None:  # Telethon before layer 199: channels.getForumTopics
            request_type, peer = functions.channels.GetForumTopicsRequest, utils.get_input_channel(peer)
        found: dict[int, TopicInfo] = {}
        offset_date, offset_id, offset_topic = None, 0, 0
        while True:
            try:
                answer = await self._reader(request_type(peer, offset_date, offset_id, offset_topic, TOPICS_PAGE))
            except errors.ChannelForumMissingError:
                raise NotAForum(f"{group.title} is not a forum group: it has no topics") from None
            dates = {m.id: m.date for m in answer.messages if isinstance(m, (types.Message, types.MessageService))}
            page = [t for t in answer.topics if isinstance(t, types.ForumTopic) and t.id not in found]
            for topic in page:
                title = clean_text(topic.title, max_length=TOPIC_TITLE_MAX) or f"Topic {topic.id}"
                found[topic.id] = TopicInfo(topic.id, title, topic.top_message, dates.get(topic.top_message))
            if not page or len(found) >= answer.count:
                return list(found.values())
            last = page[-1]
            offset_date, offset_id, offset_topic = dates.get(last.top_message), last.top_message, last.id

    async def _topic_titles(self, group: GroupInfo) -> dict[int, str] | None:
        """A forum's topic titles by id (what parse_audio files each track under); None elsewhere."""
        if not group.forum:
            return None
        return {topic.id: topic.title for topic in await self.list_topics(group)}

    async def scan_audio(
        self, group: GroupInfo, *, after_message_id: int = 0, window: ScanWindow | None = None, topic: int | None = None
    ) -> AsyncIterator[list[AudioInfo]]:
        """Audio messages newer than ``after_message_id`` (and in ``window``, and in forum ``topic``),
        oldest first, a page at a time.

        Music (audio with an audio attribute) is filtered by the server; audio sent as a plain file
        is found among documents by its mime type or extension. Both searches are asked at once (a
        scan with nothing new costs one round trip, not two); the music pages come first, then the
        documents', read ahead at most ``READ_AHEAD_PAGES`` pages.
        """
        peer = group.input_peer()
        reading_as = _Reading(group, peer, await self._topic_titles(group), topic, after_message_id, window)
        documents: asyncio.Queue[list[AudioInfo] | BaseException | None] = asyncio.Queue(READ_AHEAD_PAGES)

        async def read_documents() -> None:
            try:
                async for page in self._audio_pages(reading_as, types.InputMessagesFilterDocument()):
                    await documents.put(page)
            except Exception as error:  # given to the reader below, in its order
                await documents.put(error)
            else:
                await documents.put(None)

        reading = asyncio.create_task(read_documents())
        try:
            async for page in self._audio_pages(reading_as, types.InputMessagesFilterMusic()):
                yield page
            while (item := await documents.get()) is not None:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            reading.cancel()
            await asyncio.gather(reading, return_exceptions=True)

    async def _audio_pages(self, reading: _Reading, message_filter: Any) -> AsyncIterator[list[AudioInfo]]:
        page: list[AudioInfo] = []
        window = reading.window
        if reading.topic is not None or (window is not None and window.bounded):
            messages = self._window_messages(
                reading.peer, message_filter, reading.after_message_id, window or ScanWindow(), topic=reading.topic
            )
        else:
            messages = self._reader.iter_messages(
                reading.peer, filter=message_filter, min_id=reading.after_message_id, reverse=True, wait_time=0
            )
        async for message in messages:
            audio = parse_audio(reading.group.group_id, message, reading.topics)
            if audio is not None and (window is None or window.holds(audio.message_id, audio.posted_at)):
                page.append(audio)
            if len(page) >= SCAN_PAGE:
                yield page
                page = []
        if page:
            yield page

    async def _window_messages(
        self, peer: Any, message_filter: Any, after_message_id: int, window: ScanWindow, *, topic: int | None = None
    ) -> AsyncIterator[Any]:
        """The messages of ``window`` after ``after_message_id``, oldest first: messages.search with
        its min_id/max_id and min_date/max_date (and top_msg_id for a forum ``topic``, as Telegram's
        apps search a topic), so Telegram sends only that part of the group.

        Pages go from the oldest up (offset_id just above the last message read, add_offset -limit,
        as Telethon's reverse iteration does). The bounds are also checked here: the API documents
        min_date and max_date as excluded ("sent after", "sent before"), so the dates asked for reach
        a second beyond the window, and a message outside it ends the reading or is skipped.
        """
        low = window.lower_id(after_message_id)
        high = window.last_id + 1 if window.last_id is not None else 0
        if high and high - low <= 1:
            return
        request = functions.messages.SearchRequest(
            peer=peer,
            q="",
            filter=message_filter,
            min_date=_telegram_date(window.since - timedelta(seconds=1) if window.since else None),
            max_date=_telegram_date(window.before),
            offset_id=low + 1,
            add_offset=-SCAN_PAGE,
            limit=SCAN_PAGE,
            max_id=high,
            min_id=low,
            hash=0,
            top_msg_id=topic,
        )
        while True:
            result = await self._reader(request)
            newer = sorted(
                (m for m in result.messages if isinstance(m, types.Message) and m.id > low), key=lambda m: m.id
            )
            if not newer:
                return
            for message in newer:
                if (high and message.id >= high) or (window.before and message.date >= window.before):
                    return  # oldest first: everything after it is outside the window too
                yield message
            low = newer[-1].id
            request.offset_id = low + 1

    async def read_range(self, location: FileLocation, offset: int, limit: int) -> bytes:
        request = functions.upload.GetFileRequest(location=location.input_location(), offset=offset, limit=limit)
        if location.dc_id == self.client.session.dc_id:
            result = await self.client(request)
        else:  # the file lives on another DC: Telethon's borrowed sender, authorized there once
            sender = await self.client._borrow_exported_sender(location.dc_id)
            try:
                result = await self.client._call(sender, request)
            finally:
                await self.client._return_exported_sender(sender)
        return bytes(result.bytes)

    async def audio_messages(self, group: GroupInfo, message_ids: Sequence[int]) -> dict[int, AudioInfo | None]:
        """The audio of these messages, by id: None for a message gone (deleted) or holding no audio.
        Telethon asks for them a hundred at a time (channels.getMessages / messages.getMessages)."""
        wanted = list(dict.fromkeys(message_ids))
        if not wanted:
            return {}
        messages = await self.client.get_messages(group.input_peer(), ids=wanted)
        topics = await self._topic_titles(group)
        found: dict[int, AudioInfo | None] = dict.fromkeys(wanted)
        for message_id, message in zip(wanted, messages, strict=True):
            found[message_id] = parse_audio(group.group_id, message, topics) if message is not None else None
        return found

    async def refresh_location(self, group: GroupInfo, message_id: int) -> FileLocation:
        message = await self.client.get_messages(group.input_peer(), ids=message_id)
        audio = parse_audio(group.group_id, message) if message is not None else None
        if audio is None:
            raise SourceError(f"message {message_id} in {group.title} no longer holds that file")
        return audio.location


@dataclass(frozen=True)
class _Reading:
    """What one scan reads: the group, its topic titles (a forum's), the topic and range asked for."""

    group: GroupInfo
    peer: Any
    topics: dict[int, str] | None
    topic: int | None
    after_message_id: int
    window: ScanWindow | None


def _telegram_date(moment: datetime | None) -> datetime | None:
    """A bound as a TL date (an int32 of Unix time), or None where it cannot be one (past 2038):
    that bound is then kept here only."""
    if moment is None or not 0 < moment.timestamp() < 2**31:
        return None
    return moment


def explain_takeout(error: BaseException) -> str | None:
    """Takeout (data export) refusals in words; None for any other error."""
    if isinstance(error, errors.TakeoutInitDelayError):
        return (
            "Telegram holds data exports (--takeout) back for security: it has asked your other devices "
            f"to confirm this one and allows it in {_duration(error.seconds)} (sooner if you allow it in "
            "the Telegram app); run the command again then, or without --takeout"
        )
    if isinstance(error, errors.TakeoutInvalidError):
        return "Telegram ended the data export session (--takeout), e.g. for another export: run the command again"
    if isinstance(error, errors.TakeoutRequiredError):
        return "Telegram allows this only inside a data export session: run the command again with --takeout"
    return None


def _duration(seconds: int) -> str:
    if seconds >= 48 * 3600:
        return f"about {seconds / 86400:.0f} days"
    if seconds >= 3600:
        hours = round(seconds / 3600)
        return f"about {counted(hours, 'hour')}"
    if seconds >= 120:
        return f"about {seconds // 60} minutes"
    return counted(seconds, "second")


def _group_info(entity: Any) -> GroupInfo | None:
    if isinstance(entity, types.Channel):
        kind = "megagroup" if entity.megagroup else "channel"
        return GroupInfo(
            group_id=utils.get_peer_id(entity),
            title=clean_text(entity.title, max_length=GROUP_TITLE_MAX) or str(entity.id),
            username=clean_text(entity.username, max_length=USERNAME_MAX),
            kind=kind,
            access_hash=entity.access_hash,
            forum=bool(getattr(entity, "forum", False)),
        )
    if isinstance(entity, types.Chat):
        return GroupInfo(
            group_id=utils.get_peer_id(entity),
            title=clean_text(entity.title, max_length=GROUP_TITLE_MAX) or str(entity.id),
            username=None,
            kind="chat",
            access_hash=None,
        )
    return None


def _message_update(kind: str, event: Any) -> MessageUpdate:
    """A pushed message, filed under its topic when the chat is a forum (Telegram sends the chat with
    the update; its title is the follower's to find, the push names only the topic's id)."""
    message = event.message
    forum = bool(getattr(event.chat, "forum", False))
    return MessageUpdate(kind, event.chat_id, (message.id,), parse_audio(event.chat_id, message, {} if forum else None))


async def _hand_over(handler: UpdateHandler, update: MessageUpdate) -> None:
    try:
        await handler(update)
    except Exception:  # Telethon would log it as its own bug; one bad update must not stop the others
        log.exception("handling %s message %s of %s failed", update.kind, update.message_ids, update.group_id)


def topic_of(message: Any) -> int:
    """The forum topic a message of a forum group is in: its reply header says so (forum_topic: the
    top id of a reply inside the topic, else the message it answers, the topic's first); a message
    without one is in General (1), as Telegram sends General's."""
    header = getattr(message, "reply_to", None)
    if isinstance(header, types.MessageReplyHeader) and header.forum_topic:
        return int(header.reply_to_top_id or header.reply_to_msg_id or GENERAL_TOPIC)
    return GENERAL_TOPIC


def parse_audio(group_id: int, message: Any, topics: Mapping[int, str] | None = None) -> AudioInfo | None:
    """The audio document of a message, or None if it holds none (voice notes are not audio here).
    ``topics`` (a forum group's titles by topic id) files it under its topic."""
    document = getattr(message, "document", None)
    if not isinstance(document, types.Document):
        return None
    audio_attribute = None
    file_name = None
    for attribute in document.attributes:
        if isinstance(attribute, types.DocumentAttributeAudio):
            audio_attribute = attribute
        elif isinstance(attribute, types.DocumentAttributeFilename):
            file_name = attribute.file_name
    if audio_attribute is not None and audio_attribute.voice:
        return None
    if audio_attribute is None and not _looks_like_audio(document.mime_type, file_name):
        return None
    return AudioInfo(
        group_id=group_id,
        message_id=message.id,
        posted_at=message.date,
        location=FileLocation(
            document_id=document.id,
            access_hash=document.access_hash,
            file_reference=bytes(document.file_reference),
            dc_id=document.dc_id,
            size=document.size,
            thumb=_cover_type(document.thumbs),
        ),
        file_name=clean_text(file_name, max_length=TEXT_MAX),
        mime_type=clean_text(document.mime_type, max_length=MIME_TYPE_MAX),
        duration=int(audio_attribute.duration) if audio_attribute else None,
        title=clean_text(audio_attribute.title if audio_attribute else None),
        performer=clean_text(audio_attribute.performer if audio_attribute else None),
        caption=clean_text(getattr(message, "message", None), max_length=CAPTION_MAX),
        **_topic_fields(message, topics),
    )


def _cover_type(thumbs: Sequence[Any] | None) -> str | None:
    """The type of a document's largest thumbnail getFile can fetch (a JPEG PhotoSize or a
    progressive one; the stripped and cached sizes travel inline and are tiny), or None."""
    fetchable = [t for t in thumbs or () if isinstance(t, types.PhotoSize | types.PhotoSizeProgressive)]
    if not fetchable:
        return None
    return max(fetchable, key=lambda t: t.w * t.h).type


def _topic_fields(message: Any, topics: Mapping[int, str] | None) -> dict[str, Any]:
    if topics is None:
        return {}
    topic = topic_of(message)
    return {"topic_id": topic, "topic_title": topics.get(topic, GENERAL_TITLE if topic == GENERAL_TOPIC else None)}


def _looks_like_audio(mime_type: str | None, file_name: str | None) -> bool:
    if mime_type and mime_type.startswith("audio/"):
        return True
    if file_name:
        guessed, _ = mimetypes.guess_type(file_name)
        suffix = "." + file_name.rsplit(".", 1)[-1].lower() if "." in file_name else ""
        return suffix in AUDIO_EXTENSIONS or bool(guessed and guessed.startswith("audio/"))
    return False
