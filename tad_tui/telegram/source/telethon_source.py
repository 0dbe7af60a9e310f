"""The :class:`Source` over Telethon (a real client or the simulated one): groups, topics, audio
scans, ranged reads, login, takeout sessions and pushed messages."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from telethon import errors, utils
from telethon.tl import functions, types

from tad_tui.library.ranges import ScanWindow
from tad_tui.library.text import TOPIC_TITLE_MAX, clean_text
from tad_tui.telegram.client import TadClient
from tad_tui.telegram.login import LoginFlow, account_name, forget_session, log_out
from tad_tui.telegram.source.model import (
    AudioInfo,
    FileLocation,
    GroupInfo,
    MessageUpdate,
    NotAForum,
    SourceError,
    TopicInfo,
    UpdateHandler,
)
from tad_tui.telegram.source.parse import group_info, message_update, parse_audio
from tad_tui.words import counted

log = logging.getLogger(__name__)
SCAN_PAGE = 100
TOPICS_PAGE = 100  # Telegram's most topics per getForumTopics answer
READ_AHEAD_PAGES = 2  # document pages fetched while the music pages are stored


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
            await _hand_over(handler, message_update("new", event))

        async def edited(event: Any) -> None:
            await _hand_over(handler, message_update("edited", event))

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
            info = group_info(dialog.entity)
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
        info = group_info(entity)
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


async def _hand_over(handler: UpdateHandler, update: MessageUpdate) -> None:
    try:
        await handler(update)
    except Exception:  # Telethon would log it as its own bug; one bad update must not stop the others
        log.exception("handling %s message %s of %s failed", update.kind, update.message_ids, update.group_id)
