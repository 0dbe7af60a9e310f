"""What the rest of tad-tui sees of Telegram: the :class:`Source` protocol and the records it hands
out (groups, topics, audio messages and where their files are read, pushed message updates)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol

from telethon import utils
from telethon.tl import types

from tad_tui.library.ranges import ScanWindow
from tad_tui.telegram.client import TadClient
from tad_tui.telegram.login import LoginFlow


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
