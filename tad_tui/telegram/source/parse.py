"""Telethon's objects read into the source's records: a chat into a :class:`GroupInfo`, a message
into an :class:`AudioInfo` (or None: no audio), a pushed message into a :class:`MessageUpdate`;
every text cleaned on the way in."""

from __future__ import annotations

import mimetypes
from collections.abc import Mapping, Sequence
from typing import Any

from telethon import utils
from telethon.tl import types

from tad_tui.library.text import (
    CAPTION_MAX,
    GROUP_TITLE_MAX,
    MIME_TYPE_MAX,
    TEXT_MAX,
    USERNAME_MAX,
    clean_text,
)
from tad_tui.telegram.source.model import AudioInfo, FileLocation, GroupInfo, MessageUpdate

GENERAL_TOPIC, GENERAL_TITLE = 1, "General"  # a forum's first topic, which no message created
AUDIO_EXTENSIONS = frozenset({".mp3", ".m4a", ".flac", ".ogg", ".oga", ".opus", ".wav", ".aac", ".wma", ".aiff"})


def group_info(entity: Any) -> GroupInfo | None:
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


def message_update(kind: str, event: Any) -> MessageUpdate:
    """A pushed message, filed under its topic when the chat is a forum (Telegram sends the chat with
    the update; its title is the follower's to find, the push names only the topic's id)."""
    message = event.message
    forum = bool(getattr(event.chat, "forum", False))
    return MessageUpdate(kind, event.chat_id, (message.id,), parse_audio(event.chat_id, message, {} if forum else None))


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
